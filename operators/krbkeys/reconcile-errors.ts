// Maps Kerberos failures to the controller's error classes, each with a condition reason and a message that says
// what happened and what was (not) changed.
import { KerberosKeyReason as Reason } from "../api/kerberoskey.js";
import { AuthFailedError, KdcUnreachableError, KerberosError, PermissionDeniedError } from "../kerberos/errors.js";
import { GenericError, StallingError, WaitingError } from "../runtime/errors.js";

export function asReconcileError(err: unknown): unknown {
  if (err instanceof StallingError || err instanceof WaitingError || err instanceof GenericError) return err;
  if (err instanceof KdcUnreachableError) {
    return new GenericError(Reason.KdcUnreachable, `${err.message}: no key was changed; retrying with backoff`, { cause: err });
  }
  if (err instanceof AuthFailedError) {
    return new GenericError(Reason.AuthFailed, `${err.message}: check the operator's keytab (--keytab) and principal (--principal)`, { cause: err });
  }
  if (err instanceof PermissionDeniedError) {
    return new GenericError(Reason.PermissionDenied, `${err.message}: grant it in the KDC's kadm5.acl`, { cause: err });
  }
  if (err instanceof KerberosError) return new GenericError(Reason.KadminFailed, err.message, { cause: err });
  return err;
}
