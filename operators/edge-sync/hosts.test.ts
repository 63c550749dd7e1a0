// The host list as acs-contract.md §1 defines it, checked against the API's own schema.
import { test } from "node:test";
import assert from "node:assert/strict";
import { host as hostSchema } from "../api/edgecluster.js";
import { hostFromNode, hostList, type NodeObject } from "./hosts.js";

function node(name: string, opts: {
  labels?: Record<string, string>; taints?: Array<{ key: string; value?: string; effect: string }>;
  ready?: string; heartbeat?: string; version?: string; arch?: string; os?: string; rv?: string;
} = {}): NodeObject {
  return {
    metadata: { name, resourceVersion: opts.rv ?? "1", labels: { "kubernetes.io/hostname": name, ...opts.labels } },
    spec: opts.taints ? { taints: opts.taints } : {},
    status: {
      nodeInfo: { kubeletVersion: opts.version ?? "v1.31.2", architecture: opts.arch ?? "amd64", osImage: opts.os ?? "Debian GNU/Linux 12 (bookworm)" },
      conditions: [
        { type: "MemoryPressure", status: "False", lastHeartbeatTime: opts.heartbeat ?? "2026-01-01T00:00:00Z" },
        { type: "Ready", status: opts.ready ?? "True", lastHeartbeatTime: opts.heartbeat ?? "2026-01-01T00:00:00Z" },
      ],
    },
  };
}

test("a worker Node becomes a host with every field the contract names, valid for the API schema", () => {
  const h = hostFromNode(node("w1", { arch: "arm64", version: "v1.30.1", os: "Ubuntu 24.04.1 LTS" }));
  assert.deepEqual(h, { hostname: "w1", control_plane: false, k8s_version: "v1.30.1", arch: "arm64", os_version: "Ubuntu 24.04.1 LTS", ready: true });
  hostSchema.parse(h);
});

test("control_plane is true for the kubeadm label with an empty value, any other value, and the legacy master label", () => {
  for (const labels of <Record<string, string>[]>[
    { "node-role.kubernetes.io/control-plane": "" },
    { "node-role.kubernetes.io/control-plane": "true" },
    { "node-role.kubernetes.io/control-plane": "false" },
    { "node-role.kubernetes.io/master": "" },
  ]) {
    assert.equal(hostFromNode(node("cp", { labels })).control_plane, true, JSON.stringify(labels));
  }
  assert.equal(hostFromNode(node("w", { labels: { "node-role.kubernetes.io/worker": "" } })).control_plane, false);
});

test("hostname comes from the kubernetes.io/hostname label, else the Node name", () => {
  assert.equal(hostFromNode(node("node-a", { labels: { "kubernetes.io/hostname": "host-a.example" } })).hostname, "host-a.example");
  const bare = node("node-b");
  delete bare.metadata.labels;
  assert.equal(hostFromNode(bare).hostname, "node-b");
});

test("specialised appears only when the taint exists, with its value (empty when the taint has none)", () => {
  assert.equal("specialised" in hostFromNode(node("a")), false);
  assert.equal("specialised" in hostFromNode(node("a", { taints: [{ key: "other", value: "x", effect: "NoSchedule" }] })), false);
  assert.equal(hostFromNode(node("a", { taints: [{ key: "factoryplus.app.amrc.co.uk/specialised", value: "gpu", effect: "NoSchedule" }] })).specialised, "gpu");
  const noValue = hostFromNode(node("a", { taints: [{ key: "factoryplus.app.amrc.co.uk/specialised", effect: "NoExecute" }] }));
  assert.equal(noValue.specialised, "");
  hostSchema.parse(noValue);
});

test("ready follows the Ready condition; a Node without status still gives a valid host", () => {
  assert.equal(hostFromNode(node("a", { ready: "False" })).ready, false);
  assert.equal(hostFromNode(node("a", { ready: "Unknown" })).ready, false);
  const empty = hostFromNode({ metadata: { name: "new" } });
  assert.deepEqual(empty, { hostname: "new", control_plane: false, k8s_version: "", arch: "", ready: false });
  hostSchema.parse(empty);
});

test("the list is ordered by hostname whatever the input order", () => {
  const nodes = [node("c"), node("a"), node("b")];
  assert.deepEqual(hostList(nodes).map((h) => h.hostname), ["a", "b", "c"]);
  assert.deepEqual(hostList([...nodes].reverse()), hostList(nodes));
});

test("a heartbeat (new timestamps and resourceVersion) gives an identical list", () => {
  const before = hostList([node("a"), node("b")]);
  const after = hostList([node("a", { heartbeat: "2026-01-01T00:00:40Z", rv: "99" }), node("b", { heartbeat: "2026-01-01T00:00:41Z", rv: "100" })]);
  assert.equal(JSON.stringify(after), JSON.stringify(before));
});
