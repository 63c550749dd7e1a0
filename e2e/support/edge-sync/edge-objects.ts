// Objects edge-sync's tests create on a real edge API server: Nodes (there is no kubelet, so the test plays its
// part: status, heartbeats) and Sealed Secrets key Secrets.
import { Core } from "../../../operators/runtime/kube.js";
import type { KubeClient } from "../../../operators/runtime/rest.js";
import { SEALED_SECRETS_KEY_LABEL, type SecretObject } from "../../../operators/edge-sync/certificate.js";
import type { NodeObject } from "../../../operators/edge-sync/hosts.js";

export interface TestNodeOptions {
  labels?: Record<string, string>;
  taints?: Array<{ key: string; value?: string; effect: string }>;
  kubeletVersion?: string;
  architecture?: string;
  osImage?: string;
  ready?: boolean;
}

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

function conditions(ready: boolean) {
  const t = now();
  return [
    { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory", message: "ok", lastHeartbeatTime: t, lastTransitionTime: t },
    { type: "Ready", status: ready ? "True" : "False", reason: ready ? "KubeletReady" : "KubeletNotReady", message: "kubelet is posting ready status", lastHeartbeatTime: t, lastTransitionTime: t },
  ];
}

/** Creates a Node the way a kubelet registers one: the object, then its status. */
export async function createNode(client: KubeClient, name: string, opts: TestNodeOptions = {}): Promise<void> {
  await client.create<NodeObject>(Core.nodes, {
    metadata: { name, labels: { "kubernetes.io/hostname": name, "kubernetes.io/arch": opts.architecture ?? "amd64", "kubernetes.io/os": "linux", ...opts.labels } },
    spec: opts.taints ? { taints: opts.taints } : {},
  });
  await client.patch(Core.nodes, name, undefined, {
    status: {
      nodeInfo: {
        kubeletVersion: opts.kubeletVersion ?? "v1.36.3", architecture: opts.architecture ?? "amd64",
        osImage: opts.osImage ?? "Debian GNU/Linux 12 (bookworm)", operatingSystem: "linux",
        kernelVersion: "6.1.0", containerRuntimeVersion: "containerd://2.0.0", kubeProxyVersion: "",
        machineID: "", systemUUID: "", bootID: "",
      },
      conditions: conditions(opts.ready ?? true),
    },
  }, { subresource: "status" });
}

/**
 * What a kubelet does every few seconds: new heartbeat times on the same conditions. True when the Node changed
 * (timestamps have one-second resolution, so a second beat within the same second changes nothing).
 */
export async function heartbeat(client: KubeClient, name: string): Promise<boolean> {
  const node = await client.get<NodeObject>(Core.nodes, name);
  const t = now();
  const updated = (node.status?.conditions ?? []).map((c) => ({ ...c, lastHeartbeatTime: t }));
  const after = await client.patch<NodeObject>(Core.nodes, name, undefined, { status: { conditions: updated } }, { subresource: "status" });
  return after.metadata.resourceVersion !== node.metadata.resourceVersion;
}

export async function deleteAllNodes(client: KubeClient): Promise<void> {
  const nodes = await client.list<NodeObject>(Core.nodes);
  await Promise.all(nodes.items.map((n) => client.delete(Core.nodes, n.metadata.name)));
}

export async function createKeySecret(client: KubeClient, namespace: string, name: string, certPem: string, keyPem: string, state = "active"): Promise<SecretObject> {
  return client.create<SecretObject>(Core.secrets, {
    metadata: { name, namespace, labels: { [SEALED_SECRETS_KEY_LABEL]: state } },
    type: "kubernetes.io/tls",
    data: { "tls.crt": Buffer.from(certPem).toString("base64"), "tls.key": Buffer.from(keyPem).toString("base64") },
  });
}
