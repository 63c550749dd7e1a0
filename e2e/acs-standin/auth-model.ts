import { randomUUID } from "node:crypto";
import { isUuid } from "./http-util.js";

/**
 * The Auth service's state: grants (ACEs) and Kerberos identities of principals, with the statuses ACS answers:
 * a new grant 201, an identical one 200 (same UUID), the same principal/permission/target with another `plural`
 * 409; a Kerberos name held by another principal (or a principal that already has another name) 409.
 */

export interface GrantRecord {
  uuid: string;
  principal: string;
  permission: string;
  target: string;
  plural: boolean;
}

export class AuthModel {
  private readonly grants = new Map<string, GrantRecord>();
  private readonly kerberos = new Map<string, string>();
  private readonly listeners = new Set<() => void>();

  /** `rootUpn` passes every permission check, as the ACS root principal does. */
  constructor(readonly rootUpn: string) {}

  /** Calls `listener` after every change of grants or Kerberos identities. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  addGrant(body: unknown): { status: number; uuid?: string } {
    const grant = parseGrant(body);
    if (!grant) return { status: 422 };
    for (const g of this.grants.values()) {
      if (g.principal === grant.principal && g.permission === grant.permission && g.target === grant.target) {
        return g.plural === grant.plural ? { status: 200, uuid: g.uuid } : { status: 409 };
      }
    }
    const uuid = randomUUID();
    this.grants.set(uuid, { uuid, ...grant });
    this.changed();
    return { status: 201, uuid };
  }

  getGrant(uuid: string): GrantRecord | undefined {
    return this.grants.get(uuid);
  }

  listGrants(): GrantRecord[] {
    return [...this.grants.values()];
  }

  deleteGrant(uuid: string): number {
    if (!this.grants.delete(uuid)) return 404;
    this.changed();
    return 204;
  }

  /** UUIDs of grants matching every given field, or 422 for a malformed filter. */
  findGrants(filter: unknown): string[] | 422 {
    if (typeof filter !== "object" || filter === null || Array.isArray(filter)) return 422;
    const f = filter as Partial<Record<keyof GrantRecord, unknown>>;
    for (const key of ["principal", "permission", "target"] as const) {
      if (f[key] != null && !isUuid(f[key])) return 422;
    }
    if (f.plural != null && typeof f.plural !== "boolean") return 422;
    const matches = (got: unknown, want: unknown) => want == null || got === want;
    return this.listGrants()
      .filter((g) => matches(g.principal, f.principal) && matches(g.permission, f.permission)
        && matches(g.target, f.target) && matches(g.plural, f.plural))
      .map((g) => g.uuid);
  }

  setKerberos(principal: string, name: unknown): number {
    if (typeof name !== "string" || !/^[^@\s]+@[^@\s]+$/.test(name)) return 422;
    const current = this.kerberos.get(principal);
    if (current === name) return 204;
    if (current !== undefined || this.principalOf(name) !== undefined) return 409;
    this.kerberos.set(principal, name);
    this.changed();
    return 204;
  }

  getKerberos(principal: string): string | undefined {
    return this.kerberos.get(principal);
  }

  deleteKerberos(principal: string): number {
    if (!this.kerberos.delete(principal)) return 404;
    this.changed();
    return 204;
  }

  /** Every [principal, Kerberos name] pair. */
  identities(): Array<[string, string]> {
    return [...this.kerberos];
  }

  principalOf(upn: string): string | undefined {
    for (const [principal, name] of this.kerberos) if (name === upn) return principal;
    return undefined;
  }
}

function parseGrant(body: unknown): Omit<GrantRecord, "uuid"> | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const { principal, permission, target, plural } = body as Record<string, unknown>;
  if (!isUuid(principal) || !isUuid(permission) || !isUuid(target)) return undefined;
  if (plural !== undefined && typeof plural !== "boolean") return undefined;
  return { principal, permission, target, plural: plural ?? false };
}
