// The Sparkplug B edge node of an edge cluster (acs-contract.md §6): one MQTT session at a time, each with its own
// bdSeq. The NDEATH for a session is registered as the MQTT will in that session's CONNECT, so a new session always
// means a new client whose will carries the freshly reserved bdSeq; the NBIRTH that follows repeats that bdSeq, and
// so does every rebirth within the session.
import { readFile } from "node:fs/promises";
import { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { CredentialFile } from "../runtime/credential-file.js";
import { silentLogger, type Logger } from "../runtime/logger.js";
import { backoffDelay } from "../runtime/backoff.js";
import type { BdSeqStore } from "./bdseq-store.js";
import { linkInstanceUuid, type MonitorConfig } from "./config.js";
import { MonitorMetrics } from "./monitor-metrics.js";
import {
  birthPayload, dataPayload, deathPayload, decodePayload, encodePayload, isRebirthRequest, type SparkplugMetric,
} from "./payloads.js";
import { SequenceCounter } from "./sequence.js";
import { FACTORY_PLUS_PAYLOAD_UUID, nodeTopic, SPARKPLUG_NAMESPACE } from "./sparkplug-ids.js";

/** MQTT 5 DISCONNECT reason code 0x04: the broker still publishes the will (Sparkplug 3.0 asks for it on MQTT 5). */
const DISCONNECT_WITH_WILL_MESSAGE = 4;
const DISCONNECT_TIMEOUT_MS = 5_000;
/** CONNACK codes that refuse the credentials: MQTT 3.1.1 4 and 5, MQTT 5 0x86 and 0x87. */
const LOGIN_REFUSED = new Set([4, 5, 0x86, 0x87]);
/** MQTT 5 "not authorised": the login may be fine but the broker's permissions (ACS: the account's grants) refuse. */
const NOT_AUTHORISED = 0x87;

export interface EdgeMonitorOptions {
  config: Pick<MonitorConfig, "clusterUuid" | "sparkplug" | "mqtt" | "retry"> & Partial<Pick<MonitorConfig, "stallAfterMs">>;
  bdSeqStore: BdSeqStore;
  logger?: Logger;
  metrics?: MonitorMetrics;
}

/** Lets another part of the monitor (SparkplugNode monitoring) use this node's MQTT session. */
export interface SessionExtension {
  /** Topic filters subscribed in every session, before the NBIRTH. */
  topics(): string[];
  /** A message on one of those topics. */
  onPacket(topic: string, payload: Buffer): void;
  /** Right after every NBIRTH (connect or rebirth): Sparkplug wants the devices born again. */
  afterBirth(): void;
}

export type DeviceMessageType = "DBIRTH" | "DDATA" | "DDEATH";

export interface MonitorStatus {
  connected: boolean;
  born: boolean;
  /** The bdSeq of the current (or last) MQTT session. */
  bdSeq?: number;
}

export class EdgeMonitor {
  readonly metrics: MonitorMetrics;
  private config: EdgeMonitorOptions["config"];
  private readonly store: BdSeqStore;
  private readonly log: Logger;
  private readonly topics: { birth: string; death: string; data: string; command: string };
  private readonly seq = new SequenceCounter();

  private ca: Buffer | undefined;
  private readonly passwordFile: CredentialFile | undefined;
  private client: MqttClient | undefined;
  private bdSeq: number | undefined;
  private connected = false;
  private born = false;
  private attempts = 0;
  /** When the connect loop last moved (an attempt started or ended, a connect, a birth): for liveness. */
  private lastProgressAt = Date.now();
  private stopping = false;
  private loop: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private extension: SessionExtension | undefined;

  constructor(opts: EdgeMonitorOptions) {
    this.config = opts.config;
    this.store = opts.bdSeqStore;
    this.metrics = opts.metrics ?? new MonitorMetrics();
    const { group, nodeId } = opts.config.sparkplug;
    this.log = (opts.logger ?? silentLogger).child({ group, node: nodeId });
    this.topics = {
      birth: nodeTopic(group, "NBIRTH", nodeId),
      death: nodeTopic(group, "NDEATH", nodeId),
      data: nodeTopic(group, "NDATA", nodeId),
      command: nodeTopic(group, "NCMD", nodeId),
    };
    const { passwordFile } = opts.config.mqtt;
    if (passwordFile) this.passwordFile = new CredentialFile(passwordFile, "the MQTT password");
  }

  /** Sets the Instance_UUID the monitor is born with (its account's, in ACS mode); only before start(). */
  useInstanceUuid(uuid: string): void {
    if (this.loop) throw new Error("the Instance_UUID cannot change once the monitor has started");
    const sparkplug = { ...this.config.sparkplug, instanceUuid: uuid, linkInstanceUuid: linkInstanceUuid(uuid) };
    this.config = { ...this.config, sparkplug };
  }

  /** Starts connecting (and reconnecting until stop()); resolves once the first attempt is under way. */
  async start(): Promise<void> {
    if (this.loop) throw new Error("edge monitor already started");
    const { caFile } = this.config.mqtt;
    if (caFile) {
      try {
        this.ca = await readFile(caFile);
      } catch (err) {
        throw new Error(`reading the MQTT CA bundle "${caFile}": ${(err as Error).message}`);
      }
    }
    this.log.info({ broker: this.config.mqtt.url, bdSeqStore: this.store.description }, "starting Sparkplug edge node");
    this.loop = this.run();
  }

  /**
   * Ends the Sparkplug session on purpose: publishes the NDEATH (same bdSeq as the NBIRTH), then DISCONNECTs, and
   * stops reconnecting. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  /** Connected to the broker and born (NBIRTH published) in this session. */
  isReady(): boolean {
    return this.connected && this.born;
  }

  /**
   * Why the monitor is stuck — a restart would help — or undefined. A born session is healthy (MQTT keep-alive ends
   * a dead one); a broker that refuses or cannot be reached is retried, which is progress. Stuck is a loop that
   * stopped moving: a bdSeq store or a connection attempt that never returns.
   */
  stuckReason(now = Date.now()): string | undefined {
    if (this.born || this.stopping) return undefined;
    const idleMs = now - this.lastProgressAt;
    const stallAfterMs = this.config.stallAfterMs ?? 300_000;
    return idleMs > stallAfterMs ? `no Sparkplug session and no connection attempt finished for ${Math.round(idleMs / 1000)} s` : undefined;
  }

  /** A retried wait before start() (the account UUID lookup in ACS mode) is progress too, not a stuck loop. */
  noteProgress(): void {
    this.lastProgressAt = Date.now();
  }

  status(): MonitorStatus {
    return { connected: this.connected, born: this.born, ...(this.bdSeq !== undefined ? { bdSeq: this.bdSeq } : {}) };
  }

  /** Publishes an NDATA with the next seq; false when there is no born session to publish in. */
  publishData(metrics: SparkplugMetric[]): boolean {
    const client = this.client;
    if (!client || !this.born || this.stopping) return false;
    const payload = dataPayload(metrics, this.seq.next(), Date.now());
    client.publish(this.topics.data, encodePayload(payload), { qos: 0, retain: false }, (err) => {
      if (err) this.log.warn({ err: err.message }, "publishing NDATA failed");
    });
    return true;
  }

  /** Hands this node's sessions to an extension (one at most). */
  extend(extension: SessionExtension): void {
    this.extension = extension;
  }

  /** Subscribes in the current session too (the extension's topics() covers later ones). */
  subscribe(filters: string[]): void {
    if (this.client && this.connected && filters.length) {
      this.client.subscribe(filters, { qos: 0 }, (err) => {
        if (err) this.log.warn({ err: err.message, filters }, "subscribing failed");
      });
    }
  }

  unsubscribe(filters: string[]): void {
    if (this.client && this.connected && filters.length) this.client.unsubscribe(filters);
  }

  /** Publishes a device message with the next seq; false when there is no born session to publish in. */
  publishDevice(type: DeviceMessageType, deviceId: string, metrics: SparkplugMetric[]): boolean {
    const client = this.client;
    if (!client || !this.born || this.stopping) return false;
    const { group, nodeId } = this.config.sparkplug;
    const payload = dataPayload(metrics, this.seq.next(), Date.now());
    if (type === "DBIRTH") payload.uuid = FACTORY_PLUS_PAYLOAD_UUID;
    client.publish(`${SPARKPLUG_NAMESPACE}/${group}/${type}/${nodeId}/${deviceId}`, encodePayload(payload), { qos: 0, retain: false }, (err) => {
      if (err) this.log.warn({ err: err.message, type, deviceId }, "publishing a device message failed");
    });
    return true;
  }

  private async run(): Promise<void> {
    let failures = 0;
    // A bdSeq is used up only by a CONNECT packet that was sent; an attempt that never got that far (connection
    // refused, TLS failure) leaves it for the next attempt, so the bdSeq goes up by exactly one per CONNECT.
    let unsent: number | undefined;
    while (!this.stopping) {
      let born = false;
      this.lastProgressAt = Date.now();
      try {
        const bdSeq = unsent ?? await this.store.next();
        this.lastProgressAt = Date.now();
        unsent = bdSeq;
        if (this.stopping) break;
        const password = this.passwordFile ? await this.passwordFile.value() : this.config.mqtt.password;
        const outcome = await this.session(bdSeq, password);
        if (outcome.connectSent) unsent = undefined;
        born = outcome.born;
      } catch (err) {
        this.log.error({ err: (err as Error).message }, "cannot start an MQTT session");
      }
      this.lastProgressAt = Date.now();
      if (this.stopping) break;
      failures = born ? 0 : failures + 1;
      // Jittered down by up to a quarter: edge clusters cut off by the same outage do not all return in step.
      const delayMs = backoffDelay(born ? 1 : failures, { minMs: this.config.retry.minDelayMs, maxMs: this.config.retry.maxDelayMs, jitter: 0.25, spread: "down" });
      this.log.info({ delayMs }, "reconnecting after a pause");
      await this.sleep(delayMs);
    }
  }

  /** One MQTT connection with the will for this bdSeq; resolves when it closes. */
  private session(bdSeq: number, password: string | undefined): Promise<{ born: boolean; connectSent: boolean }> {
    const { mqtt: m } = this.config;
    if (this.attempts++ > 0) this.metrics.reconnects.inc();
    this.bdSeq = bdSeq;
    const options: IClientOptions = {
      clientId: m.clientId,
      protocolVersion: m.protocolVersion,
      clean: true,
      reconnectPeriod: 0,
      keepalive: m.keepaliveSeconds,
      connectTimeout: m.connectTimeoutMs,
      will: {
        topic: this.topics.death,
        payload: encodePayload(deathPayload(bdSeq, Date.now())),
        qos: 1,
        retain: false,
      },
      ...(m.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
      ...(m.username !== undefined ? { username: m.username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(this.ca ? { ca: this.ca } : {}),
    };
    this.log.info({ bdSeq, clientId: m.clientId }, "connecting to the MQTT broker");
    const client = mqtt.connect(m.url, options);
    this.client = client;
    return new Promise((resolve) => {
      let born = false;
      // mqtt.js queues the CONNECT on the socket at once; it reaches the broker only if the transport connects.
      let connectSent = false;
      const stream: unknown = client.stream;
      if (stream instanceof TLSSocket) stream.once("secureConnect", () => { connectSent = true; });
      else if (stream instanceof Socket) stream.once("connect", () => { connectSent = true; });
      else connectSent = true; // another transport (WebSocket): count the bdSeq as used, so it is never reused
      client.on("connect", () => {
        this.lastProgressAt = Date.now();
        this.connected = true;
        this.metrics.connected.set(1);
        this.metrics.notAuthorised.remove({ reason: "connect" });
        this.log.info({ bdSeq }, "connected to the MQTT broker");
        this.birthAfterConnect(client, bdSeq).then(
          (ok) => { born ||= ok; },
          (err: Error) => {
            this.log.error({ err: err.message }, "cannot complete the Sparkplug birth: dropping the connection");
            client.end(true);
          },
        );
      });
      client.on("message", (topic, payload) => this.onMessage(client, topic, payload));
      client.on("error", (err) => {
        const code = (err as Error & { code?: number }).code ?? -1;
        if (LOGIN_REFUSED.has(code)) {
          // After a rotation the file may already hold the new password, or will once the kubelet catches up.
          this.metrics.loginRefusals.inc();
          this.passwordFile?.invalidate();
          if (code === NOT_AUTHORISED) {
            this.metrics.notAuthorised.set({ reason: "connect" }, 1);
            this.log.error({ err: err.message, username: m.username }, "the broker refused the session as not authorised (in ACS: the account's MQTT grants, its role and Sparkplug address); retrying with backoff");
            return;
          }
          this.log.warn({ err: err.message, passwordFile: this.passwordFile?.path }, "the broker refused the login: reading the password again before the next attempt");
          return;
        }
        this.log.warn({ err: err.message }, "MQTT connection error");
      });
      client.once("close", () => {
        if (this.client === client) {
          if (this.born) this.metrics.deaths.inc({ reason: "connection_lost" });
          this.client = undefined;
          this.connected = false;
          this.born = false;
          this.metrics.connected.set(0);
        }
        client.removeAllListeners();
        client.on("error", () => undefined);
        client.end(true);
        if (!this.stopping) this.log.warn({ bdSeq, born }, "MQTT connection closed");
        resolve({ born, connectSent });
      });
    });
  }

  /** Subscribes to NCMD before the NBIRTH, so a rebirth request sent right after the birth is not missed. */
  private async birthAfterConnect(client: MqttClient, bdSeq: number): Promise<boolean> {
    const grants = await client.subscribeAsync([this.topics.command, ...(this.extension?.topics() ?? [])], { qos: 0 });
    if (grants.some((g) => g.qos === 128)) {
      this.log.warn({ topic: this.topics.command }, "the broker refused the NCMD subscription: rebirth requests will not be seen");
    }
    if (this.stopping || this.client !== client || !client.connected) return false;
    this.publishBirth(client, bdSeq, "connect");
    return true;
  }

  private publishBirth(client: MqttClient, bdSeq: number, reason: "connect" | "rebirth"): void {
    const payload = birthPayload(this.identity(), bdSeq, this.seq.birth(), Date.now());
    // Marked born before the write completes: a stop() from now on must answer this NBIRTH with an NDEATH.
    this.born = true;
    client.publish(this.topics.birth, encodePayload(payload), { qos: 0, retain: false }, (err) => {
      if (err) this.log.warn({ err: err.message }, "publishing NBIRTH failed");
    });
    this.metrics.births.inc({ reason });
    this.log.info({ bdSeq, reason }, "published NBIRTH");
    this.extension?.afterBirth();
  }

  private onMessage(client: MqttClient, topic: string, bytes: Buffer): void {
    if (topic !== this.topics.command) {
      this.extension?.onPacket(topic, bytes);
      return;
    }
    let rebirth: boolean;
    try {
      rebirth = isRebirthRequest(decodePayload(bytes));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "ignoring an NCMD that is not a Sparkplug B payload");
      return;
    }
    if (!rebirth) {
      this.log.debug("ignoring an NCMD without a rebirth request");
      return;
    }
    if (this.stopping || this.client !== client || !this.born || this.bdSeq === undefined) return;
    this.publishBirth(client, this.bdSeq, "rebirth");
  }

  private identity() {
    const { instanceUuid, linkInstanceUuid } = this.config.sparkplug;
    return { instanceUuid, linkInstanceUuid, clusterUuid: this.config.clusterUuid };
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const client = this.client;
    if (client && !client.connected) {
      client.end(true); // still connecting: nothing to say goodbye to
    } else if (client) {
      if (this.born && this.bdSeq !== undefined) {
        this.born = false;
        try {
          // QoS 1 so that the broker has the NDEATH (PUBACK) before the DISCONNECT discards the will.
          await withTimeout(client.publishAsync(this.topics.death, encodePayload(deathPayload(this.bdSeq, Date.now())), { qos: 1, retain: false }));
          this.metrics.deaths.inc({ reason: "shutdown" });
          this.log.info({ bdSeq: this.bdSeq }, "published NDEATH");
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, "publishing NDEATH failed: the broker will publish the will");
        }
      }
      const disconnect = this.config.mqtt.protocolVersion === 5 ? { reasonCode: DISCONNECT_WITH_WILL_MESSAGE } : {};
      try {
        await withTimeout(client.endAsync(false, disconnect));
      } catch {
        client.end(true);
      }
    }
    await this.loop;
    this.log.info("Sparkplug edge node stopped");
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

function withTimeout<T>(promise: Promise<T>, ms = DISCONNECT_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the broker within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
