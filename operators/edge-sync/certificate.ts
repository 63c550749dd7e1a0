// The Sealed Secrets certificate edge-sync reports. The controller seals with its newest active key, so that is the
// one to publish. Preferred source: a watch on the active key Secrets (a rotation is seen within seconds). When this
// operator may not read those Secrets (403), it asks the controller for /v1/cert.pem through the API server's
// service proxy, as kubeseal --fetch-cert does, and polls.
import { X509Certificate } from "node:crypto";
import type { Logger } from "pino";
import { backoffDelay, sleep } from "../runtime/backoff.js";
import { Informer } from "../runtime/informer.js";
import { Core, type KubeObject } from "../runtime/kube.js";
import { ApiError, type KubeClient } from "../runtime/rest.js";

export const SEALED_SECRETS_KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key";
export const ACTIVE_KEY_SELECTOR = `${SEALED_SECRETS_KEY_LABEL}=active`;
/** The port name the upstream Sealed Secrets chart gives its Service (port 8080). */
export const DEFAULT_CONTROLLER_PORT_NAME = "http";

export interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

interface ServiceObject extends KubeObject {
  spec?: { ports?: Array<{ name?: string; port?: number }> };
}

/** The PEM certificate if text holds a parseable X.509 certificate, else undefined. */
export function parseCertificate(text: string | undefined): string | undefined {
  if (!text || !text.includes("-----BEGIN CERTIFICATE-----")) return undefined;
  try {
    new X509Certificate(text);
  } catch {
    return undefined;
  }
  return text.endsWith("\n") ? text : `${text}\n`;
}

/** The certificate of the newest active key Secret (by creationTimestamp, then name); unusable Secrets are skipped. */
export function newestActiveCertificate(secrets: Iterable<SecretObject>): string | undefined {
  const candidates = [...secrets]
    .filter((s) => s.metadata.labels?.[SEALED_SECRETS_KEY_LABEL] === "active" && !s.metadata.deletionTimestamp)
    .sort((a, b) => compare(b.metadata.creationTimestamp ?? "", a.metadata.creationTimestamp ?? "") || compare(b.metadata.name, a.metadata.name));
  for (const secret of candidates) {
    const encoded = secret.data?.["tls.crt"];
    const pem = parseCertificate(encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8"));
    if (pem) return pem;
  }
  return undefined;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));

/** The service-proxy path of the controller's certificate endpoint. */
export const controllerCertPath = (namespace: string, controller: string, port: string) =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/http:${encodeURIComponent(controller)}:${encodeURIComponent(port)}/proxy/v1/cert.pem`;

/**
 * Fetches the certificate from the controller through the API server. Without a configured port, the Service's first
 * port is used (as kubeseal does); if the Service may not be read, the chart's port name.
 */
export async function fetchControllerCertificate(client: KubeClient, namespace: string, controller: string, port?: string): Promise<string> {
  let portRef = port;
  if (!portRef) {
    try {
      const svc = await client.get<ServiceObject>(Core.services, controller, namespace);
      const first = svc.spec?.ports?.[0];
      portRef = first?.name || (first?.port !== undefined ? String(first.port) : undefined);
      if (!portRef) throw new Error(`sealed secrets Service "${namespace}/${controller}" has no ports`);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 403)) throw err;
      portRef = DEFAULT_CONTROLLER_PORT_NAME;
    }
  }
  const text = await client.requestText(controllerCertPath(namespace, controller, portRef), { accept: "application/x-pem-file, */*" });
  const pem = parseCertificate(text);
  if (!pem) throw new Error(`sealed secrets controller "${namespace}/${controller}" answered /v1/cert.pem with something that is not a PEM certificate`);
  return pem;
}

export interface CertificateSourceOptions {
  client: KubeClient;
  log: Logger;
  namespace: string;
  controller: string;
  /** Service port name or number for the proxy fallback; default: the Service's first port. */
  port?: string;
  /** How often the controller is asked when the Secrets cannot be watched. */
  pollIntervalMs: number;
  /** Server-side timeout of the key Secrets watch. Default 300 s. */
  watchTimeoutSeconds?: number;
  minRetryMs: number;
  maxRetryMs: number;
  /** Called whenever current() may have changed. */
  onChange: () => void;
}

export type CertificateMode = "secrets" | "controller";

export class CertificateSource {
  private readonly abort = new AbortController();
  private informer?: Informer<SecretObject>;
  private fetched?: string;
  private running?: Promise<void>;
  private _mode?: CertificateMode;
  private lastPollAt = Date.now();

  constructor(private readonly opts: CertificateSourceOptions) {}

  /** "secrets" while watching the key Secrets, "controller" when polling the controller; undefined until decided. */
  get mode(): CertificateMode | undefined {
    return this._mode;
  }

  current(): string | undefined {
    if (this._mode === "secrets") return this.informer?.hasSynced ? newestActiveCertificate(this.informer.list()) : undefined;
    return this.fetched;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Why the certificate is no longer followed (for liveness), or undefined. */
  stuckReason(now: number, stallAfterMs: number): string | undefined {
    if (this._mode === "secrets" && this.informer && now - this.informer.lastProgressAt > stallAfterMs) {
      return `the watch on the sealed secrets key Secrets made no progress for ${Math.round((now - this.informer.lastProgressAt) / 1000)} s`;
    }
    if (this._mode === "controller" && now - this.lastPollAt > this.opts.pollIntervalMs + stallAfterMs) {
      return `the sealed secrets controller was last asked for its certificate ${Math.round((now - this.lastPollAt) / 1000)} s ago`;
    }
    return undefined;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.informer?.stop();
    await this.running;
  }

  private async run(): Promise<void> {
    const mode = await this.chooseMode();
    if (!mode || this.abort.signal.aborted) return;
    this._mode = mode;
    if (mode === "secrets") {
      this.informer = new Informer<SecretObject>(this.opts.client, Core.secrets, this.opts.log, {
        namespace: this.opts.namespace, labelSelector: ACTIVE_KEY_SELECTOR,
        minRetryMs: this.opts.minRetryMs, maxRetryMs: this.opts.maxRetryMs, watchTimeoutSeconds: this.opts.watchTimeoutSeconds,
      });
      this.informer.on(() => this.opts.onChange()).start();
      await Promise.race([this.informer.waitForSync(), aborted(this.abort.signal)]);
      if (this.informer.hasSynced) this.opts.onChange();
      return;
    }
    this.opts.log.info({ namespace: this.opts.namespace, controller: this.opts.controller },
      "the sealed secrets key Secrets are not readable: fetching the certificate from the controller through the service proxy");
    await this.pollController();
  }

  /** Lists the key Secrets once: allowed → watch them; forbidden → ask the controller. Other errors are retried. */
  private async chooseMode(): Promise<CertificateMode | undefined> {
    for (let attempt = 1; !this.abort.signal.aborted; attempt++) {
      try {
        await this.opts.client.list(Core.secrets, this.opts.namespace, { labelSelector: ACTIVE_KEY_SELECTOR, limit: 1 });
        return "secrets";
      } catch (err) {
        if (err instanceof ApiError && err.status === 403) return "controller";
        const retryInMs = backoffDelay(attempt, { minMs: this.opts.minRetryMs, maxMs: this.opts.maxRetryMs, jitter: 0.2 });
        this.opts.log.warn({ err: (err as Error).message, retryInMs }, "cannot list the sealed secrets key Secrets; retrying");
        await sleep(retryInMs, this.abort.signal);
      }
    }
    return undefined;
  }

  private async pollController(): Promise<void> {
    let failures = 0;
    while (!this.abort.signal.aborted) {
      let wait = this.opts.pollIntervalMs;
      try {
        const pem = await fetchControllerCertificate(this.opts.client, this.opts.namespace, this.opts.controller, this.opts.port);
        failures = 0;
        if (pem !== this.fetched) {
          this.fetched = pem;
          this.opts.onChange();
        }
      } catch (err) {
        failures++;
        wait = Math.min(wait, backoffDelay(failures, { minMs: this.opts.minRetryMs, maxMs: this.opts.maxRetryMs, jitter: 0.2 }));
        const hint = err instanceof ApiError && err.status === 403
          ? ": grant 'list' and 'watch' on secrets in the namespace, or 'get' on services/proxy" : "";
        this.opts.log.warn({ err: (err as Error).message, retryInMs: wait },
          `cannot fetch the sealed secrets certificate from the controller${hint}`);
      }
      this.lastPollAt = Date.now();
      await sleep(wait, this.abort.signal);
    }
  }
}
