import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { parse } from "yaml";
import { acsSettingsFromFlags, addAcsOptions, GRAFT_VERSION } from "./options.js";
import { resolveServiceConfig } from "./service-config.js";

const U = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

test("the service config is read in ACS's installer shape, flags override it", () => {
  const entry = {
    group: { flux: { uuid: U(1) }, krbkeys: { uuid: U(2) }, cluster: { uuid: U(3), path: "clusters" } },
    helm: { cluster: U(4) }, repo: { helm: { uuid: U(5) } }, other: "kept out",
  };
  assert.deepEqual(resolveServiceConfig(entry), {
    fluxGroup: U(1), krbkeysGroup: U(2), clusterRepoGroup: U(3), clusterRepoPath: "clusters", helmChartsRepo: U(5), defaultChart: U(4),
  });
  assert.equal(resolveServiceConfig(entry, { fluxGroup: U(9) }).fluxGroup, U(9));
  const fromFlags = resolveServiceConfig(undefined, { fluxGroup: U(1), krbkeysGroup: U(2), helmChartsRepo: U(5) });
  assert.equal(fromFlags.clusterRepoPath, "cluster");
  assert.equal(fromFlags.defaultChart, undefined);
});

test("a missing or malformed service config names what to set", () => {
  assert.throws(() => resolveServiceConfig(undefined), /lacks "group\.flux\.uuid" \(or --flux-group\), "group\.krbkeys\.uuid" \(or --krbkeys-group\), "repo\.helm\.uuid" \(or --helm-charts-repo\)/);
  assert.throws(() => resolveServiceConfig({ group: { flux: { uuid: "nope" } } }), /invalid at "group\.flux\.uuid"/);
});

test("ACS flags: required settings are named, 'never' disables deleting on an empty list", () => {
  const base = {
    directoryUrl: "http://directory", serviceUsername: "sv1clustermanager", realm: "R", domain: "example.com",
    enrolImage: "graft:1", namespace: "clusters", emptyListConfirm: "never",
  };
  const settings = acsSettingsFromFlags(base, { SERVICE_PASSWORD: "pw" });
  assert.equal(settings.emptyListConfirmMs, Infinity);
  assert.equal(settings.mirrorNamespace, "clusters");
  assert.deepEqual(settings.urls, { directory: "http://directory" });
  assert.equal(acsSettingsFromFlags({ ...base, emptyListConfirm: "2m" }, { SERVICE_PASSWORD: "pw" }).emptyListConfirmMs, 120_000);
  assert.throws(() => acsSettingsFromFlags(base, {}), /SERVICE_PASSWORD/);
  assert.throws(() => acsSettingsFromFlags({ ...base, realm: undefined }, { SERVICE_PASSWORD: "pw" }), /--realm \(REALM\)/);
  assert.throws(() => acsSettingsFromFlags({ ...base, directoryUrl: undefined }, { SERVICE_PASSWORD: "pw" }), /--directory-url/);
  assert.throws(() => acsSettingsFromFlags({ ...base, namespace: undefined }, { SERVICE_PASSWORD: "pw" }), /--mirror-namespace/);
});

test("ACS flags: a keytab file means a Negotiate login as the service principal (in --realm unless it names one), a password Basic", () => {
  const base = {
    directoryUrl: "http://directory", serviceUsername: "sv1clustermanager", realm: "R", domain: "example.com",
    enrolImage: "graft:1", namespace: "clusters", emptyListConfirm: "never",
  };
  assert.deepEqual(acsSettingsFromFlags({ ...base, serviceKeytabFile: "/etc/graft/acs/keytab" }, {}).credentials,
    { principal: "sv1clustermanager@R", keytabFile: "/etc/graft/acs/keytab" });
  assert.deepEqual(acsSettingsFromFlags({ ...base, serviceUsername: "sv1cm@OTHER", serviceKeytabFile: "/k" }, {}).credentials,
    { principal: "sv1cm@OTHER", keytabFile: "/k" });
  assert.deepEqual(acsSettingsFromFlags(base, { SERVICE_PASSWORD: "pw" }).credentials, { username: "sv1clustermanager", password: "pw" });
  assert.throws(() => acsSettingsFromFlags({ ...base, serviceKeytabFile: "/k", servicePasswordFile: "/p" }, {}), /not both: .*set it empty/);
  assert.deepEqual(acsSettingsFromFlags({ ...base, serverKeytabFile: "/etc/graft/acs/server-keytab" }, { SERVICE_PASSWORD: "pw" }).negotiate,
    { keytabFile: "/etc/graft/acs/server-keytab" }, "SERVER_KEYTAB_FILE: the Clusters API accepts Negotiate");
  assert.equal(acsSettingsFromFlags(base, { SERVICE_PASSWORD: "pw" }).negotiate, undefined, "no acceptor keytab: Negotiate not offered");
});

test("the enrolment image defaults to the released graft image: the reference config/default installs, at package.json's version", () => {
  const root = new URL("../../../", import.meta.url);
  const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { version: string };
  const install = parse(readFileSync(new URL("config/default/kustomization.yaml", root), "utf8")) as { images: Array<{ name: string; newTag: string }> };
  const released = install.images.find((i) => i.name === "ghcr.io/graft-operators/graft")!;
  assert.equal(GRAFT_VERSION, pkg.version);
  const cmd = addAcsOptions(new Command()).exitOverride();
  cmd.parse([], { from: "user" });
  assert.equal(cmd.opts().enrolImage, `${released.name}:${released.newTag}`);
  assert.equal(cmd.opts().enrolImage, `ghcr.io/graft-operators/graft:${pkg.version}`);
});
