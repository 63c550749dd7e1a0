// A real single-node Kubernetes cluster for tests that must run Pods (real-node.md): etcd + kube-apiserver on the
// address of a bridge made here, kubelet, kube-controller-manager, kube-scheduler, kube-proxy, containerd v2 with
// Debian's runc and CNI plugins, and CoreDNS; images imported from local tarballs, never pulled. Every packet stays
// inside the machine (a DROP guard on the bridge, no masquerading, no upstream DNS), and stop() leaves no process,
// mount, bridge, iptables rule, cgroup or changed kernel setting behind. Root on Linux only (realNodeSkipReason).
import { execFile, execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startControlPlane, type ControlPlane } from "./control-plane.js";
import { eventually } from "./eventually.js";
import { freePort } from "./ports.js";
import { startProcess, type ManagedProcess } from "./process.js";
import {
  containerdConfig, corednsManifests, cniConfig, kubeletConfig, kubeProxyConfig, pauseImage, corednsImage, registryHosts,
} from "./real-node-config.js";
import {
  bridgeAddress, cgroupProcesses, hostState, type HostState, createBridge, createCgroupRoot, deleteBridge, guardDrops, installGuard, killAll,
  kubeletSysctls, lockNode, processesRunning, readSysctls, removeAddedRules, removeCgroupRoot, removeNewSharedEntries,
  restoreSysctls, saveRules, serviceSubnet, sharedPathState, sharedPaths, unmountBelow,
} from "./real-node-host.js";
import { childProcessEnv } from "../../operators/runtime/child-env.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const runc = "/usr/sbin/runc";

/** Why this machine cannot run the real node, or undefined when it can. */
export function realNodeSkipReason(): string | undefined {
  if (process.platform !== "linux") return `the real node needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "the real node needs root (kubelet, containerd, the bridge and iptables)";
  return undefined;
}

/** Images the node's own components use, imported at start. */
export const nodeImages = { pause: pauseImage, coredns: corednsImage, probe: "graft.local/e2e-probe:1" } as const;

function script(name: string, args: string[] = []): string {
  const out = execFileSync("sh", [join(repoRoot, "e2e/assets", name), ...args], {
    encoding: "utf8", stdio: ["ignore", "pipe", "inherit"],
  });
  const dir = out.trim().split("\n").pop();
  if (!dir) throw new Error(`e2e/assets/${name} printed nothing`);
  return dir;
}

let nodeDir: string | undefined;
/** The directory of kubelet, kube-proxy, containerd, CoreDNS... (e2e/assets/build-node.sh; built once, cached). */
export function nodeAssetsDir(): string {
  nodeDir ??= process.env.GRAFT_NODE_ASSETS && existsSync(join(process.env.GRAFT_NODE_ASSETS, "kubelet"))
    ? process.env.GRAFT_NODE_ASSETS : script("build-node.sh");
  return nodeDir;
}

const imageFile = (dir: string, reference: string) => join(dir, `${reference.replace(/[/:]/g, "_")}.tar`);

/**
 * The tarball of an image the node can run, by its exact reference: the node's own, Flux's controllers and the Sealed
 * Secrets controller (e2e/assets/build-node-images.sh; `only` names the images to build when not all are needed).
 */
export function imageTarball(reference: string, only: string[] = []): string {
  const given = process.env.GRAFT_NODE_IMAGES;
  if (given && existsSync(imageFile(given, reference))) return imageFile(given, reference);
  const dir = script("build-node-images.sh", only);
  const file = imageFile(dir, reference);
  if (!existsSync(file)) {
    const known = readdirSync(dir).map((f) => f.replace(/\.tar$/, "")).join(", ");
    throw new Error(`no image tarball for "${reference}" (built: ${known})`);
  }
  return file;
}

/** The reference a docker-archive tarball tags its image with (its manifest.json RepoTags). */
export function tarballReference(tarball: string): string {
  const manifest = JSON.parse(execFileSync("tar", ["-xOf", tarball, "manifest.json"], { encoding: "utf8" })) as { RepoTags?: string[] }[];
  const ref = manifest[0]?.RepoTags?.[0];
  if (!ref) throw new Error(`${tarball} names no image`);
  return ref;
}

/** graft's image built from the Dockerfile (e2e/assets/build-image.sh, what `make image` runs; cached by its inputs). */
export function graftImage(): { reference: string; tarball: string } {
  const given = process.env.GRAFT_IMAGE_TARBALL;
  const tarball = given && existsSync(given) ? given : script("build-image.sh");
  return { reference: tarballReference(tarball), tarball };
}

export interface RealNodeOptions {
  /** Image tarballs (or references imageTarball knows) to import before the node starts. */
  images?: string[];
  log?: (msg: string) => void;
}

export interface RealNode {
  /** The cluster's API server (listening on the bridge address; kubectl, kubeconfig, CRDs as for a ControlPlane). */
  readonly cluster: ControlPlane;
  readonly nodeName: string;
  /** The bridge's address: the API server's and kubelet's, and the Pods' gateway. */
  readonly bridgeAddress: string;
  readonly dir: string;
  /** `ctr -n k8s.io images import` of a tarball (or a reference imageTarball knows). */
  importImage(tarballOrReference: string): Promise<void>;
  /** Gives an imported image a second reference (as pushing it to another registry would). */
  tagImage(existing: string, reference: string): Promise<void>;
  /** References of the images containerd holds for Kubernetes. */
  images(): Promise<string[]>;
  /** Packets the guard dropped so far (throws when a guard rule is missing). */
  guardDrops(): number;
  /** Runs a Pod of the probe image (or another) to completion; its phase (Succeeded/Failed) and log. */
  runPod(name: string, args: string[], opts?: { image?: string; namespace?: string }): Promise<{ phase: string; log: string }>;
  /** The host as it was before the node started (taken under the machine-wide lock). */
  readonly hostBefore: HostState;
  /** Tears everything down; resolves to the host as it is afterwards (taken before the lock is released). */
  stop(): Promise<HostState>;
}

function exec(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: "utf8", maxBuffer: 16 * 1024 * 1024, env: childProcessEnv() }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout));
  });
}

/** A CA and the client certificate the API server presents to kubelet (logs, exec, port-forward). */
function makeKubeletClientCert(dir: string): { ca: string; cert: string; key: string } {
  const p = (f: string) => join(dir, f);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  execFileSync("openssl", ["req", "-x509", ...ec, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "2",
    "-subj", "/CN=graft-real-node-ca"], { stdio: "ignore" });
  execFileSync("openssl", ["req", ...ec, "-keyout", p("apiserver-kubelet.key"), "-out", p("apiserver-kubelet.csr"),
    "-subj", "/O=system:masters/CN=kube-apiserver-kubelet-client"], { stdio: "ignore" });
  execFileSync("openssl", ["x509", "-req", "-in", p("apiserver-kubelet.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
    "-CAcreateserial", "-out", p("apiserver-kubelet.crt"), "-days", "2"], { stdio: "ignore" });
  return { ca: p("ca.crt"), cert: p("apiserver-kubelet.crt"), key: p("apiserver-kubelet.key") };
}

/** containerd names images fully ("graft:1" is docker.io/library/graft:1), as kubelet asks for them. */
function normalise(ref: string): string {
  const first = ref.split("/")[0]!;
  const qualified = ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  return qualified ? ref : `docker.io/${ref.includes("/") ? "" : "library/"}${ref}`;
}

export async function startRealNode(opts: RealNodeOptions = {}): Promise<RealNode> {
  const skip = realNodeSkipReason();
  if (skip) throw new Error(skip);
  const log = opts.log ?? (() => {});
  const assets = nodeAssetsDir();
  const bin = (name: string) => join(assets, name);
  const toImport = [
    ...[nodeImages.pause, nodeImages.coredns, nodeImages.probe].map((i) => imageTarball(i, ["pause", "probe", "coredns"])),
    ...(opts.images ?? []).map((i) => (i.endsWith(".tar") ? i : imageTarball(i))),
  ];

  const release = await lockNode(log);
  const nodeBinaries = readdirSync(assets).map((f) => join(assets, f));
  const hostBefore = hostState(nodeBinaries);
  const before = { sysctls: readSysctls(), rules: saveRules(), shared: sharedPathState() };
  const dir = mkdtempSync(join(tmpdir(), "graft-node-"));
  const nodeName = hostname().toLowerCase();
  const procs: Record<string, ManagedProcess> = {};
  let cluster: ControlPlane | undefined;
  const containerdDir = join(dir, "containerd");
  const socket = join(dir, "containerd.sock");
  const ctr = (args: string[]) => exec(bin("ctr"), ["--address", socket, "--namespace", "k8s.io", ...args]);

  let stopped: Promise<HostState> | undefined;
  const stop = () => (stopped ??= teardown());
  const teardown = async () => {
    const errors: string[] = [];
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    await step("stop kubelet", () => procs.kubelet?.stop(10_000));
    await step("kill the Pods' processes", () => eventually(() => {
      const pids = cgroupProcesses();
      killAll(pids);
      return pids.length === 0;
    }, { timeoutMs: 30_000, intervalMs: 200, message: "Pod processes still running" }));
    for (const name of ["kube-proxy", "kube-scheduler", "kube-controller-manager", "containerd"]) {
      await step(`stop ${name}`, () => procs[name]?.stop(10_000));
    }
    await step("kill the containerd shims", () => eventually(() => {
      const pids = processesRunning([bin("containerd-shim-runc-v2"), bin("containerd")]);
      killAll(pids);
      return pids.length === 0;
    }, { timeoutMs: 10_000, intervalMs: 100, message: "containerd shims still running" }));
    await step("stop the API server", () => cluster?.stop());
    await step("unmount", () => unmountBelow([dir, ...sharedPaths]));
    await step("remove the cgroups", () => eventually(() => {
      removeCgroupRoot();
      return true;
    }, { timeoutMs: 10_000, intervalMs: 200, message: "kubelet's cgroups could not be removed" }));
    await step("delete the bridge", deleteBridge);
    await step("remove iptables rules", () => removeAddedRules(before.rules));
    await step("restore kernel settings", () => {
      const failed = restoreSysctls(before.sysctls);
      if (failed.length) throw new Error(`could not restore ${failed.join(", ")}`);
    });
    await step("remove files", () => {
      removeNewSharedEntries(before.shared);
      rmSync(dir, { recursive: true, force: true });
    });
    const after = hostState(nodeBinaries);
    release();
    if (errors.length) throw new Error(`real node teardown: ${errors.join("; ")}`);
    return after;
  };

  try {
    createBridge();
    installGuard();
    const pki = join(dir, "pki");
    mkdirSync(pki);
    const certs = makeKubeletClientCert(pki);

    log("starting the API server on the bridge");
    cluster = await startControlPlane({
      name: "node", address: bridgeAddress, serviceAccounts: true,
      apiServerArgs: [
        `--kubelet-client-certificate=${certs.cert}`, `--kubelet-client-key=${certs.key}`,
        "--kubelet-preferred-address-types=InternalIP",
      ],
    });
    const kubeconfig = cluster.kubeconfigPath;
    const apiCert = join(cluster.dir, "certs", readdirSync(join(cluster.dir, "certs")).find((f) => f.endsWith(".crt"))!);

    log("starting containerd");
    mkdirSync(join(containerdDir, "certs.d", "_default"), { recursive: true });
    mkdirSync(join(containerdDir, "cni"), { recursive: true });
    writeFileSync(join(containerdDir, "certs.d", "_default", "hosts.toml"), registryHosts());
    writeFileSync(join(containerdDir, "cni", "10-graft-node.conflist"), cniConfig(join(dir, "cni-ipam")));
    writeFileSync(join(dir, "containerd.toml"), containerdConfig({ dir: containerdDir, socket, runc }));
    const env = { ...childProcessEnv(), PATH: `${assets}:/usr/sbin:/usr/bin:/sbin:/bin` };
    procs.containerd = startProcess(bin("containerd"), ["--config", join(dir, "containerd.toml")],
      { logFile: join(dir, "containerd.log"), env });
    await eventually(async () => {
      if (procs.containerd!.child.exitCode !== null) throw new Error(`containerd exited: see ${dir}/containerd.log`);
      await ctr(["version"]);
      return true;
    }, { timeoutMs: 30_000, intervalMs: 200, message: "containerd did not start" });
    for (const t of toImport) await ctr(["images", "import", t]);

    log("starting kubelet, kube-proxy, kube-controller-manager and kube-scheduler");
    createCgroupRoot();
    const [kubeletPort, kubeletHealthz, proxyHealthz, proxyMetrics] =
      [await freePort(), await freePort(), await freePort(), await freePort()];
    writeFileSync(join(dir, "kubelet.yaml"), kubeletConfig({
      containerdSocket: socket, clientCaFile: certs.ca, podLogsDir: join(dir, "pod-logs"),
      port: kubeletPort, healthzPort: kubeletHealthz,
    }));
    procs.kubelet = startProcess(bin("kubelet"), [
      `--config=${join(dir, "kubelet.yaml")}`, `--kubeconfig=${kubeconfig}`, `--root-dir=${join(dir, "kubelet")}`,
      `--cert-dir=${join(dir, "kubelet-pki")}`, `--hostname-override=${nodeName}`, `--node-ip=${bridgeAddress}`, "--v=1",
    ], { logFile: join(dir, "kubelet.log"), env });
    writeFileSync(join(dir, "kube-proxy.yaml"), kubeProxyConfig({
      kubeconfig, healthzPort: proxyHealthz, metricsPort: proxyMetrics, nodeName,
    }));
    procs["kube-proxy"] = startProcess(bin("kube-proxy"), [`--config=${join(dir, "kube-proxy.yaml")}`, "--v=1"],
      { logFile: join(dir, "kube-proxy.log"), env });
    procs["kube-controller-manager"] = startProcess(bin("kube-controller-manager"), [
      `--kubeconfig=${kubeconfig}`, "--secure-port=0", "--leader-elect=false", "--use-service-account-credentials=false",
      `--service-cluster-ip-range=${serviceSubnet}`, `--root-ca-file=${apiCert}`, "--v=1",
    ], { logFile: join(dir, "kube-controller-manager.log"), env });
    procs["kube-scheduler"] = startProcess(bin("kube-scheduler"), [
      `--kubeconfig=${kubeconfig}`, "--secure-port=0", "--leader-elect=false", "--v=1",
    ], { logFile: join(dir, "kube-scheduler.log"), env });

    const exitedEarly = () => {
      for (const [name, p] of Object.entries(procs)) {
        if (p.child.exitCode !== null) throw new Error(`${name} exited (${p.child.exitCode}): see ${dir}/${name}.log`);
      }
    };
    await eventually(async () => {
      exitedEarly();
      const r = await cluster!.kubectl(["get", "node", nodeName, "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"]);
      return r.stdout === "True";
    }, { timeoutMs: 120_000, intervalMs: 500, message: `node ${nodeName} did not become Ready (logs in ${dir})` });
    // kubelet has set kernel.panic and friends by now (real-node.md): put them back while it runs.
    const failed = restoreSysctls(before.sysctls, kubeletSysctls);
    if (failed.length) throw new Error(`could not restore ${failed.join(", ")} after kubelet started`);

    log("starting CoreDNS");
    const applied = await cluster.kubectl(["apply", "-f", "-"], { input: corednsManifests() });
    if (applied.code !== 0) throw new Error(`CoreDNS manifests: ${applied.stderr}`);
    const rolled = await cluster.kubectl(["-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=120s"]);
    if (rolled.code !== 0) throw new Error(`CoreDNS did not become ready: ${rolled.stderr} (logs in ${dir})`);
    await eventually(async () => {
      const sa = await cluster!.kubectl(["get", "serviceaccount", "default", "-n", "default"]);
      return sa.code === 0;
    }, { timeoutMs: 60_000, message: "the default service account was not created" });
  } catch (err) {
    // The logs outlive the failed start (everything else goes): the error names where they are.
    const kept = mkdtempSync(join(tmpdir(), "graft-node-failed-"));
    for (const d of [dir, cluster?.dir]) {
      for (const f of d && existsSync(d) ? readdirSync(d).filter((n) => n.endsWith(".log")) : []) copyFileSync(join(d!, f), join(kept, f));
    }
    await stop().catch((e: unknown) => log(String(e)));
    throw new Error(`${err instanceof Error ? err.message : String(err)} (logs kept in ${kept})`, { cause: err });
  }

  return {
    cluster: cluster!,
    nodeName,
    bridgeAddress,
    dir,
    async importImage(t) {
      await ctr(["images", "import", t.endsWith(".tar") ? t : imageTarball(t)]);
    },
    async tagImage(existing, reference) {
      await ctr(["images", "tag", "--force", normalise(existing), normalise(reference)]);
    },
    async images() {
      return (await ctr(["images", "list", "--quiet"])).split("\n").filter((l) => l && !l.startsWith("sha256:"));
    },
    guardDrops,
    async runPod(name, args, podOpts = {}) {
      const ns = podOpts.namespace ?? "default";
      const c = cluster!;
      const r = await c.kubectl(["run", name, "-n", ns, `--image=${podOpts.image ?? nodeImages.probe}`,
        "--image-pull-policy=IfNotPresent", "--restart=Never", "--", ...args]);
      if (r.code !== 0) throw new Error(`kubectl run ${name}: ${r.stderr}`);
      const phase = await eventually(async () => {
        const p = (await c.kubectl(["get", "pod", name, "-n", ns, "-o", "jsonpath={.status.phase}"])).stdout;
        return p === "Succeeded" || p === "Failed" ? p : undefined;
      }, { timeoutMs: 120_000, intervalMs: 300, message: `pod ${name} did not finish` });
      const logs = await c.kubectl(["logs", name, "-n", ns]);
      if (logs.code !== 0) throw new Error(`kubectl logs ${name}: ${logs.stderr}`);
      await c.kubectl(["delete", "pod", name, "-n", ns, "--wait=false"]);
      return { phase, log: logs.stdout };
    },
    hostBefore,
    stop,
  };
}
