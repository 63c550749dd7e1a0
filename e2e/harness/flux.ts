// The upstream Flux source-controller and kustomize-controller (and, on request, helm-controller) as test processes
// against a test API server, built from their pinned Go modules (e2e/assets/build-flux.sh; helm-controller by
// build-node-images.sh), plus the pinned Flux CRDs (config/flux/crds.yaml).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ControlPlane } from "./control-plane.js";
import { eventually } from "./eventually.js";
import { freePort } from "./ports.js";
import { startProcess, type ManagedProcess } from "./process.js";
import { childProcessEnv } from "../../operators/runtime/child-env.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** The Flux install manifest graft ships (what the bootstrap script applies) and its CRDs alone. */
export const fluxInstallManifest = join(repoRoot, "config/flux/install.yaml");
export const fluxCrdsManifest = join(repoRoot, "config/flux/crds.yaml");

export interface FluxBinaries {
  sourceController: string;
  kustomizeController: string;
}

let cachedBinaries: FluxBinaries | undefined;

/** helm-controller at the pinned version: built (cached) by e2e/assets/build-node-images.sh, which prints its images dir. */
export function helmControllerBinary(): string {
  const pinned = readFileSync(join(repoRoot, "config/flux/VERSIONS"), "utf8");
  const version = /^HELM_CONTROLLER_VERSION=(\S+)$/m.exec(pinned)?.[1];
  const cache = process.env.GRAFT_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? "/root", ".cache"), "graft");
  const path = join(cache, `helm-controller-${version}-sealed-secrets-${process.env.KUBESEAL_VERSION ?? "v0.40.0"}`, "helm-controller");
  if (!existsSync(path)) {
    execFileSync("sh", [join(repoRoot, "e2e/assets/build-node-images.sh"), "helm-controller"], { stdio: ["ignore", "ignore", "inherit"] });
  }
  if (!existsSync(path)) throw new Error(`helm-controller not found at '${path}' after e2e/assets/build-node-images.sh`);
  return path;
}

/** Finds the controller binaries: GRAFT_FLUX_ASSETS, else builds them (cached) with e2e/assets/build-flux.sh. */
export function fluxBinaries(): FluxBinaries {
  if (cachedBinaries) return cachedBinaries;
  const dir = execFileSync("sh", [join(repoRoot, "e2e/assets/build-flux.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  })
    .trim()
    .split("\n")
    .pop();
  if (!dir) throw new Error("e2e/assets/build-flux.sh printed no directory");
  const binaries = {
    sourceController: join(dir, "source-controller"),
    kustomizeController: join(dir, "kustomize-controller"),
  };
  for (const path of Object.values(binaries)) {
    if (!existsSync(path)) throw new Error(`flux controller not found at '${path}': run sh e2e/assets/build-flux.sh`);
  }
  cachedBinaries = binaries;
  return binaries;
}

/** Applies the pinned Flux CRDs (source, kustomize, helm) to a test API server and waits until they are Established. */
export async function installFluxCrds(cp: Pick<ControlPlane, "installCrds">): Promise<void> {
  await cp.installCrds([fluxCrdsManifest]);
}

export interface FluxOptions {
  kubeconfigPath: string;
  /** The namespace the controllers consider their own (RUNTIME_NAMESPACE); they watch all namespaces regardless. */
  namespace?: string;
  /** Artifact storage and the controllers' logs go here; the caller removes it. */
  workDir: string;
  logLevel?: "info" | "debug";
  /** Also run helm-controller (HelmReleases are installed into the test API server: nothing runs their Pods). */
  helmController?: boolean;
}

export interface FluxControllers {
  /** http://127.0.0.1:<port>: source-controller's artifact server, the address it advertises in artifact URLs. */
  readonly storageUrl: string;
  readonly logFiles: { sourceController: string; kustomizeController: string; helmController?: string };
  /** The last `lines` log lines of each controller, for a failing test to show why. */
  recentLogs(lines?: number): string;
  stop(): Promise<void>;
}

interface ControllerPorts {
  metrics: number;
  health: number;
}

// Flags every Flux controller shares (fluxcd/pkg/runtime): all namespaces, no leader election, no events sink
// (an empty --events-addr records events in the API server only), metrics and probes on loopback.
function commonArgs(ports: ControllerPorts, logLevel: string): string[] {
  return [
    "--watch-all-namespaces=true",
    "--enable-leader-election=false",
    "--events-addr=",
    `--metrics-addr=127.0.0.1:${ports.metrics}`,
    `--health-addr=127.0.0.1:${ports.health}`,
    "--log-encoding=json",
    `--log-level=${logLevel}`,
  ];
}

async function waitReady(proc: ManagedProcess, name: string, healthPort: number, logFile: string): Promise<void> {
  await eventually(
    async () => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new Error(`'${name}' exited with ${proc.child.exitCode ?? proc.child.signalCode}: see ${logFile}`);
      }
      const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
      return res.ok;
    },
    { timeoutMs: 60_000, intervalMs: 200, message: `'${name}' did not become ready (log: ${logFile})` },
  );
}

/**
 * Starts source-controller and kustomize-controller against the API server of `kubeconfigPath`. kustomize-controller
 * downloads artifacts from the URL source-controller advertises, so both the listen and the advertised storage
 * address are 127.0.0.1:<free port>.
 */
export async function startFlux(opts: FluxOptions): Promise<FluxControllers> {
  const bin = fluxBinaries();
  const namespace = opts.namespace ?? "flux-system";
  const logLevel = opts.logLevel ?? "info";
  const storagePath = join(opts.workDir, "source-storage");
  const tmp = join(opts.workDir, "tmp");
  mkdirSync(storagePath, { recursive: true });
  mkdirSync(tmp, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...childProcessEnv(),
    KUBECONFIG: opts.kubeconfigPath,
    RUNTIME_NAMESPACE: namespace,
    TMPDIR: tmp,
    HOME: opts.workDir,
  };
  const storagePort = await freePort();
  const source: ControllerPorts = { metrics: await freePort(), health: await freePort() };
  const kustomize: ControllerPorts = { metrics: await freePort(), health: await freePort() };
  const logFiles: FluxControllers["logFiles"] = {
    sourceController: join(opts.workDir, "source-controller.log"),
    kustomizeController: join(opts.workDir, "kustomize-controller.log"),
    ...(opts.helmController ? { helmController: join(opts.workDir, "helm-controller.log") } : {}),
  };

  const started: ManagedProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => p.stop(10_000)));
  };
  try {
    const sourceProc = startProcess(
      bin.sourceController,
      [
        ...commonArgs(source, logLevel),
        `--storage-path=${storagePath}`,
        `--storage-addr=127.0.0.1:${storagePort}`,
        `--storage-adv-addr=127.0.0.1:${storagePort}`,
      ],
      { logFile: logFiles.sourceController, env, cwd: opts.workDir },
    );
    started.push(sourceProc);
    const kustomizeProc = startProcess(
      bin.kustomizeController,
      [...commonArgs(kustomize, logLevel), "--no-remote-bases=true"],
      { logFile: logFiles.kustomizeController, env, cwd: opts.workDir },
    );
    started.push(kustomizeProc);
    await waitReady(sourceProc, "source-controller", source.health, logFiles.sourceController);
    await waitReady(kustomizeProc, "kustomize-controller", kustomize.health, logFiles.kustomizeController);
    if (logFiles.helmController) {
      const helm: ControllerPorts = { metrics: await freePort(), health: await freePort() };
      const helmProc = startProcess(helmControllerBinary(), commonArgs(helm, logLevel), { logFile: logFiles.helmController, env, cwd: opts.workDir });
      started.push(helmProc);
      await waitReady(helmProc, "helm-controller", helm.health, logFiles.helmController);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const recentLogs = (lines = 20) =>
    Object.entries(logFiles)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([name, file]) => {
        const text = existsSync(file) ? readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n") : "";
        return `--- ${name} (${file})\n${text}`;
      })
      .join("\n");
  return { storageUrl: `http://127.0.0.1:${storagePort}`, logFiles, recentLogs, stop };
}
