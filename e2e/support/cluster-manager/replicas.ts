// Two cluster-manager processes with leader election on, both serving, against one real API server: the set-up of
// the tests that show a behaviour holds whichever replica a Service sends a request to. Registers the file's
// before/after hooks; the fields are set once `before` has run.
import { after, before } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane, type ControlPlane } from "../../harness/control-plane.js";
import { Core } from "../../../operators/runtime/kube.js";
import { KubeClient } from "../../../operators/runtime/rest.js";
import { startManagerProcess, type ManagerProcess } from "../../bench/manager-process.js";

export interface ManagerReplicas {
  cp: ControlPlane;
  client: KubeClient;
  /** The running replicas, "a" and "b" at the start; a test may add (and the file's end stops) more. */
  replicas: ManagerProcess[];
  /** Starts one more replica named `name` (its log file), on `port` if given. */
  replica(name: string, port?: number): Promise<ManagerProcess>;
}

export function managerReplicasForFile(namespace: string): ManagerReplicas {
  let work = "";
  const world = { replicas: [] as ManagerProcess[] } as ManagerReplicas;
  world.replica = (name, port) => startManagerProcess({
    kubeconfigPath: world.cp.kubeconfigPath, namespace, dataDir: join(work, "data"), logFile: join(work, `${name}.log`), logLevel: "warn", port,
    extraArgs: ["--enable-leader-election", `--leader-election-namespace=${namespace}`],
  });
  before(async () => {
    world.cp = await startControlPlane({ name: namespace });
    await world.cp.installCrds();
    world.client = new KubeClient(world.cp.kubeConfig);
    await world.client.create(Core.namespaces, { metadata: { name: namespace } });
    work = mkdtempSync(join(tmpdir(), `graft-faults-${namespace}-`));
    world.replicas.push(await world.replica("a"), await world.replica("b"));
  });
  after(async () => {
    for (const r of world.replicas) await r.stop();
    await world.cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });
  return world;
}
