// Runs one Kerberos command-line tool with input on stdin (never in argv, where other users could read it).
import { spawn } from "node:child_process";
import { childProcessEnv } from "../runtime/child-env.js";
import { KerberosError, KdcUnreachableError } from "./errors.js";

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ToolOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

export const DEFAULT_TOOL_TIMEOUT_MS = 30_000;

export function runTool(cmd: string, args: string[], opts: ToolOptions = {}): Promise<ToolResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  // Messages are matched in English, so the tools must not translate them.
  const env = childProcessEnv({ ...opts.env, LC_ALL: "C", LANG: "C" });
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (s: string) => { stdout += s; });
    child.stderr.setEncoding("utf8").on("data", (s: string) => { stderr += s; });
    const timer = setTimeout(() => { timedOut = true; child.kill("SIGKILL"); }, timeoutMs);
    child.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === "ENOENT"
        ? new KerberosError(`the "${cmd}" command is not installed: install the MIT Kerberos client tools (krb5-user)`)
        : new KerberosError(`could not run "${cmd}": ${err.message}`));
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      if (timedOut) reject(new KdcUnreachableError(`"${cmd}" got no answer within ${timeoutMs} ms: the KDC or kadmind did not respond`, stderr.trim()));
      else resolve({ code, stdout, stderr });
    });
    child.stdin.on("error", () => undefined); // the tool may exit before reading all its input
    child.stdin.end(opts.input ?? "");
  });
}

/** Input must be whole lines the tool's prompter reads: no line breaks or NULs inside a value. */
export function assertLineSafe(what: string, value: string): void {
  if (/[\r\n\0]/.test(value)) throw new Error(`${what} must not contain line breaks or NUL characters`);
  if (value.length === 0) throw new Error(`${what} must not be empty`);
}
