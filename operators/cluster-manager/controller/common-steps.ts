// The steps both modes share: the spec check, the cluster's identity, the name check, the bootstrap token and the
// final Provisioned record. Each has the Step signature (scope.ts) and touches only the status draft.
import { createHash, randomUUID } from "node:crypto";
import { ConditionType as T, Reason } from "../../api/conditions.js";
import { BOOTSTRAP_REQUEST_ANNOTATION, CLUSTER_UUID_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from "../../api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../../api/edgecluster.js";
import { setCondition } from "../../runtime/conditions.js";
import { StallingError } from "../../runtime/errors.js";
import { Core, objectKey, type KubeObject } from "../../runtime/kube.js";
import { ORIGIN_CONFIGDB, ORIGIN_LABEL } from "../acs/names.js";
import { bootstrapLink, issueBootstrapToken } from "../bootstrap-tokens.js";
import { CrashPoint, crashPoint } from "../crash-points.js";
import type { EdgeClusterControllerDeps } from "./edgecluster-controller.js";
import { ageOf, identityUuidOf, type IdentityIndex } from "./identity-index.js";
import { bootstrapSecretName, clusterNameOf } from "./names.js";
import { ownedBy, type ReconcileScope, type Step } from "./scope.js";

export const MAX_VALUES_BYTES = 256 * 1024;

/**
 * Chart values graft derives itself (embedded mode's chart template, acs-contract.md §3 for ACS's): spec.values may
 * not set them, since a silent override would leave status and repository disagreeing about the cluster.
 */
export const DERIVED_VALUES: Readonly<Record<string, string>> = {
  "cluster.name": "the cluster name (spec.name)",
  "cluster.uuid": "the cluster's UUID (status.uuid)",
  "cluster.sparkplugGroup": "the Sparkplug group (organisation prefix + cluster name)",
  "cluster.namespace": "the edge namespace (spec.namespace)",
  "central.url": "the central cluster-manager's URL (--external-url)",
  mode: "the mode graft runs in (--mode)",
};

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The first derived key spec.values would override (a parent that is not an object overrides all its children). */
export function derivedValueSetBy(values: Record<string, unknown> | undefined): string | undefined {
  if (!values) return undefined;
  for (const path of Object.keys(DERIVED_VALUES)) {
    const [top, child] = path.split(".") as [string, string | undefined];
    if (!(top in values)) continue;
    if (!child) return path;
    const parent = values[top];
    if (!isPlainObject(parent)) return top;
    if (child in parent) return path;
  }
  return undefined;
}

/** Refuses a spec that can never be provisioned as asked, before any side effect. */
export const checkSpec: Step = async ({ ec }) => {
  // Helm keeps a release in a Secret of at most 1 MiB on the edge: refuse values that could never be installed.
  const valuesSize = Buffer.byteLength(JSON.stringify(ec.spec.values ?? {}));
  if (valuesSize > MAX_VALUES_BYTES) {
    throw new StallingError(Reason.InvalidSpec, `spec.values is ${valuesSize} bytes as JSON: at most ${MAX_VALUES_BYTES} are accepted (Helm stores a release in a 1 MiB Secret on the edge)`);
  }
  const key = derivedValueSetBy(ec.spec.values);
  if (key) {
    const what = DERIVED_VALUES[key] ?? Object.entries(DERIVED_VALUES).filter(([k]) => k.startsWith(`${key}.`)).map(([k, v]) => `${k}: ${v}`).join("; ");
    throw new StallingError(Reason.ReservedValue,
      `spec.values sets "${key}", which graft derives itself (${what}): remove "${key}" from spec.values`);
  }
  return "continue";
};

// A fixed namespace for name-based (version 5) UUIDs derived from an EdgeCluster's metadata.uid.
const IDENTITY_NAMESPACE = Buffer.from("4b1f0c5e8d3a4e6f9a2b7c1d0e5f6a7b", "hex");

/**
 * The UUID an EdgeCluster without spec.uuid gets: derived from its metadata.uid, so a pass that crashes before
 * recording it in status finds the same UUID again (no second Secret or repository), and a re-created object gets a
 * new one.
 */
export function derivedClusterUuid(uid: string | undefined): string {
  if (!uid) return randomUUID();
  const h = createHash("sha1").update(IDENTITY_NAMESPACE).update(uid).digest().subarray(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export function identityStep(deps: EdgeClusterControllerDeps): Step {
  return async (scope) => {
    const { ec, status, scratch } = scope;
    const recorded = status.uuid;
    if (recorded && ec.spec.uuid && ec.spec.uuid !== recorded) {
      throw new StallingError(Reason.UUIDMismatch, `spec.uuid "${ec.spec.uuid}" differs from the UUID "${recorded}" this cluster was provisioned with: a cluster's UUID cannot change`);
    }
    const uuid = recorded ?? ec.spec.uuid ?? derivedClusterUuid(ec.metadata.uid);
    const clusterName = clusterNameOf(ec);
    if (!recorded) scope.note("IdentityAssigned", `cluster "${clusterName}" has UUID ${uuid}`);
    status.uuid = uuid;
    status.clusterName = clusterName;
    scratch.uuid = uuid;
    scratch.clusterName = clusterName;
    scratch.sparkplugGroup = `${deps.config.organisationPrefix}-${clusterName}`;
    // ACS mode: the ConfigDB entry written next must find this EdgeCluster holding its UUID.
    if (!recorded && deps.acs) await scope.flush();
    crashPoint(CrashPoint.AfterIdentity);
    return "continue";
  };
}

/** The oldest other EdgeCluster with the same name or UUID, if it is older than this one. */
export function olderRival(all: EdgeCluster[], ec: EdgeCluster, clusterName: string, uuid: string): EdgeCluster | undefined {
  const mine = ageOf(ec);
  return all
    .filter((o) => o.metadata.uid !== ec.metadata.uid && !o.metadata.deletionTimestamp)
    .filter((o) => clusterNameOf(o) === clusterName || identityUuidOf(o) === uuid)
    .map((o) => ({ o, age: ageOf(o) }))
    .filter((x) => x.age < mine)
    .sort((a, b) => (a.age < b.age ? -1 : 1))[0]?.o;
}

/** Says which of name and UUID collided with which cluster, and what the user can do about it. */
export function nameConflictMessage(ec: EdgeCluster, rival: EdgeCluster, clusterName: string, group: string, uuid: string): string {
  const other = `EdgeCluster "${objectKey(rival)}"`;
  const nameClash = clusterNameOf(rival) === clusterName;
  const uuidClash = (rival.status?.uuid ?? rival.spec.uuid) === uuid;
  // Mirrored from the ConfigDB (ACS mode): its entry owns the name, so the fix is made where the entry was made.
  if (nameClash && !uuidClash && ec.metadata.labels?.[ORIGIN_LABEL] === ORIGIN_CONFIGDB) {
    return `cluster name "${clusterName}" (Sparkplug group "${group}", from its ConfigDB entry) is already used by ConfigDB cluster ` +
      `${rival.status?.uuid ?? rival.spec.uuid} (${other}), which is older: a cluster's name cannot change once made, so delete ` +
      "this cluster in the ACS admin UI and create it again with another name, or delete the older one (this cluster is then set up)";
  }
  const nameSource = ec.spec.name ? "spec.name" : "metadata.name (spec.name is unset)";
  const parts: string[] = [];
  if (nameClash) parts.push(`cluster name "${clusterName}" (Sparkplug group "${group}", from ${nameSource})`);
  if (uuidClash) parts.push(`UUID ${uuid} (from spec.uuid)`);
  const fixes: string[] = [];
  if (nameClash) fixes.push(ec.spec.name ? "another spec.name" : "another metadata.name or a spec.name");
  if (uuidClash) fixes.push("no spec.uuid (one is derived) or an unused one");
  return `${parts.join(" and ")} ${parts.length > 1 ? "are" : "is"} already used by ${other}, which is older: ` +
    `neither can be changed on an existing EdgeCluster, so delete this one and create it again with ${fixes.join(" and ")}, ` +
    `or delete ${other} (this cluster is then provisioned)`;
}

export function nameCheckStep(identities: Pick<IdentityIndex, "sharing">): Step {
  return async ({ ec, scratch }) => {
    const rival = olderRival(identities.sharing(scratch.clusterName!, scratch.uuid!), ec, scratch.clusterName!, scratch.uuid!);
    if (rival) throw new StallingError(Reason.NameConflict, nameConflictMessage(ec, rival, scratch.clusterName!, scratch.sparkplugGroup!, scratch.uuid!));
    return "continue";
  };
}

/** Issues a one-time bootstrap command into the command Secret when the bootstrap-request annotation asks for one. */
export function bootstrapStep(deps: EdgeClusterControllerDeps, fieldManager: string): Step {
  return async (scope) => {
    const { ec, status } = scope;
    const request = ec.metadata.annotations?.[BOOTSTRAP_REQUEST_ANNOTATION];
    if (!request || request === status.bootstrap?.lastRequest) return "continue";
    status.bootstrap = await ownedBy(scope, T.BootstrapFailed, "cannot issue a bootstrap command", () =>
      issueBootstrap(deps, fieldManager, scope, request));
    scope.log.info({ request }, "issued a bootstrap token");
    return "continue";
  };
}

async function issueBootstrap(deps: EdgeClusterControllerDeps, fieldManager: string, scope: ReconcileScope, request: string) {
  const { client, config } = deps;
  const { ec, scratch } = scope;
  const ns = ec.metadata.namespace!;
  const uuid = scratch.uuid!;
  const { token, expiresAt } = await issueBootstrapToken(client, ns, scratch.credentialsSecret!, config.bootstrapTokenTtlMs);
  const { url, command } = bootstrapLink(config, uuid, token);
  const name = bootstrapSecretName(ec);
  await client.apply(Core.secrets, {
    metadata: {
      name, namespace: ns,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [CLUSTER_UUID_LABEL]: uuid },
      ownerReferences: [{ apiVersion: `${EdgeClusterType.group}/${EdgeClusterType.version}`, kind: EdgeClusterType.kind, name: ec.metadata.name, uid: ec.metadata.uid, controller: true }],
    },
    type: "Opaque",
    stringData: { command, url, expiresAt, request },
  } as KubeObject, fieldManager);
  scope.note("BootstrapTokenIssued", `one-time bootstrap command written to Secret "${name}" (key "command"), valid until ${expiresAt}`);
  return { lastRequest: request, commandSecret: name, tokenExpiresAt: expiresAt };
}

/** The last step of both modes: the status fields and Provisioned=True for this generation. */
export const provisionedStep: Step = async ({ ec, status, scratch }) => {
  status.uuid = scratch.uuid;
  status.clusterName = scratch.clusterName;
  status.sparkplugGroup = scratch.sparkplugGroup;
  status.repository = scratch.repository;
  status.commit = scratch.commit;
  status.fluxVersion = scratch.fluxVersion;
  status.credentialsSecret = scratch.credentialsSecret;
  status.conditions = setCondition(status.conditions, {
    type: T.Provisioned, status: "True", reason: Reason.Provisioned, message: scratch.provisionedMessage ?? "provisioned",
  }, ec.metadata.generation);
  return "continue";
};
