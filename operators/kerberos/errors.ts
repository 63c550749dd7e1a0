// Typed Kerberos failures, so callers decide by class (retry, rotate, stop) rather than by message text.

/** Any failure talking to the KDC or kadmind. The message is safe to show and log: it never holds a secret. */
export class KerberosError extends Error {
  /** The tool's own words (stderr), for diagnosis; never contains a password or key. */
  readonly detail: string;

  constructor(message: string, detail = "") {
    super(message);
    this.name = new.target.name;
    this.detail = detail;
  }
}

/** The KDC or kadmind could not be reached (refused, no route, time-out). Nothing was changed; retry later. */
export class KdcUnreachableError extends KerberosError {}

/** The admin credentials were rejected (wrong password, unknown or disabled admin principal, bad admin keytab). */
export class AuthFailedError extends KerberosError {}

/** The admin is authenticated but the KDC's ACL does not allow the operation. */
export class PermissionDeniedError extends KerberosError {}

/** The principal does not exist. */
export class NotFoundError extends KerberosError {}

/** The principal already exists (an add raced with another writer). */
export class AlreadyExistsError extends KerberosError {}

/** Any other kadmin failure. */
export class KadminError extends KerberosError {}
