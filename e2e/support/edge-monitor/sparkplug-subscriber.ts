// An independent MQTT subscriber for tests: records every Sparkplug message of the broker, decoded with the
// independent wire decoder, and plays the host application when a test needs an NCMD.
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import sparkplug from "sparkplug-payload";
import { eventually } from "../../harness/eventually.js";
import { decodeWirePayload, type WirePayload } from "./sparkplug-wire.js";

export interface ReceivedMessage {
  index: number;
  topic: string;
  qos: number;
  retain: boolean;
  payload?: WirePayload;
}

const MARKER_PREFIX = "graft-test/marker/";

export class SparkplugSubscriber {
  readonly messages: ReceivedMessage[] = [];
  private markers = 0;

  private constructor(private readonly client: MqttClient) {
    client.on("message", (topic, raw, packet) => {
      let payload: WirePayload | undefined;
      if (topic.startsWith("spBv1.0/")) {
        try {
          payload = decodeWirePayload(raw);
        } catch {
          payload = undefined;
        }
      }
      this.messages.push({ index: this.messages.length, topic, qos: packet.qos, retain: packet.retain, ...(payload ? { payload } : {}) });
    });
  }

  /**
   * Connects over MQTT 5 and subscribes to `spBv1.0/#` at QoS 1 with "retain as published", so `retain` shows the
   * publisher's flag and `qos` the publisher's QoS (capped at 1). A persistent subscriber (fixed client id, session
   * kept after disconnect) keeps its session on a broker with persistence across a broker restart, so it misses
   * nothing.
   */
  static async connect(url: string, opts: { persistentId?: string; extra?: IClientOptions } = {}): Promise<SparkplugSubscriber> {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      reconnectPeriod: 100,
      connectTimeout: 5_000,
      ...(opts.persistentId ? { clientId: opts.persistentId, clean: false, properties: { sessionExpiryInterval: 600 } } : {}),
      ...opts.extra,
    });
    const sub = new SparkplugSubscriber(client);
    await client.subscribeAsync({ "spBv1.0/#": { qos: 1, rap: true }, [`${MARKER_PREFIX}#`]: { qos: 1 } });
    return sub;
  }

  /** Messages a brand-new subscription receives at once: the retained ones. */
  static async retainedMessages(url: string, extra: IClientOptions = {}): Promise<ReceivedMessage[]> {
    const sub = await SparkplugSubscriber.connect(url, { extra });
    try {
      await sub.flush();
      return sub.messages.filter((m) => m.topic.startsWith("spBv1.0/"));
    } finally {
      await sub.close();
    }
  }

  /** Index the next message will get: pass it as `after` to wait only for newer messages. */
  mark(): number {
    return this.messages.length;
  }

  async waitFor(what: string, predicate: (m: ReceivedMessage) => boolean, opts: { after?: number; timeoutMs?: number } = {}): Promise<ReceivedMessage> {
    const after = opts.after ?? 0;
    return eventually(() => this.messages.slice(after).find(predicate), {
      timeoutMs: opts.timeoutMs ?? 20_000,
      intervalMs: 20,
      message: `no ${what} arrived (messages seen: ${this.messages.slice(after).map((m) => m.topic).join(", ") || "none"})`,
    });
  }

  /** Messages on a topic from `after` on. */
  on(topic: string, after = 0): ReceivedMessage[] {
    return this.messages.slice(after).filter((m) => m.topic === topic);
  }

  /**
   * Publishes a marker to itself and waits for it: every message the broker routed to this subscriber before the
   * marker has then arrived, so a test can assert that something did not happen.
   */
  async flush(): Promise<void> {
    const topic = `${MARKER_PREFIX}${++this.markers}`;
    const after = this.mark();
    await this.client.publishAsync(topic, "marker", { qos: 1 });
    await this.waitFor(`marker ${topic}`, (m) => m.topic === topic, { after });
  }

  /** Sends the host application's `Node Control/Rebirth` NCMD (QoS 0, not retained, as Sparkplug requires). */
  async requestRebirth(group: string, nodeId: string): Promise<void> {
    const codec = sparkplug.get("spBv1.0")!;
    const timestamp = Date.now();
    const payload = codec.encodePayload({
      timestamp,
      metrics: [{ name: "Node Control/Rebirth", type: "Boolean", value: true, timestamp }],
    });
    await this.client.publishAsync(`spBv1.0/${group}/NCMD/${nodeId}`, Buffer.from(payload), { qos: 0, retain: false });
  }

  async publishRaw(topic: string, payload: Buffer): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 0, retain: false });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
