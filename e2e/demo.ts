// `make demo`: graft on the embedded default, on this machine. Where a real node can run (root on Linux), in Pods
// (demo-real-node.ts); otherwise, saying why, as processes: a central and an edge API server (real etcd +
// kube-apiserver), Mosquitto, the cluster-manager; the sample EdgeCluster is applied, its one-time bootstrap script
// is fetched and run against the edge; edge-sync and edge-monitor run against the edge; Node objects are created.
// Then it stays up until Ctrl-C, and cleans everything up. GRAFT_DEMO_MODE=process asks for the process mode.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { startControlPlane, startEtcd, type ControlPlane, type Etcd } from "./harness/control-plane.js";
import { eventually } from "./harness/eventually.js";
import { freePort } from "./harness/ports.js";
import { startProcess, type ManagedProcess } from "./harness/process.js";
import { createSealedSecretsKey } from "./harness/sealed-secrets-key.js";
import { startMosquitto, type Mosquitto } from "./harness/mosquitto.js";
import { firstMessage } from "./support/edge-monitor/first-message.js";
import { KubeClient } from "../operators/runtime/rest.js";
import { requestBootstrapCommand } from "../operators/cluster-manager/bootstrap-command.js";
import { realNodeSkipReason } from "./harness/real-node.js";
import { runRealNodeDemo } from "./demo-real-node.js";
import { childProcessEnv } from "../operators/runtime/child-env.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "operators/cli/main.ts");
const dir = process.env.GRAFT_DEMO_DIR ?? join(root, ".demo");
const started = Date.now();
const step = (msg: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${msg}`);

const cleanups: Array<() => Promise<void>> = [];
let stopping = false;
async function cleanup(code: number) {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping graft demo…");
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  console.log(`stopped; every process and server the demo started is gone (logs kept in ${dir})`);
  process.exit(code);
}
process.on("SIGINT", () => void cleanup(0));
process.on("SIGTERM", () => void cleanup(0));

function graft(name: string, args: string[], env: Record<string, string>): ManagedProcess {
  const p = startProcess(process.execPath, ["--import", "tsx", cli, ...args], { logFile: join(dir, `${name}.log`), env: { ...childProcessEnv(), ...env } });
  cleanups.push(() => p.stop());
  return p;
}

async function main() {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const skip = process.env.GRAFT_DEMO_MODE === "process" ? "GRAFT_DEMO_MODE=process" : realNodeSkipReason();
  if (!skip) {
    await runRealNodeDemo({ dir, step, cleanups, started });
    if (process.env.GRAFT_DEMO_EXIT === "1") await cleanup(0);
    return;
  }
  step(`not in Pods (${skip}): running graft's components as processes`);

  step("control-plane binaries (built once from pinned Go modules: about 5 minutes the first time, then cached)");
  const assets = execFileSync("sh", [join(root, "e2e/assets/build-k8s.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop()!;
  process.env.GRAFT_K8S_ASSETS = assets;

  step("starting etcd and two API servers: central and edge");
  const etcd: Etcd = await startEtcd(join(dir, "etcd"));
  cleanups.push(() => etcd.stop());
  const central: ControlPlane = await startControlPlane({ name: "central", etcd });
  cleanups.push(() => central.stop());
  const edge: ControlPlane = await startControlPlane({ name: "edge", etcd });
  cleanups.push(() => edge.stop());
  await central.installCrds();
  writeFileSync(join(dir, "central.kubeconfig"), readFileSync(central.kubeconfigPath));
  writeFileSync(join(dir, "edge.kubeconfig"), readFileSync(edge.kubeconfigPath));

  step("starting Mosquitto on a loopback port");
  const mqtt: Mosquitto = await startMosquitto();
  cleanups.push(() => mqtt.dispose());
  const births = firstMessage(mqtt.url, "spBv1.0/+/NBIRTH/Monitor", cleanups, 0);

  step("starting the cluster-manager (embedded mode)");
  const port = await freePort();
  const externalUrl = `http://127.0.0.1:${port}`;
  await central.kubectl(["create", "namespace", "graft-system"]);
  graft("cluster-manager", ["cluster-manager", "--namespace=graft-system", `--data-dir=${join(dir, "repos")}`,
    `--external-url=${externalUrl}`, `--listen-address=127.0.0.1:${port}`, "--health-addr=127.0.0.1:0", "--organisation-prefix=demo"],
  { KUBECONFIG: central.kubeconfigPath });

  step("applying the sample EdgeCluster (config/samples)");
  const sample = parse(readFileSync(join(root, "config/samples/factoryplus.app.amrc.co.uk_v1alpha1_edgecluster.yaml"), "utf8"));
  sample.spec.values = { ...(sample.spec.values ?? {}), mqtt: { url: mqtt.url } };
  const name = sample.metadata.name as string;
  const applied = await central.kubectl(["apply", "-f", "-"], { input: JSON.stringify(sample) });
  if (applied.code !== 0) throw new Error(applied.stderr);
  const waited = await central.kubectl(["wait", "-n", "graft-system", `ec/${name}`, "--for=condition=Provisioned", "--timeout=60s"]);
  if (waited.code !== 0) throw new Error(`EdgeCluster not provisioned: ${waited.stderr} (see ${dir}/cluster-manager.log)`);

  step("creating Node objects on the edge (no kubelet runs here)");
  for (const [node, cp] of [["edge-cp-1", true], ["edge-worker-1", false], ["edge-worker-2", false]] as const) {
    const labels: Record<string, string> = { "kubernetes.io/hostname": node, ...(cp ? { "node-role.kubernetes.io/control-plane": "" } : {}) };
    await edge.kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: node, labels } }) });
  }

  step("getting the one-time bootstrap command and running the script against the edge");
  const { command } = await requestBootstrapCommand(new KubeClient(central.kubeConfig), "graft-system", name, 30_000);
  console.log(`        ${command}`);
  const script = await (await fetch(/'([^']+)'/.exec(command)![1]!)).text();
  writeFileSync(join(dir, "bootstrap.sh"), script);
  const boot = spawnSync("sh", [join(dir, "bootstrap.sh"), "--yes", "--no-wait"], {
    encoding: "utf8", env: { ...childProcessEnv(), KUBECTL: edge.kubectlPath, KUBECONFIG: edge.kubeconfigPath },
  });
  writeFileSync(join(dir, "bootstrap.log"), `${boot.stdout}${boot.stderr}`);
  if (boot.status !== 0) throw new Error(`bootstrap script failed:\n${boot.stdout}${boot.stderr}`);
  for (const line of boot.stdout.split("\n").filter((l) => l.startsWith("==>"))) console.log(`        ${line}`);

  step("a Sealed Secrets key on the edge (certificate made with openssl, as the controller would)");
  await createSealedSecretsKey(edge, dir);

  step("starting edge-sync and edge-monitor against the edge, configured from what the bootstrap left there");
  const config = JSON.parse((await edge.kubectl(["-n", "fplus-edge", "get", "configmap", "cluster-config", "-o", "json"])).stdout).data;
  const token = Buffer.from(JSON.parse((await edge.kubectl(["-n", "fplus-edge", "get", "secret", "edge-sync-token", "-o", "json"])).stdout).data.token, "base64").toString();
  const edgeEnv = { KUBECONFIG: edge.kubeconfigPath, CLUSTER_UUID: config.CLUSTER_UUID, CLUSTER_NAME: config.CLUSTER_NAME, HEALTH_ADDR: "127.0.0.1:0" };
  graft("edge-sync", ["edge-sync"], { ...edgeEnv, STATUS_URL: config.STATUS_URL, SYNC_TOKEN: token, SYNC_DEBOUNCE: "500ms" });
  graft("edge-monitor", ["edge-monitor"], {
    ...edgeEnv, SPARKPLUG_GROUP: config.SPARKPLUG_GROUP, MQTT_URL: mqtt.url, BDSEQ_STORE: "file", BDSEQ_FILE: join(dir, "bdseq"), METRICS_ADDR: "127.0.0.1:0",
  });

  await eventually(async () => {
    const r = await central.kubectl(["get", "ec", "-n", "graft-system", name, "-o", "json"]);
    const ec = JSON.parse(r.stdout);
    return ec.status?.hostCount === 3 && ec.status?.kubesealCertificate && ec.status.conditions?.some((c: { type: string; status: string }) => c.type === "Bootstrapped" && c.status === "True");
  }, { timeoutMs: 60_000, message: () => `edge status did not reach the centre (see ${dir}/edge-sync.log)` });
  const birth = await births;

  console.log(`\n$ kubectl get edgeclusters -A -o wide\n${(await central.kubectl(["get", "edgeclusters", "-A", "-o", "wide"])).stdout}`);
  console.log(`edge-monitor NBIRTH seen on ${birth.topic} (${birth.bytes} bytes)`);
  console.log(`
graft demo is running (ready in ${((Date.now() - started) / 1000).toFixed(0)} s).
  central cluster:  export KUBECONFIG=${join(dir, "central.kubeconfig")}; kubectl describe ec -n graft-system ${name}
  edge cluster:     export KUBECONFIG=${join(dir, "edge.kubeconfig")}; kubectl -n fplus-edge get secrets,configmaps,gitrepositories,kustomizations
  add a host:       kubectl --kubeconfig ${join(dir, "edge.kubeconfig")} create -f - <<<'{"apiVersion":"v1","kind":"Node","metadata":{"name":"edge-worker-3"}}'
  Sparkplug:        mosquitto_sub -h 127.0.0.1 -p ${mqtt.port} -t 'spBv1.0/#' -v
  logs:             ${dir}/*.log
Press Ctrl-C to stop; everything the demo started is stopped and removed.`);
  if (process.env.GRAFT_DEMO_EXIT === "1") await cleanup(0);
}

main().catch(async (err) => {
  console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
  await cleanup(1);
});
