// The credential file is read once, kept, and read again only after invalidate(); a rotation of a Secret volume the
// way the kubelet performs it is then seen; unreadable and empty files fail with the path, never the content.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { SecretVolume } from "../../e2e/harness/secret-volume.js";
import { CredentialFile } from "./credential-file.js";

const dir = mkdtempSync(join(tmpdir(), "graft-credential-file-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("kept until invalidated, then the rotated content of a kubelet-style Secret volume is read", async () => {
  const volume = new SecretVolume(join(dir, "rotate"));
  volume.write({ password: "first\n" });
  const credential = new CredentialFile(volume.file("password"), "the test password");
  assert.equal(await credential.value(), "first");
  volume.write({ password: "second\n" });
  assert.equal(await credential.value(), "first", "no re-read while the server accepts the credential");
  assert.equal(credential.reads, 1);
  credential.invalidate();
  assert.equal(await credential.value(), "second");
  assert.equal(credential.reads, 2);
});

test("concurrent first uses read the file once", async () => {
  const volume = new SecretVolume(join(dir, "concurrent"));
  volume.write({ token: "t0ken" });
  const credential = new CredentialFile(volume.file("token"), "the token");
  assert.deepEqual(await Promise.all([credential.value(), credential.value(), credential.value()]), ["t0ken", "t0ken", "t0ken"]);
  assert.equal(credential.reads, 1);
});

test("a missing or empty file is an error naming the credential and the path", async () => {
  await assert.rejects(new CredentialFile(join(dir, "absent"), "the MQTT password").value(),
    /cannot read the MQTT password from ".*absent": ENOENT/);
  const volume = new SecretVolume(join(dir, "empty"));
  volume.write({ password: "\n" });
  const credential = new CredentialFile(volume.file("password"), "the MQTT password");
  await assert.rejects(credential.value(), /the MQTT password file ".*password" is empty/);
  volume.write({ password: "now-set" });
  assert.equal(await credential.value(), "now-set", "an error is not cached");
});
