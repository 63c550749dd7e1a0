// Checks a KerberosKey's spec beyond what the CRD enforces and resolves it for the handlers. Anything only a spec
// change can fix becomes a StallingError with a message naming the field.
import { kerberosKeySpec, KerberosKeyReason as Reason, KeyType, type KerberosKey, type KerberosKeySpec } from "../api/kerberoskey.js";
import { qualifyPrincipal } from "../kerberos/principal.js";
import { StallingError, messageOf } from "../runtime/errors.js";

export interface ResolvedKey {
  spec: KerberosKeySpec;
  /** spec.principal first, then the additional principals, each with the realm, without repeats. */
  principals: string[];
  secret?: { name: string; key: string };
}

const NEEDS_SECRET: string[] = [KeyType.Random, KeyType.Password, KeyType.PresetPassword];

export function resolveKey(kk: KerberosKey, realm: string): ResolvedKey {
  const parsed = kerberosKeySpec.safeParse(kk.spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new StallingError(Reason.InvalidSpec, `spec.${issue.path.join(".")} is invalid: ${issue.message}`);
  }
  const spec = parsed.data;
  if (spec.type === KeyType.Trust || spec.type === KeyType.PresetTrust) {
    throw new StallingError(Reason.Unsupported, `type "${spec.type}" (cross-realm trust keys) is not supported by graft's krbkeys: manage trust principals on the KDC`);
  }
  if (spec.sealWith !== undefined || spec.cluster !== undefined) {
    throw new StallingError(Reason.Unsupported,
      `spec.${spec.sealWith !== undefined ? "sealWith" : "cluster"} is not supported by graft's krbkeys: it writes a plain Secret in this namespace; remove the field`);
  }
  if (NEEDS_SECRET.includes(spec.type) && !spec.secret) {
    throw new StallingError(Reason.InvalidSpec, `spec.secret is required for type "${spec.type}": name the Secret and key as '<secret>/<key>' (ACS's default secrets are not supported)`);
  }
  const extra = spec.additionalPrincipals ?? [];
  if (extra.length > 0 && spec.type !== KeyType.Random && spec.type !== KeyType.Disabled) {
    throw new StallingError(Reason.InvalidSpec, `spec.additionalPrincipals needs type Random or Disabled (a password belongs to one principal)`);
  }
  if (spec.keepOldKeys && spec.type !== KeyType.Random && spec.type !== KeyType.Disabled) {
    throw new StallingError(Reason.InvalidSpec, `spec.keepOldKeys needs type Random (only a keytab can hold old keys)`);
  }
  const principals: string[] = [];
  for (const name of [spec.principal, ...extra]) {
    let p: string;
    try {
      p = qualifyPrincipal(name, realm);
    } catch (err) {
      throw new StallingError(Reason.InvalidSpec, `${messageOf(err)} (this operator manages realm "${realm}")`);
    }
    if (!principals.includes(p)) principals.push(p);
  }
  const [name, key] = spec.secret ? spec.secret.split("/") : [];
  return { spec, principals, secret: name && key ? { name, key } : undefined };
}
