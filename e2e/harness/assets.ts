import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface ControlPlaneAssets {
  etcd: string;
  kubeApiserver: string;
  kubectl: string;
}

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
let cached: ControlPlaneAssets | undefined;

/**
 * Finds etcd, kube-apiserver and kubectl: TEST_ASSET_* per binary, then KUBEBUILDER_ASSETS or GRAFT_K8S_ASSETS
 * (a directory), else builds them from pinned Go modules through e2e/assets/build-k8s.sh (cached outside the checkout).
 */
export function controlPlaneAssets(): ControlPlaneAssets {
  if (cached) return cached;
  const dir = [process.env.KUBEBUILDER_ASSETS, process.env.GRAFT_K8S_ASSETS]
    .find((d) => d && existsSync(join(d, "kube-apiserver")))
    ?? execFileSync("sh", [join(repoRoot, "e2e/assets/build-k8s.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
      .trim().split("\n").pop()!;
  const pick = (env: string | undefined, name: string) => env ?? join(dir, name);
  const assets = {
    etcd: pick(process.env.TEST_ASSET_ETCD, "etcd"),
    kubeApiserver: pick(process.env.TEST_ASSET_KUBE_APISERVER, "kube-apiserver"),
    kubectl: pick(process.env.TEST_ASSET_KUBECTL, existsSync(join(dir, "kubectl")) ? "kubectl" : "/usr/bin/kubectl"),
  };
  for (const [name, path] of Object.entries(assets)) {
    if (!existsSync(path)) throw new Error(`test asset "${name}" not found at ${path}: run sh e2e/assets/build-k8s.sh`);
  }
  cached = assets;
  return assets;
}
