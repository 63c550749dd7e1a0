// The Online condition of an EdgeCluster, from its edge monitor's Sparkplug session (issue 17 item 2): NBIRTH →
// True, NDEATH → False. The broker publishes the NDEATH as the monitor's will when the monitor dies or its link is
// cut, so Online follows the edge within seconds without comparing clocks or keeping a lease. An NDEATH counts only
// when it carries the bdSeq of the NBIRTH last seen for that node: the will of an old session that arrives after the
// new session's birth is stale and ignored. Online is observational, like Reporting: it never feeds Ready (see
// docs/operations.md) and its write never triggers a reconcile (needsReconcile ignores it).
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { readFile } from "node:fs/promises";
import { ConditionType as T, Reason } from "../../api/conditions.js";
import { EdgeClusterType, type EdgeCluster } from "../../api/edgecluster.js";
import { decodePayload } from "../../edge-monitor/payloads.js";
import { BDSEQ_METRIC, DEFAULT_NODE_ID, SPARKPLUG_NAMESPACE } from "../../edge-monitor/sparkplug-ids.js";
import { getCondition, setCondition } from "../../runtime/conditions.js";
import { CredentialFile } from "../../runtime/credential-file.js";
import type { Logger } from "../../runtime/logger.js";
import type { KubeClient } from "../../runtime/rest.js";
import { patchStatus } from "../../runtime/status.js";

/** The broker the cluster-manager watches edge monitors on (--mqtt-url and friends). */
export interface LivenessBrokerSettings {
  url: string;
  username?: string;
  /** File holding the password (a mounted Secret); read again after the broker refuses it. */
  passwordFile?: string;
  caFile?: string;
}

export interface SparkplugLivenessDeps {
  client: KubeClient;
  log: Logger;
  broker: LivenessBrokerSettings;
  /** The EdgeClusters as the informer has them. */
  clusters: () => EdgeCluster[];
}

/** What a Monitor NBIRTH or NDEATH means for the cluster's Online condition. */
export interface NodeEvent {
  group: string;
  kind: "NBIRTH" | "NDEATH";
  bdSeq: bigint | undefined;
}

const TOPICS = ["NBIRTH", "NDEATH"].map((t) => `${SPARKPLUG_NAMESPACE}/+/${t}/${DEFAULT_NODE_ID}`);
/** CONNACK codes that refuse the credentials (MQTT 3.1.1 4 and 5, MQTT 5 0x86 and 0x87). */
const LOGIN_REFUSED = new Set([4, 5, 0x86, 0x87]);

/** The broker's host for logs: a URL may carry a password. */
function brokerHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(unparsable URL)";
  }
}

/** Reads a Monitor NBIRTH/NDEATH message; undefined for any other topic or an undecodable payload. */
export function parseNodeMessage(topic: string, payload: Buffer): NodeEvent | undefined {
  const [ns, group, kind, node, ...rest] = topic.split("/");
  if (ns !== SPARKPLUG_NAMESPACE || node !== DEFAULT_NODE_ID || rest.length || (kind !== "NBIRTH" && kind !== "NDEATH") || !group) return undefined;
  let metric;
  try {
    metric = decodePayload(payload).metrics?.find((m) => m.name === BDSEQ_METRIC);
  } catch {
    return undefined;
  }
  const v = metric?.value;
  const bdSeq = typeof v === "bigint" ? v : typeof v === "number" ? BigInt(v) : typeof v === "object" && v !== null && "toString" in v ? BigInt(String(v)) : undefined;
  return { group, kind, bdSeq };
}

/**
 * Decides which node messages count, per Sparkplug group: every NBIRTH (it starts a session and records its bdSeq),
 * an NDEATH only with the recorded bdSeq. Before any NBIRTH was seen (the manager just started) an NDEATH counts:
 * the node was born before we listened, and a death of some session is the best knowledge there is.
 */
export class SessionTracker {
  private readonly births = new Map<string, bigint | undefined>();

  accept(e: NodeEvent): boolean {
    if (e.kind === "NBIRTH") {
      this.births.set(e.group, e.bdSeq);
      return true;
    }
    if (!this.births.has(e.group)) return true;
    const born = this.births.get(e.group);
    if (born !== undefined && e.bdSeq !== born) return false;
    this.births.delete(e.group);
    return true;
  }
}

export class SparkplugLiveness {
  private mqttClient?: MqttClient;
  private readonly tracker = new SessionTracker();
  private readonly password?: CredentialFile;
  /** Per group, the write in progress: writes for one cluster are applied in the order the messages arrived. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly deps: SparkplugLivenessDeps) {
    if (deps.broker.passwordFile) this.password = new CredentialFile(deps.broker.passwordFile, "the MQTT password");
  }

  async start(): Promise<void> {
    if (this.mqttClient) return;
    const { broker, log } = this.deps;
    const ca = broker.caFile ? await readFile(broker.caFile) : undefined;
    const options: IClientOptions = {
      username: broker.username, password: this.password ? await this.password.value() : undefined,
      reconnectPeriod: 2_000, clean: true, ...(ca ? { ca } : {}),
    };
    const client = mqtt.connect(broker.url, options);
    this.mqttClient = client;
    client.on("connect", () => {
      log.info({ broker: brokerHost(broker.url) }, "watching edge monitors' Sparkplug births and deaths");
      client.subscribe(TOPICS, { qos: 1 }, (err) => {
        if (err) log.warn({ err: err.message }, "subscribing to Monitor NBIRTH/NDEATH failed");
      });
    });
    client.on("error", (err) => {
      const code = (err as { code?: number }).code;
      log.warn({ err: err.message }, "MQTT connection to the liveness broker failed");
      if (code !== undefined && LOGIN_REFUSED.has(code) && this.password) {
        this.password.invalidate();
        void this.password.value().then((p) => { client.options.password = p; }, (e: Error) => log.error({ err: e.message }, "re-reading the MQTT password failed"));
      }
    });
    client.on("message", (topic, payload) => this.onMessage(topic, payload));
  }

  async stop(): Promise<void> {
    const client = this.mqttClient;
    this.mqttClient = undefined;
    if (client) await client.endAsync(true);
    await Promise.allSettled([...this.chains.values()]);
  }

  private onMessage(topic: string, payload: Buffer): void {
    const event = parseNodeMessage(topic, payload);
    if (!event) return;
    if (!this.tracker.accept(event)) {
      this.deps.log.debug({ group: event.group, bdSeq: String(event.bdSeq) }, "ignoring a stale NDEATH");
      return;
    }
    const previous = this.chains.get(event.group) ?? Promise.resolve();
    const next = previous.then(() => this.write(event)).catch((err: Error) =>
      this.deps.log.warn({ group: event.group, err: err.message }, "writing the Online condition failed"));
    this.chains.set(event.group, next);
    void next.finally(() => { if (this.chains.get(event.group) === next) this.chains.delete(event.group); });
  }

  private async write(e: NodeEvent): Promise<void> {
    const online = e.kind === "NBIRTH";
    const bdSeq = e.bdSeq === undefined ? "none" : String(e.bdSeq);
    const input = online
      ? { type: T.Online, status: "True" as const, reason: Reason.NodeBirth, message: `edge monitor born (NBIRTH, bdSeq ${bdSeq})` }
      : { type: T.Online, status: "False" as const, reason: Reason.NodeDeath, message: `edge monitor dead (NDEATH, bdSeq ${bdSeq})` };
    for (const ec of this.deps.clusters().filter((c) => c.status?.sparkplugGroup === e.group)) {
      const base = ec.status ?? {};
      if (getCondition(base.conditions, T.Online)?.message === input.message) continue;
      const draft = structuredClone(base);
      draft.conditions = setCondition(draft.conditions, input, ec.metadata.generation);
      await patchStatus(this.deps.client, EdgeClusterType, ec, base, draft);
      this.deps.log.info({ name: ec.metadata.name, namespace: ec.metadata.namespace, online, bdSeq }, "Online condition changed");
    }
  }
}
