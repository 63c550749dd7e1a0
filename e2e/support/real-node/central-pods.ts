// The central install as a site applies it, on a real node (e2e/harness/real-node.ts): a kustomize overlay over one
// of graft's bases (config/default, config/acs) that sets only what a site sets (its image, settings, a fixed
// ClusterIP standing in for the site's load balancer), the repository volume a site's storage would provide, and the
// cluster-manager Pods that result: which are Ready, which holds the Lease, and the hand-over when the leader's Pod is
// deleted. Used by e2e/central-install.test.ts (embedded mode) and e2e/acs-central-real-node.test.ts (ACS mode).
import { chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { eventually } from "../../harness/eventually.js";
import type { RealNode } from "../../harness/real-node.js";
import { podEnvCredentialProblems, type EnvSourcePod } from "./pod-env-credentials.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
export const CENTRAL_NS = "graft-system";
const MANAGER = "app.kubernetes.io/name=cluster-manager";
const LEASE = "cluster-manager-leader-election";

export interface ManagerPod {
  metadata: { name: string };
  spec: { containers: { image: string; env?: { name: string; value?: string }[] }[] };
  status: { podIP: string; phase: string; conditions?: { type: string; status: string }[]; containerStatuses?: { image: string; ready: boolean; restartCount: number }[] };
}

export interface SiteOverlay {
  /** The base the overlay builds on, relative to the repository: "config/default" or "config/acs". */
  base: string;
  /** The site's own image reference (`kustomize edit set image`); default: the base's. */
  image?: { name: string; tag: string };
  /** Settings merged into graft-cluster-manager-settings (what a site writes into settings.env). */
  settings: Record<string, string>;
  /** A fixed ClusterIP for the manager's Service, so EXTERNAL_URL can name it before it exists. */
  clusterIP?: string;
}

async function must(node: RealNode, args: string[], input?: string): Promise<string> {
  const r = await node.cluster.kubectl(args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The site's shared storage for the repositories (ReadWriteMany): one node, so a host directory the manager's user owns. */
export async function provideRepoVolume(node: RealNode): Promise<void> {
  const repos = join(node.dir, "graft-repos");
  mkdirSync(repos);
  chownSync(repos, 65532, 65532);
  await must(node, ["apply", "-f", "-"], JSON.stringify({
    apiVersion: "v1", kind: "PersistentVolume", metadata: { name: "graft-repos" },
    spec: {
      capacity: { storage: "5Gi" }, accessModes: ["ReadWriteMany"], persistentVolumeReclaimPolicy: "Retain",
      hostPath: { path: repos, type: "Directory" }, claimRef: { namespace: CENTRAL_NS, name: "graft-repos" },
    },
  }));
}

/** Writes the site's overlay into `dir`, `kubectl apply --server-side -k` it, and waits for the rollout. */
export async function applySiteOverlay(node: RealNode, dir: string, overlay: SiteOverlay): Promise<void> {
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization",
    resources: [relative(dir, join(root, overlay.base))],
    ...(overlay.image ? { images: [{ name: "ghcr.io/graft-operators/graft", newName: overlay.image.name, newTag: overlay.image.tag }] } : {}),
    configMapGenerator: [{
      name: "graft-cluster-manager-settings", namespace: CENTRAL_NS, behavior: "merge",
      literals: Object.entries(overlay.settings).map(([k, v]) => `${k}=${v}`),
    }],
    ...(overlay.clusterIP ? {
      patches: [{
        target: { kind: "Service", name: "graft-cluster-manager" },
        patch: stringify([{ op: "add", path: "/spec/clusterIP", value: overlay.clusterIP }]),
      }],
    } : {}),
  };
  writeFileSync(join(dir, "kustomization.yaml"), stringify(kustomization));
  await must(node, ["apply", "--server-side", "-k", dir]);
  const rollout = await node.cluster.kubectl(["rollout", "status", "-n", CENTRAL_NS, "deployment/graft-cluster-manager", "--timeout=300s"]);
  if (rollout.code !== 0) throw new Error(`rollout: ${rollout.stderr}\n${await describeManager(node)}`);
}

/** The manager Pods, their recent logs (and the previous container's), for a failure message. */
export async function describeManager(node: RealNode): Promise<string> {
  const out = [];
  for (const args of [
    ["get", "pods", "-n", CENTRAL_NS, "-o", "wide"],
    ["logs", "-n", CENTRAL_NS, "-l", MANAGER, "--tail=30", "--prefix"],
    ["logs", "-n", CENTRAL_NS, "-l", MANAGER, "--tail=30", "--prefix", "--previous"],
    ["get", "events", "-n", CENTRAL_NS, "--sort-by=.lastTimestamp"],
  ]) {
    const r = await node.cluster.kubectl(args);
    out.push(r.stdout + r.stderr);
  }
  return out.join("\n");
}

/** The cluster-manager Pods that are Running and Ready. */
export async function readyManagerPods(node: RealNode): Promise<ManagerPod[]> {
  const list = JSON.parse(await must(node, ["get", "pods", "-n", CENTRAL_NS, "-l", MANAGER, "-o", "json"])) as { items: ManagerPod[] };
  return list.items.filter((p) => p.status.phase === "Running" && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
}

/**
 * What puts a credential into the environment of a Pod in graft's namespace (pod-env-credentials.ts): every
 * container and init container, with the ConfigMaps and Secrets it pulls in resolved as the kubelet resolves them.
 */
export async function podEnvCredentials(node: RealNode): Promise<string[]> {
  const list = async <T>(kind: string) => (JSON.parse(await must(node, ["get", kind, "-n", CENTRAL_NS, "-o", "json"])) as { items: T[] }).items;
  type Data = { metadata: { name: string }; data?: Record<string, string> };
  const [pods, configMaps, secrets] = await Promise.all([list<EnvSourcePod>("pods"), list<Data>("configmaps"), list<Data>("secrets")]);
  const decoded = (data: Record<string, string> = {}) =>
    Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
  return podEnvCredentialProblems(pods, {
    configMaps: new Map(configMaps.map((m) => [m.metadata.name, m.data ?? {}])),
    secrets: new Map(secrets.map((m) => [m.metadata.name, decoded(m.data)])),
  });
}

export async function leaseHolder(node: RealNode): Promise<string> {
  const lease = JSON.parse(await must(node, ["get", "lease", "-n", CENTRAL_NS, LEASE, "-o", "json"])) as { spec: { holderIdentity?: string } };
  return lease.spec.holderIdentity ?? "";
}

/** Two Ready replicas, and the one of them holding the Lease (the holder identity is `<pod>_<suffix>`). */
export async function twoReplicasOneLeader(node: RealNode): Promise<{ pods: ManagerPod[]; leader: ManagerPod }> {
  const pods = await eventually(async () => {
    const p = await readyManagerPods(node);
    return p.length === 2 ? p : undefined;
  }, { timeoutMs: 120_000, intervalMs: 1000, message: "two Ready cluster-manager Pods" });
  const holder = await eventually(() => leaseHolder(node), { timeoutMs: 60_000, message: "a leader" });
  const leaders = pods.filter((p) => holder.startsWith(`${p.metadata.name}_`));
  if (leaders.length !== 1) throw new Error(`the Lease holder "${holder}" is not exactly one of the Ready Pods ${pods.map((p) => p.metadata.name).join(", ")}`);
  return { pods, leader: leaders[0]! };
}

/**
 * Deletes the leader's Pod and waits until a live Pod other than it holds the Lease (usually the other replica; the
 * replacement may win the race when it starts before the other's next retry — either is a hand-over), then until the
 * Deployment is back at two Ready replicas. Resolves with the new holder's Pod name.
 */
export async function deleteLeaderAndAwaitHandover(node: RealNode): Promise<string> {
  const { pods, leader } = await twoReplicasOneLeader(node);
  const other = pods.find((p) => p !== leader)!;
  await must(node, ["delete", "pod", "-n", CENTRAL_NS, leader.metadata.name, "--wait=false"]);
  const next = await eventually(async () => {
    const now = await leaseHolder(node);
    const live = (await readyManagerPods(node)).map((p) => p.metadata.name).filter((n) => n !== leader.metadata.name);
    const holder = live.find((n) => now.startsWith(`${n}_`));
    if (!holder) throw new Error(`the Lease is held by "${now}", live Pods: ${live.join(", ")}`);
    return holder;
  }, { timeoutMs: 120_000, intervalMs: 1000, message: `the Lease moving from ${leader.metadata.name} (usually to ${other.metadata.name})` }).catch(async (err) => {
    throw new Error(`${(err as Error).message}\n${await describeManager(node)}`);
  });
  await eventually(async () => (await readyManagerPods(node)).length === 2, { timeoutMs: 180_000, intervalMs: 1000, message: "the Deployment back at two Ready replicas" });
  return next;
}
