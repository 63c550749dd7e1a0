// kubectl against a test's cluster, two ways: `kubectl` gives the result to look at, `must` fails the test with
// kubectl's stderr (and, if given, what `explain` adds, e.g. the manager's state) unless it exits 0.
import assert from "node:assert/strict";
import type { ControlPlane } from "../harness/control-plane.js";

export function kubectlFor(cluster: () => ControlPlane, explain?: () => Promise<string>) {
  const kubectl = (args: string[], input?: string) => cluster().kubectl(args, input === undefined ? {} : { input });
  const must = async (args: string[], input?: string) => {
    const r = await kubectl(args, input);
    if (r.code !== 0) assert.fail(`kubectl ${args.join(" ")}: ${r.stderr}${explain ? `\n${await explain()}` : ""}`);
    return r.stdout;
  };
  return { kubectl, must };
}
