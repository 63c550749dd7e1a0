// Shared by the bootstrap tests: sample inputs and a runner for the generated script under a given shell.
import { spawn } from "node:child_process";
import type { BootstrapScriptInput } from "../../../operators/bootstrap/script-builder.js";

/** The three Debian shells the script must run under. */
export const SHELLS: readonly { name: string; argv: readonly string[] }[] = [
  { name: "dash", argv: ["dash"] },
  { name: "bash", argv: ["bash"] },
  { name: "busybox sh", argv: ["busybox", "sh"] },
];

/** Values a naive generator would mangle: replacement patterns, quotes, backslashes, expansions, newlines. */
export const HOSTILE_PASSWORD = "p$&w$'d$`\\'\"` $(echo INJECTED) ${HOME}\n\tnext line\\n\r\n";
export const HOSTILE_TOKEN = "tok$1$$&'\\\\\"\n";

export function selfLinkYaml(namespace: string, repoUrl: string): string {
  return `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: self-link
  namespace: ${namespace}
spec:
  interval: 1m
  url: ${repoUrl}
  ref:
    branch: main
  secretRef:
    name: flux-secrets
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: self-link
  namespace: ${namespace}
spec:
  interval: 10m
  path: ./
  prune: true
  sourceRef:
    kind: GitRepository
    name: self-link
`;
}

export interface SampleOptions {
  name: string;
  namespace: string;
  uuid?: string;
  fluxInstallYaml?: string;
  mode?: "embedded" | "kerberos";
}

export function sampleInput(opts: SampleOptions): BootstrapScriptInput {
  const central = "https://graft.central.example";
  const uuid = opts.uuid ?? "7b0e3c52-93f1-4d6a-8f0c-1e2d3c4b5a69";
  return {
    mode: opts.mode ?? "embedded",
    cluster: { uuid, name: opts.name, namespace: opts.namespace, sparkplugGroup: `GRAFT-${opts.name}` },
    urls: { central, git: `${central}/git/${uuid}`, status: `${central}/status`, bootstrap: `${central}/bootstrap/${uuid}?token=abc` },
    credentials: { gitUsername: `edge-${opts.name}`, gitPassword: HOSTILE_PASSWORD, syncToken: HOSTILE_TOKEN },
    kerberos: { realm: "EDGE.TEST", domain: "edge.test", image: "ghcr.io/example/graft:0.1.0", kdc: "127.0.0.1:8888" },
    selfLinkYaml: selfLinkYaml(opts.namespace, `${central}/git/${uuid}`),
    fluxInstallYaml: opts.fluxInstallYaml ?? "# Flux version: v2.3.0\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n",
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` with the given shell, either piped on stdin (`sh -s -- args`, as `curl … | sh -s --` does) or from
 * a file path. The child gets its own session, so it has no controlling terminal and /dev/tty cannot be opened.
 */
export function runScript(
  shell: readonly string[], script: { text: string } | { path: string }, args: readonly string[], env: NodeJS.ProcessEnv,
): Promise<RunResult> {
  const [cmd, ...shellArgs] = shell;
  const argv = "text" in script ? [cmd!, ...shellArgs, "-s", "--", ...args] : [cmd!, ...shellArgs, script.path, ...args];
  return runCommand(argv, "text" in script ? script.text : undefined, env);
}

/** Runs a command in its own session (no controlling terminal), feeding `input` on stdin when given. */
export function runCommand(argv: readonly string[], input: string | undefined, env: NodeJS.ProcessEnv): Promise<RunResult> {
  const [cmd, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, { env, detached: true, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    if (input !== undefined) child.stdin!.end(input);
  });
}
