// The Tahu-encoded payloads, read back with the independent wire decoder.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { birthPayload, dataPayload, deathPayload, decodePayload, encodePayload, isRebirthRequest } from "./payloads.js";
import { decodeWirePayload, metricsByName } from "../../e2e/support/edge-monitor/sparkplug-wire.js";

const identity = {
  instanceUuid: "5d3c2b1a-0f9e-4d8c-b7a6-958473625140",
  linkInstanceUuid: "4c2b1a0f-9e8d-4c7b-a695-847362514031",
  clusterUuid: "3b1a0f9e-8d7c-4b6a-9584-736251403120",
};

describe("edge monitor payloads", () => {
  it("NBIRTH: payload uuid, seq, timestamps and a UInt64 bdSeq up to 255", () => {
    const wire = decodeWirePayload(encodePayload(birthPayload(identity, 255, 0, 1_700_000_000_123)));
    assert.equal(wire.uuid, "11ad7b32-1d32-4c4a-b0c9-fa049208939a");
    assert.equal(wire.seq, 0n);
    assert.equal(wire.timestamp, 1_700_000_000_123n);
    assert.deepEqual(metricsByName(wire).bdSeq, { type: "UInt64", value: 255n });
    assert.deepEqual(metricsByName(wire)["Links/Cluster/Target"], { type: "UUID", value: identity.clusterUuid });
    assert.ok(wire.metrics.every((m) => m.timestamp === 1_700_000_000_123n));
  });

  it("NDEATH: only the bdSeq metric, and no seq field at all", () => {
    const wire = decodeWirePayload(encodePayload(deathPayload(9, 1_700_000_000_000)));
    assert.equal(wire.seq, undefined);
    assert.equal(wire.uuid, undefined);
    assert.deepEqual(metricsByName(wire), { bdSeq: { type: "UInt64", value: 9n } });
  });

  it("NDATA: carries its seq and stamps metrics that have no timestamp", () => {
    const wire = decodeWirePayload(encodePayload(dataPayload([{ name: "x", type: "Boolean", value: true }], 17, 5)));
    assert.equal(wire.seq, 17n);
    assert.deepEqual(wire.metrics.map((m) => [m.name, m.type, m.value, m.timestamp]), [["x", "Boolean", true, 5n]]);
  });

  it("recognises a rebirth request only when Node Control/Rebirth is true", () => {
    const ncmd = (value: boolean, name = "Node Control/Rebirth") =>
      decodePayload(encodePayload({ timestamp: 1, metrics: [{ name, type: "Boolean", value }] }));
    assert.equal(isRebirthRequest(ncmd(true)), true);
    assert.equal(isRebirthRequest(ncmd(false)), false);
    assert.equal(isRebirthRequest(ncmd(true, "Node Control/Reboot")), false);
    assert.equal(isRebirthRequest(decodePayload(encodePayload({ timestamp: 1 }))), false);
  });

});
