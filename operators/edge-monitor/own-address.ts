// In ACS mode the broker lets the monitor publish as spBv1.0/<group>/…/<node> only where its account's Sparkplug
// address says that group and node: ACS's MQTT permissions come from the account's grants (Participate as Node on
// itself, through the edge-monitor role) with the account's own address put into the topics. An NBIRTH outside them
// is refused — silently, at QoS 0. So before its first session the monitor reads that address (the role may:
// ReadConfig on 'Sparkplug address') and, while it does not match what the monitor would publish under, says so —
// an error in the log once per change and the graft_monitor_not_authorised gauge — and asks again with backoff,
// rather than publish into nothing. krbkeys writes the address (KerberosKey spec.account.sparkplug, §12).
import type { ConfigDbClient } from "../acs/configdb.js";
import { AcsHttpError } from "../acs/errors.js";
import { App } from "../api/constants.js";
import { backoffDelay, sleep } from "../runtime/backoff.js";
import { messageOf } from "../runtime/errors.js";
import type { Logger } from "../runtime/logger.js";
import type { MonitorMetrics } from "./monitor-metrics.js";

export interface OwnAddressOptions {
  log: Logger;
  metrics: MonitorMetrics;
  minRetryMs: number;
  maxRetryMs: number;
  /** Aborted on shutdown: the wait ends with an error. */
  signal?: AbortSignal;
  /** Called after every answer or failure (liveness: the wait is moving). */
  onAttempt?: () => void;
}

/** Why ACS would refuse the monitor's publishes, as the gauge's `reason` label; undefined when it would not. */
type Refusal = { reason: "no_role" | "no_address" | "wrong_address"; message: string };

/** Returns once the account's Sparkplug address is the monitor's own group and node. */
export async function waitForOwnAddress(configdb: ConfigDbClient, account: string, own: { group: string; node: string }, o: OwnAddressOptions): Promise<void> {
  let lastProblem: string | undefined;
  for (let attempt = 1; ; attempt += 1) {
    if (o.signal?.aborted) throw new Error("stopped before the monitor's Sparkplug address was confirmed");
    let refusal: Refusal | undefined;
    let transient: string | undefined;
    try {
      refusal = refusalFor(await configdb.getEntry(App.SparkplugAddress, account), own, account);
    } catch (err) {
      if (err instanceof AcsHttpError && err.status === 403) {
        refusal = { reason: "no_role", message: `account ${account} may not read its own Sparkplug address (403): it is not in the edge-monitor role, which is also what gives it its MQTT rights` };
      } else {
        transient = messageOf(err);
      }
    } finally {
      o.onAttempt?.();
    }
    o.metrics.notAuthorised.reset();
    if (!refusal && !transient) {
      o.log.info({ account, group: own.group, node: own.node }, "the account's Sparkplug address is the monitor's own: ACS's broker will take its NBIRTH");
      return;
    }
    if (refusal) o.metrics.notAuthorised.set({ reason: refusal.reason }, 1);
    const delay = backoffDelay(attempt, { minMs: o.minRetryMs, maxMs: o.maxRetryMs, jitter: 0.2 });
    const problem = refusal?.message ?? transient!;
    if (problem !== lastProblem) {
      if (refusal) {
        o.log.error({ account, reason: refusal.reason, retryInMs: delay },
          `not authorised to publish as ${own.group}/${own.node}: ${refusal.message}; ACS's broker would refuse the NBIRTH, so the monitor waits`);
      } else {
        o.log.warn({ account, err: problem, retryInMs: delay }, "cannot read the account's Sparkplug address yet; waiting before the NBIRTH");
      }
    }
    lastProblem = problem;
    await sleep(delay, o.signal);
  }
}

function refusalFor(entry: { value: unknown } | null, own: { group: string; node: string }, account: string): Refusal | undefined {
  if (!entry) {
    return { reason: "no_address", message: `account ${account} has no Sparkplug address (krbkeys writes it from the KerberosKey's spec.account.sparkplug)` };
  }
  const value = entry.value as { group_id?: unknown; node_id?: unknown } | null;
  if (value?.group_id === own.group && value?.node_id === own.node) return undefined;
  return {
    reason: "wrong_address",
    message: `account ${account}'s Sparkplug address is ${JSON.stringify(value)}, not {"group_id":"${own.group}","node_id":"${own.node}"}`,
  };
}
