// Injectable crash points: with GRAFT_CRASH_AT=<step> the process dies (as with kill -9) when it reaches that step,
// so tests can prove that every step resumes after a crash without duplicates.
export const CrashPoint = {
  AfterFinalizer: "after-finalizer",
  AfterIdentity: "after-identity",
  AfterCredentials: "after-credentials",
  AfterRepository: "after-repository",
  AfterCommit: "after-commit",
  AfterProvisioned: "after-provisioned",
} as const;

export type CrashPointName = (typeof CrashPoint)[keyof typeof CrashPoint];

export function crashPoint(name: CrashPointName): void {
  const at = process.env.GRAFT_CRASH_AT;
  if (at && at === name) {
    process.stderr.write(`GRAFT_CRASH_AT=${name}: crashing on purpose\n`);
    process.kill(process.pid, "SIGKILL");
  }
}
