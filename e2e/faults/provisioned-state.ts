// Checks shared by the fault tests: every cluster provisioned exactly once — its own UUID, one credentials Secret,
// one repository, one commit.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { CLUSTER_UUID_LABEL } from "../../operators/api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../../operators/api/edgecluster.js";
import { Core } from "../../operators/runtime/kube.js";
import type { KubeClient } from "../../operators/runtime/rest.js";

const run = promisify(execFile);

export async function commitCount(gitDir: string): Promise<number> {
  const env = { PATH: process.env.PATH, HOME: "/nonexistent", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
  return Number((await run("git", [`--git-dir=${gitDir}`, "rev-list", "--count", "main"], { env })).stdout.trim());
}

export async function assertProvisionedOnce(client: KubeClient, namespace: string, dataDir: string, expected: number): Promise<void> {
  const clusters = (await client.list<EdgeCluster>(EdgeClusterType, namespace)).items;
  assert.equal(clusters.length, expected);
  const uuids = clusters.map((ec) => ec.status?.uuid);
  assert.ok(uuids.every(Boolean), "every cluster has a UUID");
  assert.equal(new Set(uuids).size, expected, "every cluster has its own UUID");
  const secrets = (await client.list(Core.secrets, namespace)).items.filter((s) => s.metadata.name.startsWith("graft-cluster-"));
  assert.equal(secrets.length, expected, "one credentials Secret per cluster");
  assert.deepEqual(new Set(secrets.map((s) => s.metadata.labels?.[CLUSTER_UUID_LABEL])), new Set(uuids));
  const repos = readdirSync(join(dataDir, "repos")).filter((d) => !d.startsWith("."));
  assert.deepEqual(repos.sort(), uuids.map((u) => `${u}.git`).sort(), "one repository per cluster, nothing else");
  for (const uuid of uuids) assert.equal(await commitCount(join(dataDir, "repos", `${uuid}.git`)), 1, `one commit in ${uuid}`);
}
