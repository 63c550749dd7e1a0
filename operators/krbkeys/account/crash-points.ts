// Where krbkeys may be killed (GRAFT_CRASH_AT, runtime/crash-point.ts) while it sets up or releases a key's ACS
// account: after each step that changed something, so tests can show every step resumes without a second account.
import { crashPoint } from "../../runtime/crash-point.js";

export const AccountCrashPoint = {
  AfterFinalizer: "krbkeys-account-after-finalizer",
  /** The key says a creation is about to be asked for; the ConfigDB has not been asked yet. */
  AfterCreationMarked: "krbkeys-account-after-creation-marked",
  /** The ConfigDB made the account; neither its UUID (annotation) nor its Kerberos identity is recorded yet. */
  AfterCreated: "krbkeys-account-after-created",
  AfterRecorded: "krbkeys-account-after-recorded",
  AfterRegistration: "krbkeys-account-after-registration",
  AfterName: "krbkeys-account-after-name",
  AfterSparkplug: "krbkeys-account-after-sparkplug",
  AfterGroups: "krbkeys-account-after-groups",
  AfterMapped: "krbkeys-account-after-mapped",
  ReleaseAfterIdentity: "krbkeys-account-release-after-identity",
  ReleaseAfterGroups: "krbkeys-account-release-after-groups",
} as const;

export type AccountCrashPointName = (typeof AccountCrashPoint)[keyof typeof AccountCrashPoint];

export function accountCrashPoint(name: AccountCrashPointName): void {
  crashPoint(name);
}
