// ACS mode's own steps: the ConfigDB entry (acs/entry-sync.ts, which also holds the conflict rule), the Secret
// holding bootstrap-token hashes, and the ACS setup (acs/cluster-setup.ts). ConfigDBSynced is owned by the entry step.
import { App } from "../../api/constants.js";
import { ConditionType as T, Reason } from "../../api/conditions.js";
import { EdgeClusterType, type EdgeCluster } from "../../api/edgecluster.js";
import { getCondition, setCondition } from "../../runtime/conditions.js";
import { messageOf, StallingError } from "../../runtime/errors.js";
import type { AcsBackend } from "../acs/acs-backend.js";
import { NAME_CONFLICT_KEY } from "../acs/entries.js";
import { ORIGIN_CONFIGDB, ORIGIN_LABEL } from "../acs/names.js";
import { syncClusterEntry } from "../acs/entry-sync.js";
import { ensureCredentials } from "../credentials.js";
import type { EdgeClusterControllerDeps } from "./edgecluster-controller.js";
import { ownedBy, type Step } from "./scope.js";

/**
 * The name check, and for a cluster mirrored from the ConfigDB a name conflict said where ACS looks: its setup status
 * `{ready: false, nameConflict}` (what the Clusters API's status answers), cleared once it is set up.
 */
export function acsNameCheckStep(acs: AcsBackend, nameCheck: Step): Step {
  return async (scope) => {
    try {
      return await nameCheck(scope);
    } catch (err) {
      if (err instanceof StallingError && err.reason === Reason.NameConflict && scope.ec.metadata.labels?.[ORIGIN_LABEL] === ORIGIN_CONFIGDB) {
        await acs.cdb.patchEntry(App.EdgeClusterSetupStatus, scope.scratch.uuid!, { ready: false, [NAME_CONFLICT_KEY]: err.message })
          .catch((e: unknown) => scope.log.warn({ err: messageOf(e) }, "could not report the name conflict in the setup status"));
      }
      throw err;
    }
  };
}

export function configDbEntryStep(deps: EdgeClusterControllerDeps, acs: AcsBackend): Step {
  return async (scope) => {
    const { status, scratch } = scope;
    const generation = scope.ec.metadata.generation;
    const event = (target: EdgeCluster, reason: string, message: string) => deps.events.record(EdgeClusterType, target, "Normal", reason, message);
    const synced = await syncClusterEntry({ client: deps.client, cdb: acs.cdb, log: scope.log, event }, scope.ec, scratch.uuid!, scratch.clusterName!);
    if (synced.kind === "held") {
      // Nothing to retry on a timer: the entry coming back (or going for good) is seen by the ConfigDB sync.
      const before = getCondition(scope.read.conditions, T.ConfigDBSynced);
      // The ConfigDB sync's hold on an empty list says more than "entry missing": keep it.
      const current = getCondition(status.conditions, T.ConfigDBSynced);
      if (!(current?.reason === Reason.SuspiciousEmptyList && synced.reason === Reason.EntryMissing)) {
        status.conditions = setCondition(status.conditions, { type: T.ConfigDBSynced, status: "False", reason: synced.reason, message: synced.message }, generation);
      }
      const after = getCondition(status.conditions, T.ConfigDBSynced);
      if (after?.reason !== before?.reason || after?.message !== before?.message) scope.note(synced.reason, synced.message, "Warning");
      return "done";
    }
    // The entry sync may have written metadata (the registered annotation): later writes start from that object.
    scope.ec = synced.ec;
    scratch.acsEntry = synced.entry;
    status.conditions = setCondition(status.conditions, { type: T.ConfigDBSynced, status: "True", reason: Reason.Synced, message: synced.message }, generation);
    return "continue";
  };
}

/**
 * Bootstrap tokens are kept hashed in the cluster's credentials Secret, as in embedded mode (its Git password and
 * edge-sync token are not used in ACS mode: the edge authenticates with Kerberos).
 */
export function acsCredentialsStep(deps: EdgeClusterControllerDeps): Step {
  return async (scope) => {
    const { ec, scratch } = scope;
    const owner = { ...ec, apiVersion: `${EdgeClusterType.group}/${EdgeClusterType.version}`, kind: EdgeClusterType.kind };
    const { name } = await ownedBy(scope, T.CredentialsFailed, "cannot create the cluster's credentials Secret",
      () => ensureCredentials(deps.client, ec.metadata.namespace!, scratch.uuid!, scratch.clusterName!, owner, deps.credentialsKnown?.(scratch.uuid!) ?? false));
    scratch.credentialsSecret = name;
    return "continue";
  };
}

export function acsSetupStep(deps: EdgeClusterControllerDeps, acs: AcsBackend): Step {
  return async (scope) => {
    const { scratch } = scope;
    const result = await ownedBy(scope, T.AcsSetupFailed, "ACS setup failed", () => acs.setup.setup({
      uuid: scratch.uuid!, name: scratch.clusterName!, entry: scratch.acsEntry!, log: scope.log,
      event: (reason, message) => deps.events.record(EdgeClusterType, scope.ec, "Normal", reason, message),
      warn: (reason, message) => deps.events.record(EdgeClusterType, scope.ec, "Warning", reason, message),
    }));
    scratch.sparkplugGroup = result.sparkplugGroup;
    scratch.repository = result.repository;
    scratch.commit = result.commit;
    scratch.provisionedMessage = `ACS setup ready: accounts ${result.accounts.flux} (flux) and ${result.accounts.krbkeys} (krbkeys); repository ${result.repository} at ${result.commit.slice(0, 12)}`;
    return "continue";
  };
}
