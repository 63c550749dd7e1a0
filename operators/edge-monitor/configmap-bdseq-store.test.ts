// The ConfigMap bdSeq store against a real kube-apiserver (e2e/harness/control-plane.ts).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";
import { Core, type KubeObject } from "../runtime/kube.js";
import { KubeClient } from "../runtime/rest.js";
import { BDSEQ_KEY, ConfigMapBdSeqStore, MANAGED_BY_LABEL } from "./configmap-bdseq-store.js";

type ConfigMap = KubeObject & { data?: Record<string, string> };

describe("bdSeq ConfigMap store", () => {
  let cp: ControlPlane;
  let client: KubeClient;
  const namespace = `monitor-${randomBytes(3).toString("hex")}`;

  before(async () => {
    cp = await startControlPlane({ name: "edge" });
    client = new KubeClient(cp.kubeConfig);
    await client.create(Core.namespaces, { metadata: { name: namespace } });
  });
  after(async () => {
    await cp?.stop();
  });

  const storeFor = (name: string, maxConflicts?: number) =>
    new ConfigMapBdSeqStore({ client, namespace, name, ...(maxConflicts ? { maxConflicts } : {}) });
  const read = (name: string) => client.get<ConfigMap>(Core.configMaps, name, namespace);

  it("creates its ConfigMap (labelled managed-by=graft) on first use and counts on from the stored value", async () => {
    const store = storeFor("edge-monitor-bdseq");
    assert.equal(await store.current(), undefined);
    assert.equal(await store.next(), 0);
    const cm = await read("edge-monitor-bdseq");
    assert.equal(cm.metadata.labels?.[MANAGED_BY_LABEL], "graft");
    assert.equal(cm.data?.[BDSEQ_KEY], "0");
    assert.equal(await store.next(), 1);
    assert.equal(await storeFor("edge-monitor-bdseq").next(), 2, "a restarted monitor continues");
    assert.equal((await read("edge-monitor-bdseq")).data?.[BDSEQ_KEY], "2");
  });

  it("wraps 255 → 0", async () => {
    const store = storeFor("wrap");
    await store.next();
    const cm = await read("wrap");
    await client.replace<ConfigMap>(Core.configMaps, { ...cm, data: { [BDSEQ_KEY]: "255" } });
    assert.equal(await store.next(), 0);
  });

  it("hands out every value once when several writers race (resourceVersion conflicts are retried)", async () => {
    const writers = [storeFor("race", 50), storeFor("race", 50), storeFor("race", 50)];
    const values = (await Promise.all(writers.map(async (w) => {
      const mine: number[] = [];
      for (let i = 0; i < 5; i++) mine.push(await w.next());
      return mine;
    }))).flat().sort((a, b) => a - b);
    assert.deepEqual(values, Array.from({ length: 15 }, (_, i) => i));
    assert.equal((await read("race")).data?.[BDSEQ_KEY], "14");
  });

  it("refuses to take over a ConfigMap that graft does not manage, and leaves it alone", async () => {
    await client.create<ConfigMap>(Core.configMaps, { metadata: { name: "someone-elses", namespace }, data: { [BDSEQ_KEY]: "7", other: "x" } });
    await assert.rejects(storeFor("someone-elses").next(), /configmap ".*\/someone-elses" is not managed by graft \(label app.kubernetes.io\/managed-by=graft missing\)/);
    assert.deepEqual((await read("someone-elses")).data, { [BDSEQ_KEY]: "7", other: "x" });
  });

  it("says what the API server answered when it cannot store", async () => {
    const store = new ConfigMapBdSeqStore({ client, namespace: "no-such-namespace", name: "edge-monitor-bdseq" });
    await assert.rejects(store.next(), /storing bdSeq in configmap "no-such-namespace\/edge-monitor-bdseq": API server answered 404: namespaces "no-such-namespace" not found/);
  });
});
