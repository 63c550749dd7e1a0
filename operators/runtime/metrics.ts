import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** The controller metrics every graft operator exposes, on a registry of its own (several may share a process in tests). */
export class ControllerMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<"controller" | "result">;
  readonly reconcileErrors: Counter<"controller">;
  readonly reconcileDuration: Histogram<"controller">;
  readonly queueDepth: Gauge<"controller">;
  readonly activeWorkers: Gauge<"controller">;
  readonly condition: Gauge<"kind" | "name" | "namespace" | "type" | "status">;

  constructor(registry = new Registry(), opts: { defaultMetrics?: boolean } = {}) {
    this.registry = registry;
    if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: "graft_" });
    const registers = [registry];
    this.reconcileTotal = new Counter({ name: "graft_reconcile_total", help: "Reconciliations by result (success, error, requeue)", labelNames: ["controller", "result"], registers });
    this.reconcileErrors = new Counter({ name: "graft_reconcile_errors_total", help: "Reconciliations that failed", labelNames: ["controller"], registers });
    this.reconcileDuration = new Histogram({
      name: "graft_reconcile_duration_seconds", help: "Time taken by one reconciliation", labelNames: ["controller"], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    this.queueDepth = new Gauge({ name: "graft_workqueue_depth", help: "Keys waiting in the work queue", labelNames: ["controller"], registers });
    this.activeWorkers = new Gauge({ name: "graft_controller_active_workers", help: "Workers busy reconciling", labelNames: ["controller"], registers });
    this.condition = new Gauge({
      name: "graft_condition", help: "1 for each status condition an object currently has", registers,
      labelNames: ["kind", "name", "namespace", "type", "status"],
    });
  }

  private readonly conditionSeries = new Map<string, Array<Record<string, string>>>();

  /** Publishes an object's conditions, replacing the series it had before. */
  recordConditions(kind: string, namespace: string, name: string, conditions: Array<{ type: string; status: string }>) {
    this.forgetObject(kind, namespace, name);
    const series = conditions.map((c) => ({ kind, name, namespace, type: c.type, status: c.status }));
    for (const labels of series) this.condition.set(labels, 1);
    this.conditionSeries.set(`${kind}/${namespace}/${name}`, series);
  }

  /** Removes an object's condition series (when the object is deleted). */
  forgetObject(kind: string, namespace: string, name: string) {
    const key = `${kind}/${namespace}/${name}`;
    for (const labels of this.conditionSeries.get(key) ?? []) this.condition.remove(labels);
    this.conditionSeries.delete(key);
  }
}
