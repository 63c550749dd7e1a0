// Kill -9 of the cluster-manager between any two provisioning steps, then a restart: the cluster ends Ready with one
// credentials Secret, one repository and one commit, and keeps the UUID it was given before the crash.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { eventually } from "../../e2e/harness/eventually.js";
import { freePort } from "../../e2e/harness/ports.js";
import { startProcess } from "../../e2e/harness/process.js";
import { CLUSTER_UUID_LABEL } from "../api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../api/edgecluster.js";
import { Core } from "../runtime/kube.js";
import { CrashPoint } from "./crash-points.js";
import { edgeClusterYaml, gitClient } from "../../e2e/support/cluster-manager/fixtures.js";
import { apiServerForFile, tempDirForFile } from "../../e2e/support/api-server.js";

const cli = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
const NS = "crash";
const api = await apiServerForFile({ name: "crash", namespace: NS, crds: true });
const dataDir = tempDirForFile("graft-crash-");
let port: number;
before(async () => { port = await freePort(); });

function manager(crashAt?: string) {
  return startProcess(process.execPath, [
    "--import", "tsx", cli, "cluster-manager", `--kubeconfig=${api.cp.kubeconfigPath}`, `--namespace=${NS}`,
    `--data-dir=${dataDir}`, `--external-url=http://127.0.0.1:${port}`, `--listen-address=127.0.0.1:${port}`,
    "--health-addr=127.0.0.1:0", "--organisation-prefix=acme", "--log-level=warn",
  ], { logFile: join(dataDir, "..", `graft-crash-manager-${process.pid}.log`), env: { ...process.env, GRAFT_CRASH_AT: crashAt ?? "" } });
}

for (const point of Object.values(CrashPoint)) {
  test(`crash at ${point}, restart → Ready without duplicates`, async () => {
    const name = `site-${point.replace(/[^a-z]/g, "")}`.slice(0, 40);
    const crashing = manager(point);
    try {
      assert.equal((await api.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml(name, NS) })).code, 0);
      const code = await Promise.race([crashing.exited, new Promise((r) => setTimeout(() => r("alive"), 60_000).unref())]);
      assert.notEqual(code, "alive", `the manager reached crash point ${point}`);
    } finally {
      await crashing.kill();
    }
    const uuidBefore = (await api.client.get<EdgeCluster>(EdgeClusterType, name, NS)).status?.uuid;

    const healthy = manager();
    try {
      const ec = await eventually(async () => {
        const e = await api.client.get<EdgeCluster>(EdgeClusterType, name, NS);
        return e.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") && e.status.observedGeneration === e.metadata.generation && e;
      }, { timeoutMs: 60_000, message: `${name} Ready after restart` });
      const uuid = ec.status!.uuid!;
      if (uuidBefore) assert.equal(uuid, uuidBefore, "the UUID recorded before the crash is kept");
      const secrets = await api.client.list(Core.secrets, NS, { labelSelector: `${CLUSTER_UUID_LABEL}=${uuid}` });
      assert.equal(secrets.items.filter((s) => s.metadata.name.startsWith("graft-cluster-")).length, 1, "one credentials Secret");
      const repos = readdirSync(join(dataDir, "repos")).filter((d) => d.includes(uuid));
      assert.deepEqual(repos, [`${uuid}.git`], "one repository");
      const { stdout } = await gitClient(["--git-dir", join(dataDir, "repos", `${uuid}.git`), "rev-list", "--count", "main"]);
      assert.equal(stdout.trim(), "1", "one commit");
      const all = await api.client.list<EdgeCluster>(EdgeClusterType, NS);
      assert.equal(new Set(all.items.map((e) => e.status?.uuid)).size, all.items.length, "every cluster has its own UUID");
    } finally {
      await healthy.stop();
    }
  });
}
