// The upstream helm CLI and helm-unittest, built from their Go modules by e2e/assets/build-helm.sh and
// build-helm-unittest.sh (cached outside the checkout).
import { execFile, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const cached = new Map<string, string>();

function built(script: string): string {
  let path = cached.get(script);
  if (!path) {
    path = execFileSync("sh", [`${repoRoot}e2e/assets/${script}`], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
      .trim().split("\n").pop()!;
    cached.set(script, path);
  }
  return path;
}

/** Path of the helm binary: GRAFT_HELM when set, else built (once) by e2e/assets/build-helm.sh. */
export const helmBinary = () => built("build-helm.sh");
/** Path of helm-unittest: GRAFT_HELM_UNITTEST when set, else built (once) by e2e/assets/build-helm-unittest.sh. */
export const helmUnittestBinary = () => built("build-helm-unittest.sh");

export interface HelmResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs helm with a throwaway HOME-like state (no repositories, no plugins) so the user's setup cannot leak in. */
export const helm = (args: string[], env: { stateDir: string }) => run(helmBinary(), args, env);
/** Runs helm-unittest (`helm unittest` without installing the plugin) with the same throwaway state. */
export const helmUnittest = (args: string[], env: { stateDir: string }) => run(helmUnittestBinary(), ["--color=false", ...args], env);

function run(binary: string, args: string[], env: { stateDir: string }): Promise<HelmResult> {
  return new Promise((resolve) => {
    execFile(binary, args, {
      cwd: repoRoot, encoding: "utf8", maxBuffer: 16 * 1024 * 1024,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        // Without HOME, client-go writes its discovery cache to ./.kube of the checkout (helm install --dry-run=client).
        HOME: env.stateDir,
        HELM_CACHE_HOME: `${env.stateDir}/cache`, HELM_CONFIG_HOME: `${env.stateDir}/config`, HELM_DATA_HOME: `${env.stateDir}/data`,
      },
    }, (err, stdout, stderr) => resolve({ stdout, stderr, code: err ? (typeof err.code === "number" ? err.code : 1) : 0 }));
  });
}
