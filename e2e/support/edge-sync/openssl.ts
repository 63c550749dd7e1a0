// Self-signed certificates made with the openssl CLI, like the key pairs the Sealed Secrets controller creates.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export async function makeCertificate(commonName: string): Promise<{ certPem: string; keyPem: string }> {
  const dir = await mkdtemp(join(tmpdir(), "graft-edge-sync-cert-"));
  try {
    await run("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30",
      "-subj", `/O=sealed-secret/CN=${commonName}`,
      "-keyout", join(dir, "tls.key"), "-out", join(dir, "tls.crt"),
    ]);
    return { certPem: await readFile(join(dir, "tls.crt"), "utf8"), keyPem: await readFile(join(dir, "tls.key"), "utf8") };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
