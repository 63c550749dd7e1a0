// Uninstalling config/default against a real API server (config/default/uninstall-order-policy.yaml): while an
// EdgeCluster exists, `kubectl delete -k config/default` is refused for the manager's namespace, permissions,
// Deployment and storage, with the order to follow; deleting the EdgeCluster CRD is allowed (it deletes the
// EdgeClusters, which a running manager tears down); the refused run does remove the policy itself (admission
// policies do not apply to policies); once no EdgeCluster is left the same command goes through. No manager runs here: the finalizer the test adds
// and removes stands for the one the cluster-manager holds during teardown (e2e/uninstall-real-node.test.ts runs it).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { FINALIZER } from "../operators/api/constants.js";
import { startControlPlane, type ControlPlane } from "./harness/control-plane.js";
import { eventually } from "./harness/eventually.js";
import { edgeClusterYaml } from "./support/cluster-manager/fixtures.js";
import { kubectlFor } from "./support/kubectl.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const NS = "graft-system";
const CRD = "crd/edgeclusters.factoryplus.app.amrc.co.uk";
/** What the manager needs to tear a cluster down, one of each kind the install has. */
const KEPT = [["namespace", NS], ["deployment", "graft-cluster-manager", NS], ["serviceaccount", "graft-cluster-manager", NS],
  ["clusterrole", "graft-cluster-manager"], ["rolebinding", "graft-cluster-manager", NS], ["clusterrolebinding", "graft-cluster-manager-auth-delegator"],
  ["pvc", "graft-repos", NS], ["service", "graft-cluster-manager", NS]] as const;

describe("uninstalling config/default (real API server)", () => {
  let cp: ControlPlane;
  const { must } = kubectlFor(() => cp);
  const deletionTimestamp = async (kind: string, name: string, ns?: string) =>
    (await must(["get", kind, name, ...(ns ? ["-n", ns] : []), "-o", "jsonpath={.metadata.deletionTimestamp}"])).trim();

  before(async () => {
    cp = await startControlPlane({ name: "uninstall" });
    await must(["apply", "--server-side", "-k", join(root, "config/default")]);
    await must(["wait", "--for=condition=Established", "--timeout=60s", CRD]);
  });

  after(async () => {
    await cp?.stop();
  });

  test("delete -k with an EdgeCluster left is refused with the order to follow; the CRD's deletion goes through; with none left it completes", async () => {
    await must(["apply", "-f", "-"], edgeClusterYaml("site-a", NS));
    // The finalizer the manager adds before any side effect and releases after the teardown.
    await must(["patch", "ec", "site-a", "-n", NS, "--type=merge", "-p", JSON.stringify({ metadata: { finalizers: [FINALIZER] } })]);
    // The policy's binding is read by the API server's informers: wait until it refuses (a dry run changes nothing).
    await eventually(async () => (await cp.kubectl(["delete", "deployment", "graft-cluster-manager", "-n", NS, "--dry-run=server"])).code !== 0,
      { timeoutMs: 30_000, message: "the uninstall-order policy in force" });

    const refused = await cp.kubectl(["delete", "-k", join(root, "config/default"), "--wait=false"]);
    assert.notEqual(refused.code, 0, refused.stdout);
    assert.match(refused.stderr, /EdgeCluster graft-system\/site-a still exists, and its teardown needs the cluster-manager/);
    assert.match(refused.stderr, /then run this again: kubectl delete edgeclusters --all -n graft-system --wait/);
    for (const [kind, name, ns] of KEPT) {
      assert.match(refused.stderr, new RegExp(`"${name}" is forbidden`), `${kind} ${name} refused`);
      assert.equal(await deletionTimestamp(kind, name, ns), "", `${kind} ${name} not being deleted`);
    }
    // The CRD is being deleted, which deletes the EdgeCluster: it waits for its teardown, and the refusal holds meanwhile.
    assert.notEqual(await deletionTimestamp(CRD.split("/")[0]!, CRD.split("/")[1]!), "");
    assert.notEqual(await deletionTimestamp("ec", "site-a", NS), "");
    const policies = await cp.kubectl(["get", "validatingadmissionpolicy", "graft-uninstall-order"]);
    assert.match(policies.stderr, /NotFound/, "admission policies are exempt from admission policies: the refused run removed this one");

    // The manager's teardown done: the finalizer released, the EdgeCluster and then its CRD go.
    await must(["patch", "ec", "site-a", "-n", NS, "--type=merge", "-p", JSON.stringify({ metadata: { finalizers: null } })]);
    await must(["wait", "--for=delete", "--timeout=60s", CRD]);
    const done = await cp.kubectl(["delete", "-k", join(root, "config/default"), "--ignore-not-found", "--wait=false"]);
    assert.equal(done.code, 0, done.stderr);
    assert.notEqual(await deletionTimestamp("namespace", NS), "", "the namespace is being deleted");
  });
});
