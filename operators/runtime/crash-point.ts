// Injectable crash points for every operator: with GRAFT_CRASH_AT=<name> the process dies (as with kill -9) when it
// reaches the point of that name, so tests can prove that each step resumes after a crash without duplicates.
// Each operator names its own points (cluster-manager/crash-points.ts, krbkeys/account/crash-points.ts).
export function crashPoint(name: string): void {
  const at = process.env.GRAFT_CRASH_AT;
  if (at && at === name) {
    process.stderr.write(`GRAFT_CRASH_AT=${name}: crashing on purpose\n`);
    process.kill(process.pid, "SIGKILL");
  }
}
