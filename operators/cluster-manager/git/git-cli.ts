import { spawn } from "node:child_process";
import { childProcessEnv } from "../../runtime/child-env.js";

/** Runs the git CLI, isolated from the user's and the system's git configuration (no signing, hooks or aliases). */

export interface GitRunOptions {
  /** Sets `--git-dir`; the store never needs a working tree. */
  gitDir?: string;
  /** Written to git's stdin. */
  input?: string | Buffer;
  /** Extra environment on top of the isolated base. */
  env?: Record<string, string>;
  /** Exit codes that are not an error (e.g. 1 for `rev-parse --verify -q` on a missing ref). */
  okCodes?: number[];
}

export interface GitRunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export class GitCommandError extends Error {
  constructor(readonly args: string[], readonly code: number | null, readonly stderr: string) {
    super(`git ${args[0] ?? ""} failed (exit ${String(code)}): ${stderr.trim().split("\n").slice(-3).join(" / ")}`);
    this.name = "GitCommandError";
  }
}

export function isolatedGitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const outside = childProcessEnv();
  return {
    PATH: outside.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: outside.HOME ?? "/",
    LANG: "C",
    LC_ALL: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    ...extra,
  };
}

export function runGit(args: string[], options: GitRunOptions = {}): Promise<GitRunResult> {
  const fullArgs = options.gitDir ? [`--git-dir=${options.gitDir}`, ...args] : args;
  return new Promise((resolve, reject) => {
    const child = spawn("git", fullArgs, { env: isolatedGitEnv(options.env), stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", (cause) => reject(new Error(`cannot run git: ${cause.message}`, { cause })));
    child.on("close", (code) => {
      const result = { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), code: code ?? -1 };
      if (code === 0 || (code !== null && options.okCodes?.includes(code))) resolve(result);
      else reject(new GitCommandError(args, code, result.stderr));
    });
    // git may exit before reading all of stdin (e.g. on a bad argument); the close handler reports that.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}
