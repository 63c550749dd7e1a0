// `graft bootstrap-command <edgecluster>`: asks the cluster-manager for a one-time bootstrap command through the
// kubectl-native path (an annotation on the EdgeCluster), waits for the command Secret and prints the command.
import { randomBytes } from "node:crypto";
import { Command } from "commander";
import { BOOTSTRAP_REQUEST_ANNOTATION } from "../api/constants.js";
import { EdgeClusterType } from "../api/edgecluster.js";
import { sleep } from "../runtime/backoff.js";
import { parseDuration } from "../runtime/duration.js";
import { Core, type KubeObject } from "../runtime/kube.js";
import { loadKubeConfig } from "../runtime/kube.js";
import { KubeClient, isNotFound } from "../runtime/rest.js";
import { bootstrapCommandSecretName } from "./bootstrap-tokens.js";

export async function requestBootstrapCommand(client: KubeClient, namespace: string, name: string, timeoutMs: number): Promise<{ command: string; expiresAt: string }> {
  const request = `${new Date().toISOString()}-${randomBytes(4).toString("hex")}`;
  try {
    await client.patch(EdgeClusterType, name, namespace, { metadata: { annotations: { [BOOTSTRAP_REQUEST_ANNOTATION]: request } } });
  } catch (err) {
    if (isNotFound(err)) throw new Error(`EdgeCluster "${namespace}/${name}" not found`);
    throw err;
  }
  const deadline = Date.now() + timeoutMs;
  const secretName = bootstrapCommandSecretName(name);
  while (Date.now() < deadline) {
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
    .option("-n, --namespace <ns>", "namespace of the EdgeCluster", "default")
    .option("--kubeconfig <path>", "kubeconfig of the central cluster")
    .option("--timeout <duration>", "how long to wait for the cluster-manager", "30s")
    .action(async (name: string, o) => {
      const client = new KubeClient(loadKubeConfig(o.kubeconfig));
      const { command, expiresAt } = await requestBootstrapCommand(client, o.namespace, name, parseDuration(o.timeout));
      process.stderr.write(`# single use, valid until ${expiresAt}; run it where kubectl reaches the edge cluster:\n`);
      process.stdout.write(`${command}\n`);
    });
}
