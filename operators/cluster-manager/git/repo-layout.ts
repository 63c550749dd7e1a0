import path from "node:path";

/**
 * Where repositories live in the data directory, shared by the store (writes) and the HTTP front end (reads):
 * `<dataDir>/repos/<cluster uuid>.git` and `<dataDir>/shared/<name>.git`, all bare, default branch `main`.
 */

export type RepoRef = { kind: "cluster"; uuid: string } | { kind: "shared"; name: string };

export const DEFAULT_BRANCH = "main";
export const BRANCH_REF = `refs/heads/${DEFAULT_BRANCH}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A DNS label: safe as a directory name and in a URL without escaping. */
const SHARED_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function isClusterUuid(value: string): boolean {
  return UUID.test(value);
}

export function isSharedRepoName(value: string): boolean {
  return SHARED_NAME.test(value);
}

/** Checks a reference and returns it in canonical form (lowercase UUID); throws on anything unsafe. */
export function canonicalRef(ref: RepoRef): RepoRef {
  if (ref.kind === "cluster") {
    const uuid = ref.uuid.toLowerCase();
    if (!isClusterUuid(uuid)) throw new Error(`invalid cluster uuid "${ref.uuid}": expected a UUID`);
    return { kind: "cluster", uuid };
  }
  if (!isSharedRepoName(ref.name)) {
    throw new Error(`invalid shared repository name "${ref.name}": expected a DNS label`);
  }
  return ref;
}

export function repoRoot(dataDir: string, kind: RepoRef["kind"]): string {
  return path.join(dataDir, kind === "cluster" ? "repos" : "shared");
}

export function repoId(ref: RepoRef): string {
  return ref.kind === "cluster" ? ref.uuid : ref.name;
}

/** The bare repository directory; the reference must already be canonical. */
export function repoDir(dataDir: string, ref: RepoRef): string {
  return path.join(repoRoot(dataDir, ref.kind), `${repoId(ref)}.git`);
}

export function describeRef(ref: RepoRef): string {
  return ref.kind === "cluster" ? `cluster repository "${ref.uuid}"` : `shared repository "${ref.name}"`;
}
