// The manager's ACS password from a mounted Secret file (SERVICE_PASSWORD_FILE, as config/acs mounts it), against
// the ACS stand-in: read when first needed, and read again once a service refuses it, so a password rotated at the
// KDC and in the Secret reaches the running manager without a restart.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigDbClient } from "../../acs/configdb.js";
import { AcsConnection } from "../../acs/discovery.js";
import { App, Service } from "../../api/constants.js";
import { standinFixtureForFile } from "../../../e2e/acs-standin/client-fixture.js";
import { addClusterManagerAccount, installClustersService } from "../../../e2e/support/cluster-manager/acs-world.js";
import { tempDirForFile } from "../../../e2e/support/api-server.js";
import { acsSettingsFromFlags } from "./options.js";

const { standin } = await standinFixtureForFile();
const dir = tempDirForFile("graft-password-file-");
installClustersService(standin, {});

test("a rotated password file is read again after the ConfigDB refuses the old one; the process keeps working", async () => {
  const account = await addClusterManagerAccount(standin);
  const file = join(dir, "password");
  writeFileSync(file, `${account.password}\n`);
  const settings = acsSettingsFromFlags({
    directoryUrl: standin.urls.directory, serviceUsername: account.username, servicePasswordFile: file, realm: standin.realm,
    domain: "graft.test", namespace: "graft-system", enrolImage: "graft:test", emptyListConfirm: "never",
  }, {});
  const cdb = new ConfigDbClient(new AcsConnection({ credentials: settings.credentials, urls: settings.urls }).service("configdb"));
  const read = () => cdb.getEntry(App.ServiceConfig, Service.Clusters);
  assert.ok(await read(), "logged in with the file's password");

  // krbkeys-style rotation: the account's password changes, then the kubelet updates the mounted file.
  const rotated = `${account.password}-rotated`;
  standin.addUser(account.username, rotated);
  writeFileSync(file, `${rotated}\n`);
  standin.revokeTokens("configdb");
  const mark = standin.requests.length;
  assert.ok(await read(), "the same client works after the rotation");
  const logins = standin.requests.slice(mark).filter((r) => r.service === "configdb" && r.path === "/token").map((r) => r.status);
  assert.deepEqual(logins, [401, 200], "the old password refused once, the file read again, the new one accepted");
});
