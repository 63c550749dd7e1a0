import { isDeepStrictEqual } from "node:util";
import { resourcePath, type KubeObject, type ResourceType } from "./kube.js";
import { isConflict, type KubeClient } from "./rest.js";

/**
 * Replaces an object's status through the status subresource with an optimistic lock. On a conflict the object is
 * read again and mutate is applied afresh, so only the changes this caller owns are carried over. mutate may return
 * a new status or change the one it is given. Returns the updated object (or the current one when nothing changed),
 * null when the object is gone.
 */
export async function updateStatus<S, T extends KubeObject & { status?: S }>(
  client: KubeClient, type: ResourceType, name: string, namespace: string | undefined,
  mutate: (status: S, obj: T) => S | void, attempts = 8,
): Promise<T | null> {
  for (let i = 0; ; i++) {
    const obj = await client.getOrNull<T>(type, name, namespace);
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
      if (!isConflict(err) || i >= attempts - 1) throw err;
    }
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
