// `graft enrol`: Kerberos-mode enrolment of an edge cluster, run in the edge-bootstrap Pod (in-cluster credentials)
// or on an operator's machine with --local.
import { existsSync, readFileSync } from "node:fs";
import { Command, Option } from "commander";
import type * as k8s from "@kubernetes/client-node";
import { AuthFailedError, KdcUnreachableError, PermissionDeniedError } from "../kerberos/errors.js";
import { createLogger } from "../runtime/logger.js";
import { enrol, EnrolIncompleteError, type EnrolSummary } from "./enrol.js";
import { askTty, askTtySecret, readFirstLine } from "./prompt.js";
import { SecretNotOwnedError } from "./secrets.js";

export const EXIT_FAILED = 1;
export const EXIT_ADMIN_REJECTED = 3;
export const EXIT_KDC_UNREACHABLE = 4;
export const EXIT_SECRET_NOT_OWNED = 5;

const SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
const DEFAULT_NAMESPACE = "fplus-edge";

export interface EnrolCommandIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

interface EnrolFlags {
  cluster?: string;
  namespace?: string;
  realm?: string;
  adminPrincipal?: string;
  adminPasswordStdin?: boolean;
  rotate?: boolean;
  local?: boolean;
  kubeconfig?: string;
  krb5Conf?: string;
  kadminServer?: string;
  json?: boolean;
  logLevel: string;
}

/** default_realm from a krb5.conf, if the file exists and names one. */
export function defaultRealmOf(krb5ConfPath: string): string | undefined {
  if (!existsSync(krb5ConfPath)) return undefined;
  return /^\s*default_realm\s*=\s*(\S+)\s*$/m.exec(readFileSync(krb5ConfPath, "utf8"))?.[1];
}

/** client-node is imported here, not at the top: every graft subcommand loads this module, few need the library. */
async function loadKubeConfig(flags: EnrolFlags, env: NodeJS.ProcessEnv): Promise<k8s.KubeConfig> {
  const kc = new (await import("@kubernetes/client-node")).KubeConfig();
  if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
  else if (flags.local) kc.loadFromDefault();
  else if (!env.KUBERNETES_SERVICE_HOST) throw new Error("not running in a Pod (KUBERNETES_SERVICE_HOST is unset): use --local or --kubeconfig");
  else kc.loadFromCluster();
  return kc;
}

function formatSummary(s: EnrolSummary): string {
  const head = `${s.changed ? "enrolled" : "already enrolled"} cluster "${s.cluster}" in realm "${s.realm}" (namespace "${s.namespace}"):`;
  const width = Math.max(...s.credentials.map((c) => c.principal.length));
  const lines = s.credentials.map((c) =>
    `  ${c.principal.padEnd(width)}  ${c.action.padEnd(8)}  kvno ${c.kvno}  Secret ${c.secret}${c.action === "verified" ? "" : `  (${c.reason})`}`);
  return [head, ...lines, ""].join("\n");
}

function exitCodeFor(err: unknown): number {
  if (err instanceof EnrolIncompleteError) return exitCodeFor(err.cause);
  if (err instanceof AuthFailedError || err instanceof PermissionDeniedError) return EXIT_ADMIN_REJECTED;
  if (err instanceof KdcUnreachableError) return EXIT_KDC_UNREACHABLE;
  if (err instanceof SecretNotOwnedError) return EXIT_SECRET_NOT_OWNED;
  return EXIT_FAILED;
}

export function enrolCommand(io: Partial<EnrolCommandIo> = {}): Command {
  const stdin = io.stdin ?? process.stdin;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;

  return new Command("enrol")
    .description("create or repair this edge cluster's Kerberos principals (op1krbkeys, op1flux) and their Secrets")
    .option("--cluster <name>", "edge cluster name (env CLUSTER_NAME)")
    .option("--namespace <namespace>", `edge namespace for the Secrets (default: the Pod's namespace, else "${DEFAULT_NAMESPACE}")`)
    .option("--realm <realm>", "Kerberos realm (env REALM, else default_realm of the krb5.conf)")
    .option("--admin-principal <principal>", "kadmin principal (env GRAFT_ADMIN_PRINCIPAL, else asked on the terminal)")
    .option("--admin-password-stdin", "read the admin password from the first line of stdin (else env GRAFT_ADMIN_PASSWORD, else asked on the terminal)")
    .option("--rotate", "replace both credentials even if they are valid")
    .option("--local", "use the local kubeconfig instead of the in-cluster service account")
    .option("--kubeconfig <path>", "kubeconfig file to use (implies --local)")
    .option("--krb5-conf <path>", "krb5.conf for kadmin and kinit (env KRB5_CONFIG, else /etc/krb5.conf)")
    .option("--kadmin-server <host[:port]>", "kadmin server (default: admin_server of the krb5.conf)")
    .option("--json", "print the summary as JSON")
    .addOption(new Option("--log-level <level>", "log level").choices(["debug", "info", "warn", "error", "silent"]).default("warn"))
    .addHelpText("after", `
Exit codes: 0 done, ${EXIT_FAILED} failed, ${EXIT_ADMIN_REJECTED} admin credentials rejected or not allowed,
${EXIT_KDC_UNREACHABLE} KDC or kadmind unreachable, ${EXIT_SECRET_NOT_OWNED} a Secret exists that krbkeys does not manage.
Credentials are checked against the KDC first; only invalid ones (or all, with --rotate) are replaced.`)
    .action(async (flags: EnrolFlags) => {
      let enrolStarted = false;
      try {
        const cluster = flags.cluster ?? env.CLUSTER_NAME;
        if (!cluster) throw new Error("the cluster name is missing: give --cluster");
        const krb5Conf = flags.krb5Conf ?? env.KRB5_CONFIG ?? "/etc/krb5.conf";
        const realm = flags.realm ?? env.REALM ?? defaultRealmOf(krb5Conf);
        if (!realm) throw new Error(`the realm is missing: give --realm, or a default_realm in "${krb5Conf}"`);
        const local = Boolean(flags.local || flags.kubeconfig);
        const namespace = flags.namespace
          ?? (!local && existsSync(SA_NAMESPACE_FILE) ? readFileSync(SA_NAMESPACE_FILE, "utf8").trim() : DEFAULT_NAMESPACE);
        const kubeConfig = await loadKubeConfig({ ...flags, local }, env);

        const principal = flags.adminPrincipal ?? env.GRAFT_ADMIN_PRINCIPAL ?? await askTty(`Kerberos admin principal for ${realm}: `);
        if (!principal) throw new Error("the admin principal is empty");
        const password = flags.adminPasswordStdin
          ? await readFirstLine(stdin)
          : env.GRAFT_ADMIN_PASSWORD ?? await askTtySecret(`Password for ${principal}: `);
        if (!password) throw new Error("the admin password is empty");

        enrolStarted = true;
        const summary = await enrol({
          cluster, namespace, realm, admin: { principal, password }, rotate: Boolean(flags.rotate), kubeConfig,
          kadminEnv: { KRB5_CONFIG: krb5Conf }, adminServer: flags.kadminServer,
          logger: createLogger("enrol", { level: flags.logLevel as "warn" }),
        });
        stdout.write(flags.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // Only failures from the checks that precede every change arrive unwrapped.
        const outcome = err instanceof EnrolIncompleteError || !enrolStarted ? "" : "; nothing was changed";
        stderr.write(`graft enrol: ${message}${outcome}\n`);
        process.exitCode = exitCodeFor(err);
      }
    });
}
