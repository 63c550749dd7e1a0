// Uninstalling graft's central install from a real node (config/default in Pods) while EdgeClusters exist, as
// README "Uninstalling" says: `kubectl delete -k` is refused for what the manager needs (its namespace, and its
// permissions, Deployment and repository volume while a cluster is left), naming the EdgeClusters and the order
// (config/default/uninstall-order-policy.yaml), while the CRD's deletion it lets through deletes the EdgeClusters,
// which the manager in its Pods tears down: each cluster's repository leaves the volume and its credentials Secret goes. Then, as the refusal says, the EdgeClusters
// deleted and waited for, the same `kubectl delete -k` removes the install and its namespace. Without the policy the
// namespace and the CRD hung in Terminating on the clusters' finalizers (the manager's Pods and RBAC were gone first).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { credentialsSecretName } from "../operators/cluster-manager/credentials.js";
import { graftImage, realNodeSkipReason, startRealNode, type RealNode } from "./harness/real-node.js";
import { edgeClusterYaml } from "./support/cluster-manager/fixtures.js";
import { kubectlFor } from "./support/kubectl.js";
import { applySiteOverlay, describeManager, provideRepoVolume } from "./support/real-node/central-pods.js";

const skip = realNodeSkipReason();
const NS = "graft-system";
const CLUSTERS = ["site-a", "site-b"];

describe("uninstalling the central install with EdgeClusters present (real node)", { skip }, () => {
  let node: RealNode;
  let work: string;
  const { kubectl, must } = kubectlFor(() => node.cluster, () => describeManager(node));

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "graft-uninstall-"));
    const image = graftImage();
    node = await startRealNode({ images: [image.tarball], log: (m) => console.log(`real node: ${m}`) });
    await provideRepoVolume(node);
    await applySiteOverlay(node, work, { base: "config/default", settings: { EXTERNAL_URL: `http://graft-cluster-manager.${NS}.svc:8080` } });
  });

  after(async () => {
    await node?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("delete -k is refused with the order while the manager tears the clusters down; after them it removes the install", async () => {
    const uuids: string[] = [];
    for (const name of CLUSTERS) {
      await must(["apply", "-f", "-"], edgeClusterYaml(name, NS));
      await must(["wait", "-n", NS, `ec/${name}`, "--for=condition=Provisioned", "--timeout=120s"]);
      uuids.push((await must(["get", "ec", "-n", NS, name, "-o", "jsonpath={.status.uuid}"])).trim());
    }
    const repo = (uuid: string) => join(node.dir, "graft-repos", "repos", `${uuid}.git`);
    for (const uuid of uuids) assert.ok(existsSync(repo(uuid)), `repository ${uuid} on the volume`);

    const refused = await kubectl(["delete", "-k", work, "--timeout=120s"]);
    assert.notEqual(refused.code, 0, refused.stdout);
    assert.match(refused.stderr, /EdgeCluster graft-system\/site-[ab] still exists, and its teardown needs the cluster-manager/);
    // The namespace comes first, so it is always refused; what kubectl reaches after the CRD (whose deletion deletes
    // the clusters) is refused only while the manager is still tearing one down.
    assert.match(refused.stderr, /namespaces "graft-system" is forbidden: ValidatingAdmissionPolicy 'graft-uninstall-order'/);
    assert.match(refused.stdout, /customresourcedefinition.apiextensions.k8s.io "edgeclusters.factoryplus.app.amrc.co.uk" deleted/);

    // The refusal's advice after a refused delete -k, verbatim: the CRD (and every cluster) goes once the manager has
    // torn the clusters down.
    assert.match(refused.stderr, /kubectl wait --for=delete crd\/edgeclusters.factoryplus.app.amrc.co.uk --timeout=10m\)/);
    await must(["wait", "--for=delete", "crd/edgeclusters.factoryplus.app.amrc.co.uk", "--timeout=10m"]);
    // The manager in its Pods tore each cluster down (its Events are in the namespace, which the refusal kept).
    const events = await must(["get", "events", "-n", NS, "--field-selector", "reason=RepositoryDeleted", "-o", "jsonpath={.items[*].message}"]);
    for (const uuid of uuids) {
      assert.ok(events.includes(`deleted the repository of cluster ${uuid}`), `RepositoryDeleted for ${uuid}: ${events}`);
      assert.ok(!existsSync(repo(uuid)), `repository ${uuid} deleted from the volume`);
      const secret = await kubectl(["get", "secret", "-n", NS, credentialsSecretName(uuid)]);
      assert.match(secret.stderr, /NotFound/, `credentials of ${uuid} deleted`);
    }

    // The CRDs went with the refused run (allowed: their deletion is what deleted the clusters), hence --ignore-not-found.
    const done = await kubectl(["delete", "-k", work, "--ignore-not-found", "--timeout=120s"]);
    assert.equal(done.code, 0, `${done.stderr}\n${await describeManager(node)}`);
    const ns = await kubectl(["get", "namespace", NS]);
    assert.match(ns.stderr, /NotFound/, "the namespace is gone");
    const crd = await kubectl(["get", "crd", "edgeclusters.factoryplus.app.amrc.co.uk"]);
    assert.match(crd.stderr, /NotFound/, "the EdgeCluster CRD is gone");
  });
});
