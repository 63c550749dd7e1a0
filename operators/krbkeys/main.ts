// `graft krbkeys`: flags and environment → a running KrbKeysOperator. The environment names match the edge-cluster
// chart's Deployment (WATCH_NAMESPACE, REALM, KADMIN_PRINCIPAL, KRB5_CONFIG, KRB5_CLIENT_KTNAME; for accounts
// DIRECTORY_URL, CLUSTER_UUID, and SERVICE_USERNAME + SERVICE_PASSWORD_FILE only to log in with a password instead
// of the operator's keytab).
import { Command, Option } from "commander";
import { parseDuration } from "../runtime/duration.js";
import { addLeaderElectionOptions, leaderElectionSettings } from "../runtime/leader-election-flags.js";
import { loadKubeConfig } from "../runtime/kube.js";
import { createLogger } from "../runtime/logger.js";
import { stopOnSignals } from "../runtime/manager.js";
import { parseAddr } from "../runtime/ops-server.js";
import { KrbKeysOperator } from "./krbkeys.js";

export const DEFAULT_KEYTAB = "/etc/krbkeys/keytab";

export function krbkeysCommand(): Command {
  return addLeaderElectionOptions(new Command("krbkeys")
    .description("edge operator: reconciles KerberosKey resources (keytabs and passwords in Secrets) with MIT kadmin")
    .option("--kubeconfig <path>", "kubeconfig (default: KUBECONFIG, ~/.kube/config, then in-cluster)")
    .addOption(new Option("--namespace <ns>", "namespace whose KerberosKeys are reconciled (default: all)").env("WATCH_NAMESPACE"))
    .addOption(new Option("--realm <realm>", "Kerberos realm the principals live in").env("REALM").makeOptionMandatory())
    .addOption(new Option("--principal <principal>", "the operator's own principal, used with kadmin").env("KADMIN_PRINCIPAL").makeOptionMandatory())
    .addOption(new Option("--keytab <path>", "the operator's own keytab").env("KRB5_CLIENT_KTNAME").default(DEFAULT_KEYTAB))
    .addOption(new Option("--krb5-conf <path>", "krb5.conf naming the realm's KDC and admin server").env("KRB5_CONFIG"))
    .addOption(new Option("--admin-server <host:port>", "kadmind address, when krb5.conf does not name one").env("KADMIN_SERVER"))
    .option("--kdc-timeout <duration>", "time after which a KDC or kadmind that does not answer counts as unreachable", "20s")
    .addOption(new Option("--health-addr <addr>", "address of /healthz, /readyz and /metrics").env("HEALTH_ADDR").default(":8081"))
    .option("--concurrent <n>", "KerberosKeys reconciled in parallel", "2")
    .option("--resync-interval <duration>", "interval at which every key is checked against the KDC again", "10m")
    .option("--min-retry-delay <duration>", "first retry delay after a failure", "1s")
    .option("--max-retry-delay <duration>", "longest retry delay after repeated failures", "5m")
    .addOption(new Option("--directory-url <url>", "ACS Directory: with it, keys' spec.account is set up in ACS").env("DIRECTORY_URL"))
    .addOption(new Option("--configdb-url <url>", "ACS ConfigDB, instead of asking the Directory").env("CONFIGDB_URL"))
    .addOption(new Option("--authn-url <url>", "ACS Auth service, instead of asking the Directory").env("AUTHN_URL"))
    .addOption(new Option("--acs-username <principal>", "with --acs-password-file: the ACS account krbkeys logs in as (default: --principal)").env("SERVICE_USERNAME"))
    .addOption(new Option("--acs-password-file <path>", "log in to ACS with this account's password (HTTP Basic); default: Negotiate with --keytab").env("SERVICE_PASSWORD_FILE"))
    .addOption(new Option("--cluster-uuid <uuid>", "this edge cluster's UUID (default Sparkplug group of accounts)").env("CLUSTER_UUID"))
    .addOption(new Option("--stall-after <duration>", "/healthz fails when a reconcile or a watch made no progress for this long").env("STALL_AFTER").default("10m"))
    .option("--watch-timeout <duration>", "server-side watch timeout, after which the watch resumes (shorter than --stall-after)", "5m")
    .addOption(new Option("--log-level <level>", "log level").env("LOG_LEVEL").default("info").choices(["debug", "info", "warn", "error"])), "fplus-edge")
    .action(async function (this: Command, o) {
      const stallAfterMs = parseDuration(o.stallAfter);
      const watchTimeoutMs = parseDuration(o.watchTimeout);
      if (watchTimeoutMs >= stallAfterMs) {
        this.error(`error: --watch-timeout (${o.watchTimeout}) must be shorter than --stall-after (${o.stallAfter}), or an idle watch fails the liveness probe`, { exitCode: 2 });
      }
      const log = createLogger("krbkeys", { level: o.logLevel });
      const acsUrls = { directory: o.directoryUrl || undefined, configdb: o.configdbUrl || undefined, auth: o.authnUrl || undefined };
      const acsWanted = Object.values(acsUrls).some((u) => u !== undefined);
      const operator = new KrbKeysOperator({
        kubeConfig: loadKubeConfig(o.kubeconfig),
        realm: o.realm,
        principal: o.principal,
        keytab: o.keytab,
        env: o.krb5Conf ? { KRB5_CONFIG: o.krb5Conf } : {},
        adminServer: o.adminServer,
        kdcTimeoutMs: parseDuration(o.kdcTimeout),
        namespace: o.namespace || undefined,
        log,
        ops: parseAddr(o.healthAddr),
        concurrency: Number(o.concurrent),
        resyncMs: parseDuration(o.resyncInterval),
        minRetryMs: parseDuration(o.minRetryDelay),
        maxRetryMs: parseDuration(o.maxRetryDelay),
        stallAfterMs,
        watchTimeoutSeconds: Math.max(1, Math.round(watchTimeoutMs / 1000)),
        leaderElection: leaderElectionSettings(o),
        acs: acsWanted
          ? { urls: acsUrls, username: o.acsUsername || o.principal, passwordFile: o.acsPasswordFile || undefined, clusterUuid: o.clusterUuid || undefined }
          : undefined,
      });
      await operator.start();
      stopOnSignals(operator, log);
    });
}
