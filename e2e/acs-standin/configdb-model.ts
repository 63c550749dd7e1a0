import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { App } from "../../operators/api/constants.js";
import { isUuid } from "./http-util.js";

/**
 * The ConfigDB's state, in memory: objects (UUID → primary class), direct class membership, and entries keyed by
 * application and object, each with an ETag (a UUID) that changes on every write that changes the value. Every
 * change is published to listeners (the notify/v2 sessions). Statuses are the ones the HTTP API answers with.
 */

/** Well-known ConfigDB objects (ACS `acs-configdb/lib/constants.js`). */
export const Meta = {
  ClassClass: "04a1c90d-2295-4cbe-b33a-74eded62cbf1",
  AppClass: "d319bd87-f42b-4b66-be4f-f82ff48b93f0",
  ServiceClass: "265d481f-87a7-4f93-8fc6-53fa64dc11bb",
  Wildcard: "00000000-0000-0000-0000-000000000000",
  Unowned: "091e796a-65c0-4080-adff-c3ce01a65b2e",
} as const;

export interface StoredEntry {
  value: unknown;
  /** The bare ETag (HTTP sends it quoted). */
  etag: string;
}

/** `entry` is absent when the entry was deleted. */
export interface EntryChange {
  app: string;
  object: string;
  entry?: StoredEntry;
}

/** Checks a request's `If-Match`/`If-None-Match` against the current ETag: undefined (go ahead), 400 or 412. */
export type Precondition = (currentEtag: string | null) => number | undefined;

export type Validator = (value: unknown) => boolean;

export class ConfigDbModel {
  private readonly objects = new Map<string, { klass: string; registrationEtag: string; owner: string; deleted: boolean }>();
  private readonly members = new Map<string, Set<string>>();
  /** class → its direct superclasses. */
  private readonly supers = new Map<string, Set<string>>();
  private readonly entries = new Map<string, Map<string, StoredEntry>>();
  private readonly listeners = new Set<(change: EntryChange) => void>();
  /** Told of every change, memberships and superclasses included (which no notify/v2 session hears of). */
  private readonly anyChangeListeners = new Set<() => void>();

  constructor(private readonly validators: ReadonlyMap<string, Validator> = new Map()) {
    this.register(Meta.ClassClass, Meta.ClassClass);
    this.register(Meta.AppClass, Meta.ClassClass);
    this.register(Meta.ServiceClass, Meta.ClassClass);
    this.register(App.Registration, Meta.AppClass);
  }

  onChange(listener: (change: EntryChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls `listener` after any change of state (entries, objects, memberships, superclasses). */
  onAnyChange(listener: () => void): () => void {
    this.anyChangeListeners.add(listener);
    return () => this.anyChangeListeners.delete(listener);
  }

  /** Registers an object directly (seeding), making it a member of its class; `owner` defaults to Unowned. */
  register(uuid: string, klass: string, owner: string = Meta.Unowned): void {
    if (this.objects.has(uuid)) return;
    this.objects.set(uuid, { klass, registrationEtag: randomUUID(), owner, deleted: false });
    this.memberSet(klass).add(uuid);
    this.emit(App.Registration, uuid);
  }

  /** Makes `klass` a subclass of `superclass`: members of the one count as members of the other. */
  addSubclass(superclass: string, klass: string): void {
    let set = this.supers.get(klass);
    if (!set) {
      set = new Set();
      this.supers.set(klass, set);
    }
    set.add(superclass);
    this.changed();
  }

  ownerOf(uuid: string): string | undefined {
    return this.objects.get(uuid)?.owner;
  }

  /** Every class or group the object belongs to: those it is a direct member of, and all their superclasses. */
  containersOf(obj: string): Set<string> {
    const found = new Set<string>();
    const pending: string[] = [];
    for (const [klass, set] of this.members) if (set.has(obj)) pending.push(klass);
    while (pending.length > 0) {
      const klass = pending.pop()!;
      if (found.has(klass)) continue;
      found.add(klass);
      for (const sup of this.supers.get(klass) ?? []) pending.push(sup);
    }
    return found;
  }

  /** Members of the class and of all its subclasses. */
  allMembersOf(klass: string): string[] {
    const classes = new Set<string>([klass]);
    let grew = true;
    while (grew) {
      grew = false;
      for (const [sub, sups] of this.supers) {
        if (!classes.has(sub) && [...sups].some((c) => classes.has(c))) {
          classes.add(sub);
          grew = true;
        }
      }
    }
    return [...new Set([...classes].flatMap((c) => [...(this.members.get(c) ?? [])]))];
  }

  /** Sets the Registration's `deleted` flag (ACS marks objects deleted instead of removing them). */
  markDeleted(uuid: string, deleted: boolean): number {
    const info = this.objects.get(uuid);
    if (!info) return 404;
    if (info.deleted !== deleted) {
      info.deleted = deleted;
      info.registrationEtag = randomUUID();
      this.emit(App.Registration, uuid);
    }
    return 204;
  }

  hasObject(uuid: string): boolean {
    return this.objects.has(uuid);
  }

  classOf(uuid: string): string | undefined {
    return this.objects.get(uuid)?.klass;
  }

  objectList(): string[] {
    return [...this.objects.keys()];
  }

  /** `POST /v2/object`: 201 new, 200 already there with that class, 409 other class or unknown class, 422 bad spec. */
  createObject(spec: unknown, owner: string = Meta.Unowned): { status: number; registration?: Record<string, unknown> } {
    if (typeof spec !== "object" || spec === null || Array.isArray(spec)) return { status: 422 };
    const { class: klass, uuid } = spec as { class?: unknown; uuid?: unknown };
    if ((klass !== undefined && !isUuid(klass)) || (uuid !== undefined && !isUuid(uuid))) return { status: 422 };
    if (uuid !== undefined && this.objects.has(uuid)) {
      if (klass !== undefined && klass !== this.classOf(uuid)) return { status: 409 };
      return { status: 200, registration: this.registration(uuid) };
    }
    if (klass === undefined) return { status: 422 };
    if (!this.objects.has(klass)) return { status: 409 };
    const created = uuid ?? randomUUID();
    this.register(created, klass, owner);
    return { status: 201, registration: this.registration(created) };
  }

  /** `DELETE /v2/object/:obj`: deletes the object and its entries; 409 while it has members or is an app in use. */
  deleteObject(uuid: string): number {
    if (!this.objects.has(uuid) || uuid === App.Registration) return uuid === App.Registration ? 405 : 404;
    if ((this.members.get(uuid)?.size ?? 0) > 0 || (this.entries.get(uuid)?.size ?? 0) > 0) return 409;
    for (const [app, byObject] of this.entries) {
      if (byObject.delete(uuid)) this.emit(app, uuid);
    }
    for (const set of this.members.values()) set.delete(uuid);
    this.members.delete(uuid);
    this.supers.delete(uuid);
    this.objects.delete(uuid);
    this.emit(App.Registration, uuid);
    return 204;
  }

  addMember(klass: string, obj: string): number {
    if (!this.objects.has(klass) || !this.objects.has(obj)) return 404;
    this.memberSet(klass).add(obj);
    this.changed();
    return 204;
  }

  removeMember(klass: string, obj: string): number {
    if (!this.objects.has(klass) || !this.objects.has(obj)) return 404;
    this.members.get(klass)?.delete(obj);
    this.changed();
    return 204;
  }

  isMember(klass: string, obj: string): boolean {
    return this.members.get(klass)?.has(obj) ?? false;
  }

  /** Direct members, or null if the class object does not exist. */
  membersOf(klass: string): string[] | null {
    if (!this.objects.has(klass)) return null;
    return [...(this.members.get(klass) ?? [])];
  }

  get(app: string, obj: string): StoredEntry | undefined {
    if (app === App.Registration) {
      const info = this.objects.get(obj);
      return info ? { value: this.registration(obj), etag: info.registrationEtag } : undefined;
    }
    return this.entries.get(app)?.get(obj);
  }

  /** Object UUIDs with an entry for the app, or null if the app object does not exist. */
  list(app: string): string[] | null {
    if (!this.objects.has(app)) return null;
    if (app === App.Registration) return this.objectList();
    return [...(this.entries.get(app)?.keys() ?? [])];
  }

  /** Every entry of an app (for SEARCH full updates), or null if the app object does not exist. */
  entriesOf(app: string): Map<string, StoredEntry> | null {
    const list = this.list(app);
    if (!list) return null;
    return new Map(list.map((obj) => [obj, this.get(app, obj)!]));
  }

  /** `PUT`: 201 created, 204 updated (or unchanged: the ETag stays), 404 unknown app/object, 412, 422. */
  put(app: string, obj: string, value: unknown, precondition?: Precondition): number {
    if (app === App.Registration) return 405;
    if (!this.objects.has(app) || !this.objects.has(obj)) return 404;
    const current = this.entries.get(app)?.get(obj);
    const failed = precondition?.(current?.etag ?? null);
    if (failed) return failed;
    const validate = this.validators.get(app);
    if (validate && !validate(value)) return 422;
    if (current && canonicalJson(current.value) === canonicalJson(value)) return 204;
    let byObject = this.entries.get(app);
    if (!byObject) {
      byObject = new Map();
      this.entries.set(app, byObject);
    }
    byObject.set(obj, { value: structuredClone(value), etag: randomUUID() });
    this.emit(app, obj);
    return current ? 204 : 201;
  }

  /** `PATCH` (JSON merge patch): 204 (creating the entry if absent), 409 if the entry is not a JSON object. */
  patch(app: string, obj: string, patch: unknown, precondition?: Precondition): number {
    if (app === App.Registration) return 405;
    const current = this.entries.get(app)?.get(obj);
    const failed = precondition?.(current?.etag ?? null);
    if (failed) return failed;
    if (current && !isPlainObject(current.value)) return 409;
    const status = this.put(app, obj, applyMergePatch(current?.value ?? {}, patch));
    return status === 201 ? 204 : status;
  }

  /** `DELETE`: 204, 404 if there is no entry, 412. */
  delete(app: string, obj: string, precondition?: Precondition): number {
    if (app === App.Registration) return 405;
    const current = this.entries.get(app)?.get(obj);
    const failed = precondition?.(current?.etag ?? null);
    if (failed) return failed;
    if (!current) return 404;
    this.entries.get(app)!.delete(obj);
    this.emit(app, obj);
    return 204;
  }

  private registration(uuid: string): Record<string, unknown> {
    const info = this.objects.get(uuid);
    return { uuid, class: info?.klass, owner: info?.owner ?? Meta.Unowned, deleted: info?.deleted ?? false };
  }

  private memberSet(klass: string): Set<string> {
    let set = this.members.get(klass);
    if (!set) {
      set = new Set();
      this.members.set(klass, set);
    }
    return set;
  }

  private emit(app: string, object: string): void {
    const entry = this.get(app, object);
    const change: EntryChange = entry ? { app, object, entry } : { app, object };
    for (const listener of this.listeners) listener(change);
    this.changed();
  }

  private changed(): void {
    for (const listener of this.anyChangeListeners) listener();
  }
}

/** RFC 7232 preconditions as ACS checks them: strong comparison for If-Match, weak for If-None-Match. */
export function preconditionFrom(headers: IncomingHttpHeaders): Precondition {
  return (current) => {
    const ifMatch = headers["if-match"]?.trim();
    if (ifMatch === "*") {
      if (current === null) return 412;
    } else if (ifMatch !== undefined) {
      const tags = parseEtags(ifMatch);
      if (!tags) return 400;
      if (!tags.some((t) => !t.weak && t.opaque === current)) return 412;
    }
    const ifNoneMatch = headers["if-none-match"]?.trim();
    if (ifNoneMatch === "*") {
      if (current !== null) return 412;
    } else if (ifNoneMatch !== undefined) {
      const tags = parseEtags(ifNoneMatch);
      if (!tags) return 400;
      if (tags.some((t) => t.opaque === current)) return 412;
    }
    return undefined;
  };
}

function parseEtags(header: string): Array<{ opaque: string; weak: boolean }> | null {
  const tags = header.split(/ *, */).map((token) => /^(W\/)?"([\x21\x23-\x7e]*)"$/.exec(token));
  if (tags.some((m) => m === null)) return null;
  return tags.map((m) => ({ weak: m![1] !== undefined, opaque: m![2]! }));
}

/** RFC 7396. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

/** JSON with object keys sorted, so equal values (as the ConfigDB's jsonb sees them) compare equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isPlainObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
