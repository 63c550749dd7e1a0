// The real node itself: Pods run, cluster DNS and the kubernetes Service work, the guard drops what would leave the
// machine, and teardown leaves nothing behind. Needs root on Linux; skipped with the reason otherwise.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { kubeletSysctls, readSysctls } from "./real-node-host.js";
import { realNodeSkipReason, startRealNode, type RealNode } from "./real-node.js";

const skip = realNodeSkipReason();
/** TEST-NET-1 (RFC 5737): documentation addresses, nothing answers there. */
const outsideAddress = "192.0.2.123:80";

describe("real node", { skip }, () => {
  let node: RealNode;
  before(async () => {
    const started = Date.now();
    node = await startRealNode({ log: (m) => console.log(`real node: ${m}`) });
    console.log(`real node: Ready with DNS in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
  after(async () => {
    await node?.stop();
  });

  test("a Pod resolves cluster names through CoreDNS and reaches the API server through the kubernetes Service", async () => {
    const dns = await node.runPod("resolve-api", ["resolve", "kubernetes.default.svc.cluster.local"]);
    assert.equal(dns.phase, "Succeeded", dns.log);
    assert.equal(dns.log.trim(), "10.96.0.1");
    const api = await node.runPod("connect-api", ["connect", "kubernetes.default.svc.cluster.local:443"]);
    assert.equal(api.phase, "Succeeded", api.log);
  });

  test("the kernel settings kubelet changes at start are back to what they were while it runs", () => {
    for (const key of kubeletSysctls) assert.equal(readSysctls().get(key), node.hostBefore.sysctls[key], key);
  });

  test("names outside the cluster do not resolve (CoreDNS has no forward plugin, kubelet no resolv.conf)", async () => {
    const r = await node.runPod("resolve-outside", ["resolve", "deb.debian.org"]);
    assert.equal(r.phase, "Failed", r.log);
  });

  test("the guard drops a Pod's connection attempt to an address outside the machine", async () => {
    const dropsBefore = node.guardDrops();
    const r = await node.runPod("connect-outside", ["connect", outsideAddress, "2s"]);
    assert.equal(r.phase, "Failed", r.log);
    assert.ok(node.guardDrops() > dropsBefore, "the guard's DROP counter did not move");
  });

  test("teardown leaves no process, mount, bridge, iptables rule, cgroup or changed kernel setting behind", async () => {
    const afterStop = await node.stop();
    assert.deepEqual(afterStop.processes, [], "processes left running");
    assert.deepEqual(afterStop, node.hostBefore);
  });
});
