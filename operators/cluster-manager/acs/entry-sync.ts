// Keeps an EdgeCluster and its 'Edge cluster configuration' entry equal, for the EdgeCluster reconciler.
//
// Conflict rule — the side a cluster was created on owns its spec:
// - An EdgeCluster mirrored from the ConfigDB (label `factoryplus.app.amrc.co.uk/origin=configdb`): the ConfigDB
//   entry wins. Edits made in the ConfigDB flow into spec; kubectl edits to spec are reverted to the entry.
// - An EdgeCluster applied with kubectl: the EdgeCluster wins. Its spec is written to the entry (creating the ConfigDB
//   object and entry the first time); edits made to that entry in the ConfigDB are overwritten from spec.
// The cluster name can change on neither side: principals and the Sparkplug group derive from it (a mirrored
// cluster whose entry renames it is held with ConfigDBSynced=False/NameChangeRefused).
//
// Once an entry has been seen for an EdgeCluster it is annotated as registered. A registered EdgeCluster whose entry
// is gone was deleted in the ConfigDB: this sync never writes the entry back; the ConfigDB sync controller decides
// whether to delete the EdgeCluster (with its guard against an empty listing).
import type { Logger } from "pino";
import type { ConfigDbClient } from "../../acs/configdb.js";
import { acsFailure, AcsFailureReason, AcsPreconditionFailedError, AcsUnavailableError } from "../../acs/errors.js";
import { App, Class } from "../../api/constants.js";
import { Reason } from "../../api/conditions.js";
import { EdgeClusterType, type EdgeCluster } from "../../api/edgecluster.js";
import { GenericError, StallingError } from "../../runtime/errors.js";
import type { KubeClient } from "../../runtime/rest.js";
import { AcsCrashPoint, crashPoint } from "../crash-points.js";
import { entryFromSpec, parseClusterEntry, sameEntry, specPatchFromEntry, type ClusterEntry } from "./entries.js";
import { ORIGIN_CONFIGDB, ORIGIN_LABEL, REGISTERED_ANNOTATION } from "./names.js";

export type EntrySyncResult =
  | { kind: "synced"; ec: EdgeCluster; entry: ClusterEntry; message: string }
  /** The cluster must not be set up now; ConfigDBSynced=False with this reason and message. */
  | { kind: "held"; reason: string; message: string };

export interface EntrySyncDeps {
  client: KubeClient;
  cdb: ConfigDbClient;
  log: Logger;
  event: (ec: EdgeCluster, reason: string, message: string) => Promise<void>;
}

export const isMirrored = (ec: EdgeCluster) => ec.metadata.labels?.[ORIGIN_LABEL] === ORIGIN_CONFIGDB;
export const isRegistered = (ec: EdgeCluster, uuid: string) => ec.metadata.annotations?.[REGISTERED_ANNOTATION] === uuid;

export async function syncClusterEntry(deps: EntrySyncDeps, ec: EdgeCluster, uuid: string, clusterName: string): Promise<EntrySyncResult> {
  const { cdb } = deps;
  const app = App.EdgeClusterConfiguration;
  const current = await acs("read the cluster's ConfigDB entry", () => cdb.getEntry(app, uuid));

  if (!current) {
    if (isRegistered(ec, uuid) || isMirrored(ec)) {
      return {
        kind: "held", reason: Reason.EntryMissing,
        message: `the ConfigDB entry of this cluster (app ${app}, object ${uuid}) was deleted: this EdgeCluster will be deleted too unless the entry comes back`,
      };
    }
    // Applied with kubectl and not yet in the ConfigDB: register the object (its UUID is already recorded in
    // status), then create the entry only if nobody has meanwhile.
    // ACS's own Cluster Manager role may do neither: that needs the extra grants of
    // config/acs/cluster-manager-kubectl.yaml. Without them the cluster waits, ConfigDBSynced=False naming what is missing,
    // and is not retried on a timer (only a change of the EdgeCluster, or the periodic resync, looks again).
    const want = entryFromSpec(ec.spec, clusterName);
    try {
      const { created } = await acs("register the cluster object", () => cdb.createObject(Class.EdgeCluster, uuid),
        "CreateSpecificObject on class Edge cluster");
      if (created) crashPoint(AcsCrashPoint.AfterObject);
      await acs("write the cluster's ConfigDB entry", () => cdb.putEntry(app, uuid, want, { ifNoneMatch: "*" }));
    } catch (err) {
      if (err instanceof StallingError && err.reason === AcsFailureReason.PermissionDenied) {
        return {
          kind: "held", reason: AcsFailureReason.PermissionDenied,
          message: `${err.message}. ACS's Cluster Manager role cannot write clusters made with kubectl into the ConfigDB: an ACS administrator loads config/acs/cluster-manager-kubectl.yaml (see ACS-MODE.md), or create the cluster in the ACS admin UI`,
        };
      }
      if (!(err instanceof GenericError && err.cause instanceof AcsPreconditionFailedError)) throw err;
      return syncClusterEntry(deps, ec, uuid, clusterName);
    }
    await deps.event(ec, "EntryCreated", `created ConfigDB object ${uuid} (class Edge cluster) and its 'Edge cluster configuration' entry`);
    crashPoint(AcsCrashPoint.AfterEntry);
    ec = await markRegistered(deps.client, ec, uuid);
    return { kind: "synced", ec, entry: want, message: ownerMessage(ec, uuid) };
  }

  const parsed = parseClusterEntry(current.value);
  if ("problem" in parsed) {
    return { kind: "held", reason: Reason.InvalidEntry, message: `the ConfigDB entry of this cluster is invalid at ${parsed.problem}` };
  }
  let entry = parsed.entry;
  if (isMirrored(ec)) {
    if (entry.name !== clusterName) {
      return {
        kind: "held", reason: Reason.NameChangeRefused,
        message: `the ConfigDB entry renames cluster "${clusterName}" to "${entry.name}": a cluster cannot be renamed (its principals and Sparkplug group derive from the name); delete it and create a new one`,
      };
    }
    const ops = specPatchFromEntry(ec, entry);
    if (ops.length > 0) {
      ec = await deps.client.patch<EdgeCluster>(EdgeClusterType, ec.metadata.name, ec.metadata.namespace, ops, { type: "json" });
      await deps.event(ec, "SpecFromConfigDB", "spec updated from the ConfigDB entry (a cluster mirrored from the ConfigDB follows its entry)");
    }
  } else {
    const want = entryFromSpec(ec.spec, clusterName);
    if (!sameEntry(entry, want)) {
      await acs("update the cluster's ConfigDB entry", () => cdb.putEntry(app, uuid, want, current.etag ? { ifMatch: current.etag } : {}));
      await deps.event(ec, "EntryUpdated", "ConfigDB entry updated from spec (a cluster applied with kubectl owns its entry)");
      entry = want;
    }
  }
  if (!isRegistered(ec, uuid)) ec = await markRegistered(deps.client, ec, uuid);
  return { kind: "synced", ec, entry, message: ownerMessage(ec, uuid) };
}

function ownerMessage(ec: EdgeCluster, uuid: string): string {
  return isMirrored(ec)
    ? `in sync with ConfigDB entry ${uuid}; the entry owns the spec (edit the cluster in the ConfigDB)`
    : `in sync with ConfigDB entry ${uuid}; this EdgeCluster owns the spec (edits made in the ConfigDB are overwritten)`;
}

async function markRegistered(client: KubeClient, ec: EdgeCluster, uuid: string): Promise<EdgeCluster> {
  return client.patch<EdgeCluster>(EdgeClusterType, ec.metadata.name, ec.metadata.namespace,
    { metadata: { annotations: { [REGISTERED_ANNOTATION]: uuid } } });
}

/** One ConfigDB call, its failure classified once (acsFailure): refusals stall, outages back off. */
async function acs<T>(what: string, fn: () => Promise<T>, needs?: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AcsUnavailableError) throw new GenericError(Reason.ConfigDBUnavailable, `cannot ${what}: ${err.message}`, { cause: err });
    throw acsFailure(err, `cannot ${what}`, needs);
  }
}
