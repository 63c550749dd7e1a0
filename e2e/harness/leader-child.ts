// A separate process running one leader-elected Manager over ConfigMaps, so a test or benchmark can crash a leader
// for real (SIGKILL: no release, no goodbye). Prints "leading" once elected and "reconciled <key>" per reconcile.
// Usage: node --import tsx e2e/harness/leader-child.ts <kubeconfig> <namespace> <identity> <leaseMs> <renewMs> <retryMs>
import { Controller } from "../../operators/runtime/controller.js";
import { Informer } from "../../operators/runtime/informer.js";
import { Core, loadKubeConfig, type KubeObject } from "../../operators/runtime/kube.js";
import { silentLogger } from "../../operators/runtime/logger.js";
import { Manager } from "../../operators/runtime/manager.js";
import { KubeClient } from "../../operators/runtime/rest.js";

const [kubeconfig, namespace, identity, leaseMs, renewMs, retryMs] = process.argv.slice(2);
if (!retryMs) throw new Error("usage: leader-child.ts <kubeconfig> <namespace> <identity> <leaseMs> <renewMs> <retryMs>");
const client = new KubeClient(loadKubeConfig(kubeconfig));
const informer = new Informer<KubeObject>(client, Core.configMaps, silentLogger, { namespace });
const controller = new Controller({
  name: "elect", log: silentLogger, watches: [{ informer }],
  reconcile: async (key) => { process.stdout.write(`reconciled ${key}\n`); },
});
const manager = new Manager({
  name: "elect", client, log: silentLogger, controllers: [controller],
  leaderElection: { namespace: namespace!, identity, leaseDurationMs: Number(leaseMs), renewDeadlineMs: Number(renewMs), retryPeriodMs: Number(retryMs) },
  onLeadershipChange: (leading) => process.stdout.write(leading ? "leading\n" : "stopped leading\n"),
});
await manager.start();
process.on("SIGTERM", () => void manager.stop().then(() => process.exit(0)));
