// In ACS mode the monitor's Instance_UUID is the UUID of its own account (acs-contract §12: the op1monitor account
// krbkeys sets up), so ACS's consumers find the monitor as that object. The monitor asks the Auth service who it is
// (`GET /v2/whoami`, which needs no grant) before its first NBIRTH; until the account exists and maps its principal
// the answer is 404, so it waits and asks again rather than be born under another identity.
import type { AuthClient } from "../acs/auth.js";
import { backoffDelay, sleep } from "../runtime/backoff.js";
import { messageOf } from "../runtime/errors.js";
import type { Logger } from "../runtime/logger.js";

export interface AccountInstanceOptions {
  log: Logger;
  minRetryMs: number;
  maxRetryMs: number;
  /** Aborted on shutdown: the wait ends with an error. */
  signal?: AbortSignal;
  /** Called after every answer or failure (liveness: the wait is moving). */
  onAttempt?: () => void;
}

/** The logged-in account's UUID, asked again with backoff until the Auth service knows it. */
export async function accountUuid(auth: AuthClient, o: AccountInstanceOptions): Promise<string> {
  let lastProblem: string | undefined;
  for (let attempt = 1; ; attempt += 1) {
    if (o.signal?.aborted) throw new Error("stopped before the monitor's account UUID was known");
    try {
      const me = await auth.whoami().finally(() => o.onAttempt?.());
      o.log.info({ account: me.uuid }, "Instance_UUID is the monitor's account UUID");
      return me.uuid;
    } catch (err) {
      const problem = messageOf(err);
      const delay = backoffDelay(attempt, { minMs: o.minRetryMs, maxMs: o.maxRetryMs, jitter: 0.2 });
      if (problem !== lastProblem) o.log.warn({ err: problem, retryInMs: delay }, "cannot learn the monitor's account UUID yet (krbkeys may not have set the account up); waiting before the NBIRTH");
      lastProblem = problem;
      await sleep(delay, o.signal);
    }
  }
}
