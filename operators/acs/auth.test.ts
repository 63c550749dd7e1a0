import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Perm } from "../api/constants.js";
import { AuthClient } from "./auth.js";
import { AcsConnection } from "./discovery.js";

import { rejectsWithStatus, standinFixtureForFile } from "../../e2e/acs-standin/client-fixture.js";

const fx = await standinFixtureForFile();
const auth = new AuthClient(fx.acs.service("auth"));

test("addGrant: 201 creates, an identical grant returns the same UUID (200), a plural mismatch conflicts (409)", async () => {
  const grant = { principal: randomUUID(), permission: Perm.GitPull, target: randomUUID(), plural: false };
  const first = await auth.addGrant(grant);
  assert.equal(first.created, true);
  const again = await auth.addGrant(grant);
  assert.deepEqual(again, { uuid: first.uuid, created: false });
  await rejectsWithStatus(auth.addGrant({ ...grant, plural: true }), 409);
  assert.deepEqual(await auth.getGrant(first.uuid), { uuid: first.uuid, ...grant });
  await rejectsWithStatus(auth.addGrant({ ...grant, principal: "someone" }), 422);
});

test("findGrants matches on the given fields only; deleteGrant reports whether the grant existed", async () => {
  const principal = randomUUID();
  const repo = randomUUID();
  const pull = await auth.addGrant({ principal, permission: Perm.GitPull, target: repo, plural: false });
  const push = await auth.addGrant({ principal, permission: Perm.GitPush, target: repo, plural: false });
  await auth.addGrant({ principal: randomUUID(), permission: Perm.GitPull, target: repo, plural: false });

  assert.deepEqual(new Set(await auth.findGrants({ principal })), new Set([pull.uuid, push.uuid]));
  assert.deepEqual(await auth.findGrants({ principal, permission: Perm.GitPush }), [push.uuid]);
  assert.deepEqual(await auth.findGrants({ principal, plural: true }), []);

  assert.equal(await auth.deleteGrant(pull.uuid), true);
  assert.equal(await auth.deleteGrant(pull.uuid), false);
  assert.equal(await auth.getGrant(pull.uuid), null);
  assert.deepEqual(await auth.findGrants({ principal }), [push.uuid]);
});

test("Kerberos identities: set (idempotent), read both ways, conflicts, delete", async () => {
  const account = randomUUID();
  const name = `op1flux/line-a@${fx.standin.realm}`;
  assert.equal(await auth.getKerberos(account), null);
  await auth.setKerberos(account, name);
  await auth.setKerberos(account, name);
  assert.equal(await auth.getKerberos(account), name);
  assert.equal(await auth.findPrincipalByKerberos(name), account);
  assert.equal(fx.standin.auth.getKerberos(account), name);

  await rejectsWithStatus(auth.setKerberos(randomUUID(), name), 409);
  await rejectsWithStatus(auth.setKerberos(account, `op1flux/other@${fx.standin.realm}`), 409);

  assert.equal(await auth.deleteKerberos(account), true);
  assert.equal(await auth.deleteKerberos(account), false);
  assert.equal(await auth.findPrincipalByKerberos(name), null);
});

test("whoami: the caller's principal; 404 for a user with no mapped identity until one is set", async () => {
  const me = await auth.whoami();
  assert.deepEqual(me, { uuid: fx.standin.adminUser.principal, kerberos: fx.standin.adminUser.upn });

  const { upn } = fx.standin.addUser("sv1clusters", "cluster-pw");
  const asService = new AcsConnection({
    credentials: { username: "sv1clusters", password: "cluster-pw" }, urls: { auth: fx.standin.urls.auth },
  });
  const serviceAuth = new AuthClient(asService.service("auth"));
  await rejectsWithStatus(serviceAuth.whoami(), 404);
  const principal = randomUUID();
  await auth.setKerberos(principal, upn);
  assert.deepEqual(await serviceAuth.whoami(), { uuid: principal, kerberos: upn });
});
