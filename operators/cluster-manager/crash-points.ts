// Injectable crash points: with GRAFT_CRASH_AT=<step> the process dies (as with kill -9) when it reaches that step,
// so tests can prove that every step resumes after a crash without duplicates.
import { crashPoint as crashAt } from "../runtime/crash-point.js";

export const CrashPoint = {
  AfterFinalizer: "after-finalizer",
  AfterIdentity: "after-identity",
  AfterCredentials: "after-credentials",
  AfterRepository: "after-repository",
  AfterCommit: "after-commit",
  AfterProvisioned: "after-provisioned",
} as const;

/** ACS mode: after each ACS setup step that did work (a step repeated after a restart finds its work done). */
export const AcsCrashPoint = {
  AfterObject: "acs-after-object",
  AfterEntry: "acs-after-entry",
  AfterSetupStarted: "acs-after-setup-started",
  AfterSparkplug: "acs-after-sparkplug",
  AfterAccountRecorded: "acs-after-account-recorded",
  /** The ConfigDB made the account; its UUID is not recorded yet. */
  AfterAccountCreated: "acs-after-account-created",
  AfterAccountObject: "acs-after-account-object",
  AfterAccountName: "acs-after-account-name",
  AfterAccountGroup: "acs-after-account-group",
  AfterAccountKerberos: "acs-after-account-kerberos",
  AfterAccountGrant: "acs-after-account-grant",
  AfterRepoConfig: "acs-after-repo-config",
  AfterRepoPush: "acs-after-repo-push",
  AfterReady: "acs-after-ready",
  TeardownAfterAccount: "acs-teardown-after-account",
} as const;

export type CrashPointName = (typeof CrashPoint)[keyof typeof CrashPoint] | (typeof AcsCrashPoint)[keyof typeof AcsCrashPoint];

export function crashPoint(name: CrashPointName): void {
  crashAt(name);
}
