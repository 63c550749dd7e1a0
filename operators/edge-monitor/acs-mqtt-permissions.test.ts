// ACS mode under ACS's MQTT permissions: a real Mosquitto whose ACL is the ACS stand-in's rendering of its grants
// (e2e/acs-standin/mqtt-acl.ts), a real KDC, a real API server with `graft krbkeys` (in-process) setting up
// op1monitor's account (acs-contract §12), and the real `edge-monitor` command as its own process. Without the
// account, or with the account's Sparkplug address elsewhere, the broker refuses op1monitor's Sparkplug topics (PUBACK
// 0x87) and the monitor says so — an error naming the address, the graft_monitor_not_authorised gauge — instead of
// publishing an NBIRTH the broker would drop; once krbkeys gives the account the cluster's address, its NBIRTH arrives,
// born as the account.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { eventually } from "../../e2e/harness/eventually.js";
import { freePort } from "../../e2e/harness/ports.js";
import { startProcess, type ManagedProcess } from "../../e2e/harness/process.js";
import { EdgeClass, EdgeRole } from "../../e2e/acs-standin/edge-roles.js";
import { atFileEnd, tempDirForFile } from "../../e2e/support/api-server.js";
import { acsBrokerForFile, NOT_AUTHORISED, pubackReason } from "../../e2e/support/edge-monitor/acs-broker.js";
import { metricsByName } from "../../e2e/support/edge-monitor/sparkplug-wire.js";
import { startKrbKeysAcsSite, type KrbKeysAcsSite } from "../../e2e/support/krbkeys/acs-site.js";
import { readyOf, startKrbKeysFixture } from "../../e2e/support/krbkeys/fixture.js";
import { App } from "../api/constants.js";
import type { KerberosKey } from "../api/kerberoskey.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const entry = fileURLToPath(new URL("../../e2e/support/edge-monitor/run-monitor.ts", import.meta.url));
const CLUSTER_NAME = "test-site";

const dir = tempDirForFile("graft-monitor-acl-");
let site: KrbKeysAcsSite | undefined;
const f = await startKrbKeysFixture("edge", {
  acs: async (kdc, operatorPrincipal) => {
    site = await startKrbKeysAcsSite(kdc, operatorPrincipal, dir, CLUSTER_NAME);
    return site.acs;
  },
});
atFileEnd(() => f.stop());
const { standin, cluster } = site!;
atFileEnd(() => standin.stop());
const { broker, sub, acl } = await acsBrokerForFile(standin);
let monitor: ManagedProcess | undefined;
atFileEnd(() => monitor?.kill());

const username = `op1monitor/${CLUSTER_NAME}@${f.kdc.realm}`;
/** The monitor's MQTT client id, so the broker's log tells its sessions from the test's own clients. */
const MONITOR_CLIENT_ID = "graft-mon-acl-test";
const monitorSessions = () => broker.log().split("\n").filter((l) => l.includes(` as ${MONITOR_CLIENT_ID} `)).length;
const birthTopic = `spBv1.0/${cluster.groupId}/NBIRTH/Monitor`;

function applyMonitorKey(account?: Record<string, unknown>): Promise<void> {
  return f.applyKey("op1monitor", {
    type: "Password", principal: `op1monitor/${CLUSTER_NAME}`, secret: "edge-monitor-credentials/password", ...(account ? { account } : {}),
  });
}

const monitorAccount = (sparkplug: Record<string, string>) =>
  ({ class: EdgeClass.EdgeService, name: `Edge monitor: ${CLUSTER_NAME}`, groups: [EdgeRole.Monitor], sparkplug });

/** The PUBACK reason a QoS 1 publish as op1monitor gets on the monitor's NBIRTH topic (0: accepted). */
async function brokerAnswerToMonitorBirth(): Promise<number> {
  await acl.settled();
  const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0, username, password: "unchecked" });
  try {
    return await pubackReason(c, birthTopic, "probe");
  } finally {
    await c.endAsync(true);
  }
}

async function metric(port: number, line: RegExp): Promise<boolean> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text.split("\n").some((l) => line.test(l));
}

test("refused without the account and with the account's address elsewhere, the monitor says so; with the cluster's address from krbkeys its NBIRTH arrives", async () => {
  // No account yet: krbkeys makes the principal and its password, nothing in ACS.
  await applyMonitorKey();
  const kk = await f.waitForKey("op1monitor", (k) => readyOf(k)?.status === "True", "the key is Ready");
  assert.equal(kk.status?.account, undefined);
  assert.equal(await brokerAnswerToMonitorBirth(), NOT_AUTHORISED, "op1monitor without an account may not publish its NBIRTH");

  const password = Buffer.from((await f.getSecret("edge-monitor-credentials"))!.data!.password!, "base64").toString("utf8");
  const passwordFile = join(dir, "monitor-password");
  writeFileSync(passwordFile, password, { mode: 0o600 });
  const metricsPort = await freePort();
  monitor = startProcess(process.execPath, [
    "--import", "tsx", entry,
    "--cluster-uuid", cluster.uuid, "--sparkplug-group", cluster.groupId, "--mqtt-url", broker.url, "--mqtt-username", username,
    "--mqtt-password-file", passwordFile, "--mqtt-client-id", MONITOR_CLIENT_ID, "--bdseq-store", "memory", "--mqtt-protocol-version", "5",
    "--health-addr", "127.0.0.1:0", "--metrics-addr", `127.0.0.1:${metricsPort}`, "--min-retry-delay", "100ms", "--max-retry-delay", "1s",
  ], { logFile: join(dir, "monitor.log"), cwd: repoRoot, env: { ...process.env, DIRECTORY_URL: standin.urls.directory, SPARKPLUG_NODES: "false" } });

  // The account, but krbkeys was told another Sparkplug group: ACS grants the account its own address only.
  await applyMonitorKey(monitorAccount({ group: "elsewhere", node: "Monitor" }));
  const placed = await f.waitForKey("op1monitor", (k: KerberosKey) => k.status?.account?.sparkplug?.group_id === "elsewhere", "the account is set up elsewhere");
  const account = placed.status!.account!.uuid;
  assert.equal(await brokerAnswerToMonitorBirth(), NOT_AUTHORISED, "the account's address is elsewhere/Monitor: the cluster's group is refused");
  await eventually(() => metric(metricsPort, /^graft_monitor_not_authorised\{reason="wrong_address"\} 1$/),
    { timeoutMs: 30_000, message: "the monitor reports that ACS would refuse it (graft_monitor_not_authorised)" });
  await eventually(() => /not authorised to publish as .*Sparkplug address is \{\\"group_id\\":\\"elsewhere\\",\\"node_id\\":\\"Monitor\\"\}/.test(monitorLog()),
    { timeoutMs: 10_000, message: () => `the monitor's log names the address: ${monitorLog()}` });
  // The broker drops a refused publish without logging it (at these log levels), so the root subscriber could never
  // see one: what shows the monitor waited is that it did not open a session (the broker logs every connection).
  assert.equal(monitorSessions(), 0, "the monitor opened no MQTT session while its address was elsewhere (no NBIRTH published into the refusal)");

  // krbkeys gives the account the cluster's group (spec.account.sparkplug without a group).
  await applyMonitorKey(monitorAccount({ node: "Monitor" }));
  const birth = await sub.waitFor("NBIRTH", (m) => m.topic === birthTopic, { timeoutMs: 60_000 });
  assert.equal(metricsByName(birth.payload!).Instance_UUID?.value, account, "born as its account");
  await eventually(() => monitorSessions() > 0, { timeoutMs: 10_000, message: "the broker's log shows the monitor's session (so the check above looked at the right lines)" });
  assert.deepEqual(standin.configdb.get(App.SparkplugAddress, account)?.value, { group_id: cluster.groupId, node_id: "Monitor" });
  assert.equal(await brokerAnswerToMonitorBirth(), 0, "the broker now takes op1monitor's NBIRTH");
  assert.ok(!(await metric(metricsPort, /^graft_monitor_not_authorised\{/)), "the gauge is cleared");
});

function monitorLog(): string {
  try {
    return readFileSync(join(dir, "monitor.log"), "utf8");
  } catch {
    return "";
  }
}
