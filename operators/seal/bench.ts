import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { childProcessEnv } from "../runtime/child-env.js";
import { runKubeseal } from "./kubeseal-cli.js";
import { SEALING_SCOPES, parseCertificate, sealValue, type SealingCertificate } from "./seal.js";

const run = promisify(execFile);

interface Input {
  file: string;
  value: Buffer;
  scope: (typeof SEALING_SCOPES)[number];
  namespace: string;
  name: string;
}

interface InputSet {
  label: string;
  count: number;
  bytes: number;
}

const INPUT_SETS: InputSet[] = [
  { label: "64 B value", count: 30, bytes: 64 },
  { label: "1 MiB value", count: 4, bytes: 1024 * 1024 },
];

/** Graft seals the set repeatedly until this much time has passed, for a rate that does not hinge on one round. */
const GRAFT_MIN_MS = 500;

/**
 * Sealing rate of graft's native sealing next to the upstream kubeseal CLI's on the same inputs (same certificate,
 * values and scopes), one line per input size. kubeseal runs once per value, as a script sealing values would run it.
 */
export async function benchSealing(): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), "graft-seal-bench-"));
  try {
    const certPath = join(dir, "cert.pem");
    await run("openssl", ["req", "-x509", "-newkey", "rsa:4096", "-nodes", "-keyout", join(dir, "key.pem"), "-out", certPath,
      "-days", "2", "-subj", "/CN=sealed-secret/O=sealed-secret"], { env: childProcessEnv() });
    const certificate = parseCertificate(await readFile(certPath, "utf8"));
    const lines: string[] = [];
    for (const set of INPUT_SETS) {
      const inputs = await makeInputs(dir, set);
      const graftRate = graftValuesPerSecond(certificate, inputs);
      const kubesealRate = await kubesealValuesPerSecond(certPath, inputs);
      lines.push(
        `seal ${inputs.length} × ${set.label} (scopes cycled): graft in-process ${graftRate.toFixed(1)} values/s, ` +
        `kubeseal CLI (one run per value) ${kubesealRate.toFixed(1)} values/s, ` +
        `ratio ${(graftRate / kubesealRate).toFixed(1)}x`,
      );
    }
    return lines;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function makeInputs(dir: string, set: InputSet): Promise<Input[]> {
  const inputs: Input[] = [];
  for (let i = 0; i < set.count; i++) {
    const value = randomBytes(set.bytes);
    const file = join(dir, `value-${set.bytes}-${i}`);
    await writeFile(file, value);
    inputs.push({ file, value, scope: SEALING_SCOPES[i % SEALING_SCOPES.length]!, namespace: "bench", name: `secret-${i}` });
  }
  return inputs;
}

function graftValuesPerSecond(certificate: SealingCertificate, inputs: Input[]): number {
  const start = process.hrtime.bigint();
  let sealed = 0;
  let elapsedMs = 0;
  while (elapsedMs < GRAFT_MIN_MS) {
    for (const input of inputs) sealValue(certificate, input.value, input.scope, input.namespace, input.name);
    sealed += inputs.length;
    elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  }
  return sealed / (elapsedMs / 1000);
}

async function kubesealValuesPerSecond(certPath: string, inputs: Input[]): Promise<number> {
  const start = process.hrtime.bigint();
  for (const input of inputs) {
    const result = await runKubeseal(["--cert", certPath, "--raw", "--scope", input.scope, "--name", input.name,
      "--namespace", input.namespace, "--from-file", input.file]);
    if (result.code !== 0 || result.stdout.length === 0) {
      throw new Error(`kubeseal failed to seal "${input.file}" (exit ${result.code}): ${result.stderr.trim()}`);
    }
  }
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  return inputs.length / (elapsedMs / 1000);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const line of await benchSealing()) process.stdout.write(`${line}\n`);
}
