// Edge-agent config reloads (acs-contract.md §11): an edge agent publishes the revision of the configuration it runs
// (`Config_Revision` in its NBIRTH and NDATA; the Null UUID for none); the ConfigDB's revision of that configuration is
// the ETag of its 'Edge Agent config' entry (watched with notify/v2). When they differ — checked once more against the
// ConfigDB itself first, so a missed notification never causes a reload — or when a SealedSecret the agent names
// changes, the monitor asks the agent, through the Command Escalation service, for `Node Control/Reload Edge Agent
// Config`: at once, then at most once per 5 s (one more at the end of a busy window), as ACS's monitor does.
import type { Logger } from "pino";
import { normaliseEtag } from "../../acs/configdb.js";
import type { SparkplugMetric } from "../payloads.js";

export const CONFIG_REVISION_METRIC = "Config_Revision";
export const RELOAD_THROTTLE_MS = 5_000;
const NULL_UUID = "00000000-0000-0000-0000-000000000000";

export interface AgentConfigDeps {
  /** Watches the agent's config entry: the listener gets its ETag now and after every change (null: no entry). */
  watchConfig(uuid: string, onEtag: (etag: string | null) => void): { close(): void };
  /** The entry's ETag as the ConfigDB holds it now. */
  configEtag(uuid: string): Promise<string | null>;
  /** Asks the agent to reload its configuration. */
  reload(group: string, node: string): Promise<void>;
  /** A reload was asked for (to count it in the status). */
  onReload?(): void;
  log: Logger;
  throttleMs?: number;
  /** Releases what watchConfig holds open (the notify/v2 connection), when monitoring stops. */
  close?(): Promise<void>;
}

/** The revision in ETag form without quotes; the Null UUID and absence are both "no revision". */
export function revisionOf(value: unknown): string | undefined {
  if (typeof value !== "string" || value === "" || value === NULL_UUID) return undefined;
  const etag = normaliseEtag(value)!;
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "").toLowerCase();
}

/**
 * The `Config_Revision` a birth or data payload carries, by name or (in NDATA) by the alias its NBIRTH gave it:
 * `{found: false}` when the payload has none.
 */
export class RevisionReader {
  private alias: string | undefined;

  read(kind: "NBIRTH" | "NDATA", metrics: SparkplugMetric[]): { found: boolean; revision?: string } {
    if (kind === "NBIRTH") this.alias = undefined;
    const m = metrics.find((x) => x.name === CONFIG_REVISION_METRIC
      || (!x.name && this.alias !== undefined && x.alias !== undefined && x.alias !== null && String(x.alias) === this.alias));
    if (!m) return { found: false };
    if (kind === "NBIRTH" && m.alias !== undefined && m.alias !== null) this.alias = String(m.alias);
    return { found: true, revision: revisionOf(m.value) };
  }
}

export class AgentConfigReloads {
  private readonly reader = new RevisionReader();
  private agentSeen = false;
  private agentRevision: string | undefined;
  private configKnown = false;
  private configRevision: string | undefined;
  private subscription?: { close(): void };
  private check = 0;
  private lastSent = 0;
  private pending = false;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly deps: AgentConfigDeps, private readonly uuid: string, private readonly address: { group: string; node: string }) {}

  start(): void {
    this.subscription = this.deps.watchConfig(this.uuid, (etag) => {
      this.configKnown = true;
      this.configRevision = revisionOf(etag);
      this.compare();
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.subscription?.close();
  }

  /** A packet from the agent: its revision, when it carries one. */
  onPayload(kind: "NBIRTH" | "NDATA", metrics: SparkplugMetric[]): void {
    const { found, revision } = this.reader.read(kind, metrics);
    if (!found) return;
    this.agentSeen = true;
    this.agentRevision = revision;
    this.compare();
  }

  /** A SealedSecret the agent names changed (and has been unsealed): the agent must read it again. */
  secretsChanged(): void {
    this.deps.log.info({ node: `${this.address.group}/${this.address.node}` }, "a SealedSecret of the edge agent changed");
    this.request();
  }

  private compare(): void {
    if (!this.agentSeen || !this.configKnown || this.agentRevision === this.configRevision) return;
    // The cached revision may be stale (a lost notification): ask the ConfigDB, and let a newer comparison win.
    const check = ++this.check;
    void this.deps.configEtag(this.uuid).then((etag) => {
      if (check !== this.check || this.stopped) return;
      this.configRevision = revisionOf(etag);
      if (this.agentRevision !== this.configRevision) {
        this.deps.log.info({ node: `${this.address.group}/${this.address.node}`, agent: this.agentRevision ?? null, configdb: this.configRevision ?? null },
          "the edge agent runs another config revision than the ConfigDB holds");
        this.request();
      }
    }, (err: unknown) => {
      // As ACS's monitor: without the live revision the cached one decides.
      if (check !== this.check || this.stopped) return;
      this.deps.log.warn({ err: (err as Error).message }, "cannot check the agent's config revision; using the notified one");
      this.request();
    });
  }

  /** Leading and trailing throttle: the first request goes at once, later ones at most once per window. */
  private request(): void {
    if (this.stopped) return;
    const throttle = this.deps.throttleMs ?? RELOAD_THROTTLE_MS;
    const wait = this.lastSent + throttle - Date.now();
    if (wait <= 0 && !this.timer) {
      this.send();
      return;
    }
    this.pending = true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      if (this.pending) this.send();
    }, Math.max(wait, 0));
  }

  private send(): void {
    this.pending = false;
    this.lastSent = Date.now();
    const { group, node } = this.address;
    this.deps.onReload?.();
    this.deps.reload(group, node).then(
      () => this.deps.log.info({ node: `${group}/${node}` }, "asked the edge agent to reload its config"),
      (err: unknown) => this.deps.log.warn({ node: `${group}/${node}`, err: (err as Error).message }, "the Command Escalation service did not take the reload request"),
    );
  }
}
