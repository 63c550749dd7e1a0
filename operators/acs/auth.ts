import { AcsProtocolError } from "./errors.js";
import type { ServiceClient } from "./service-client.js";

/**
 * Auth service v2 client (acs-contract.md §3): grants (principal, permission, target, plural), Kerberos identities
 * of principals, and whoami.
 */

export interface Grant {
  principal: string;
  permission: string;
  target: string;
  /** The target is a group: the grant covers its members. */
  plural: boolean;
}

export interface StoredGrant extends Grant {
  uuid: string;
}

/** Any subset of a grant's fields; absent fields match anything. */
export type GrantFilter = Partial<Grant>;

export interface WhoAmI {
  uuid: string;
  kerberos?: string;
  [kind: string]: string | undefined;
}

export class AuthClient {
  constructor(private readonly http: ServiceClient) {}

  /**
   * Adds a grant and resolves its UUID. An identical grant is not duplicated: its UUID is returned (created=false).
   * A grant differing only in `plural` is a conflict (AcsHttpError 409).
   */
  async addGrant(grant: Grant): Promise<{ uuid: string; created: boolean }> {
    const res = await this.http.request({ method: "POST", path: "v2/grant", json: grantBody(grant), accept: [200, 201] });
    const uuid = res.json<{ uuid?: unknown }>()?.uuid;
    if (typeof uuid !== "string") throw new AcsProtocolError(this.http.service, "POST", "/v2/grant", "answer has no grant uuid");
    return { uuid, created: res.status === 201 };
  }

  /** The grant, or null if there is none. */
  async getGrant(uuid: string): Promise<StoredGrant | null> {
    const res = await this.http.request({ method: "GET", path: `v2/grant/${seg(uuid)}`, accept: [200, 404] });
    return res.status === 404 ? null : res.json<StoredGrant>();
  }

  /** UUIDs of the grants matching every given field. */
  async findGrants(filter: GrantFilter): Promise<string[]> {
    const res = await this.http.request({ method: "POST", path: "v2/grant/find", json: filter, accept: [200] });
    const list = res.json<unknown>();
    if (!Array.isArray(list) || !list.every((u) => typeof u === "string")) {
      throw new AcsProtocolError(this.http.service, "POST", "/v2/grant/find", "expected an array of grant UUIDs");
    }
    return list;
  }

  /** Deletes a grant: true if it existed, false if not. */
  async deleteGrant(uuid: string): Promise<boolean> {
    const res = await this.http.request({ method: "DELETE", path: `v2/grant/${seg(uuid)}`, accept: [204, 404] });
    return res.status === 204;
  }

  /**
   * Maps a Kerberos principal name (e.g. `op1flux/line-a@REALM`) to an ACS principal. Setting the mapping it
   * already has succeeds; a name held by another principal is a conflict (AcsHttpError 409).
   */
  async setKerberos(principal: string, krbPrincipal: string): Promise<void> {
    await this.http.request({ method: "PUT", path: kerberosPath(principal), json: krbPrincipal, accept: [204] });
  }

  /** The principal's Kerberos name, or null if it has none. */
  async getKerberos(principal: string): Promise<string | null> {
    const res = await this.http.request({ method: "GET", path: kerberosPath(principal), accept: [200, 404] });
    if (res.status === 404) return null;
    const name = res.json<unknown>();
    if (typeof name !== "string") {
      throw new AcsProtocolError(this.http.service, "GET", `/${kerberosPath(principal)}`, "expected a JSON string");
    }
    return name;
  }

  /** Removes the principal's Kerberos mapping: true if it had one, false if not. */
  async deleteKerberos(principal: string): Promise<boolean> {
    const res = await this.http.request({ method: "DELETE", path: kerberosPath(principal), accept: [204, 404] });
    return res.status === 204;
  }

  /** The principal UUID a Kerberos name maps to, or null. */
  async findPrincipalByKerberos(krbPrincipal: string): Promise<string | null> {
    const path = `v2/identity/kerberos/${seg(krbPrincipal)}`;
    const res = await this.http.request({ method: "GET", path, accept: [200, 404] });
    if (res.status === 404) return null;
    const uuid = res.json<unknown>();
    if (typeof uuid !== "string") throw new AcsProtocolError(this.http.service, "GET", `/${path}`, "expected a JSON string");
    return uuid;
  }

  /** A principal's effective ACL (groups expanded), limited to the permissions the caller may read. */
  async acl(principal: string): Promise<Array<{ permission: string; target: string }>> {
    const path = `v2/acl/${seg(principal)}`;
    const list = (await this.http.request({ method: "GET", path, accept: [200] })).json<unknown>();
    if (!Array.isArray(list) || !list.every((a) => typeof a?.permission === "string" && typeof a?.target === "string")) {
      throw new AcsProtocolError(this.http.service, "GET", `/${path}`, "expected an array of {permission, target}");
    }
    return list as Array<{ permission: string; target: string }>;
  }

  /**
   * The effective ACL of the ACS principal a Kerberos name maps to (limited as acl() is), or null when the name maps
   * to none: how an ACS service resolves a caller that logged in with Negotiate.
   */
  async aclByKerberos(krbPrincipal: string): Promise<Array<{ permission: string; target: string }> | null> {
    const path = `v2/acl/kerberos/${seg(krbPrincipal)}`;
    const res = await this.http.request({ method: "GET", path, accept: [200, 404] });
    if (res.status === 404) return null;
    const list = res.json<unknown>();
    if (!Array.isArray(list) || !list.every((a) => typeof a?.permission === "string" && typeof a?.target === "string")) {
      throw new AcsProtocolError(this.http.service, "GET", `/${path}`, "expected an array of {permission, target}");
    }
    return list as Array<{ permission: string; target: string }>;
  }

  /** The identities of the logged-in principal (404 → AcsHttpError when it has no ACS principal). */
  async whoami(): Promise<WhoAmI> {
    const res = await this.http.request({ method: "GET", path: "v2/whoami", accept: [200] });
    const me = res.json<WhoAmI>();
    if (typeof me?.uuid !== "string") throw new AcsProtocolError(this.http.service, "GET", "/v2/whoami", "answer has no uuid");
    return me;
  }
}

function grantBody(grant: Grant): Grant {
  return { principal: grant.principal, permission: grant.permission, target: grant.target, plural: grant.plural };
}

function kerberosPath(principal: string): string {
  return `v2/principal/${seg(principal)}/kerberos`;
}

function seg(part: string): string {
  return encodeURIComponent(part);
}
