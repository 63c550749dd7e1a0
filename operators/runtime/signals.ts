// The shutdown signal of a long-running component: the first SIGTERM or SIGINT starts an orderly stop; a second one
// while stopping means "now" and exits at once.
import type { Logger } from "./logger.js";

/** Resolves with the first SIGTERM or SIGINT; a second one exits the process with status 1. */
export function nextTerminationSignal(log?: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      const force = (again: NodeJS.Signals) => {
        log?.warn({ signal: again }, "second signal: exiting at once");
        process.exit(1);
      };
      process.once("SIGTERM", force);
      process.once("SIGINT", force);
      resolve(signal);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}
