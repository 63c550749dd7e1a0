import { readFile } from "node:fs/promises";
import { Command, Option } from "commander";
import { readEdgeClusterCertificate } from "./edgecluster-certificate.js";
import { SEALING_SCOPES, buildSealedSecret, checkSecretKey, parseCertificate, sealValue, SealInputError, type SealingScope } from "./seal.js";
import { sealedSecretToYaml } from "./sealed-secret-file.js";

export interface SealCommandIo {
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  now?: () => Date;
}

interface SealOptions {
  fromFile?: string;
  scope: SealingScope;
  cert?: string;
  namespace?: string;
  kubeconfig?: string;
}

/** `graft seal <edgecluster> <namespace>/<name> <key>`: seals one value for an edge cluster, prints a SealedSecret. */
export function sealCommand(io: SealCommandIo = {}): Command {
  const command = new Command("seal")
    .description("seal one secret value for an edge cluster and print the SealedSecret (value from stdin unless --from-file)")
    .argument("<edgecluster>", "the EdgeCluster whose Sealed Secrets certificate seals the value")
    .argument("<namespace/name>", "the Secret on the edge cluster that will hold the value")
    .argument("<key>", "the key of the value in that Secret")
    .option("--from-file <path>", "read the value from this file (bytes as they are) instead of stdin")
    .addOption(new Option("--scope <scope>", "where the sealed value may be unsealed").choices([...SEALING_SCOPES]).default("strict"))
    .option("--cert <file>", "seal with this PEM certificate instead of the one the EdgeCluster reported")
    .option("-n, --namespace <namespace>", "namespace of the EdgeCluster (default: the kubeconfig context's, else \"default\")")
    .option("--kubeconfig <path>", "kubeconfig of the central cluster (default: KUBECONFIG or ~/.kube/config)")
    .action(async (edgeCluster: string, target: string, key: string, options: SealOptions) => {
      try {
        const output = await seal(edgeCluster, target, key, options, io);
        (io.stdout ?? process.stdout).write(output);
      } catch (err) {
        command.error(`error: ${err instanceof Error ? err.message : String(err)}`, { exitCode: 1, code: "graft.seal.failed" });
      }
    });
  return command;
}

async function seal(edgeCluster: string, target: string, key: string, options: SealOptions, io: SealCommandIo): Promise<string> {
  const { namespace, name } = parseTarget(target);
  checkSecretKey(key);
  const now = io.now?.() ?? new Date();
  const certificate = parseCertificate(await certificatePem(edgeCluster, options), now);
  const value = options.fromFile !== undefined
    ? await readFile(options.fromFile).catch((err: Error) => { throw new Error(`cannot read "${options.fromFile}": ${err.message}`); })
    : await readAll(io.stdin ?? process.stdin);
  const encryptedValue = sealValue(certificate, value, options.scope, namespace, name);
  return sealedSecretToYaml(buildSealedSecret({ name, namespace, scope: options.scope, encryptedData: { [key]: encryptedValue } }));
}

function parseTarget(target: string): { namespace: string; name: string } {
  const parts = target.split("/");
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new SealInputError(`invalid secret "${target}": write it as <namespace>/<name>`);
  }
  return { namespace: parts[0], name: parts[1] };
}

async function certificatePem(edgeCluster: string, options: SealOptions): Promise<string | undefined> {
  if (options.cert !== undefined) {
    return readFile(options.cert, "utf8").catch((err: Error) => {
      throw new Error(`cannot read certificate "${options.cert}": ${err.message}`);
    });
  }
  // Imported here, not at the top: every graft subcommand loads this module, few need the library.
  const kubeConfig = new (await import("@kubernetes/client-node")).KubeConfig();
  if (options.kubeconfig !== undefined) kubeConfig.loadFromFile(options.kubeconfig);
  else kubeConfig.loadFromDefault();
  const namespace = options.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? "default";
  const pem = await readEdgeClusterCertificate(kubeConfig, namespace, edgeCluster);
  if (pem === undefined) {
    throw new Error(`edge cluster "${namespace}/${edgeCluster}" has not reported its Sealed Secrets certificate yet: wait for it to come up, or pass --cert`);
  }
  return pem;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}
