// The one key of one Secret a KerberosKey stores its keytab or password in (`spec.secret` = `<secret>/<key>`).
// Writing goes through enrol/secrets.ts, so krbkeys and enrolment share one rule: only a Secret labelled as
// managed by krbkeys is ever overwritten, and other keys in it are kept.
import type { KubeClient } from "../runtime/rest.js";
import { KerberosKeyReason as Reason } from "../api/kerberoskey.js";
import {
  assertSecretWritable, isOwned, KRBKEYS_MANAGER, MANAGED_BY_LABEL, readSecret, SecretNotOwnedError, secretValue, type SecretObject,
  writeOwnedSecret,
} from "../enrol/secrets.js";
import { GenericError, StallingError, messageOf } from "../runtime/errors.js";
import { CREATED_FOR_ANNOTATION } from "./retired-secret.js";

export interface SlotContents {
  secret: SecretObject | null;
  /** The key's bytes; undefined when the Secret or the key is absent. */
  value?: Buffer;
}

export class SecretSlot {
  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
    readonly name: string,
    readonly key: string,
    /** The KerberosKey this slot belongs to: a Secret the slot creates is marked as made for it (retired-secret.ts). */
    private readonly keyName?: string,
  ) {}

  private get annotationsOnCreate(): Record<string, string> | undefined {
    return this.keyName === undefined ? undefined : { [CREATED_FOR_ANNOTATION]: this.keyName };
  }

  /** `"<namespace>/<name>" key "<key>"`, for messages. */
  get description(): string {
    return `Secret "${this.namespace}/${this.name}" key "${this.key}"`;
  }

  async read(): Promise<SlotContents> {
    let secret: SecretObject | null;
    try {
      secret = await readSecret(this.client, this.namespace, this.name);
    } catch (err) {
      throw new GenericError("SecretReadFailed", messageOf(err));
    }
    const value = secretValue(secret, this.key);
    return { secret, value: value && value.length > 0 ? value : undefined };
  }

  /** Refuses, before any change in the KDC, a Secret somebody else created. */
  assertOwned(secret: SecretObject | null): void {
    if (secret && !isOwned(secret)) throw this.notOwned();
  }

  /** Proves with a dry run that the write will be accepted, so no key is minted that cannot be stored. */
  async assertWritable(secret: SecretObject | null): Promise<void> {
    await this.guard(() => assertSecretWritable(this.client, this.namespace, this.name, secret));
  }

  /**
   * Stores the value. A key has already been changed in the KDC when this runs, so a write that loses a race with
   * another writer of the same Secret (another key in it, a person's label) is tried again on a fresh read rather
   * than failing and forcing yet another rotation.
   */
  async write(value: Buffer, secret: SecretObject | null, attempts = 3): Promise<SecretObject> {
    let current = secret;
    for (let i = 1; ; i++) {
      try {
        return await this.guard(() => writeOwnedSecret(this.client, this.namespace, this.name, { [this.key]: value }, current,
          { annotationsOnCreate: this.annotationsOnCreate }));
      } catch (err) {
        if (err instanceof StallingError || i >= attempts) throw err;
        current = (await this.read()).secret;
        this.assertOwned(current);
      }
    }
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof SecretNotOwnedError) throw this.notOwned();
      // The shared helper speaks to a person running enrolment; here the controller retries by itself.
      const cause = messageOf(err).replace(/; run enrolment again$/, "");
      throw new GenericError(Reason.SecretWriteFailed, `${cause}: retrying`);
    }
  }

  private notOwned(): StallingError {
    return new StallingError(Reason.SecretNotOwned,
      `Secret "${this.namespace}/${this.name}" exists but is not managed by krbkeys (label "${MANAGED_BY_LABEL}" is not ` +
      `"${KRBKEYS_MANAGER}"): nothing was written and no key was changed; delete the Secret, label it to hand it over, ` +
      "or point spec.secret elsewhere");
  }
}
