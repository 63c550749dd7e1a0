// Status writes through the status subresource with an optimistic lock: a read-modify-write for writers that own a
// few fields (updateStatus), and the reconcilers' once-per-pass patch diffed against the object as read (patchStatus).
import { isDeepStrictEqual } from "node:util";
import { resourcePath, type KubeObject, type ResourceType } from "./kube.js";
import { isConflict, isNotFound, type KubeClient } from "./rest.js";

/**
 * Replaces an object's status through the status subresource with an optimistic lock. On a conflict the object is
 * read again and mutate is applied afresh, so only the changes this caller owns are carried over. mutate may return
 * a new status or change the one it is given. Returns the updated object (or the current one when nothing changed),
 * null when the object is gone. `from`: the object as the caller already has it (an informer's copy): the first
 * attempt writes on top of it, under its resourceVersion, with no read; if it was stale the write conflicts and the
 * object is read.
 */
export async function updateStatus<S, T extends KubeObject & { status?: S }>(
  client: KubeClient, type: ResourceType, name: string, namespace: string | undefined,
  mutate: (status: S, obj: T) => S | void, opts: { attempts?: number; from?: T } = {},
): Promise<T | null> {
  const attempts = opts.attempts ?? 8;
  for (let i = 0; ; i++) {
    const obj = i === 0 && opts.from ? opts.from : await client.getOrNull<T>(type, name, namespace);
    if (!obj) return null;
    const current = (obj.status ?? {}) as S;
    const draft = structuredClone(current);
    const next = mutate(draft, obj) ?? draft;
    if (isDeepStrictEqual(next, current)) return obj;
    try {
      return await client.request<T>(resourcePath(type, namespace, name, "status"), {
        method: "PUT", body: { ...obj, status: next },
      });
    } catch (err) {
      // A caller's copy of an object deleted since: the read that follows says it is gone.
      if (i === 0 && opts.from && isNotFound(err)) continue;
      if (!isConflict(err) || i >= attempts - 1) throw err;
    }
  }
}

type StatusRecord = Record<string, unknown> & { conditions?: Array<{ type: string }> };

/** The top-level fields and the condition types that differ between two statuses. */
function statusChanges(before: StatusRecord, after: StatusRecord): { fields: string[]; conditions: string[] } {
  const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((k) => k !== "conditions" && !isDeepStrictEqual(before[k], after[k]));
  const types = new Set([...(before.conditions ?? []), ...(after.conditions ?? [])].map((c) => c.type));
  const find = (s: StatusRecord, t: string) => s.conditions?.find((c) => c.type === t);
  const conditions = [...types].filter((t) => !isDeepStrictEqual(find(before, t), find(after, t)));
  return { fields, conditions };
}

/** Carries this writer's changes (fields and condition types it changed) over onto a status someone else moved on. */
function reapply(fresh: StatusRecord, changes: { fields: string[]; conditions: string[] }, mine: StatusRecord): StatusRecord {
  const next: StatusRecord = structuredClone(fresh);
  for (const k of changes.fields) {
    if (mine[k] === undefined) delete next[k];
    else next[k] = structuredClone(mine[k]);
  }
  let conditions = [...(next.conditions ?? [])];
  for (const t of changes.conditions) {
    const c = mine.conditions?.find((x) => x.type === t);
    const i = conditions.findIndex((x) => x.type === t);
    if (!c) conditions = conditions.filter((x) => x.type !== t);
    else if (i >= 0) conditions[i] = structuredClone(c);
    else conditions.push(structuredClone(c));
  }
  if (conditions.length > 0 || next.conditions) next.conditions = conditions;
  return next;
}

/**
 * Writes what a caller changed in a status draft: the fields and condition types that differ between `base` (the
 * status the caller started from) and `draft` are carried onto `obj`'s status, `finish` (e.g. deriving Ready) runs
 * on the result, and it is written with one PUT under `obj`'s resourceVersion if anything changed. On a conflict
 * the object is read again and the same changes are carried onto the fresh status, so another writer's fields are
 * never reverted. Returns the object as written, `obj` when nothing changed, null when the object is gone.
 * `onReread` sees each version read after a conflict (all older than the one finally written).
 */
export async function patchStatus<T extends KubeObject & { status?: object }>(
  client: KubeClient, type: ResourceType, obj: T, base: object, draft: object,
  opts: { finish?: (status: object, obj: T) => void; onReread?: (fresh: T) => void; attempts?: number } = {},
): Promise<T | null> {
  const finish = opts.finish ?? (() => undefined);
  const attempts = opts.attempts ?? 8;
  const mine = draft as StatusRecord;
  const changes = statusChanges(base as StatusRecord, mine);
  if (changes.fields.length === 0 && changes.conditions.length === 0) return obj;
  for (let i = 0; ; i++) {
    const current = (obj.status ?? {}) as StatusRecord;
    const next = isDeepStrictEqual(current, base) ? mine : reapply(current, changes, mine);
    if (next !== mine) finish(next, obj);
    if (isDeepStrictEqual(next, current)) return obj;
    try {
      return await client.request<T>(resourcePath(type, obj.metadata.namespace, obj.metadata.name, "status"), {
        method: "PUT", body: { ...obj, status: next },
      });
    } catch (err) {
      if (!isConflict(err) || i >= attempts - 1) throw err;
    }
    const fresh = await client.getOrNull<T>(type, obj.metadata.name, obj.metadata.namespace);
    if (!fresh) return null;
    opts.onReread?.(fresh);
    obj = fresh;
  }
}

/** Adds a finalizer (optimistic lock on the resourceVersion); returns the updated object. */
export async function addFinalizer<T extends KubeObject>(client: KubeClient, type: ResourceType, obj: T, finalizer: string): Promise<T> {
  const list = obj.metadata.finalizers ?? [];
  if (list.includes(finalizer)) return obj;
  return client.patch<T>(type, obj.metadata.name, obj.metadata.namespace,
    { metadata: { resourceVersion: obj.metadata.resourceVersion, finalizers: [...list, finalizer] } });
}

/** Removes a finalizer (optimistic lock on the resourceVersion); returns the updated object. */
export async function removeFinalizer<T extends KubeObject>(client: KubeClient, type: ResourceType, obj: T, finalizer: string): Promise<T> {
  const list = obj.metadata.finalizers ?? [];
  if (!list.includes(finalizer)) return obj;
  return client.patch<T>(type, obj.metadata.name, obj.metadata.namespace,
    { metadata: { resourceVersion: obj.metadata.resourceVersion, finalizers: list.filter((f) => f !== finalizer) } });
}
