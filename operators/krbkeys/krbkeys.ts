// Wires the krbkeys operator together: the operator's own keytab, a kadmin client authenticating with it, the
// KerberosKey controller (leader only, when leader election is on), events, metrics and probes; with an ACS
// connection, the ConfigDB and Auth clients that set up the keys' accounts (spec.account).
// /healthz fails when the controller is wedged (a reconcile or a watch stuck for stallAfterMs), so the kubelet restarts it.
import type { KubeConnection } from "../runtime/kubeconfig.js";
import type { Logger } from "pino";
import { AuthClient } from "../acs/auth.js";
import { ConfigDbClient } from "../acs/configdb.js";
import { AcsConnection, type AcsServiceName } from "../acs/discovery.js";
import { CredentialFile } from "../runtime/credential-file.js";
import { EdgeAccounts } from "./account/edge-account.js";
import { KadminClient } from "../kerberos/kadmin.js";
import { qualifyPrincipal } from "../kerberos/principal.js";
import { messageOf } from "../runtime/errors.js";
import { EventRecorder } from "../runtime/events.js";
import { Manager } from "../runtime/manager.js";
import { ControllerMetrics } from "../runtime/metrics.js";
import { KubeClient } from "../runtime/rest.js";
import { CONTROLLER_NAME, KerberosKeyReconciler } from "./controller/kerberoskey-controller.js";
import { OperatorKeytab } from "./operator-keytab.js";

export interface KrbKeysOptions {
  kubeConfig: KubeConnection;
  realm: string;
  /** The operator's own principal (e.g. op1krbkeys/<cluster>), which needs add, modify, inquire and change-password rights. */
  principal: string;
  /** The operator's keytab file (mounted from Secret krb-keys-keytabs). */
  keytab: string;
  /** Environment for kadmin and kinit, typically `{ KRB5_CONFIG }`. */
  env?: Record<string, string | undefined>;
  /** kadmind as host[:port] when krb5.conf does not name the realm's admin_server. */
  adminServer?: string;
  /** Per-call limit for kadmin and kinit; a KDC that takes longer counts as unreachable. */
  kdcTimeoutMs?: number;
  namespace?: string;
  log: Logger;
  ops?: { host?: string; port: number };
  leaderElection?: { namespace: string; identity?: string; leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  concurrency?: number;
  resyncMs?: number;
  minRetryMs?: number;
  maxRetryMs?: number;
  /** /healthz fails once a reconcile or a watch made no progress for this long (default 10 minutes). */
  stallAfterMs?: number;
  /** Server-side watch timeout (default 300 s); must be shorter than stallAfterMs for an idle watch to look alive. */
  watchTimeoutSeconds?: number;
  /** ACS services for spec.account; without it, accounts are kept in the spec but not acted on. */
  acs?: KrbKeysAcsOptions;
}

export interface KrbKeysAcsOptions {
  /** Preset URLs; the others are found through the Directory. */
  urls: Partial<Record<AcsServiceName, string>>;
  /**
   * How krbkeys logs in to ACS: with a password file, HTTP Basic as `username`; without one, Negotiate as its own
   * principal with its own keytab (the one kadmin uses, so a rotation of its key by krbkeys itself is already in it).
   */
  username: string;
  passwordFile?: string;
  /** The edge cluster: Sparkplug groups of accounts whose spec names none come from its address entry. */
  clusterUuid?: string;
}

const DEFAULT_STALL_AFTER_MS = 10 * 60_000;

export class KrbKeysOperator {
  readonly client: KubeClient;
  readonly metrics = new ControllerMetrics(undefined, { defaultMetrics: true });
  private keytab?: OperatorKeytab;
  private manager?: Manager;
  private reconcilerInstance?: KerberosKeyReconciler;
  private accessCheck?: Promise<void>;

  constructor(private readonly opts: KrbKeysOptions) {
    this.client = new KubeClient(opts.kubeConfig);
  }

  get reconciler(): KerberosKeyReconciler {
    if (!this.reconcilerInstance) throw new Error("krbkeys has not been started");
    return this.reconcilerInstance;
  }

  get opsPort(): number | undefined {
    return this.manager?.opsPort;
  }

  async start(): Promise<void> {
    const { opts } = this;
    const log = opts.log;
    const principal = qualifyPrincipal(opts.principal, opts.realm);
    this.keytab = await OperatorKeytab.open(opts.keytab, principal);
    const env = opts.env ?? {};
    const kadmin = new KadminClient({
      realm: opts.realm, auth: { principal, keytab: this.keytab.path }, env,
      adminServer: opts.adminServer, timeoutMs: opts.kdcTimeoutMs, logger: log.child({ component: "kadmin" }),
    });
    let accounts: EdgeAccounts | undefined;
    if (opts.acs) {
      const { username, passwordFile } = opts.acs;
      const acs = new AcsConnection({
        credentials: passwordFile
          ? { username, password: new CredentialFile(passwordFile, `the ACS password of "${username}"`) }
          : { principal, keytabFile: this.keytab.path, env },
        urls: opts.acs.urls, logger: log.child({ component: "acs" }),
      });
      accounts = new EdgeAccounts({
        configdb: new ConfigDbClient(acs.service("configdb")), auth: new AuthClient(acs.service("auth")),
        clusterUuid: opts.acs.clusterUuid, log: log.child({ component: "accounts" }),
      });
    }
    this.reconcilerInstance = new KerberosKeyReconciler({
      client: this.client, kadmin, realm: opts.realm, env, accounts,
      operatorKeytab: this.keytab, events: new EventRecorder(this.client, CONTROLLER_NAME, log), log,
      metrics: this.metrics, namespace: opts.namespace, concurrency: opts.concurrency, resyncMs: opts.resyncMs,
      minRetryMs: opts.minRetryMs, maxRetryMs: opts.maxRetryMs, watchTimeoutSeconds: opts.watchTimeoutSeconds,
    });
    // Not fatal: the KDC may come later, and every KerberosKey then says why it waits.
    this.accessCheck = kadmin.checkAccess().then(
      (privileges) => log.info({ principal, privileges }, "kadmin access checked"),
      (err) => log.warn({ principal, err: messageOf(err) }, "kadmin access check failed; KerberosKeys will report why"),
    );
    const controller = this.reconcilerInstance.controller;
    let reported = "";
    const progressing = () => {
      const reasons = controller.stuckReasons(opts.stallAfterMs ?? DEFAULT_STALL_AFTER_MS).join("; ");
      if (reasons && reasons !== reported) log.error({ reasons }, "krbkeys is stuck: the liveness probe fails so the kubelet restarts it");
      reported = reasons;
      return reasons === "";
    };
    this.manager = new Manager({
      name: CONTROLLER_NAME, client: this.client, log, metrics: this.metrics,
      controllers: [controller], ops: opts.ops, leaderElection: opts.leaderElection, liveness: { controller: progressing },
    });
    await this.manager.start();
    log.info({ realm: opts.realm, principal, namespace: opts.namespace ?? "(all)" }, "krbkeys started");
  }

  async stop(): Promise<void> {
    await this.manager?.stop();
    await this.accessCheck;
    await this.keytab?.close();
  }
}
