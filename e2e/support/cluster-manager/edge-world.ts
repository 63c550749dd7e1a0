// An embedded-mode site for end-to-end tests: a central cluster-manager and an edge API server, the one-time
// bootstrap script run with dash against the edge, the upstream Flux controllers and edge-sync as processes with the
// settings and credentials the bootstrap left on the edge. Everything started is stopped at the test file's end.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startControlPlane, type ControlPlane } from "../../harness/control-plane.js";
import { startFlux, type FluxControllers } from "../../harness/flux.js";
import { startProcess, type ManagedProcess } from "../../harness/process.js";
import { requestBootstrapCommand } from "../../../operators/cluster-manager/bootstrap-command.js";
import { DEFAULT_EDGE_NAMESPACE } from "../../../operators/api/constants.js";
import { atFileEnd, tempDirForFile } from "../api-server.js";
import { managerForFile, type ManagerFixture } from "./fixtures.js";
import { childProcessEnv } from "../../../operators/runtime/child-env.js";

const run = promisify(execFile);
const cli = fileURLToPath(new URL("../../../operators/cli/main.ts", import.meta.url));

export interface EdgeWorld {
  central: ManagerFixture;
  edge: ControlPlane;
  /** The file's scratch directory (the bootstrap script, Flux's and edge-sync's logs). */
  work: string;
  /** `kubectl get … -o json` on the edge, parsed; throws with kubectl's message. */
  edgeJson(args: string[]): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Fetches the EdgeCluster's printed bootstrap command's script and runs it with dash against the edge. */
  bootstrap(name: string): Promise<{ url: string; stdout: string }>;
  startFlux(options?: { helmController?: boolean }): Promise<FluxControllers>;
  /** edge-sync with the cluster-config and token the bootstrap wrote into the edge namespace. */
  startEdgeSync(env?: Record<string, string>): Promise<ManagedProcess>;
}

export async function edgeWorldForFile(options: { name: string; namespace: string }): Promise<EdgeWorld> {
  const work = tempDirForFile(`graft-${options.name}-`);
  const central = await managerForFile(options.name, options.namespace);
  const edge = await startControlPlane({ name: `${options.name}-edge` });
  atFileEnd(() => edge.stop());
  const edgeJson = async (args: string[]) => {
    const r = await edge.kubectl([...args, "-o", "json"]);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout);
  };
  return {
    central, edge, work, edgeJson,
    async bootstrap(name) {
      const { command } = await requestBootstrapCommand(central.manager.client, options.namespace, name, 30_000);
      const url = /'([^']+)'/.exec(command)![1]!;
      writeFileSync(join(work, "bootstrap.sh"), await (await fetch(url)).text());
      const { stdout } = await run("dash", [join(work, "bootstrap.sh"), "--yes", "--no-wait"], {
        env: { PATH: process.env.PATH, HOME: work, KUBECTL: edge.kubectlPath, KUBECONFIG: edge.kubeconfigPath },
      });
      return { url, stdout };
    },
    async startFlux({ helmController } = {}) {
      const flux = await startFlux({ kubeconfigPath: edge.kubeconfigPath, workDir: join(work, "flux"), helmController });
      atFileEnd(() => flux.stop());
      return flux;
    },
    async startEdgeSync(env = {}) {
      const config = (await edgeJson(["-n", DEFAULT_EDGE_NAMESPACE, "get", "configmap", "cluster-config"])).data;
      const token = Buffer.from((await edgeJson(["-n", DEFAULT_EDGE_NAMESPACE, "get", "secret", "edge-sync-token"])).data.token, "base64").toString();
      const sync = startProcess(process.execPath, ["--import", "tsx", cli, "edge-sync"], {
        logFile: join(work, "edge-sync.log"),
        env: {
          ...childProcessEnv(), KUBECONFIG: edge.kubeconfigPath, CLUSTER_UUID: config.CLUSTER_UUID, CLUSTER_NAME: config.CLUSTER_NAME,
          STATUS_URL: config.STATUS_URL, SYNC_TOKEN: token, SYNC_DEBOUNCE: "200ms", HEALTH_ADDR: "127.0.0.1:0", LOG_LEVEL: "warn",
          ...env,
        },
      });
      atFileEnd(() => sync.stop());
      return sync;
    },
  };
}
