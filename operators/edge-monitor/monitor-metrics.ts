import { Counter, Gauge, Registry } from "prom-client";

/** The monitor's Prometheus metrics, in a registry of their own so several monitors can share one process. */
export class MonitorMetrics {
  readonly registry: Registry;
  readonly births: Counter<"reason">;
  readonly deaths: Counter<"reason">;
  readonly reconnects: Counter;
  readonly connected: Gauge;
  readonly loginRefusals: Counter;
  readonly notAuthorised: Gauge<"reason">;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    this.births = new Counter({
      name: "graft_monitor_births_total",
      help: "NBIRTH messages published, by reason (connect: first birth of an MQTT session; rebirth: NCMD request)",
      labelNames: ["reason"],
      registers: [registry],
    });
    this.deaths = new Counter({
      name: "graft_monitor_deaths_total",
      help: "Sparkplug sessions ended after an NBIRTH, by reason (shutdown: NDEATH published by the monitor; connection_lost: the broker publishes the will)",
      labelNames: ["reason"],
      registers: [registry],
    });
    this.reconnects = new Counter({
      name: "graft_monitor_reconnects_total",
      help: "MQTT connection attempts after the first one",
      registers: [registry],
    });
    this.connected = new Gauge({
      name: "graft_monitor_connected",
      help: "1 while the monitor has an MQTT session with the broker, else 0",
      registers: [registry],
    });
    this.connected.set(0);
    this.loginRefusals = new Counter({
      name: "graft_monitor_login_refusals_total",
      help: "CONNACKs refusing the user name or password (the password file is read again before the next attempt)",
      registers: [registry],
    });
    this.notAuthorised = new Gauge({
      name: "graft_monitor_not_authorised",
      help: "1 while ACS would refuse the monitor's publishes, by reason (no_role, no_address, wrong_address: its account's grants or Sparkplug address; connect: the broker's CONNACK said not authorised)",
      labelNames: ["reason"],
      registers: [registry],
    });
  }
}
