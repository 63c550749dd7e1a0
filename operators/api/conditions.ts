// Condition types and reasons of EdgeCluster status (PascalCase, noun + state).
export const ConditionType = {
  Ready: "Ready",
  Reconciling: "Reconciling",
  Stalled: "Stalled",
  Provisioned: "Provisioned",
  Bootstrapped: "Bootstrapped",
  Reporting: "Reporting",
  /** The edge applied graft's latest commit and every Flux object it reports is Ready (edge-sync's GitOps report). */
  Synced: "Synced",
  /** ACS mode: the EdgeCluster and its ConfigDB 'Edge cluster configuration' entry agree. */
  ConfigDBSynced: "ConfigDBSynced",
  /** The edge monitor's Sparkplug session (NBIRTH/NDEATH), when the cluster-manager watches a broker. */
  Online: "Online",
  // Negative polarity: each is owned by one reconcile step, set just before it fails and removed once it succeeds.
  CredentialsFailed: "CredentialsFailed",
  RepositoryFailed: "RepositoryFailed",
  BootstrapFailed: "BootstrapFailed",
  AcsSetupFailed: "AcsSetupFailed",
  TeardownFailed: "TeardownFailed",
} as const;

export const Reason = {
  Progressing: "Progressing",
  Succeeded: "Succeeded",
  Provisioned: "Provisioned",
  NameConflict: "NameConflict",
  UUIDMismatch: "UUIDMismatch",
  InvalidSpec: "InvalidSpec",
  /** spec.values sets a key graft derives itself (cluster.uuid, central.url, …). */
  ReservedValue: "ReservedValue",
  BootstrapFailed: "BootstrapFailed",
  TeardownFailed: "TeardownFailed",
  RepositoryFailed: "RepositoryFailed",
  CredentialsFailed: "CredentialsFailed",
  Bootstrapped: "Bootstrapped",
  Reporting: "Reporting",
  ReportsStopped: "ReportsStopped",
  NoReports: "NoReports",
  NodeBirth: "NodeBirth",
  NodeDeath: "NodeDeath",
  // Synced (the edge's GitOps report): applied graft's latest commit, still applying an older one, an object not Ready.
  Applied: "Applied",
  RevisionPending: "RevisionPending",
  FluxObjectNotReady: "FluxObjectNotReady",
  // ACS mode: the link between an EdgeCluster and its ConfigDB entry (ConfigDBSynced) and the ACS setup steps.
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
