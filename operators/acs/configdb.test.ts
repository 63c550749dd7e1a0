import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { App, Class } from "../api/constants.js";
import { ConfigDbClient, MERGE_PATCH_CONTENT_TYPE } from "./configdb.js";
import { AcsPreconditionFailedError } from "./errors.js";
import { rejectsWithStatus, standinFixtureForFile } from "../../e2e/acs-standin/client-fixture.js";

const APP = App.EdgeClusterConfiguration;
const fx = await standinFixtureForFile();
const cdb = new ConfigDbClient(fx.acs.service("configdb"));

test("createObject: 201 for a new object, 200 (created=false) when it already exists; a coined UUID without one", async () => {
  const uuid = randomUUID();
  const first = await cdb.createObject(Class.EdgeCluster, uuid);
  assert.deepEqual({ uuid: first.uuid, created: first.created, class: first.registration.class }, { uuid, created: true, class: Class.EdgeCluster });
  const again = await cdb.createObject(Class.EdgeCluster, uuid);
  assert.equal(again.created, false);
  assert.equal(again.uuid, uuid);

  const coined = await cdb.createObject(Class.EdgeAccount);
  assert.match(coined.uuid, /^[0-9a-f-]{36}$/);
  assert.notEqual(coined.uuid, uuid);
  assert.equal(fx.standin.configdb.classOf(coined.uuid), Class.EdgeAccount);
  await rejectsWithStatus(cdb.createObject(Class.EdgeAccount, uuid), 409);
});

test("entries: absent is null; PUT creates (201) then updates (204) with a new ETag; identical PUT keeps it", async () => {
  const { uuid } = await cdb.createObject(Class.EdgeCluster);
  assert.equal(await cdb.getEntry(APP, uuid), null);
  assert.equal(await cdb.putEntry(APP, uuid, { name: "one", namespace: "fplus-edge" }), "created");
  const first = await cdb.getEntry(APP, uuid);
  assert.deepEqual(first?.value, { name: "one", namespace: "fplus-edge" });
  assert.match(first?.etag ?? "", /^"[0-9a-f-]{36}"$/);

  assert.equal(await cdb.putEntry(APP, uuid, { name: "two", namespace: "fplus-edge" }), "updated");
  const second = await cdb.getEntry(APP, uuid);
  assert.deepEqual(second?.value, { name: "two", namespace: "fplus-edge" });
  assert.notEqual(second?.etag, first?.etag);

  assert.equal(await cdb.putEntry(APP, uuid, { namespace: "fplus-edge", name: "two" }), "updated");
  assert.equal((await cdb.getEntry(APP, uuid))?.etag, second?.etag, "an unchanged value keeps its ETag");
  assert.deepEqual(await cdb.listObjects(APP).then((l) => l.includes(uuid)), true);
});

test("If-Match: the current ETag writes, a stale one fails with AcsPreconditionFailedError (412)", async () => {
  const { uuid } = await cdb.createObject(Class.EdgeCluster);
  await cdb.putEntry(APP, uuid, { name: "v1", namespace: "n" });
  const v1 = await cdb.getEntry(APP, uuid);
  await cdb.putEntry(APP, uuid, { name: "v2", namespace: "n" }, { ifMatch: v1!.etag! });
  const err = await rejectsWithStatus(cdb.putEntry(APP, uuid, { name: "v3", namespace: "n" }, { ifMatch: v1!.etag! }), 412);
  assert.ok(err instanceof AcsPreconditionFailedError);
  await rejectsWithStatus(cdb.patchEntry(APP, uuid, { bare: true }, { ifMatch: v1!.etag! }), 412);
  await rejectsWithStatus(cdb.deleteEntry(APP, uuid, { ifMatch: v1!.etag! }), 412);
  assert.deepEqual((await cdb.getEntry(APP, uuid))?.value, { name: "v2", namespace: "n" });

  // A bare UUID is accepted too (normalised to the quoted header form).
  const v2 = await cdb.getEntry(APP, uuid);
  await cdb.putEntry(APP, uuid, { name: "v3", namespace: "n" }, { ifMatch: v2!.etag!.replaceAll('"', "") });
  await rejectsWithStatus(cdb.putEntry(APP, uuid, { name: "x", namespace: "n" }, { ifNoneMatch: "*" }), 412);
});

test("PATCH with merge-patch creates an absent entry, merges, and deletes keys set to null", async () => {
  const { uuid } = await cdb.createObject(Class.EdgeCluster);
  await cdb.patchEntry(App.EdgeClusterStatus, uuid, { hosts: [{ hostname: "h1" }] });
  assert.deepEqual((await cdb.getEntry(App.EdgeClusterStatus, uuid))?.value, { hosts: [{ hostname: "h1" }] });
  await cdb.patchEntry(App.EdgeClusterStatus, uuid, { kubeseal_cert: "PEM" });
  await cdb.patchEntry(App.EdgeClusterStatus, uuid, { hosts: null });
  assert.deepEqual((await cdb.getEntry(App.EdgeClusterStatus, uuid))?.value, { kubeseal_cert: "PEM" });
});

test("the server refuses a PATCH with another content type (415)", async () => {
  const { uuid } = await cdb.createObject(Class.EdgeCluster);
  const http = fx.acs.service("configdb");
  await rejectsWithStatus(http.request({ method: "PATCH", path: `v2/app/${APP}/object/${uuid}`, json: { a: 1 } }), 415);
  const ok = await http.request({ method: "PATCH", path: `v2/app/${APP}/object/${uuid}`, json: { a: 1 }, contentType: MERGE_PATCH_CONTENT_TYPE });
  assert.equal(ok.status, 204);
});

test("unknown objects are 404 for writes; non-UUID path parts are 410", async () => {
  const unknown = randomUUID();
  await rejectsWithStatus(cdb.putEntry(APP, unknown, { name: "x", namespace: "n" }), 404);
  await rejectsWithStatus(cdb.patchEntry(APP, unknown, { name: "x" }), 404);
  assert.equal(await cdb.getEntry(APP, unknown), null);
  await rejectsWithStatus(cdb.getEntry(APP, "not-a-uuid"), 410);
  await rejectsWithStatus(cdb.putEntry("edge-cluster-configuration", randomUUID(), {}), 410);
  await rejectsWithStatus(cdb.addClassMember(Class.EdgeAccount, "nope"), 410);
  await rejectsWithStatus(cdb.listObjects(randomUUID()), 404);
});

test("deleteEntry: true when it existed (204), false when not (404)", async () => {
  const { uuid } = await cdb.createObject(Class.EdgeCluster);
  await cdb.putEntry(App.GeneralInfo, uuid, { name: "gone soon" });
  assert.equal(await cdb.deleteEntry(App.GeneralInfo, uuid), true);
  assert.equal(await cdb.deleteEntry(App.GeneralInfo, uuid), false);
  assert.equal(await cdb.getEntry(App.GeneralInfo, uuid), null);
});

test("class membership: add, check, list, remove; an object with members cannot be deleted", async () => {
  const group = (await cdb.createObject(Class.EdgeAccount)).uuid;
  const member = (await cdb.createObject(Class.EdgeAccount)).uuid;
  await cdb.addClassMember(group, member);
  await cdb.addClassMember(group, member);
  assert.equal(await cdb.isClassMember(group, member), true);
  assert.deepEqual(await cdb.listClassMembers(group), [member]);
  assert.equal((await cdb.listClassMembers(Class.EdgeAccount)).includes(member), true, "created objects join their class");

  await rejectsWithStatus(cdb.deleteObject(group), 409);
  await cdb.removeClassMember(group, member);
  assert.equal(await cdb.isClassMember(group, member), false);

  await cdb.putEntry(App.GeneralInfo, member, { name: "Edge flux: x" });
  assert.equal(await cdb.deleteObject(member), true);
  assert.equal(await cdb.getEntry(App.GeneralInfo, member), null, "deleting an object deletes its entries");
  assert.equal(await cdb.deleteObject(member), false);
  await rejectsWithStatus(cdb.addClassMember(group, member), 404);
});
