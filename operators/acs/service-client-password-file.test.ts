// A ServiceClient whose password lives in a file (a mounted Secret that krbkeys rotates): after the password changes
// at the service and in the file, the refused login makes the client read the file again, with no restart.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAcsStandin, type AcsStandin } from "../../e2e/acs-standin/standin.js";
import { randomUUID } from "node:crypto";
import { AcsPerm } from "../../e2e/acs-standin/acs-uuids.js";
import { App, Class } from "../api/constants.js";
import { CredentialFile } from "../runtime/credential-file.js";
import { ServiceClient } from "./service-client.js";

let standin: AcsStandin;
let dir: string;
before(async () => {
  standin = await startAcsStandin();
  dir = mkdtempSync(join(tmpdir(), "graft-password-file-"));
});
after(async () => {
  await standin?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a rotated password file is read again after the service refuses the old password", async () => {
  const file = join(dir, "password");
  writeFileSync(file, "first-password\n");
  const { upn } = standin.addUser("op1sync/line-a", "first-password");
  // An account that may read what the test lists (the stand-in enforces ACS's permissions).
  const principal = randomUUID();
  standin.configdb.register(principal, Class.EdgeAccount);
  standin.auth.setKerberos(principal, upn);
  standin.auth.addGrant({ principal, permission: AcsPerm.ReadConfig, target: App.GeneralInfo, plural: false });
  const source = new CredentialFile(file, "the service password");
  const http = new ServiceClient({ service: "configdb", baseUrl: standin.urls.configdb, credentials: { username: upn, password: source } });
  const list = () => http.request({ method: "GET", path: `v2/app/${App.GeneralInfo}/object` });

  assert.equal((await list()).status, 200);
  assert.equal(source.reads, 1);

  standin.addUser("op1sync/line-a", "second-password");
  writeFileSync(file, "second-password\n");
  standin.revokeTokens("configdb");
  // The cached old password is refused; the file is read again and the login repeated with the new one.
  assert.equal((await list()).status, 200);
  assert.equal(source.reads, 2);

  // A password that is simply wrong (file unchanged) fails once, without a loop.
  standin.addUser("op1sync/line-a", "third-password");
  standin.revokeTokens("configdb");
  await assert.rejects(list(), /401/);
  assert.equal(source.reads, 3);
});
