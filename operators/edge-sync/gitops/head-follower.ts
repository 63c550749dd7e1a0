// Embedded mode: a commit graft makes reaches this edge in seconds rather than at the self-link GitRepository's next
// poll. edge-sync holds a long-poll to the cluster-manager it reports to (GET <status URL>/v1/cluster/<uuid>/head,
// operators/cluster-manager/head-endpoint.ts), which answers when the cluster's repository head moves; when the
// GitRepository's artifact is not at that commit, edge-sync sets `reconcile.fluxcd.io/requestedAt` on it, as
// `flux reconcile source git` does, and source-controller fetches at once. Only outbound requests; the poll stays as
// the fallback (a centre without the endpoint, an outage, a lost request). Failures back off, capped and jittered
// downwards so that edges cut off by one outage do not all come back in step.
import type { Logger } from "pino";
import { SELF_LINK } from "../../cluster-manager/git/repo-content.js";
import { backoffDelay, sleep } from "../../runtime/backoff.js";
import type { KubeClient } from "../../runtime/rest.js";
import type { AuthProvider, ServiceLocator } from "../configdb-client.js";
import { FluxTypes, type FluxObject } from "./flux-objects.js";

export const FLUX_RECONCILE_ANNOTATION = "reconcile.fluxcd.io/requestedAt";

export interface HeadFollowerOptions {
  client: KubeClient;
  clusterUuid: string;
  /** The namespace of the self-link GitRepository (edge-sync's own). */
  namespace: string;
  centre: ServiceLocator;
  auth: AuthProvider;
  log: Logger;
  minRetryMs: number;
  maxRetryMs: number;
  /** How long one request may take: longer than the centre holds it (40 s). Default 90 s. */
  requestTimeoutMs?: number;
  /**
   * A reconcile is requested after a random delay up to this long, so a commit to many clusters at once (a fleet
   * rollout wave) does not bring all their fetches to the centre in the same second. Default 2 s.
   */
  spreadMs?: number;
  /** Called with each commit a reconcile was requested for (metrics, tests). */
  onRequested?: (commit: string) => void;
}

type Answer = { commit?: string } | { retryAfterMs: number } | { unsupported: true };

export class HeadFollower {
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;
  private known?: string;
  /** Reconciles requested so far. */
  requests = 0;
  /** Watch requests that failed (each followed by a backoff). */
  failures = 0;

  constructor(private readonly opts: HeadFollowerOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { log } = this.opts;
    const signal = this.stopping.signal;
    let failures = 0;
    const backoff = (n: number) => backoffDelay(n, { minMs: this.opts.minRetryMs, maxMs: this.opts.maxRetryMs, jitter: 0.5, spread: "down" });
    while (!signal.aborted) {
      const started = Date.now();
      try {
        const answer = await this.ask(signal);
        if (signal.aborted) return;
        if ("unsupported" in answer) {
          log.info("the cluster-manager has no head watch (an older version): new commits arrive with the GitRepository's poll");
          await sleep(this.opts.maxRetryMs, signal);
          continue;
        }
        if ("retryAfterMs" in answer) {
          await sleep(answer.retryAfterMs * (1 + Math.random()), signal);
          continue;
        }
        if (answer.commit && answer.commit !== this.known) {
          await sleep(Math.random() * (this.opts.spreadMs ?? 2_000), signal);
          if (signal.aborted) return;
          await this.requestReconcile(answer.commit);
          this.known = answer.commit;
        } else if (Date.now() - started < this.opts.minRetryMs) {
          // An unchanged head is held by the centre; answered at once, something in between does not hold: do not spin.
          await sleep(backoff(1), signal);
        }
        failures = 0;
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        this.failures++;
        const retryInMs = backoff(failures);
        log.warn({ err: (err as Error).message, failures, retryInMs }, "watching the repository head failed; the GitRepository's poll still fetches");
        await sleep(retryInMs, signal);
      }
    }
  }

  private async ask(signal: AbortSignal): Promise<Answer> {
    const base = await this.opts.centre.url();
    const url = `${base}/v1/cluster/${this.opts.clusterUuid}/head${this.known ? `?after=${this.known}` : ""}`;
    const send = async () => fetch(url, {
      headers: { accept: "application/json", authorization: await this.opts.auth.header() },
      signal: AbortSignal.any([signal, AbortSignal.timeout(this.opts.requestTimeoutMs ?? 90_000)]), redirect: "error",
    });
    let res: Response;
    try {
      res = await send();
      if (res.status === 401) {
        await res.body?.cancel();
        this.opts.auth.invalidate();
        res = await send();
      }
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      if (!signal.aborted) this.opts.centre.invalidate();
      throw new Error(`cannot reach "${base}": ${e.name === "TimeoutError" ? "no answer in time" : e.cause?.code ?? e.message}`);
    }
    if (res.status === 404 || res.status === 405) {
      const text = await res.text().catch(() => "");
      // 404 with "no edge cluster": this cluster is unknown there (yet); 404 for the route: an older manager.
      if (/no edge cluster/.test(text)) throw new Error(`GET ${url}: HTTP 404: ${text.trim()}`);
      return { unsupported: true };
    }
    if (res.status === 503) {
      await res.body?.cancel();
      return { retryAfterMs: 1000 * (Number(res.headers.get("retry-after")) || 30) };
    }
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}: ${(await res.text().catch(() => "")).trim().slice(0, 200)}`);
    const body = (await res.json()) as { commit?: unknown };
    return typeof body.commit === "string" ? { commit: body.commit } : {};
  }

  /** Asks source-controller to fetch now, unless its artifact is at the commit already or a request is pending. */
  private async requestReconcile(commit: string): Promise<void> {
    const { client, namespace, log } = this.opts;
    const source = await client.getOrNull<FluxObject>(FluxTypes.gitRepositories, SELF_LINK, namespace);
    if (!source) return;
    const status = source.status as { artifact?: { revision?: string }; lastHandledReconcileAt?: string } | undefined;
    if (status?.artifact?.revision?.endsWith(`:${commit}`)) return;
    const requested = source.metadata.annotations?.[FLUX_RECONCILE_ANNOTATION];
    if (requested && requested !== status?.lastHandledReconcileAt) return;
    await client.patch(FluxTypes.gitRepositories, SELF_LINK, namespace, { metadata: { annotations: { [FLUX_RECONCILE_ANNOTATION]: new Date().toISOString() } } });
    this.requests++;
    this.opts.onRequested?.(commit);
    log.info({ commit }, "the repository head moved: asked Flux to fetch it now");
  }
}
