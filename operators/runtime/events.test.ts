// Events as a person reads them: `kubectl describe` lists an object's Events in the order they were recorded.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { ControlPlane } from "../../e2e/harness/control-plane.js";
import { EventRecorder } from "./events.js";
import { Core, type KubeObject } from "./kube.js";
import { silentLogger } from "./logger.js";
import type { KubeClient } from "./rest.js";
import { startApiServer } from "../../e2e/support/api-server.js";

let cp: ControlPlane;
let client: KubeClient;
before(async () => {
  ({ cp, client } = await startApiServer({ name: "events", namespace: "ev" }));
});
after(async () => cp?.stop());

/** The Reason column of the Events table `kubectl describe` prints, top to bottom. */
function describedReasons(describe: string): string[] {
  const table = describe.slice(describe.indexOf("Events:"));
  return table.split("\n").slice(3).map((l) => l.trim().split(/\s+/)[1]).filter((r): r is string => !!r);
}

test("kubectl describe lists Events in the order they were recorded", async () => {
  const cm = await client.create<KubeObject>(Core.configMaps, { metadata: { name: "subject", namespace: "ev" } });
  const events = new EventRecorder(client, "events-test", silentLogger);
  // More than 12, past the size up to which Go's sort keeps ties in place by insertion sort.
  const reasons = Array.from({ length: 20 }, (_, i) => `Step${String.fromCharCode(65 + ((i * 7) % 20))}`);
  for (const r of reasons) await events.record(Core.configMaps, cm, "Normal", r, `step ${r.toLowerCase()}`);

  const d = await cp.kubectl(["describe", "configmap", "-n", "ev", "subject"]);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual(describedReasons(d.stdout), reasons, d.stdout);

});

test("an identical Event within the window is recorded once", async () => {
  const cm = await client.create<KubeObject>(Core.configMaps, { metadata: { name: "repeated", namespace: "ev" } });
  const events = new EventRecorder(client, "events-test", silentLogger);
  for (let i = 0; i < 3; i++) await events.record(Core.configMaps, cm, "Warning", "Failing", "the same failure");
  await events.record(Core.configMaps, cm, "Warning", "Failing", "another failure");
  const list = await client.list<KubeObject & { regarding: { name: string }; note: string }>(Core.events, "ev");
  const notes = list.items.filter((e) => e.regarding.name === "repeated").map((e) => e.note).sort();
  assert.deepEqual(notes, ["another failure", "the same failure"]);
});
