// When a KerberosKey's spec.secret moves to another Secret, the Secret it used before holds a credential the KDC no
// longer accepts. krbkeys deletes that Secret once the key's new Secret is written, but only when it is sure the
// Secret is its own and nothing else lives in it:
// - krbkeys created it for this very KerberosKey: the CREATED_FOR annotation, set only when SecretSlot creates a
//   Secret (never on a Secret enrolment, a person or another tool made, nor on one handed over by labelling it), names
//   this key, and the managed-by label is still krbkeys';
// - no other KerberosKey in the namespace names the Secret in spec.secret;
// - it holds no data key but the one this key wrote.
// The delete is conditional on the Secret's uid and resourceVersion, so a write racing it (a new key stored there)
// makes it fail and the next pass looks again. The previous Secret is known from status.secretRef, which moves only
// after this step: a crash before the delete finds the old Secret again, a crash after it finds nothing to delete.
import { KerberosKeyType, KeyType, type KerberosKey } from "../api/kerberoskey.js";
import { isOwned, readSecret, type SecretObject } from "../enrol/secrets.js";
import { Core, type KubeObject } from "../runtime/kube.js";
import { isNotFound, statusOf, type KubeClient } from "../runtime/rest.js";
import type { KeyEvent } from "./key-context.js";
import type { ResolvedKey } from "./key-spec.js";

/** On a Secret krbkeys created: the name of the KerberosKey it was created for. */
export const CREATED_FOR_ANNOTATION = "krbkeys.factoryplus.app.amrc.co.uk/created-for";

export interface SecretRef {
  name: string;
  key: string;
}

/** Why the Secret may not be deleted, or undefined when it may. */
function keepReason(secret: SecretObject, previous: SecretRef, keyName: string, users: string[]): string | undefined {
  if (!isOwned(secret)) return "it is not labelled as managed by krbkeys";
  if (secret.metadata.annotations?.[CREATED_FOR_ANNOTATION] !== keyName) return "krbkeys did not create it for this key";
  if (users.length > 0) return `KerberosKey ${users.map((u) => `"${u}"`).join(", ")} still stores a key in it`;
  const others = Object.keys(secret.data ?? {}).filter((k) => k !== previous.key);
  if (others.length > 0) return `it holds other data (${others.map((k) => `"${k}"`).join(", ")})`;
  return undefined;
}

/**
 * Deletes the Secret `kk` stored its key in before (status.secretRef) when spec.secret now names another Secret and
 * the rules above allow it. Returns the event to record, if anything was deleted or deliberately kept.
 */
export async function retirePreviousSecret(client: KubeClient, kk: KerberosKey, resolved: ResolvedKey): Promise<KeyEvent | undefined> {
  const previous = kk.status?.secretRef as SecretRef | undefined;
  // A Disabled key writes nothing, so there is no new Secret the old one could give way to.
  if (resolved.spec.type === KeyType.Disabled) return undefined;
  if (!previous?.name || !resolved.secret || previous.name === resolved.secret.name) return undefined;
  const ns = kk.metadata.namespace!;
  const secret = await readSecret(client, ns, previous.name);
  if (!secret) return undefined;
  // A fresh list rather than the informer's cache: a key created a moment ago that points here must count.
  const keys = await client.list<KerberosKey & KubeObject>(KerberosKeyType, ns);
  const users = keys.items
    .filter((o) => o.metadata.uid !== kk.metadata.uid && o.spec?.secret?.split("/")[0] === previous.name)
    .map((o) => o.metadata.name);
  const why = keepReason(secret, previous, kk.metadata.name, users);
  if (why) {
    return { reason: "PreviousSecretKept", note: `Secret "${ns}/${previous.name}" (the key's previous spec.secret) was kept: ${why}` };
  }
  try {
    await client.delete(Core.secrets, previous.name, ns, {}, {
      preconditions: { uid: secret.metadata.uid, resourceVersion: secret.metadata.resourceVersion },
    });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    if (statusOf(err) === 409) throw new Error(`Secret "${ns}/${previous.name}" changed while krbkeys was deleting it; looking again`);
    throw err;
  }
  return {
    reason: "PreviousSecretDeleted",
    note: `deleted Secret "${ns}/${previous.name}", which krbkeys made for this key's previous spec.secret: its credential is no longer valid`,
  };
}
