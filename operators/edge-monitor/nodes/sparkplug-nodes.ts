// SparkplugNode monitoring (ACS mode, acs-contract.md §11): for each SparkplugNode in the monitor's namespace, watch
// `spBv1.0/<group>/+/<node>[/#]` on the monitor's own MQTT session; after `interval` (+ up to a quarter, against
// rebirth storms) without a packet ask for a rebirth through the Command Escalation service, again while it stays
// silent; after 3 × interval raise the node's Offline alert, published as `Alerts/Offline/Active` of a Sparkplug
// device named after the node (DBIRTH after every NBIRTH, DDATA on change, DDEATH when the resource goes). Edge agents
// get one rebirth request when monitoring starts, and config reload requests (agent-config.ts) when the revision they
// run is not the ConfigDB's or one of their SealedSecrets changed. Each SparkplugNode's status says what was seen.
//
// Unlike ACS's monitor, nodes given by `address` (not registered in the ConfigDB) are monitored too (rebirths,
// status, a device with the Offline alert, without links to a node object). A device id (the node id) is one device:
// a second node with the same node id in another group is monitored, but gets no device, and its status says so.
import type { Logger } from "pino";
import {
  DEFAULT_SPARKPLUG_INTERVAL, SparkplugNodeCondition as C, SparkplugNodeReason as Reason, SparkplugNodeType,
  type SparkplugNode, type SparkplugNodeStatus,
} from "../../api/sparkplugnode.js";
import { removeCondition, setCondition, type Condition } from "../../runtime/conditions.js";
import { backoffDelay } from "../../runtime/backoff.js";
import { parseDuration } from "../../runtime/duration.js";
import { Informer } from "../../runtime/informer.js";
import { objectKey } from "../../runtime/kube.js";
import { silentLogger } from "../../runtime/logger.js";
import type { KubeClient } from "../../runtime/rest.js";
import type { DeviceMessageType, SessionExtension } from "../edge-monitor.js";
import { decodePayload, type SparkplugMetric } from "../payloads.js";
import { invalidSparkplugIdReason, SPARKPLUG_NAMESPACE } from "../sparkplug-ids.js";
import type { CommandSender } from "./command-escalation.js";
import { AgentConfigReloads, type AgentConfigDeps } from "./agent-config.js";
import { sealedSecretStates, SealedSecretType, type SealedSecret } from "./sealed-secrets.js";
import { DEVICE_REBIRTH_METRIC, deviceBirthMetrics, OFFLINE_ACTIVE_METRIC, type MonitoredNode } from "./device-metrics.js";

export interface SparkplugAddress {
  group: string;
  node: string;
}

/** The part of EdgeMonitor this needs. */
export interface MonitorSession {
  extend(extension: SessionExtension): void;
  subscribe(filters: string[]): void;
  unsubscribe(filters: string[]): void;
  publishDevice(type: DeviceMessageType, deviceId: string, metrics: SparkplugMetric[]): boolean;
}

export interface SparkplugNodesOptions {
  client: KubeClient;
  namespace: string;
  monitor: MonitorSession;
  /** The monitor's own address, whose packets (its devices) are never taken for a monitored node's. */
  own: SparkplugAddress;
  /** The Sparkplug address of a node UUID (its 'Sparkplug address information' entry). */
  addressOf: (uuid: string) => Promise<SparkplugAddress>;
  commands: CommandSender;
  log?: Logger;
  /** Retry delays for address lookups. Defaults 1 s … 2 min. */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Edge agents' configuration in the ConfigDB; without it no config reloads are asked for. */
  agentConfig?: Pick<AgentConfigDeps, "watchConfig" | "configEtag" | "throttleMs" | "close">;
}

interface Watch {
  key: string;
  name: string;
  spec: string;
  uuid?: string;
  edgeAgent: boolean;
  intervalMs: number;
  address?: SparkplugAddress;
  /** Last packet, or when monitoring started (the node gets a full interval to speak). */
  lastPacket: number;
  /** Last packet actually seen. */
  seenAt?: number;
  offline: boolean;
  rebirths: number;
  lastRebirth?: number;
  lastSeenWritten: number;
  silence?: NodeJS.Timeout;
  offlineTimer?: NodeJS.Timeout;
  retry?: NodeJS.Timeout;
  failures: number;
  stopped: boolean;
  generation?: number;
  conditions: Condition[];
  /** Why the node cannot be monitored right now (address lookup failing), for the status. */
  problem?: string;
  /** The monitor publishes a device for this node (its device id is not another node's). */
  device: boolean;
  /** Why it does not, for the status. */
  deviceProblem?: string;
  /** Edge agents: config reloads, and the SealedSecrets they read (name → the generation last acted on). */
  reloads?: AgentConfigReloads;
  secrets: string[];
  secretStates?: string;
  reloadRequests: number;
  lastReload?: number;
}

const addressKey = (a: SparkplugAddress) => `${a.group}/${a.node}`;
const topicsOf = (a: SparkplugAddress) => [`${SPARKPLUG_NAMESPACE}/${a.group}/+/${a.node}`, `${SPARKPLUG_NAMESPACE}/${a.group}/+/${a.node}/#`];

export class SparkplugNodes implements SessionExtension {
  private readonly log: Logger;
  private readonly informer: Informer<SparkplugNode>;
  private readonly sealedSecrets?: Informer<SealedSecret>;
  private sealedSecretsStarted = false;
  private readonly watches = new Map<string, Watch>();
  private readonly byAddress = new Map<string, Watch>();
  /** Device id (node id) → the watch whose device it is. */
  private readonly devices = new Map<string, Watch>();

  constructor(private readonly opts: SparkplugNodesOptions) {
    this.log = (opts.log ?? silentLogger).child({ part: "sparkplug-nodes" });
    this.informer = new Informer<SparkplugNode>(opts.client, SparkplugNodeType, this.log, { namespace: opts.namespace });
    if (opts.agentConfig) this.sealedSecrets = new Informer<SealedSecret>(opts.client, SealedSecretType, this.log, { namespace: opts.namespace });
    opts.monitor.extend(this);
  }

  start(): void {
    this.informer.on((event, obj) => {
      if (event === "delete") this.remove(objectKey(obj));
      else this.upsert(obj);
    }).start();
    this.sealedSecrets?.on(() => {
      for (const w of this.watches.values()) this.checkSecrets(w);
    });
  }

  async stop(): Promise<void> {
    await this.informer.stop();
    await this.sealedSecrets?.stop();
    for (const key of [...this.watches.keys()]) this.remove(key);
    await this.opts.agentConfig?.close?.();
  }

  /** Node watches by object key, for tests and the status endpoint. */
  state(key: string): { offline: boolean; rebirths: number; address?: SparkplugAddress } | undefined {
    const w = this.watches.get(key);
    return w && { offline: w.offline, rebirths: w.rebirths, address: w.address };
  }

  topics(): string[] {
    const { group, node } = this.opts.own;
    return [`${SPARKPLUG_NAMESPACE}/${group}/DCMD/${node}/+`, ...[...this.byAddress.values()].flatMap((w) => topicsOf(w.address!))];
  }

  afterBirth(): void {
    for (const w of this.byAddress.values()) this.birthDevice(w);
  }

  onPacket(topic: string, payload: Buffer): void {
    const parts = topic.split("/");
    if (parts.length < 4 || parts[0] !== SPARKPLUG_NAMESPACE) return;
    const address = { group: parts[1]!, node: parts[3]! };
    if (address.group === this.opts.own.group && address.node === this.opts.own.node) {
      if (parts[2] === "DCMD" && parts.length === 5) this.onDeviceCommand(parts[4]!, payload);
      return;
    }
    const w = this.byAddress.get(addressKey(address));
    if (!w || w.stopped) return;
    if (w.reloads && parts.length === 4 && (parts[2] === "NBIRTH" || parts[2] === "NDATA")) {
      try {
        w.reloads.onPayload(parts[2], decodePayload(payload).metrics ?? []);
      } catch (err) {
        this.log.debug({ node: w.name, err: (err as Error).message }, "undecodable payload from the edge agent");
      }
    }
    const now = Date.now();
    w.lastPacket = now;
    w.seenAt = now;
    const wasOffline = w.offline;
    if (wasOffline) {
      w.offline = false;
      this.publishOffline(w);
      this.log.info({ node: w.name }, "node speaks again: Offline alert cleared");
    }
    this.arm(w);
    if (wasOffline || now - w.lastSeenWritten >= Math.min(w.intervalMs, 30_000)) {
      w.lastSeenWritten = now;
      this.writeStatus(w);
    }
  }

  /** `Device Control/Rebirth` for one of the monitor's devices: publish its DBIRTH again. */
  private onDeviceCommand(deviceId: string, payload: Buffer): void {
    let metrics: SparkplugMetric[];
    try {
      metrics = decodePayload(payload).metrics ?? [];
    } catch {
      return;
    }
    if (!metrics.some((m) => m.name === DEVICE_REBIRTH_METRIC && m.value === true)) return;
    const w = this.devices.get(deviceId);
    if (w) this.birthDevice(w);
  }

  private upsert(obj: SparkplugNode): void {
    const key = objectKey(obj);
    const spec = JSON.stringify(obj.spec);
    const current = this.watches.get(key);
    if (current?.spec === spec) return;
    if (current) this.remove(key);
    let intervalMs: number;
    try {
      intervalMs = parseDuration(obj.spec.interval ?? DEFAULT_SPARKPLUG_INTERVAL);
      if (intervalMs <= 0) throw new Error("must be positive");
    } catch (err) {
      const message = `spec.interval "${obj.spec.interval}" is not a duration: ${(err as Error).message}`;
      this.log.error({ node: obj.metadata.name, err: message }, "SparkplugNode not monitored");
      const failed = { type: C.MonitorFailed, status: "True" as const, reason: Reason.InvalidSpec, message };
      const conditions = setCondition(setCondition(obj.status?.conditions, failed, obj.metadata.generation),
        { ...failed, type: C.Ready, status: "False" }, obj.metadata.generation);
      void this.patchStatus(obj.metadata.name, { observedGeneration: obj.metadata.generation, conditions });
      return;
    }
    const w: Watch = {
      key, name: obj.metadata.name, spec, uuid: obj.spec.uuid, edgeAgent: obj.spec.edgeAgent ?? false, intervalMs,
      lastPacket: Date.now(), offline: false, rebirths: 0, lastSeenWritten: 0, failures: 0, stopped: false, device: false,
      secrets: obj.spec.secrets ?? [], reloadRequests: 0,
      generation: obj.metadata.generation, conditions: obj.status?.conditions ?? [],
    };
    this.watches.set(key, w);
    void this.resolve(w, obj.spec.address);
  }

  private async resolve(w: Watch, address: string | undefined): Promise<void> {
    let resolved: SparkplugAddress;
    try {
      resolved = address !== undefined ? parseAddress(address) : await this.opts.addressOf(w.uuid!);
    } catch (err) {
      if (w.stopped) return;
      w.failures++;
      const delay = backoffDelay(w.failures, { minMs: this.opts.minRetryMs ?? 1_000, maxMs: this.opts.maxRetryMs ?? 120_000, jitter: 0.2 });
      this.log.warn({ node: w.name, err: (err as Error).message, retryInMs: delay }, "cannot find the node's Sparkplug address");
      w.problem = `cannot find the node's Sparkplug address: ${(err as Error).message}`;
      this.writeStatus(w);
      w.retry = setTimeout(() => void this.resolve(w, address), delay);
      return;
    }
    if (w.stopped) return;
    const taken = this.byAddress.get(addressKey(resolved));
    if (taken && taken !== w) {
      this.log.error({ node: w.name, other: taken.name, address: addressKey(resolved) }, "another SparkplugNode already monitors this address");
      return;
    }
    w.address = resolved;
    w.problem = undefined;
    w.lastPacket = Date.now();
    this.byAddress.set(addressKey(resolved), w);
    this.opts.monitor.subscribe(topicsOf(resolved));
    const holder = this.devices.get(resolved.node);
    if (holder && holder !== w) {
      w.deviceProblem = `no device: SparkplugNode "${holder.name}" already has device "${resolved.node}" on this monitor`;
      this.log.warn({ node: w.name, other: holder.name, device: resolved.node }, "device id taken; the node is monitored without a device");
    } else {
      this.devices.set(resolved.node, w);
      w.device = true;
      w.deviceProblem = undefined;
    }
    this.birthDevice(w);
    this.arm(w);
    this.startReloads(w, resolved);
    this.writeStatus(w);
    this.log.info({ node: w.name, address: addressKey(resolved), intervalMs: w.intervalMs }, "monitoring Sparkplug node");
    if (w.edgeAgent) void this.requestRebirth(w);
  }

  private remove(key: string): void {
    const w = this.watches.get(key);
    if (!w) return;
    w.stopped = true;
    clearTimeout(w.silence);
    clearTimeout(w.offlineTimer);
    clearTimeout(w.retry);
    w.reloads?.stop();
    this.watches.delete(key);
    if (w.address && this.byAddress.get(addressKey(w.address)) === w) {
      this.byAddress.delete(addressKey(w.address));
      this.opts.monitor.unsubscribe(topicsOf(w.address));
      if (w.device) {
        this.opts.monitor.publishDevice("DDEATH", w.address.node, []);
        this.devices.delete(w.address.node);
        w.device = false;
        // A node left without a device because this one held its id gets it now.
        const next = [...this.byAddress.values()].find((x) => x.address!.node === w.address!.node && x.deviceProblem);
        if (next) {
          this.devices.set(next.address!.node, next);
          next.device = true;
          next.deviceProblem = undefined;
          this.birthDevice(next);
          this.writeStatus(next);
        }
      }
    }
  }

  /** (Re)starts the silence and offline timers from the last packet. */
  private arm(w: Watch): void {
    clearTimeout(w.silence);
    clearTimeout(w.offlineTimer);
    const sinceLast = Date.now() - w.lastPacket;
    const silenceIn = w.intervalMs + Math.random() * (w.intervalMs / 4) - sinceLast;
    w.silence = setTimeout(() => this.silentAgain(w), Math.max(0, silenceIn));
    if (!w.offline) {
      w.offlineTimer = setTimeout(() => {
        if (w.stopped) return;
        w.offline = true;
        this.log.warn({ node: w.name, silentMs: Date.now() - w.lastPacket }, "node silent for 3 intervals: Offline alert raised");
        this.publishOffline(w);
        this.writeStatus(w);
      }, Math.max(0, 3 * w.intervalMs - sinceLast));
    }
  }

  /** The node said nothing for an interval: ask for a rebirth, and again after each further silent interval. */
  private silentAgain(w: Watch): void {
    if (w.stopped) return;
    void this.requestRebirth(w);
    w.silence = setTimeout(() => this.silentAgain(w), w.intervalMs + Math.random() * (w.intervalMs / 4));
  }

  private async requestRebirth(w: Watch): Promise<void> {
    if (!w.address || w.stopped) return;
    try {
      await this.opts.commands.rebirth(w.address.group, w.address.node);
      w.rebirths++;
      w.lastRebirth = Date.now();
      this.log.info({ node: w.name, address: addressKey(w.address) }, "asked for a rebirth");
      this.writeStatus(w);
    } catch (err) {
      this.log.warn({ node: w.name, err: (err as Error).message }, "the Command Escalation service did not take the rebirth request");
    }
  }

  /** Edge agents: config reloads on a revision mismatch or a SealedSecret change (agent-config.ts). */
  private startReloads(w: Watch, address: SparkplugAddress): void {
    const config = this.opts.agentConfig;
    if (!config || !w.edgeAgent || !w.uuid) return;
    w.reloads = new AgentConfigReloads({
      ...config,
      reload: (group, node) => this.opts.commands.reloadConfig(group, node),
      onReload: () => {
        w.reloadRequests += 1;
        w.lastReload = Date.now();
        this.writeStatus(w);
      },
      log: this.log.child({ node: w.name }),
    }, w.uuid, address);
    w.reloads.start();
    // SealedSecrets are watched from the first agent that names one (a cluster without them need not serve the kind).
    if (w.secrets.length > 0 && this.sealedSecrets && !this.sealedSecretsStarted) {
      this.sealedSecretsStarted = true;
      this.sealedSecrets.start();
    }
    this.checkSecrets(w);
  }

  /** A reload when the SealedSecrets the agent names are all unsealed and one of them changed since last time. */
  private checkSecrets(w: Watch): void {
    if (!w.reloads || w.secrets.length === 0 || !this.sealedSecrets) return;
    const states = sealedSecretStates(this.sealedSecrets.list(), w.secrets);
    if (states === undefined || states === w.secretStates) return;
    w.secretStates = states;
    w.reloads.secretsChanged();
  }

  private birthDevice(w: Watch): void {
    if (!w.device || !w.address) return;
    const node: MonitoredNode = w.uuid ? { uuid: w.uuid } : { address: w.address };
    this.opts.monitor.publishDevice("DBIRTH", w.address.node, deviceBirthMetrics(node, w.offline));
  }

  private publishOffline(w: Watch): void {
    if (!w.device || !w.address) return;
    this.opts.monitor.publishDevice("DDATA", w.address.node, [{ name: OFFLINE_ACTIVE_METRIC, type: "Boolean", value: w.offline }]);
  }

  private writeStatus(w: Watch): void {
    const address = w.address ? `"${addressKey(w.address)}"` : "";
    const ready = w.problem
      ? { type: C.Ready, status: "False" as const, reason: Reason.AddressUnknown, message: w.problem }
      : w.offline
        ? { type: C.Ready, status: "False" as const, reason: Reason.Offline, message: `nothing from ${address} for 3 × ${w.intervalMs / 1000} s: ${w.device ? "Offline alert raised" : w.deviceProblem ?? "offline"}` }
        : { type: C.Ready, status: "True" as const, reason: Reason.Online, message: `monitoring ${address}${w.deviceProblem ? `; ${w.deviceProblem}` : ""}` };
    w.conditions = setCondition(w.problem
      ? setCondition(w.conditions, { type: C.MonitorFailed, status: "True", reason: Reason.AddressUnknown, message: w.problem }, w.generation)
      : removeCondition(w.conditions, C.MonitorFailed), ready, w.generation);
    const status: SparkplugNodeStatus = {
      observedGeneration: w.generation,
      conditions: w.conditions,
      ...(w.address ? { address: addressKey(w.address) } : {}),
      ...(w.seenAt ? { lastSeen: new Date(w.seenAt).toISOString() } : {}),
      offline: w.offline,
      rebirthRequests: w.rebirths,
      ...(w.reloads ? { configReloadRequests: w.reloadRequests } : {}),
      ...(w.lastReload ? { lastConfigReloadRequest: new Date(w.lastReload).toISOString() } : {}),
      ...(w.lastRebirth ? { lastRebirthRequest: new Date(w.lastRebirth).toISOString() } : {}),
    };
    void this.patchStatus(w.name, status);
  }

  private async patchStatus(name: string, status: SparkplugNodeStatus): Promise<void> {
    try {
      await this.opts.client.patch(SparkplugNodeType, name, this.opts.namespace, { status }, { type: "merge", subresource: "status" });
    } catch (err) {
      this.log.warn({ node: name, err: (err as Error).message }, "cannot write the SparkplugNode status");
    }
  }
}

/** `<group>/<node>` with both parts valid Sparkplug ids. */
export function parseAddress(text: string): SparkplugAddress {
  const [group, node, ...rest] = text.split("/");
  if (group === undefined || node === undefined || rest.length > 0) throw new Error(`address "${text}" is not "<group>/<node>"`);
  for (const [what, id] of [["group", group], ["node", node]] as const) {
    const bad = invalidSparkplugIdReason(id);
    if (bad) throw new Error(`address "${text}": the ${what} id is unusable: ${bad}`);
  }
  return { group, node };
}
