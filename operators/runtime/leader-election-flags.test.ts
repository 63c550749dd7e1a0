import { test } from "node:test";
import assert from "node:assert/strict";
import { Command } from "commander";
import { addLeaderElectionOptions, leaderElectionSettings } from "./leader-election-flags.js";

const parse = (args: string[], env: Record<string, string> = {}) => {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const cmd = addLeaderElectionOptions(new Command("op").exitOverride(), "home-ns").action(() => undefined);
    cmd.parse(args, { from: "user" });
    return leaderElectionSettings(cmd.opts());
  } finally {
    process.env = saved;
  }
};

test("leader election is off unless asked for", () => {
  assert.equal(parse([]), undefined);
});

test("the flags become lease settings in milliseconds; POD_NAMESPACE is the default namespace", () => {
  assert.deepEqual(parse(["--enable-leader-election", "--lease-duration", "30s", "--renew-deadline", "20s", "--retry-period", "500ms"], { POD_NAMESPACE: "from-env" }),
    { namespace: "from-env", leaseDurationMs: 30_000, renewDeadlineMs: 20_000, retryPeriodMs: 500 });
  assert.deepEqual(parse(["--enable-leader-election"]), { namespace: "home-ns", leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
});
