// The upstream helm CLI, built from its Go module by e2e/assets/build-helm.sh (cached outside the checkout).
import { execFile, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
let cached: string | undefined;

/** Path of the helm binary: GRAFT_HELM when set, else built (once) by e2e/assets/build-helm.sh. */
export function helmBinary(): string {
  cached ??= execFileSync("sh", [`${repoRoot}e2e/assets/build-helm.sh`], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    .trim().split("\n").pop()!;
  return cached;
}

export interface HelmResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs helm with a throwaway HOME-like state (no repositories, no plugins) so the user's setup cannot leak in. */
export function helm(args: string[], env: { stateDir: string }): Promise<HelmResult> {
  return new Promise((resolve) => {
    execFile(helmBinary(), args, {
      cwd: repoRoot, encoding: "utf8", maxBuffer: 16 * 1024 * 1024,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HELM_CACHE_HOME: `${env.stateDir}/cache`, HELM_CONFIG_HOME: `${env.stateDir}/config`, HELM_DATA_HOME: `${env.stateDir}/data`,
      },
    }, (err, stdout, stderr) => resolve({ stdout, stderr, code: err ? (typeof err.code === "number" ? err.code : 1) : 0 }));
  });
}
