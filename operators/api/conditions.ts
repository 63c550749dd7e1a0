// Condition types and reasons of EdgeCluster status (PascalCase, noun + state).
export const ConditionType = {
  Ready: "Ready",
  Reconciling: "Reconciling",
  Stalled: "Stalled",
  Provisioned: "Provisioned",
  Bootstrapped: "Bootstrapped",
  Reporting: "Reporting",
  Synced: "Synced",
} as const;

export const Reason = {
  Progressing: "Progressing",
  Succeeded: "Succeeded",
  Provisioned: "Provisioned",
  NameConflict: "NameConflict",
  UUIDMismatch: "UUIDMismatch",
  InvalidSpec: "InvalidSpec",
  RepositoryFailed: "RepositoryFailed",
  CredentialsFailed: "CredentialsFailed",
  Bootstrapped: "Bootstrapped",
  Reporting: "Reporting",
  ReportsStopped: "ReportsStopped",
  NoReports: "NoReports",
  // ACS mode: the link between an EdgeCluster and its ConfigDB entry (Synced) and the ACS setup steps.
  Synced: "Synced",
  SuspiciousEmptyList: "SuspiciousEmptyList",
  EntryMissing: "EntryMissing",
  InvalidEntry: "InvalidEntry",
  NameChangeRefused: "NameChangeRefused",
  ConfigDBUnavailable: "ConfigDBUnavailable",
  AcsSetupFailed: "AcsSetupFailed",
  ChartTemplateMissing: "ChartTemplateMissing",
  KerberosIdentityConflict: "KerberosIdentityConflict",
} as const;
