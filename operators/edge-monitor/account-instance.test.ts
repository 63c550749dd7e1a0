// ACS mode: the monitor (the real `edge-monitor` command, as its own process) is born with its account's UUID as
// Instance_UUID (acs-contract §12). Until krbkeys has mapped its principal to an account the Auth service answers
// whoami with 404 and the monitor waits; its first NBIRTH then carries the account UUID, never another identity. The
// broker enforces ACS's MQTT permissions (the stand-in's ACL), so the account has its Sparkplug address too.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { v5 as uuidV5 } from "uuid";
import { eventually } from "../../e2e/harness/eventually.js";
import { freePort } from "../../e2e/harness/ports.js";
import { startProcess, type ManagedProcess } from "../../e2e/harness/process.js";
import { startAcsStandin } from "../../e2e/acs-standin/standin.js";
import { atFileEnd, tempDirForFile } from "../../e2e/support/api-server.js";
import { acsBrokerForFile } from "../../e2e/support/edge-monitor/acs-broker.js";
import { EDGE_DUMPS, EdgeClass, EdgeRole } from "../../e2e/acs-standin/edge-roles.js";
import { metricsByName } from "../../e2e/support/edge-monitor/sparkplug-wire.js";
import { App } from "../api/constants.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const entry = fileURLToPath(new URL("../../e2e/support/edge-monitor/run-monitor.ts", import.meta.url));
const CLUSTER = randomUUID();

const dir = tempDirForFile("graft-monitor-account-");
const standin = await startAcsStandin({ dumps: EDGE_DUMPS });
atFileEnd(() => standin.stop());
const { broker, sub } = await acsBrokerForFile(standin);
let monitor: ManagedProcess | undefined;
atFileEnd(() => monitor?.kill());

test("the NBIRTH's Instance_UUID is the monitor's account UUID, learnt from the Auth service once the account maps its principal", async () => {
  const group = `acs-acct-${randomBytes(3).toString("hex")}`;
  const username = `op1monitor/test-site@${standin.realm}`;
  const password = randomBytes(12).toString("hex");
  standin.addUser(username, password);
  const passwordFile = join(dir, "password");
  const healthPort = await freePort();
  writeFileSync(passwordFile, password, { mode: 0o600 });

  monitor = startProcess(process.execPath, [
    "--import", "tsx", entry,
    "--cluster-uuid", CLUSTER, "--sparkplug-group", group, "--mqtt-url", broker.url, "--mqtt-username", username,
    "--mqtt-password-file", passwordFile, "--bdseq-store", "memory",
    "--health-addr", `127.0.0.1:${healthPort}`, "--metrics-addr", "127.0.0.1:0", "--min-retry-delay", "100ms", "--max-retry-delay", "500ms",
    "--stall-after", "1s",
  ], { logFile: join(dir, "monitor.log"), cwd: repoRoot, env: { ...process.env, DIRECTORY_URL: standin.urls.directory, SPARKPLUG_NODES: "false" } });

  const whoamis = () => standin.requests.filter((r) => r.service === "auth" && r.path === "/v2/whoami");
  // Five refused lookups take at least 100 + 200 + 400 + 500 ms of backoff, longer than --stall-after: the wait is
  // progress, so the liveness probe stays healthy (a restart would not make the account appear).
  await eventually(() => whoamis().filter((r) => r.status === 404 && r.upn === username).length >= 5,
    { timeoutMs: 30_000, message: "the monitor asks who it is and is not known yet" });
  assert.equal((await fetch(`http://127.0.0.1:${healthPort}/healthz`)).status, 200, "live while waiting for its account");

  // What krbkeys does for op1monitor (spec.account): an EdgeService account in the edge-monitor role, mapped.
  const account = randomUUID();
  standin.configdb.register(account, EdgeClass.EdgeService);
  standin.configdb.addMember(EdgeRole.Monitor, account);
  standin.configdb.put(App.SparkplugAddress, account, { group_id: group, node_id: "Monitor" });
  assert.equal(standin.auth.setKerberos(account, username), 204);

  const birth = await sub.waitFor("NBIRTH", (m) => m.topic === `spBv1.0/${group}/NBIRTH/Monitor`, { timeoutMs: 30_000 });
  const metrics = metricsByName(birth.payload!);
  assert.equal(metrics.Instance_UUID?.value, account);
  assert.equal(metrics["Links/Cluster/Instance_UUID"]?.value, uuidV5("Links/Cluster", account));
  assert.equal(metrics["Links/Cluster/Target"]?.value, CLUSTER);
  assert.equal(sub.on(`spBv1.0/${group}/NBIRTH/Monitor`).length, 1, "born once, as the account");
});
