// The bdSeq kept in a ConfigMap the monitor owns, so it survives the Pod being rescheduled to another Node.
// Every change is a read-modify-write guarded by resourceVersion: a concurrent writer makes the API server answer
// 409 Conflict and the update is retried from a fresh read, so no two CONNECTs ever get the same value.
import { Core, type KubeObject } from "../runtime/kube.js";
import { describeApiError, isConflict, type KubeClient } from "../runtime/rest.js";
import { parseStoredBdSeq, type BdSeqStore } from "./bdseq-store.js";
import { nextBdSeq } from "./sequence.js";

export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "graft";
export const BDSEQ_KEY = "bdSeq";

type ConfigMapObject = KubeObject & { data?: Record<string, string> };

export interface ConfigMapBdSeqStoreOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  /** How many conflicts in a row are tolerated before giving up (default 5). */
  maxConflicts?: number;
}

export class ConfigMapBdSeqStore implements BdSeqStore {
  readonly description: string;
  private readonly client: KubeClient;
  private readonly namespace: string;
  private readonly name: string;
  private readonly maxConflicts: number;

  constructor(opts: ConfigMapBdSeqStoreOptions) {
    this.client = opts.client;
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
        if (!isConflict(err)) throw this.failure("storing bdSeq", err);
        if (conflicts + 1 >= this.maxConflicts) {
          throw new Error(`storing bdSeq in ${this.description}: ${conflicts + 1} conflicting writes in a row: is another monitor running?`);
        }
      }
    }
  }

  private async read(): Promise<ConfigMapObject | undefined> {
    let cm: ConfigMapObject | null;
    try {
      cm = await this.client.getOrNull<ConfigMapObject>(Core.configMaps, this.name, this.namespace);
    } catch (err) {
      throw this.failure("reading bdSeq", err);
    }
    if (!cm) return undefined;
    if (cm.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) {
      throw new Error(`${this.description} is not managed by graft (label ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE} missing): refusing to take it over; delete it or choose another name`);
    }
    return cm;
  }

  private async create(value: number): Promise<void> {
    await this.client.create<ConfigMapObject>(Core.configMaps, {
      metadata: {
        name: this.name,
        namespace: this.namespace,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, "app.kubernetes.io/component": "edge-monitor" },
      },
      data: { [BDSEQ_KEY]: String(value) },
    });
  }

  private async replace(cm: ConfigMapObject, value: number): Promise<void> {
    // resourceVersion from the read makes this a compare-and-swap: a write in between fails with 409.
    await this.client.replace<ConfigMapObject>(Core.configMaps, { ...cm, data: { ...cm.data, [BDSEQ_KEY]: String(value) } });
  }

  private failure(what: string, err: unknown): Error {
    return new Error(`${what} in ${this.description}: ${describeApiError(err)}`, { cause: err });
  }
}
