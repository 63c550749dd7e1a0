// The leader-election flags every operator takes, and the settings they give.
import { Option, type Command } from "commander";
import { parseDuration } from "./duration.js";

export function addLeaderElectionOptions(cmd: Command, defaultNamespace: string): Command {
  return cmd
    .addOption(new Option("--enable-leader-election", "run the controller only in the replica holding the Lease").env("ENABLE_LEADER_ELECTION"))
    .addOption(new Option("--leader-election-namespace <ns>", "namespace of the leader-election Lease").env("POD_NAMESPACE").default(defaultNamespace))
    .option("--lease-duration <duration>", "leader-election lease duration", "15s")
    .option("--renew-deadline <duration>", "leader-election renew deadline", "10s")
    .option("--retry-period <duration>", "leader-election retry period", "2s");
}

export interface LeaderElectionFlags {
  enableLeaderElection?: boolean;
  leaderElectionNamespace: string;
  leaseDuration: string;
  renewDeadline: string;
  retryPeriod: string;
}

/** The Manager's leaderElection settings, or undefined when leader election is off. */
export function leaderElectionSettings(o: LeaderElectionFlags) {
  if (!o.enableLeaderElection) return undefined;
  return {
    namespace: o.leaderElectionNamespace,
    leaseDurationMs: parseDuration(o.leaseDuration),
    renewDeadlineMs: parseDuration(o.renewDeadline),
    retryPeriodMs: parseDuration(o.retryPeriod),
  };
}
