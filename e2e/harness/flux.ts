// The upstream Flux source-controller and kustomize-controller as test processes against a test API server, built
// from their pinned Go modules (e2e/assets/build-flux.sh), plus the pinned Flux CRDs (config/flux/crds.yaml).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ControlPlane } from "./control-plane.js";
import { eventually } from "./eventually.js";
import { freePort } from "./ports.js";
import { startProcess, type ManagedProcess } from "./process.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** The Flux install manifest graft ships (what the bootstrap script applies) and its CRDs alone. */
export const fluxInstallManifest = join(repoRoot, "config/flux/install.yaml");
export const fluxCrdsManifest = join(repoRoot, "config/flux/crds.yaml");

export interface FluxBinaries {
  sourceController: string;
  kustomizeController: string;
}

let cachedBinaries: FluxBinaries | undefined;

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
}

export interface FluxControllers {
  /** http://127.0.0.1:<port>: source-controller's artifact server, the address it advertises in artifact URLs. */
  readonly storageUrl: string;
  readonly logFiles: { sourceController: string; kustomizeController: string };
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
    ...process.env,
    KUBECONFIG: opts.kubeconfigPath,
    RUNTIME_NAMESPACE: namespace,
    TMPDIR: tmp,
    HOME: opts.workDir,
  };
  const storagePort = await freePort();
  const source: ControllerPorts = { metrics: await freePort(), health: await freePort() };
  const kustomize: ControllerPorts = { metrics: await freePort(), health: await freePort() };
  const logFiles = {
    sourceController: join(opts.workDir, "source-controller.log"),
    kustomizeController: join(opts.workDir, "kustomize-controller.log"),
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
  } catch (err) {
    await stop();
    throw err;
  }
  const recentLogs = (lines = 20) =>
    Object.entries(logFiles)
      .map(([name, file]) => {
        const text = existsSync(file) ? readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n") : "";
        return `--- ${name} (${file})\n${text}`;
      })
      .join("\n");
  return { storageUrl: `http://127.0.0.1:${storagePort}`, logFiles, recentLogs, stop };
}
