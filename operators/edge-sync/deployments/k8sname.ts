// Kubernetes object names as ACS's edge-sync makes them (acs-contract.md §10), so graft names the HelmReleases and
// GitRepositories it applies exactly as ACS did and adopts them instead of creating duplicates.

/** Joins the parts with "-", lower-cases, turns each run of characters outside [a-z0-9-] into "-", trims one "-" each end. */
export function k8sname(...parts: string[]): string {
  return parts.join("-").toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-/, "").replace(/-$/, "");
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Why a name cannot be an object name, or undefined when it can. */
export function objectNameProblem(name: string): string | undefined {
  if (name === "") return "the name is empty";
  if (name.length > 253) return `"${name}" is longer than 253 characters`;
  if (!DNS_SUBDOMAIN.test(name)) return `"${name}" is not a valid Kubernetes object name`;
  return undefined;
}
