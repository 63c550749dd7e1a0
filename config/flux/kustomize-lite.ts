// A deliberately small reading of kustomize: just the features the Flux install manifests use (resources,
// namespace, nameSuffix, images, LabelTransformer, JSON 6902 and strategic-merge patches without lists, legacy
// output order). Anything else in a kustomization.yaml is an error, so an upstream change cannot slip through
// silently; there is no kustomize binary to fall back on here.
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";

export type Resource = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> } & Record<string, unknown>;
};

/** Turns a remote resource URL of a kustomization into the resources it stands for. */
export type RemoteResolver = (url: string) => Resource[];

interface FieldSpec {
  path: string;
  create?: boolean;
  kind?: string;
}
interface PatchTarget {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
}
interface PatchEntry {
  path?: string;
  patch?: string;
  target?: PatchTarget;
}
interface ImageEntry {
  name: string;
  newName?: string;
  newTag?: string;
}

const KNOWN_FIELDS = new Set([
  "apiVersion",
  "kind",
  "namespace",
  "nameSuffix",
  "resources",
  "transformers",
  "patches",
  "images",
]);

// Kinds the namespace transformer leaves alone because the API server has them cluster-scoped.
const CLUSTER_SCOPED = new Set([
  "Namespace",
  "CustomResourceDefinition",
  "ClusterRole",
  "ClusterRoleBinding",
  "PriorityClass",
  "StorageClass",
  "PersistentVolume",
  "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration",
  "APIService",
]);

// kustomize's legacy output order (the default of `kustomize build` and of Flux's own builder).
const ORDER_FIRST = [
  "Namespace",
  "ResourceQuota",
  "StorageClass",
  "CustomResourceDefinition",
  "ServiceAccount",
  "PodSecurityPolicy",
  "Role",
  "ClusterRole",
  "RoleBinding",
  "ClusterRoleBinding",
  "ConfigMap",
  "Secret",
  "Endpoints",
  "Service",
  "LimitRange",
  "PriorityClass",
  "PersistentVolume",
  "PersistentVolumeClaim",
  "Deployment",
  "StatefulSet",
  "CronJob",
  "PodDisruptionBudget",
];
const ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

export function readYamlFile(file: string): unknown[] {
  return parseYamlDocuments(readFileSync(file, "utf8"), file);
}

export function parseYamlDocuments(text: string, source: string): unknown[] {
  const docs = parseAllDocuments(text);
  const values: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`cannot parse '${source}': ${doc.errors[0]?.message}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

function asResource(value: unknown, source: string): Resource {
  const r = value as Partial<Resource> | null;
  if (!r || typeof r !== "object" || typeof r.kind !== "string" || typeof r.apiVersion !== "string" || !r.metadata) {
    throw new Error(`'${source}' holds a document that is not a Kubernetes object`);
  }
  return r as Resource;
}

export function readResources(file: string): Resource[] {
  return readYamlFile(file).map((doc) => asResource(doc, file));
}

/** Builds the kustomization in `dir` (resolving remote URLs with `remote`) without sorting the result. */
export function buildUnsorted(dir: string, remote: RemoteResolver): Resource[] {
  const kfile = path.join(dir, "kustomization.yaml");
  if (!existsSync(kfile)) throw new Error(`no 'kustomization.yaml' in '${dir}'`);
  const [k] = readYamlFile(kfile) as Record<string, unknown>[];
  if (!k) throw new Error(`'${kfile}' is empty`);
  for (const key of Object.keys(k)) {
    if (!KNOWN_FIELDS.has(key)) throw new Error(`'${kfile}': unsupported kustomization field '${key}'`);
  }

  let resources: Resource[] = [];
  for (const entry of (k.resources as string[] | undefined) ?? []) {
    if (/^https?:\/\//.test(entry)) {
      resources.push(...remote(entry));
      continue;
    }
    const target = path.join(dir, entry);
    if (statSync(target).isDirectory()) resources.push(...buildUnsorted(target, remote));
    else resources.push(...readResources(target));
  }
  resources = resources.map((r) => structuredClone(r));

  // Same order as kustomize's built-in transformers: patches, namespace, suffix, images; then `transformers:`.
  for (const entry of (k.patches as PatchEntry[] | undefined) ?? []) applyPatchEntry(resources, entry, dir, kfile);
  if (typeof k.namespace === "string") setNamespace(resources, k.namespace);
  if (typeof k.nameSuffix === "string") addNameSuffix(resources, k.nameSuffix);
  for (const image of (k.images as ImageEntry[] | undefined) ?? []) setImage(resources, image);
  for (const file of (k.transformers as string[] | undefined) ?? []) {
    for (const t of readYamlFile(path.join(dir, file)) as Record<string, unknown>[]) {
      if (t.kind !== "LabelTransformer") throw new Error(`'${file}': unsupported transformer kind '${String(t.kind)}'`);
      addLabels(resources, t.labels as Record<string, string>, t.fieldSpecs as FieldSpec[]);
    }
  }
  return resources;
}

/** Builds and sorts the kustomization in `dir` the way `kustomize build` does by default. */
export function build(dir: string, remote: RemoteResolver): Resource[] {
  return sortLegacy(buildUnsorted(dir, remote));
}

function kindRank(kind: string): number {
  const first = ORDER_FIRST.indexOf(kind);
  if (first >= 0) return first - ORDER_FIRST.length;
  const last = ORDER_LAST.indexOf(kind);
  return last >= 0 ? 1 + last : 0;
}

function gvkString(r: Resource): string {
  const [group, version] = r.apiVersion.includes("/") ? r.apiVersion.split("/") : ["", r.apiVersion];
  return `${group ?? ""}_${version ?? ""}_${r.kind}`;
}

export function sortLegacy(resources: Resource[]): Resource[] {
  const key = (r: Resource) => `${r.metadata.namespace ?? ""}|${r.metadata.name}`;
  return [...resources].sort((a, b) => {
    const rank = kindRank(a.kind) - kindRank(b.kind);
    if (rank !== 0) return rank;
    if (gvkString(a) !== gvkString(b)) return gvkString(a) < gvkString(b) ? -1 : 1;
    return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
  });
}

function matchesTarget(r: Resource, target: PatchTarget | undefined): boolean {
  if (!target) return false;
  const [group, version] = r.apiVersion.includes("/") ? r.apiVersion.split("/") : ["", r.apiVersion];
  if (target.group !== undefined && target.group !== group) return false;
  if (target.version !== undefined && target.version !== version) return false;
  if (target.kind !== undefined && target.kind !== r.kind) return false;
  if (target.name !== undefined && !new RegExp(`^(?:${target.name})$`).test(r.metadata.name)) return false;
  return true;
}

function applyPatchEntry(resources: Resource[], entry: PatchEntry, dir: string, kfile: string): void {
  const text = entry.path !== undefined ? readFileSync(path.join(dir, entry.path), "utf8") : entry.patch;
  if (text === undefined) throw new Error(`'${kfile}': a patch has neither 'path' nor 'patch'`);
  const [patch] = parseYamlDocuments(text, entry.path ?? kfile);
  const targets = resources.filter((r) => matchesTarget(r, entry.target));
  if (targets.length === 0) throw new Error(`'${kfile}': patch target ${JSON.stringify(entry.target)} matched nothing`);
  for (const r of targets) {
    if (Array.isArray(patch)) applyJson6902(r, patch as JsonPatchOp[]);
    else mergeWithoutLists(r, patch as Record<string, unknown>, ["metadata"]);
  }
}

interface JsonPatchOp {
  op: string;
  path: string;
  value?: unknown;
}

function pointerTokens(pointer: string): string[] {
  return pointer
    .split("/")
    .slice(1)
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

export function applyJson6902(doc: Record<string, unknown>, ops: JsonPatchOp[]): void {
  for (const { op, path: pointer, value } of ops) {
    const tokens = pointerTokens(pointer);
    const last = tokens.pop();
    if (last === undefined) throw new Error(`json patch: empty path in '${op}'`);
    let parent: unknown = doc;
    for (const t of tokens) {
      parent = Array.isArray(parent) ? parent[Number(t)] : (parent as Record<string, unknown> | undefined)?.[t];
      if (parent === undefined || parent === null) throw new Error(`json patch: path '${pointer}' does not exist`);
    }
    const copy = structuredClone(value);
    if (Array.isArray(parent)) {
      const index = last === "-" ? parent.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.length) {
        throw new Error(`json patch: bad index in '${pointer}'`);
      }
      if (op === "add") parent.splice(index, 0, copy);
      else if (op === "replace" && index < parent.length) parent[index] = copy;
      else if (op === "remove" && index < parent.length) parent.splice(index, 1);
      else throw new Error(`json patch: cannot '${op}' at '${pointer}'`);
    } else {
      const obj = parent as Record<string, unknown>;
      if (op === "add") obj[last] = copy;
      else if (op === "replace" && last in obj) obj[last] = copy;
      else if (op === "remove" && last in obj) delete obj[last];
      else throw new Error(`json patch: cannot '${op}' at '${pointer}'`);
    }
  }
}

// A strategic-merge patch made only of maps is a plain recursive merge; lists would need the merge keys of the
// Kubernetes schema, so they are refused rather than guessed.
function mergeWithoutLists(target: Record<string, unknown>, patch: Record<string, unknown>, skip: string[]): void {
  for (const [key, value] of Object.entries(patch)) {
    if (skip.includes(key) || key === "apiVersion" || key === "kind") continue;
    if (Array.isArray(value)) throw new Error(`strategic merge patch: lists are not supported (field '${key}')`);
    if (value !== null && typeof value === "object") {
      const current = target[key];
      const child = current !== null && typeof current === "object" && !Array.isArray(current) ? current : {};
      target[key] = child;
      mergeWithoutLists(child as Record<string, unknown>, value as Record<string, unknown>, []);
    } else if (value === null) {
      delete target[key];
    } else {
      target[key] = value;
    }
  }
}

function setNamespace(resources: Resource[], namespace: string): void {
  for (const r of resources) {
    if (!CLUSTER_SCOPED.has(r.kind)) r.metadata.namespace = namespace;
    if (r.kind === "RoleBinding" || r.kind === "ClusterRoleBinding") {
      // kustomize's default: only ServiceAccount subjects named "default" follow the namespace.
      for (const s of (r.subjects as { kind: string; name: string; namespace?: string }[] | undefined) ?? []) {
        if (s.kind === "ServiceAccount" && s.name === "default") s.namespace = namespace;
      }
    }
  }
}

function addNameSuffix(resources: Resource[], suffix: string): void {
  const renamed = new Map<string, string>();
  for (const r of resources) {
    if (r.kind === "CustomResourceDefinition" || r.kind === "Namespace") continue;
    renamed.set(`${r.kind}/${r.metadata.name}`, r.metadata.name + suffix);
    r.metadata.name += suffix;
  }
  // Name references: role bindings follow the roles renamed alongside them.
  for (const r of resources) {
    const roleRef = r.roleRef as { kind: string; name: string } | undefined;
    if (roleRef) roleRef.name = renamed.get(`${roleRef.kind}/${roleRef.name}`) ?? roleRef.name;
  }
}

function splitImage(image: string): { name: string; tag: string } {
  const at = image.indexOf("@");
  const colon = image.lastIndexOf(":");
  if (at >= 0) return { name: image.slice(0, at), tag: image.slice(at) };
  if (colon > image.lastIndexOf("/")) return { name: image.slice(0, colon), tag: image.slice(colon) };
  return { name: image, tag: "" };
}

function setImage(resources: Resource[], entry: ImageEntry): void {
  for (const r of resources) {
    const pod = (r.spec as { template?: { spec?: Record<string, unknown> } } | undefined)?.template?.spec;
    if (!pod) continue;
    for (const field of ["containers", "initContainers"]) {
      for (const c of (pod[field] as { image?: string }[] | undefined) ?? []) {
        if (!c.image) continue;
        const { name, tag } = splitImage(c.image);
        if (name !== entry.name) continue;
        c.image = (entry.newName ?? name) + (entry.newTag !== undefined ? `:${entry.newTag}` : tag);
      }
    }
  }
}

function addLabels(resources: Resource[], labels: Record<string, string>, fieldSpecs: FieldSpec[]): void {
  const sortedKeys = Object.keys(labels).sort();
  for (const r of resources) {
    for (const spec of fieldSpecs) {
      if (spec.kind !== undefined && spec.kind !== r.kind) continue;
      let node: Record<string, unknown> = r;
      const parts = spec.path.split("/");
      let reachable = true;
      for (const part of parts) {
        const next = node[part];
        if (next === undefined || next === null) {
          if (!spec.create) {
            reachable = false;
            break;
          }
          node[part] = {};
        }
        node = node[part] as Record<string, unknown>;
      }
      if (!reachable) continue;
      for (const key of sortedKeys) node[key] = labels[key];
    }
  }
}
