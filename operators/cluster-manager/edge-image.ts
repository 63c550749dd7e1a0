// The image graft's edge components run (edge-sync, edge-monitor, krbkeys), as the edge chart's `image` values: a
// site that moves graft's image to its own registry sets it once (config/manager's EDGE_IMAGE, which kustomize's image
// setting rewrites with the manager's), and every embedded-mode cluster's HelmRelease names it.

/** The edge chart's `image` values (config/edge-cluster/values.yaml): a tag, a digest, or both. */
export interface ChartImage {
  repository: string;
  tag?: string;
  digest?: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** `repository[:tag][@sha256:<hex>]` as chart values; throws saying what is wrong with the reference. */
export function chartImage(reference: string): ChartImage {
  const fail = (why: string) => new Error(`the edge image "${reference}" ${why}: write <repository>:<tag> or <repository>@sha256:<64 hex digits>`);
  const [named, digest, more] = reference.split("@");
  if (more !== undefined) throw fail("has more than one @");
  if (digest !== undefined && !DIGEST.test(digest)) throw fail("has a digest that is not sha256:<64 lowercase hex digits>");
  // A colon after the last slash starts the tag; one before it belongs to a registry's port.
  const colon = named!.lastIndexOf(":");
  const hasTag = colon > named!.lastIndexOf("/");
  const repository = hasTag ? named!.slice(0, colon) : named!;
  const tag = hasTag ? named!.slice(colon + 1) : undefined;
  if (!/^[a-z0-9][a-z0-9._:/-]*$/.test(repository) || repository.endsWith("/")) throw fail("does not name a repository (lowercase, no spaces)");
  if (tag !== undefined && !TAG.test(tag)) throw fail(`has the tag "${tag}", which is not a valid tag`);
  return { repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}
