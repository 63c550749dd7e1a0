// Kerberos principal names as graft uses them: checked strictly, so a name can never smuggle extra words or
// options into a kadmin query.

/** One name component: letters, digits, dot, underscore, hyphen; not starting with a hyphen. */
const COMPONENT = "[A-Za-z0-9_.][A-Za-z0-9_.-]*";
const REALM = "[A-Za-z0-9][A-Za-z0-9_.-]*";
const PRINCIPAL_RE = new RegExp(`^${COMPONENT}(/${COMPONENT})*(@${REALM})?$`);
const REALM_RE = new RegExp(`^${REALM}$`);

export function assertRealm(realm: string): void {
  if (!REALM_RE.test(realm)) throw new Error(`invalid Kerberos realm "${realm}": use letters, digits, ".", "_" and "-"`);
}

/** Checks a principal name (with or without realm) and returns it with the realm, e.g. `op1flux/c1@EXAMPLE.COM`. */
export function qualifyPrincipal(name: string, realm: string): string {
  assertRealm(realm);
  if (!PRINCIPAL_RE.test(name)) {
    throw new Error(`invalid Kerberos principal "${name}": use components of letters, digits, ".", "_" and "-" separated by "/"`);
  }
  const at = name.indexOf("@");
  if (at === -1) return `${name}@${realm}`;
  if (name.slice(at + 1) !== realm) throw new Error(`principal "${name}" is not in realm "${realm}"`);
  return name;
}

/** The realm part of a qualified principal, or undefined. */
export function realmOf(principal: string): string | undefined {
  const at = principal.indexOf("@");
  return at === -1 ? undefined : principal.slice(at + 1);
}

/** The principals graft enrols for an edge cluster (acs-contract §1, §5). */
export function edgePrincipal(role: "krbkeys" | "flux", cluster: string, realm: string): string {
  return qualifyPrincipal(`op1${role}/${cluster}`, realm);
}
