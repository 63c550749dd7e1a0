import type { AuthModel } from "./auth-model.js";
import { AcsTarget } from "./acs-uuids.js";
import type { ConfigDbModel } from "./configdb-model.js";

/**
 * ACS's permission check (acs-contract.md §7): the caller holds a permission on a target when a grant to the
 * caller's principal — or to a group the principal is in, at any depth — names that permission and either the target
 * itself, the Null UUID (any target), Mine (an object whose registration owner is the caller), or, when plural, a
 * class or group the target belongs to (members of its subclasses included). The stand-in's root principal passes
 * every check. Grants and group memberships are data: loaded dumps, the installer's grants, and whatever callers with
 * the rights to do so add.
 */
export class AccessControl {
  /** Every check made, for tests that want to see what a refusal was about. */
  readonly refusals: Array<{ upn: string; permission: string; target: string }> = [];

  constructor(private readonly auth: AuthModel, private readonly configdb: ConfigDbModel) {}

  /** The caller's ACS principal UUID, or undefined when its Kerberos name maps to none. */
  principalOf(upn: string): string | undefined {
    return this.auth.principalOf(upn);
  }

  isRoot(upn: string): boolean {
    return upn === this.auth.rootUpn;
  }

  permitted(upn: string, permission: string, target: string): boolean {
    if (this.isRoot(upn)) return true;
    const principal = this.principalOf(upn);
    const ok = principal !== undefined && this.holds(principal, permission, target);
    if (!ok) this.refusals.push({ upn, permission, target });
    return ok;
  }

  /** Whether the principal (not a Kerberos name) holds the permission on the target. */
  holds(principal: string, permission: string, target: string): boolean {
    const holders = new Set([principal, ...this.configdb.containersOf(principal)]);
    const containers = this.configdb.containersOf(target);
    return this.auth.listGrants().some((g) => holders.has(g.principal) && g.permission === permission && (
      g.target === target || g.target === AcsTarget.Null
      || (g.target === AcsTarget.Mine && this.configdb.ownerOf(target) === principal)
      || (g.plural && containers.has(g.target))));
  }

  /** The effective grants of a principal ({permission, target} with groups expanded), as `GET /v2/acl` answers. */
  effectiveAcl(principal: string): Array<{ permission: string; target: string }> {
    const holders = new Set([principal, ...this.configdb.containersOf(principal)]);
    const seen = new Set<string>();
    const acl: Array<{ permission: string; target: string }> = [];
    for (const g of this.auth.listGrants()) {
      if (!holders.has(g.principal)) continue;
      const targets = g.plural ? this.configdb.allMembersOf(g.target) : [g.target];
      for (const target of targets) {
        const key = `${g.permission}/${target}`;
        if (seen.has(key)) continue;
        seen.add(key);
        acl.push({ permission: g.permission, target });
      }
    }
    return acl;
  }
}
