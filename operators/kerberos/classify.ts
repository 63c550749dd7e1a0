// Turns the words MIT kadmin and kinit print on failure into typed errors. Only positive matches are classified;
// anything unrecognised stays a generic failure, so callers never mistake an unknown problem for a bad credential.
import {
  AlreadyExistsError, AuthFailedError, KadminError, KdcUnreachableError, type KerberosError, NotFoundError,
  PermissionDeniedError,
} from "./errors.js";

export const UNREACHABLE_RE = /Cannot contact any KDC|Communication failure with server|Cannot connect to|Connection refused|timed out|No route to host|Network is unreachable|Cannot resolve network address|Cannot find KDC/i;

/** Words that mean "this credential is wrong or unusable" (as opposed to "the KDC is not there"). */
export const BAD_CREDENTIAL_RE = /Incorrect password|Password incorrect|Preauthentication failed|not found in Kerberos database|credentials have been revoked|Password has expired|credentials have expired|Keytab contains no suitable keys|Key table entry not found|Key table file '[^']*' not found|Key version number for principal in key table is incorrect|Bad format in keytab|Unsupported key table format/i;

const BENIGN_RE = /^(No policy specified for .*defaulting to no policy|Make sure that you have removed this principal from all ACLs before reusing\.|Authenticating as principal .*|Password for .*)$/;

/** The most telling line of a tool's stderr, without the "kadmin: " style prefix and without notices. */
export function causeLine(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !BENIGN_RE.test(l));
  const last = lines.at(-1) ?? "";
  return last.replace(/^(kadmin|kinit|[a-z_]+): /, "");
}

export function classifyKadminFailure(stderr: string, what: string): KerberosError {
  const cause = causeLine(stderr) || "no error output";
  if (UNREACHABLE_RE.test(stderr)) return new KdcUnreachableError(`${what}: the KDC or kadmind cannot be reached: ${cause}`, stderr);
  if (/while initializing kadmin interface/.test(stderr) && BAD_CREDENTIAL_RE.test(stderr)) {
    return new AuthFailedError(`${what}: the admin credentials were rejected: ${cause}`, stderr);
  }
  const priv = /Operation requires ``([^']+)'' privilege/.exec(stderr);
  if (priv) return new PermissionDeniedError(`${what}: the admin principal lacks the "${priv[1]}" privilege in the KDC's ACL`, stderr);
  if (/Principal does not exist|Principal \S+ does not exist/.test(stderr)) return new NotFoundError(`${what}: ${cause}`, stderr);
  if (/already exists/.test(stderr)) return new AlreadyExistsError(`${what}: ${cause}`, stderr);
  return new KadminError(`${what}: ${cause}`, stderr);
}
