// What the Sealed Secrets controller would leave on an edge cluster: its active key pair as a TLS Secret in the
// `sealed-secrets` namespace, labelled active, with a certificate made by openssl.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ControlPlane } from "./control-plane.js";

export async function createSealedSecretsKey(edge: ControlPlane, dir: string, name = "sealed-secrets-key1"): Promise<{ certPem: string; keyPath: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=sealed-secret/O=sealed-secret"], { stdio: "ignore" });
  await edge.kubectl(["create", "namespace", "sealed-secrets"]);
  for (const args of [
    ["-n", "sealed-secrets", "create", "secret", "tls", name, `--cert=${cert}`, `--key=${key}`],
    ["-n", "sealed-secrets", "label", "secret", name, "sealedsecrets.bitnami.com/sealed-secrets-key=active"],
  ]) {
    const r = await edge.kubectl(args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
  }
  return { certPem: readFileSync(cert, "utf8"), keyPath: key };
}
