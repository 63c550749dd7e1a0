// The bdSeq kept in a ConfigMap the monitor owns, so it survives the Pod being rescheduled to another Node.
// Every change is a read-modify-write guarded by resourceVersion: a concurrent writer makes the API server answer
// 409 Conflict and the update is retried from a fresh read, so no two CONNECTs ever get the same value.
import type * as k8s from "@kubernetes/client-node";
import { parseStoredBdSeq, type BdSeqStore } from "./bdseq-store.js";
import { nextBdSeq } from "./sequence.js";

export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "graft";
export const BDSEQ_KEY = "bdSeq";

export interface ConfigMapBdSeqStoreOptions {
  core: k8s.CoreV1Api;
  namespace: string;
  name: string;
  /** How many conflicts in a row are tolerated before giving up (default 5). */
  maxConflicts?: number;
}

export class ConfigMapBdSeqStore implements BdSeqStore {
  readonly description: string;
  private readonly core: k8s.CoreV1Api;
  private readonly namespace: string;
  private readonly name: string;
  private readonly maxConflicts: number;

  constructor(opts: ConfigMapBdSeqStoreOptions) {
    this.core = opts.core;
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.maxConflicts = opts.maxConflicts ?? 5;
    this.description = `configmap "${opts.namespace}/${opts.name}"`;
  }

  async current(): Promise<number | undefined> {
    const cm = await this.read();
    return cm ? parseStoredBdSeq(cm.data?.[BDSEQ_KEY]) : undefined;
  }

  async next(): Promise<number> {
    for (let conflicts = 0; ; conflicts++) {
      const cm = await this.read();
      const value = nextBdSeq(cm ? parseStoredBdSeq(cm.data?.[BDSEQ_KEY]) : undefined);
      try {
        if (cm) await this.replace(cm, value);
        else await this.create(value);
        return value;
      } catch (err) {
        if (statusOf(err) !== 409) throw this.failure("storing bdSeq", err);
        if (conflicts + 1 >= this.maxConflicts) {
          throw new Error(`storing bdSeq in ${this.description}: ${conflicts + 1} conflicting writes in a row: is another monitor running?`);
        }
      }
    }
  }

  private async read(): Promise<k8s.V1ConfigMap | undefined> {
    let cm: k8s.V1ConfigMap;
    try {
      cm = await this.core.readNamespacedConfigMap({ name: this.name, namespace: this.namespace });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw this.failure("reading bdSeq", err);
    }
    if (cm.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) {
      throw new Error(`${this.description} is not managed by graft (label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE} missing): refusing to take it over; delete it or choose another name`);
    }
    return cm;
  }

  private async create(value: number): Promise<void> {
    await this.core.createNamespacedConfigMap({
      namespace: this.namespace,
      body: {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: this.name,
          namespace: this.namespace,
          labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, "app.kubernetes.io/component": "edge-monitor" },
        },
        data: { [BDSEQ_KEY]: String(value) },
      },
    });
  }

  private async replace(cm: k8s.V1ConfigMap, value: number): Promise<void> {
    // resourceVersion from the read makes this a compare-and-swap: a write in between fails with 409.
    await this.core.replaceNamespacedConfigMap({
      name: this.name,
      namespace: this.namespace,
      body: { ...cm, data: { ...cm.data, [BDSEQ_KEY]: String(value) } },
    });
  }

  private failure(what: string, err: unknown): Error {
    const status = statusOf(err);
    const detail = status ? `API server answered ${status}${apiMessage(err)}` : (err as Error).message;
    return new Error(`${what} in ${this.description}: ${detail}`, { cause: err });
  }
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** The `message` of the API server's Status body, if there is one. */
function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  try {
    const status = (typeof body === "string" ? JSON.parse(body) : body) as { message?: unknown } | undefined;
    return typeof status?.message === "string" ? `: ${status.message}` : "";
  } catch {
    return "";
  }
}
