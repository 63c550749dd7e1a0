// `graft bootstrap-command <edgecluster>`: asks the cluster-manager for a one-time bootstrap command through the
// kubectl-native path (an annotation on the EdgeCluster), waits for the command Secret and prints the command.
import { randomBytes } from "node:crypto";
import { Command } from "commander";
import { BOOTSTRAP_REQUEST_ANNOTATION } from "../api/constants.js";
import { ConditionType } from "../api/conditions.js";
import { EdgeClusterType, type EdgeCluster } from "../api/edgecluster.js";
import { sleep } from "../runtime/backoff.js";
import { parseDuration } from "../runtime/duration.js";
import { Core, type KubeObject } from "../runtime/kube.js";
import { contextNamespace, loadKubeConfig } from "../runtime/kube.js";
import { KubeClient, isNotFound } from "../runtime/rest.js";
import { bootstrapCommandSecretName } from "./bootstrap-tokens.js";

export async function requestBootstrapCommand(client: KubeClient, namespace: string, name: string, timeoutMs: number): Promise<{ command: string; expiresAt: string }> {
  const request = `${new Date().toISOString()}-${randomBytes(4).toString("hex")}`;
  try {
    await client.patch(EdgeClusterType, name, namespace, { metadata: { annotations: { [BOOTSTRAP_REQUEST_ANNOTATION]: request } } });
  } catch (err) {
    if (isNotFound(err)) {
      throw new Error(`EdgeCluster "${namespace}/${name}" not found: check its name and namespace (-n; kubectl get ec -A lists them, and config/default's are in graft-system)`);
    }
    throw err;
  }
  const deadline = Date.now() + timeoutMs;
  const secretName = bootstrapCommandSecretName(name);
  while (Date.now() < deadline) {
    // A stalled cluster issues no command until its spec changes: say why now rather than time out.
    const ec = await client.getOrNull<EdgeCluster>(EdgeClusterType, name, namespace);
    const stalled = ec?.status?.conditions?.find((c) => c.type === ConditionType.Stalled && c.status === "True");
    if (ec && stalled && stalled.observedGeneration === ec.metadata.generation) {
      throw new Error(`EdgeCluster "${namespace}/${name}" is Stalled (${stalled.reason}), so no bootstrap command can be issued: ${stalled.message}`);
    }
    const secret = await client.getOrNull<KubeObject & { data?: Record<string, string> }>(Core.secrets, secretName, namespace);
    const d = secret?.data ?? {};
    const got = (k: string) => (d[k] ? Buffer.from(d[k], "base64").toString("utf8") : "");
    if (got("request") === request && got("command")) return { command: got("command"), expiresAt: got("expiresAt") };
    await sleep(250);
  }
  throw new Error(`no bootstrap command for EdgeCluster "${namespace}/${name}" within ${timeoutMs / 1000}s: is the cluster-manager running and the cluster Provisioned? (kubectl describe ec -n ${namespace} ${name})`);
}

export function bootstrapCommandCommand(): Command {
  return new Command("bootstrap-command")
    .description("print a one-time `curl … | sh -` bootstrap command for an EdgeCluster")
    .argument("<edgecluster>", "name of the EdgeCluster")
    .option("-n, --namespace <ns>", "namespace of the EdgeCluster (default: the kubeconfig context's, else \"default\")")
    .option("--kubeconfig <path>", "kubeconfig of the central cluster")
    .option("--timeout <duration>", "how long to wait for the cluster-manager", "30s")
    .action(async (name: string, o) => {
      const namespace = o.namespace ?? await contextNamespace(o.kubeconfig);
      const { command, expiresAt } = await requestBootstrapCommand(new KubeClient(loadKubeConfig(o.kubeconfig)), namespace, name, parseDuration(o.timeout));
      process.stderr.write(`# single use, valid until ${expiresAt}; run it where kubectl reaches the edge cluster:\n`);
      process.stdout.write(`${command}\n`);
    });
}
