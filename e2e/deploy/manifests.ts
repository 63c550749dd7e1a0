// Checks over rendered Kubernetes manifests: every container hardened and observable (probes, requests and limits,
// the restricted security context), and no RBAC rule granting wildcards.
import { parseAllDocuments } from "yaml";

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** The objects of a multi-document YAML stream (empty documents dropped); throws on a YAML error. */
export function parseManifests(text: string): Manifest[] {
  const docs = parseAllDocuments(text);
  const out: Manifest[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as Manifest | null;
    if (value && typeof value === "object") out.push(value);
  }
  return out;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === "object" ? v as Obj : {});

/** The Pod spec inside a workload object, if it has one. */
export function podSpecOf(m: Manifest): Obj | undefined {
  const spec = obj(m.spec);
  switch (m.kind) {
    case "Pod": return spec;
    case "Deployment": case "StatefulSet": case "DaemonSet": case "ReplicaSet": case "Job":
      return obj(obj(spec.template).spec);
    case "CronJob": return obj(obj(obj(obj(spec.jobTemplate).spec).template).spec);
    default: return undefined;
  }
}

/**
 * Problems with the containers of every workload: each must have liveness and readiness probes (init containers
 * cannot have them), CPU and memory requests and limits, and effectively run as non-root with a read-only root
 * file system, no privilege escalation, all capabilities dropped and the RuntimeDefault seccomp profile.
 */
export function containerProblems(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const m of manifests) {
    const pod = podSpecOf(m);
    if (!pod) continue;
    const podSc = obj(pod.securityContext);
    const groups: [string, unknown][] = [["containers", pod.containers], ["initContainers", pod.initContainers]];
    if (!Array.isArray(pod.containers) || pod.containers.length === 0) problems.push(`${m.kind} "${m.metadata.name}": no containers`);
    for (const [field, list] of groups) {
      for (const c of (Array.isArray(list) ? list : []) as Obj[]) {
        const where = `${m.kind} "${m.metadata.name}" container "${String(c.name)}"`;
        const lack = (what: string) => problems.push(`${where}: ${what}`);
        if (field === "containers") {
          if (!c.livenessProbe) lack("no livenessProbe");
          if (!c.readinessProbe) lack("no readinessProbe");
        }
        const resources = obj(c.resources);
        for (const kind of ["requests", "limits"] as const) {
          for (const r of ["cpu", "memory"]) {
            if (obj(resources[kind])[r] === undefined) lack(`no resources.${kind}.${r}`);
          }
        }
        const sc = obj(c.securityContext);
        const effective = (key: string) => (sc[key] !== undefined ? sc[key] : podSc[key]);
        if (effective("runAsNonRoot") !== true) lack("runAsNonRoot is not true");
        if (sc.readOnlyRootFilesystem !== true) lack("readOnlyRootFilesystem is not true");
        if (sc.allowPrivilegeEscalation !== false) lack("allowPrivilegeEscalation is not false");
        if (sc.privileged === true) lack("privileged");
        const drop = obj(sc.capabilities).drop;
        if (!Array.isArray(drop) || !drop.includes("ALL")) lack("capabilities.drop does not include ALL");
        if (obj(sc.capabilities).add !== undefined) lack("adds capabilities");
        if (obj(effective("seccompProfile")).type !== "RuntimeDefault") lack("seccompProfile.type is not RuntimeDefault");
      }
    }
    for (const hostField of ["hostNetwork", "hostPID", "hostIPC"]) {
      if (pod[hostField] === true) problems.push(`${m.kind} "${m.metadata.name}": ${hostField}`);
    }
  }
  return problems;
}

/** Containers of workloads that take a Secret into an environment variable (secretKeyRef, or envFrom a Secret). */
export function secretEnvProblems(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const m of manifests) {
    const pod = podSpecOf(m);
    if (!pod) continue;
    for (const c of [...(Array.isArray(pod.containers) ? pod.containers : []), ...(Array.isArray(pod.initContainers) ? pod.initContainers : [])] as Obj[]) {
      const where = `${m.kind} "${m.metadata.name}" container "${String(c.name)}"`;
      for (const e of (Array.isArray(c.env) ? c.env : []) as Obj[]) {
        if (obj(obj(e.valueFrom).secretKeyRef).name !== undefined) problems.push(`${where}: env ${String(e.name)} from a Secret`);
      }
      for (const e of (Array.isArray(c.envFrom) ? c.envFrom : []) as Obj[]) {
        if (e.secretRef !== undefined) problems.push(`${where}: envFrom Secret "${String(obj(e.secretRef).name)}"`);
      }
    }
  }
  return problems;
}

/** RBAC rules that grant `*` verbs, resources or API groups. */
export function wildcardRules(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const m of manifests) {
    if (m.kind !== "Role" && m.kind !== "ClusterRole") continue;
    for (const rule of (Array.isArray(m.rules) ? m.rules : []) as Obj[]) {
      for (const key of ["verbs", "resources", "apiGroups"]) {
        if (Array.isArray(rule[key]) && (rule[key] as unknown[]).includes("*")) {
          problems.push(`${m.kind} "${m.metadata.name}": ${key} "*"`);
        }
      }
    }
  }
  return problems;
}
