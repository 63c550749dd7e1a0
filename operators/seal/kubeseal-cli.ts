import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { childProcessEnv } from "../runtime/child-env.js";

/** The upstream `kubeseal` CLI, used by tests and the benchmark to check graft's sealing against the real thing. */

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
let cached: string | undefined;

/** KUBESEAL_BIN when set, else the binary built (once, cached) by e2e/assets/build-kubeseal.sh. */
export function kubesealBinary(): string {
  if (process.env.KUBESEAL_BIN) return process.env.KUBESEAL_BIN;
  if (cached) return cached;
  const dir = execFileSync("sh", [join(repoRoot, "e2e/assets/build-kubeseal.sh")], {
    encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], env: childProcessEnv(),
  }).trim().split("\n").pop()!;
  cached = join(dir, "kubeseal");
  return cached;
}

export interface KubesealResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs kubeseal with no kubeconfig, so every call is offline: it must be given `--cert` to seal, and
 * `--recovery-unseal` never needs a cluster.
 */
export function runKubeseal(args: string[], input?: string | Buffer, options: { home?: string } = {}): Promise<KubesealResult> {
  const env: NodeJS.ProcessEnv = { PATH: childProcessEnv().PATH ?? "/usr/bin:/bin", HOME: options.home ?? "/nonexistent", KUBECONFIG: "" };
  const child = spawn(kubesealBinary(), args, { env, stdio: ["pipe", "pipe", "pipe"] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  child.stdin.on("error", () => { /* kubeseal may exit before reading its input; the exit code tells */ });
  child.stdin.end(input ?? "");
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString("utf8") }));
  });
}
