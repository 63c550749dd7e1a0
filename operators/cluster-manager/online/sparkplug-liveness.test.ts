// Online from Sparkplug against a real Mosquitto (password login), a real API server and the real edge-monitor
// command as its own process: born → True, SIGKILL → the broker's will → False, restart → True, SIGTERM → False;
// a link that goes silent (a frozen TCP proxy: no FIN, no RST) → the broker's keep-alive expires → False, link back → True.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ConditionType as T, Reason } from "../../api/conditions.js";
import { EdgeClusterType, type EdgeCluster } from "../../api/edgecluster.js";
import { deathPayload, encodePayload } from "../../edge-monitor/payloads.js";
import { getCondition } from "../../runtime/conditions.js";
import { eventually } from "../../../e2e/harness/eventually.js";
import { startMosquitto, type Mosquitto } from "../../../e2e/harness/mosquitto.js";
import { startProcess, type ManagedProcess } from "../../../e2e/harness/process.js";
import { startTcpProxy, type TcpProxy } from "../../../e2e/harness/tcp-proxy.js";
import { makePasswordFile } from "../../../e2e/support/edge-monitor/broker-credentials.js";
import { edgeClusterYaml, startManagerFixture, type ManagerFixture } from "../../../e2e/support/cluster-manager/fixtures.js";
import { needsReconcile } from "../controller/edgecluster-controller.js";
import { parseNodeMessage, SessionTracker } from "./sparkplug-liveness.js";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const entry = fileURLToPath(new URL("../../../e2e/support/edge-monitor/run-monitor.ts", import.meta.url));
const NS = "edge";

describe("Monitor NBIRTH/NDEATH parsing and session tracking", () => {
  const death = (bdSeq: number) => encodePayload(deathPayload(bdSeq, Date.now()));

  it("reads the group and bdSeq of a Monitor NDEATH and ignores other topics", () => {
    assert.deepEqual(parseNodeMessage("spBv1.0/acme-a/NDEATH/Monitor", death(7)), { group: "acme-a", kind: "NDEATH", bdSeq: 7n });
    assert.equal(parseNodeMessage("spBv1.0/acme-a/NDATA/Monitor", death(7)), undefined);
    assert.equal(parseNodeMessage("spBv1.0/acme-a/NDEATH/Other", death(7)), undefined);
    assert.equal(parseNodeMessage("spBv1.0/acme-a/NDEATH/Monitor/dev", death(7)), undefined);
  });

  it("counts an NDEATH only with the bdSeq of the current NBIRTH: a stale will is ignored", () => {
    const t = new SessionTracker();
    assert.equal(t.accept({ group: "g", kind: "NDEATH", bdSeq: 4n }), true, "no birth seen yet: the death counts");
    assert.equal(t.accept({ group: "g", kind: "NBIRTH", bdSeq: 5n }), true);
    assert.equal(t.accept({ group: "g", kind: "NDEATH", bdSeq: 4n }), false, "the old session's will after the new birth");
    assert.equal(t.accept({ group: "other", kind: "NDEATH", bdSeq: 4n }), true, "groups are tracked apart");
    assert.equal(t.accept({ group: "g", kind: "NDEATH", bdSeq: 5n }), true);
  });

  it("a change of Online alone does not ask for a reconcile", () => {
    const ec = { apiVersion: "v", kind: "EdgeCluster", metadata: { name: "a", namespace: NS, generation: 1, finalizers: [] }, spec: {},
      status: { uuid: "u", conditions: [{ type: T.Online, status: "True", reason: Reason.NodeBirth, message: "m", lastTransitionTime: "t" }] } } as unknown as EdgeCluster;
    const changed = structuredClone(ec);
    changed.status!.conditions = [{ type: T.Online, status: "False", reason: Reason.NodeDeath, message: "m2", lastTransitionTime: "t2" }];
    assert.equal(needsReconcile(changed, ec), false);
  });
});

describe("Online condition from the edge monitor's Sparkplug session", () => {
  let dir: string;
  let broker: Mosquitto;
  let f: ManagerFixture;
  const running: ManagedProcess[] = [];
  let proxy: TcpProxy | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "graft-online-"));
    const passwd = makePasswordFile(dir, "graft", "s3cret-online");
    broker = await startMosquitto({ listenerConfig: ["allow_anonymous false", `password_file ${passwd}`] });
    const passwordFile = join(dir, "mqtt-password");
    writeFileSync(passwordFile, "s3cret-online\n");
    f = await startManagerFixture("online", { liveness: { url: broker.url, username: "graft", passwordFile } });
    await f.cp.kubectl(["create", "namespace", NS]);
  });
  after(async () => {
    for (const p of running) await p.kill();
    await proxy?.close();
    await f?.stop();
    await broker?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let cluster = "site-a";
  const read = () => f.manager.client.get<EdgeCluster>(EdgeClusterType, cluster, NS);
  const online = async () => getCondition((await read()).status?.conditions, T.Online);

  function startMonitor(ec: EdgeCluster, opts: { url?: string; extra?: string[]; state?: string } = {}): ManagedProcess {
    const p = startProcess(process.execPath, [
      "--import", "tsx", entry, ...(opts.extra ?? []),
      "--cluster-uuid", ec.status!.uuid!, "--sparkplug-group", ec.status!.sparkplugGroup!, "--mqtt-url", opts.url ?? broker.url,
      "--mqtt-username", "graft", "--mqtt-password-file", join(dir, "mqtt-password"),
      "--bdseq-store", "file", "--bdseq-file", join(dir, opts.state ?? "state", "bdseq"),
      "--health-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--min-retry-delay", "100ms",
    ], { logFile: join(dir, `monitor-${running.length}.log`), cwd: repoRoot });
    running.push(p);
    return p;
  }

  it("NBIRTH → True, SIGKILL (the broker's will) → False, restart → True, graceful stop → False; Ready unaffected", async () => {
    assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("site-a", NS) })).code, 0);
    assert.equal((await f.cp.kubectl(["wait", "-n", NS, "ec/site-a", "--for=condition=Ready", "--timeout=60s"])).code, 0);
    const ec = await read();
    assert.ok(ec.status?.sparkplugGroup && ec.status.uuid, "provisioned with a Sparkplug group and a UUID");
    assert.equal(getCondition(ec.status?.conditions, T.Online), undefined, "no Online before the monitor was ever born");

    const first = startMonitor(ec);
    const born = await eventually(async () => { const c = await online(); return c?.status === "True" ? c : undefined; }, { message: "Online=True after NBIRTH" });
    assert.equal(born.reason, Reason.NodeBirth);
    assert.match(born.message ?? "", /bdSeq 0\b/);
    const table = (await f.cp.kubectl(["get", "ec", "-n", NS, "site-a"])).stdout;
    assert.match(table, /\bONLINE\b/, "kubectl get ec has an Online column");
    assert.match(table.split("\n")[1] ?? "", /\bTrue\s+True\b/, "Ready and Online both True");

    await first.kill();
    const dead = await eventually(async () => { const c = await online(); return c?.status === "False" ? c : undefined; }, { message: "Online=False after the will NDEATH" });
    assert.equal(dead.reason, Reason.NodeDeath);
    assert.match(dead.message ?? "", /bdSeq 0\b/, "the will carries the killed session's bdSeq");

    const second = startMonitor(ec);
    const reborn = await eventually(async () => { const c = await online(); return c?.status === "True" ? c : undefined; }, { message: "Online=True after restart" });
    assert.match(reborn.message ?? "", /bdSeq 1\b/);

    second.child.kill("SIGTERM");
    assert.equal(await second.exited, 0);
    const stopped = await eventually(async () => { const c = await online(); return c?.status === "False" ? c : undefined; }, { message: "Online=False after a graceful stop" });
    assert.equal(stopped.reason, Reason.NodeDeath);
    assert.match(stopped.message ?? "", /bdSeq 1\b/);
    assert.equal(getCondition((await read()).status?.conditions, T.Ready)?.status, "True", "Online=False does not make Ready False");
  });

  it("a link that goes silent: Online=False once the broker's keep-alive expires (the chart's 3s), True when it is back", async (t) => {
    cluster = "site-b";
    assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("site-b", NS) })).code, 0);
    assert.equal((await f.cp.kubectl(["wait", "-n", NS, "ec/site-b", "--for=condition=Ready", "--timeout=60s"])).code, 0);
    const ec = await read();
    const target = new URL(broker.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    const url = `${target.protocol}//127.0.0.1:${proxy.port}`;
    startMonitor(ec, { url, extra: ["--mqtt-keepalive", "3s"], state: "state-b" });
    await eventually(async () => (await online())?.status === "True", { message: "Online=True through the proxy" });

    const cutAt = Date.now();
    proxy.freeze();
    const dead = await eventually(async () => { const c = await online(); return c?.status === "False" ? c : undefined; },
      { timeoutMs: 60_000, message: "Online=False after the broker's keep-alive expired" });
    t.diagnostic(`silent link → Online=False: ${((Date.now() - cutAt) / 1000).toFixed(1)} s (MQTT keep-alive 3 s)`);
    assert.equal(dead.reason, Reason.NodeDeath);
    assert.match(dead.message ?? "", /bdSeq 0\b/, "the broker published the cut session's will");

    proxy.thaw();
    const back = await eventually(async () => { const c = await online(); return c?.status === "True" ? c : undefined; },
      { timeoutMs: 60_000, message: "Online=True after the link came back (the monitor's own keep-alive reconnects it)" });
    assert.doesNotMatch(back.message ?? "", /bdSeq 0\b/, "a new session (a CONNECT lost while frozen may have used a bdSeq)");
  });
});
