// What a kubelet and the deployment controller do for Flux on a test edge API server (which has neither): the Flux
// controllers that the flux-system Deployments name run as processes — the binary of exactly the image each
// Deployment's Pod template names — and each Deployment's status says it rolled out once its process is ready. When
// Flux applies a new release to itself (a new image in a Deployment), the old process is stopped and the new release's
// binary started in its place, on the same ports and artifact storage, as a rolling update would replace the Pod.
// Used by the fleet-upgrade test, whose edges move from one Flux release to another.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ControlPlane } from "./control-plane.js";
import { eventually } from "./eventually.js";
import { freePort } from "./ports.js";
import { startProcess, type ManagedProcess } from "./process.js";
import { childProcessEnv } from "../../operators/runtime/child-env.js";

export const FLUX_CONTROLLERS = ["source-controller", "kustomize-controller", "helm-controller"] as const;
type ControllerName = typeof FLUX_CONTROLLERS[number];

/** Image reference (`ghcr.io/fluxcd/<controller>:<version>`) → the binary built from that controller release. */
export type FluxImageBinaries = Map<string, string>;

/** The image → binary entries of one directory holding the three controllers of a release (versions per controller). */
export function imageBinaries(dir: string, versions: Record<ControllerName, string>): FluxImageBinaries {
  return new Map(FLUX_CONTROLLERS.map((c) => [`ghcr.io/fluxcd/${c}:${versions[c]}`, join(dir, c)]));
}

export interface FluxKubelet {
  /** The image each controller process runs now. */
  running(): Partial<Record<ControllerName, string>>;
  recentLogs(): string;
  stop(): Promise<void>;
}

interface Slot {
  ports: { metrics: number; health: number };
  image?: string;
  proc?: ManagedProcess;
  logFile?: string;
}

type Deployment = { metadata: { name: string; generation: number }; spec: { template: { spec: { containers: Array<{ image: string }> } } }; status?: { observedGeneration?: number } };

export async function startFluxKubelet(edge: ControlPlane, opts: { binaries: FluxImageBinaries; workDir: string; intervalMs?: number }): Promise<FluxKubelet> {
  const storage = join(opts.workDir, "source-storage");
  const tmp = join(opts.workDir, "tmp");
  mkdirSync(storage, { recursive: true });
  mkdirSync(tmp, { recursive: true });
  const storagePort = await freePort();
  const slots = new Map<ControllerName, Slot>();
  for (const c of FLUX_CONTROLLERS) slots.set(c, { ports: { metrics: await freePort(), health: await freePort() } });
  const env = { ...childProcessEnv(), KUBECONFIG: edge.kubeconfigPath, RUNTIME_NAMESPACE: "flux-system", TMPDIR: tmp, HOME: opts.workDir };
  let generation = 0;
  let stopped = false;
  let lastError = "";

  const args = (c: ControllerName, slot: Slot) => [
    "--watch-all-namespaces=true", "--enable-leader-election=false", "--events-addr=",
    `--metrics-addr=127.0.0.1:${slot.ports.metrics}`, `--health-addr=127.0.0.1:${slot.ports.health}`,
    "--log-encoding=json", "--log-level=info",
    ...(c === "source-controller" ? [`--storage-path=${storage}`, `--storage-addr=127.0.0.1:${storagePort}`, `--storage-adv-addr=127.0.0.1:${storagePort}`] : []),
    ...(c === "kustomize-controller" ? ["--no-remote-bases=true"] : []),
  ];

  async function replace(c: ControllerName, slot: Slot, image: string): Promise<void> {
    const binary = opts.binaries.get(image);
    if (!binary) throw new Error(`no binary for image "${image}" (have ${[...opts.binaries.keys()].join(", ")})`);
    await slot.proc?.stop(10_000);
    slot.logFile = join(opts.workDir, `${c}-${++generation}.log`);
    const proc = startProcess(binary, args(c, slot), { logFile: slot.logFile, env, cwd: opts.workDir });
    slot.proc = proc;
    slot.image = image;
    await eventually(async () => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`${c} (${image}) exited: see ${slot.logFile}`);
      return (await fetch(`http://127.0.0.1:${slot.ports.health}/readyz`)).ok;
    }, { timeoutMs: 60_000, intervalMs: 200, message: `${c} (${image}) ready` });
  }

  async function pass(): Promise<void> {
    const r = await edge.kubectl(["-n", "flux-system", "get", "deployments", "-o", "json"]);
    if (r.code !== 0) return;
    const deployments = (JSON.parse(r.stdout) as { items: Deployment[] }).items;
    for (const c of FLUX_CONTROLLERS) {
      const d = deployments.find((x) => x.metadata.name === c);
      const slot = slots.get(c)!;
      if (!d) continue;
      const image = d.spec.template.spec.containers[0]!.image;
      if (slot.image !== image) await replace(c, slot, image);
      if (d.status?.observedGeneration !== d.metadata.generation) {
        const status = {
          observedGeneration: d.metadata.generation, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1,
          conditions: [
            { type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "Deployment has minimum availability." },
            { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", message: `ReplicaSet "${c}" has successfully progressed.` },
          ],
        };
        await edge.kubectl(["-n", "flux-system", "patch", "deployment", c, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
      }
    }
  }

  const loop = (async () => {
    while (!stopped) {
      try {
        await pass();
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
      await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 500));
    }
  })();

  return {
    running: () => Object.fromEntries([...slots].filter(([, s]) => s.image).map(([c, s]) => [c, s.image!])),
    recentLogs: () => `${lastError ? `last error: ${lastError}\n` : ""}${[...slots].map(([c, s]) => `${c}: ${s.image ?? "(none)"} log ${s.logFile ?? "-"}`).join("\n")}`,
    async stop() {
      stopped = true;
      await loop;
      await Promise.all([...slots.values()].map((s) => s.proc?.stop(10_000)));
    },
  };
}
