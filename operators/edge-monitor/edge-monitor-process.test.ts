// The monitor as its own process (the real `edge-monitor` command), so that it can die as a Pod dies: by SIGKILL
// (the broker must publish the will) or by SIGTERM (the monitor must say goodbye itself and exit 0).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { eventually } from "../../e2e/harness/eventually.js";
import { startProcess, type ManagedProcess } from "../../e2e/harness/process.js";
import { atFileEnd, tempDirForFile } from "../../e2e/support/api-server.js";
import { brokerForFile } from "../../e2e/support/edge-monitor/broker-for-file.js";
import { SparkplugSubscriber, type ReceivedMessage } from "../../e2e/support/edge-monitor/sparkplug-subscriber.js";
import { metricsByName } from "../../e2e/support/edge-monitor/sparkplug-wire.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const entry = fileURLToPath(new URL("../../e2e/support/edge-monitor/run-monitor.ts", import.meta.url));
const CLUSTER_UUID = "0b9d7c1e-5a4f-4c3b-9e2d-1f0a9b8c7d6e";

const bdSeqOf = (m: ReceivedMessage) => (m.payload ? metricsByName(m.payload).bdSeq?.value : undefined);

const dir = tempDirForFile("graft-monitor-proc-");
const { broker, sub } = await brokerForFile();
const running: ManagedProcess[] = [];
atFileEnd(async () => { for (const p of running) await p.kill(); });

describe("edge monitor process", () => {
  const group = `acs-proc-${randomBytes(3).toString("hex")}`;
  const birthTopic = `spBv1.0/${group}/NBIRTH/Monitor`;
  const deathTopic = `spBv1.0/${group}/NDEATH/Monitor`;

  const bdSeqFile = () => join(dir, "state", "bdseq");
  function startMonitor(): ManagedProcess {
    const p = startProcess(process.execPath, [
      "--import", "tsx", entry,
      "--cluster-uuid", CLUSTER_UUID, "--sparkplug-group", group, "--mqtt-url", broker.url,
      "--bdseq-store", "file", "--bdseq-file", bdSeqFile(),
      "--health-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--min-retry-delay", "100ms",
    ], { logFile: join(dir, "monitor.log"), cwd: repoRoot });
    running.push(p);
    return p;
  }

  it("kill -9: the broker publishes the will NDEATH with the last NBIRTH's bdSeq; the restarted monitor births with the next bdSeq (file store)", async () => {
    const first = startMonitor();
    const birth = await sub.waitFor("NBIRTH", (m) => m.topic === birthTopic);
    assert.equal(bdSeqOf(birth), 0n, "a monitor that never ran starts at bdSeq 0");

    await first.kill();
    assert.equal(first.child.signalCode, "SIGKILL");
    const death = await sub.waitFor("will NDEATH", (m) => m.topic === deathTopic, { after: birth.index });
    assert.equal(death.qos, 1, "the will is QoS 1");
    assert.equal(death.retain, false, "the will is not retained");
    assert.equal(death.payload?.seq, undefined, "an NDEATH carries no seq");
    assert.deepEqual(metricsByName(death.payload!), { bdSeq: { type: "UInt64", value: 0n } });
    assert.deepEqual(await SparkplugSubscriber.retainedMessages(broker.url), [], "the will is not retained");

    startMonitor();
    const rebirth = await sub.waitFor("NBIRTH after restart", (m) => m.topic === birthTopic, { after: death.index });
    assert.equal(bdSeqOf(rebirth), 1n, "the bdSeq survived the crash and went up by one");
    assert.equal(rebirth.payload?.seq, 0n);
    assert.equal(readFileSync(bdSeqFile(), "utf8").trim(), "1");
  });

  it("SIGTERM: the monitor publishes the NDEATH with the session's bdSeq itself, disconnects and exits 0", async () => {
    const monitor = running.at(-1)!;
    const birth = sub.on(birthTopic).at(-1)!;
    await eventually(() => Date.now() > Number(birth.payload!.timestamp) + 1, { intervalMs: 1 });
    const stopAt = Date.now();
    const mark = sub.mark();

    monitor.child.kill("SIGTERM");
    assert.equal(await monitor.exited, 0, "exit code after SIGTERM");
    const death = await sub.waitFor("NDEATH", (m) => m.topic === deathTopic, { after: mark });
    assert.equal(bdSeqOf(death), bdSeqOf(birth));
    assert.ok(death.payload!.timestamp! >= BigInt(stopAt), "published at shutdown, not the will registered at connect");
    await sub.flush();
    assert.equal(sub.on(deathTopic, mark).length, 1, "the DISCONNECT made the broker drop the will");
  });
});
