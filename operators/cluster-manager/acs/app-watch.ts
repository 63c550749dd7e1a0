// The live set of entries of one ConfigDB application, kept by a notify/v2 SEARCH: a full snapshot first and after
// every reconnect (so changes made while the connection was down are seen), then one update per changed entry.
// Listeners are told which object UUIDs may have changed; they read the state from here.
import type { Logger } from "pino";
import type { NotifyClient, NotifyResponse, NotifySubscription, SearchEvent } from "../../acs/notify.js";

export interface WatchedEntry {
  /** The entry value; undefined when the server lists the entry without giving it to us (e.g. 403). */
  value: unknown;
  etag: string | null;
}

export type ChangeKind = "snapshot" | "child";

const RESUBSCRIBE_MS = 10_000;

export class AppWatch {
  private entries = new Map<string, WatchedEntry>();
  private subscription?: NotifySubscription;
  private resubscribeTimer?: NodeJS.Timeout;
  private stopped = false;
  /** A snapshot has arrived since the (re)subscription: the set is known. */
  synced = false;
  /** False while the server refuses the whole set (parent 403/404): absence then means nothing. */
  accessible = true;
  /** Full snapshots received (the first, then one per reconnect). */
  snapshots = 0;

  constructor(
    private readonly notify: NotifyClient,
    readonly app: string,
    private readonly log: Logger,
    private readonly onChange: (uuids: string[], kind: ChangeKind) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.subscription = this.notify.searchApp(this.app, (event) => this.onEvent(event));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.resubscribeTimer);
    this.subscription?.close();
  }

  get size(): number {
    return this.entries.size;
  }

  has(uuid: string): boolean {
    return this.entries.has(uuid);
  }

  get(uuid: string): WatchedEntry | undefined {
    return this.entries.get(uuid);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  private onEvent(event: SearchEvent): void {
    switch (event.type) {
      case "snapshot": {
        const before = this.keys();
        this.entries = toEntries(event.children);
        this.synced = true;
        this.accessible = true;
        this.snapshots++;
        this.log.info({ app: this.app, entries: this.entries.size, snapshot: this.snapshots }, "ConfigDB application snapshot");
        this.onChange([...new Set([...before, ...this.keys()])], "snapshot");
        return;
      }
      case "child": {
        const response = event.children.get(event.child);
        if (response) this.entries.set(event.child, toEntry(response));
        else this.entries.delete(event.child);
        this.onChange([event.child], "child");
        return;
      }
      case "no-access":
        // Keep what we knew: an inaccessible set is not an empty one.
        this.accessible = false;
        this.log.warn({ app: this.app, status: event.parent.status }, "the ConfigDB refuses to list this application's entries");
        return;
      case "closed":
        this.synced = false;
        this.log.error({ app: this.app, status: event.status }, `the ConfigDB ended the subscription; subscribing again in ${RESUBSCRIBE_MS / 1000}s`);
        if (!this.stopped) this.resubscribeTimer = setTimeout(() => this.start(), RESUBSCRIBE_MS);
        return;
    }
  }
}

function toEntries(children: ReadonlyMap<string, NotifyResponse>): Map<string, WatchedEntry> {
  return new Map([...children].map(([uuid, response]) => [uuid, toEntry(response)]));
}

function toEntry(response: NotifyResponse): WatchedEntry {
  return { value: response.status === 200 ? response.body : undefined, etag: response.etag };
}
