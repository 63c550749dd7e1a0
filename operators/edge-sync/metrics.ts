import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

/** edge-sync's metrics, on a registry of its own (tests run several in one process). */
export class EdgeSyncMetrics {
  readonly registry: Registry;
  readonly pushes: Counter;
  readonly pushErrors: Counter;
  readonly lastSuccess: Gauge;
  readonly hosts: Gauge;
  readonly reconcileRequests: Counter;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    this.registry = new Registry();
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: "graft_" });
    const registers = [this.registry];
    this.pushes = new Counter({ name: "graft_edge_sync_pushes_total", help: "Status writes the centre accepted", registers });
    this.pushErrors = new Counter({ name: "graft_edge_sync_push_errors_total", help: "Status writes that failed (retried with backoff)", registers });
    this.lastSuccess = new Gauge({ name: "graft_edge_sync_last_success_timestamp_seconds", help: "When the centre last accepted a status write", registers });
    this.hosts = new Gauge({ name: "graft_edge_sync_hosts", help: "Hosts in the current host list", registers });
    this.reconcileRequests = new Counter({
      name: "graft_edge_sync_reconcile_requests_total", help: "Reconciles of the self-link GitRepository requested because the cluster's repository head moved", registers,
    });
  }
}
