// `make demo` where the machine can run a real node (root on Linux): graft as it is deployed, in Pods. One real
// cluster (e2e/harness/real-node.ts) plays both parts: the central install from config/default with the image from
// `make image` (graft-system), and the edge (fplus-edge) bootstrapped with the command the cluster-manager serves —
// Flux's controllers, edge-sync, edge-monitor and the Sealed Secrets controller run as Pods, edge-monitor publishing
// to a Mosquitto on the node's bridge address. Prints `kubectl get pods -A` and the EdgeCluster Ready with the real
// Node's data, then stays up until Ctrl-C.
import { writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { firstMessage } from "./support/edge-monitor/first-message.js";
import { parse } from "yaml";
import { eventually } from "./harness/eventually.js";
import { startMosquitto } from "./harness/mosquitto.js";
import { graftImage, imageTarball, nodeAssetsDir, startRealNode } from "./harness/real-node.js";
import {
  applyEdgeCluster, CENTRAL_NS, FLUX_IMAGES, installCentral, runServedBootstrap, SEALED_SECRETS_IMAGE,
} from "./support/real-node/embedded-site.js";

const root = fileURLToPath(new URL("..", import.meta.url));

export interface DemoContext {
  dir: string;
  step: (msg: string) => void;
  /** Run in reverse order when the demo stops. */
  cleanups: Array<() => Promise<void>>;
  started: number;
}

export async function runRealNodeDemo({ dir, step, cleanups, started }: DemoContext): Promise<void> {
  step("real-node binaries and images (built once: kubelet & co., Flux, Sealed Secrets, graft's image from the Dockerfile)");
  nodeAssetsDir();
  const images = [graftImage().tarball, ...FLUX_IMAGES.map((r) => imageTarball(r)), imageTarball(SEALED_SECRETS_IMAGE)];

  step("starting a real single-node cluster (kubelet, containerd, CoreDNS; nothing leaves this machine)");
  const node = await startRealNode({ images, log: (m) => step(`  ${m}`) });
  cleanups.push(async () => void (await node.stop()));
  writeFileSync(join(dir, "kubeconfig"), readFileSync(node.cluster.kubeconfigPath));

  step("starting Mosquitto on the node's bridge address (Pods reach the host there)");
  const mqtt = await startMosquitto({ host: node.bridgeAddress });
  cleanups.push(() => mqtt.dispose());
  const births = firstMessage(mqtt.url, "spBv1.0/+/NBIRTH/Monitor", cleanups);

  step("central install: kubectl apply -k config/default (two cluster-manager replicas from the graft image)");
  await installCentral(node, dir);

  step("applying the sample EdgeCluster (config/samples), its MQTT URL pointed at the demo broker");
  const sample = parse(readFileSync(join(root, "config/samples/factoryplus.app.amrc.co.uk_v1alpha1_edgecluster.yaml"), "utf8"));
  const name = sample.metadata.name as string;
  await applyEdgeCluster(node, name, { ...(sample.spec.values ?? {}), mqtt: { url: mqtt.url } });

  step("running the one-time bootstrap command the cluster-manager serves (curl … | sh -)");
  const boot = await runServedBootstrap(node, name, dir);
  console.log(`        ${boot.command}`);
  writeFileSync(join(dir, "bootstrap.log"), boot.output);
  for (const line of boot.output.split("\n").filter((l) => l.startsWith("==>"))) console.log(`        ${line}`);

  step("waiting for Flux to install the edge-cluster chart and the EdgeCluster to turn Ready");
  const kubectl = (args: string[]) => node.cluster.kubectl(args);
  const waited = eventually(async () => {
    const ec = JSON.parse((await kubectl(["get", "ec", "-n", CENTRAL_NS, name, "-o", "json"])).stdout);
    return ec.status?.hostCount === 1 && ec.status?.kubesealCertificate
      && ec.status.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True");
  }, { timeoutMs: 600_000, intervalMs: 2_000, message: "the EdgeCluster did not turn Ready" });
  await waited.catch(async (err: Error) => {
    throw new Error(`${err.message}\n${(await kubectl(["get", "pods,helmreleases", "-A"])).stdout}`);
  });
  const birth = await births;

  console.log(`\n$ kubectl get pods -A\n${(await kubectl(["get", "pods", "-A"])).stdout}`);
  console.log(`$ kubectl get edgeclusters -A -o wide\n${(await kubectl(["get", "edgeclusters", "-A", "-o", "wide"])).stdout}`);
  console.log(`$ kubectl -n ${CENTRAL_NS} get ec ${name} -o jsonpath='{.status.hosts}'\n${(await kubectl(["-n", CENTRAL_NS, "get", "ec", name, "-o", "jsonpath={.status.hosts}"])).stdout}\n`);
  console.log(`edge-monitor NBIRTH seen on ${birth.topic} (${birth.bytes} bytes)`);
  console.log(`
graft demo is running in Pods on a real node (ready in ${((Date.now() - started) / 1000).toFixed(0)} s).
  the cluster:  export KUBECONFIG=${join(dir, "kubeconfig")}; kubectl get pods -A; kubectl describe ec -n ${CENTRAL_NS} ${name}
  Sparkplug:    mosquitto_sub -h ${node.bridgeAddress} -p ${mqtt.port} -t 'spBv1.0/#' -v
  process mode: GRAFT_DEMO_MODE=process make demo
Press Ctrl-C to stop; the node is torn down and everything it made is removed.`);
}
