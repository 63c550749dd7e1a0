// graft on a real node (e2e/harness/real-node.ts) the way a user installs it, embedded mode, one cluster playing both
// parts: the central install from config/default (namespace graft-system, the image from `make image`, the
// cluster-manager's Service on a fixed ClusterIP that is also its EXTERNAL_URL, its repository volume a hostPath
// PersistentVolume), an EdgeCluster, and the one-time bootstrap command it serves run with dash against the same
// cluster (edge namespace fplus-edge). Used by e2e/edge-real-node.test.ts and `make demo` (e2e/demo-real-node.ts).
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments, stringify } from "yaml";
import { requestBootstrapCommand } from "../../../operators/cluster-manager/bootstrap-command.js";
import { KubeClient } from "../../../operators/runtime/rest.js";
import type { RealNode } from "../../harness/real-node.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../..", import.meta.url));

export const CENTRAL_NS = "graft-system";
export const EDGE_NS = "fplus-edge";
/** A fixed ClusterIP for the cluster-manager's Service, so EXTERNAL_URL is known before it starts: both this host
 * (the operator's shell, through kube-proxy's rules) and the Pods (Flux, edge-sync) reach it. */
export const MANAGER_IP = "10.96.200.200";
export const EXTERNAL_URL = `http://${MANAGER_IP}:8080`;
export const FLUX_IMAGES = ["ghcr.io/fluxcd/source-controller:v1.9.5", "ghcr.io/fluxcd/kustomize-controller:v1.9.5", "ghcr.io/fluxcd/helm-controller:v1.6.4"];
export const SEALED_SECRETS_IMAGE = "docker.io/bitnami/sealed-secrets-controller:0.40.0";

interface Manifest {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}

async function kubectl(node: RealNode, args: string[], input?: string): Promise<string> {
  const r = await node.cluster.kubectl(args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/**
 * `kubectl apply --server-side` of config/default with EXTERNAL_URL set and the Service's fixed ClusterIP, plus a
 * hostPath PersistentVolume under `work` for the repositories; resolves once the Deployment rolled out. With `image`,
 * the site's own reference for graft's image, set as a site sets it: an overlay's `images:`.
 */
export async function installCentral(node: RealNode, work: string, site: { image?: { name: string; tag: string } } = {}): Promise<void> {
  chmodSync(work, 0o755); // the repository volume below it is written by the manager's non-root user
  const repos = join(work, "repos");
  mkdirSync(repos);
  chmodSync(repos, 0o777);
  let base = join(root, "config/default");
  if (site.image) {
    const overlay = join(work, "site-overlay");
    mkdirSync(overlay);
    writeFileSync(join(overlay, "kustomization.yaml"), stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: [relative(overlay, base)],
      images: [{ name: "ghcr.io/graft-operators/graft", newName: site.image.name, newTag: site.image.tag }],
    }));
    base = overlay;
  }
  const manifests = parseAllDocuments(await kubectl(node, ["kustomize", base])).map((d) => d.toJS() as Manifest);
  for (const m of manifests) {
    if (m.kind === "ConfigMap" && m.data?.EXTERNAL_URL) m.data.EXTERNAL_URL = EXTERNAL_URL;
    if (m.kind === "Service" && m.metadata.name === "graft-cluster-manager") m.spec = { ...m.spec, clusterIP: MANAGER_IP };
  }
  const volume = {
    apiVersion: "v1", kind: "PersistentVolume", metadata: { name: "graft-repos-test" },
    spec: {
      capacity: { storage: "5Gi" }, accessModes: ["ReadWriteMany"], storageClassName: "", hostPath: { path: repos, type: "Directory" },
      claimRef: { namespace: CENTRAL_NS, name: "graft-repos" },
    },
  };
  await kubectl(node, ["apply", "--server-side", "-f", "-"], [...manifests, volume].map((m) => stringify(m)).join("---\n"));
  const rolled = await node.cluster.kubectl(["-n", CENTRAL_NS, "rollout", "status", "deployment/graft-cluster-manager", "--timeout=300s"]);
  if (rolled.code !== 0) throw new Error(`the cluster-manager did not roll out: ${rolled.stderr}`);
}

/** Applies an EdgeCluster (with spec.values) and waits until it is Provisioned. */
export async function applyEdgeCluster(node: RealNode, name: string, values: Record<string, unknown> = {}): Promise<void> {
  await kubectl(node, ["apply", "-f", "-"], stringify({
    apiVersion: "factoryplus.app.amrc.co.uk/v1alpha1", kind: "EdgeCluster", metadata: { name, namespace: CENTRAL_NS },
    spec: Object.keys(values).length ? { values } : {},
  }));
  await kubectl(node, ["-n", CENTRAL_NS, "wait", `ec/${name}`, "--for=condition=Provisioned", "--timeout=120s"]);
}

/**
 * The one-time bootstrap command the cluster-manager serves, its script fetched as `curl … | sh -` would and run with
 * dash (`--yes`); resolves with the command and what the script printed.
 */
export async function runServedBootstrap(node: RealNode, name: string, work: string): Promise<{ command: string; url: string; output: string }> {
  const { command } = await requestBootstrapCommand(new KubeClient(node.cluster.kubeConfig), CENTRAL_NS, name, 60_000);
  const url = /'([^']+)'/.exec(command)?.[1];
  if (!url) throw new Error(`no link in the bootstrap command: ${command}`);
  writeFileSync(join(work, "bootstrap.sh"), await (await fetch(url)).text());
  const boot = await run("dash", [join(work, "bootstrap.sh"), "--yes"], {
    env: { PATH: process.env.PATH, HOME: work, KUBECTL: node.cluster.kubectlPath, KUBECONFIG: node.cluster.kubeconfigPath },
    timeout: 600_000, maxBuffer: 16 * 1024 * 1024,
  }).catch((err: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(`bootstrap failed: ${err.message}\n${err.stdout}\n${err.stderr}`);
  });
  return { command, url, output: boot.stdout };
}
