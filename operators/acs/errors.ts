/**
 * Errors raised by the ACS clients. Messages name the service, method and path; they never carry credentials or
 * tokens (response bodies are the server's own text, cut short).
 */
import { isRetryableStatus } from "../runtime/http-status.js";
import { GenericError, StallingError } from "../runtime/errors.js";
import { requiredPermission } from "./permissions.js";

const MAX_BODY_IN_MESSAGE = 200;

export class AcsError extends Error {
  override name = "AcsError";
}

/** The service answered with a status the caller did not expect. */
export class AcsHttpError extends AcsError {
  override name = "AcsHttpError";

  constructor(
    readonly service: string,
    readonly method: string,
    readonly path: string,
    readonly status: number,
    /** The response body as text (ACS sends errors as text/plain, often empty). */
    readonly body: string,
  ) {
    super(`${service} ${method} ${path} failed: status ${status}${describeBody(body)}`);
  }
}

/** A write's `If-Match` (or `If-None-Match`) precondition failed (412): someone else changed the entry first. */
export class AcsPreconditionFailedError extends AcsHttpError {
  override name = "AcsPreconditionFailedError";
}

/** The service could not be reached (connection refused, DNS, timeout) or its location could not be found. */
export class AcsUnavailableError extends AcsError {
  override name = "AcsUnavailableError";

  constructor(readonly service: string, message: string, options?: { cause?: unknown }) {
    super(`${service} is unavailable: ${message}`, options);
  }
}

/** The service answered 2xx but with a body that does not follow the protocol. */
export class AcsProtocolError extends AcsError {
  override name = "AcsProtocolError";

  constructor(readonly service: string, readonly method: string, readonly path: string, problem: string) {
    super(`${service} ${method} ${path} answered outside the protocol: ${problem}`);
  }
}

export function httpErrorFor(service: string, method: string, path: string, status: number, body: string): AcsHttpError {
  return status === 412
    ? new AcsPreconditionFailedError(service, method, path, status, body)
    : new AcsHttpError(service, method, path, status, body);
}

/** True for failures worth retrying later: unreachable service, 5xx, 408, 429. */
export function isTransientAcsError(err: unknown): boolean {
  if (err instanceof AcsUnavailableError) return true;
  return err instanceof AcsHttpError && isRetryableStatus(err.status);
}

function describeBody(body: string): string {
  const text = body.trim().replace(/\s+/g, " ");
  if (text === "") return "";
  return `: ${text.length > MAX_BODY_IN_MESSAGE ? `${text.slice(0, MAX_BODY_IN_MESSAGE)}…` : text}`;
}

/** Condition reasons for ACS refusals (acsFailure). */
export const AcsFailureReason = {
  PermissionDenied: "PermissionDenied",
  Rejected: "Rejected",
  NotFound: "NotFound",
  Conflict: "Conflict",
  Unavailable: "AcsUnavailable",
} as const;

const STALLING_REASON: Record<number, string> = {
  400: AcsFailureReason.Rejected,
  403: AcsFailureReason.PermissionDenied,
  404: AcsFailureReason.NotFound,
  409: AcsFailureReason.Conflict,
  410: AcsFailureReason.Rejected,
  422: AcsFailureReason.Rejected,
};

/**
 * The one classification of ACS service failures: a refusal only a change can fix (400/403/404/409/410/422) becomes
 * a StallingError, everything else (5xx, 429, timeouts, connection failures, protocol surprises) a GenericError that
 * backs off. `what` says what graft was doing ("writing the Sparkplug address"); a 403's message adds the permission
 * ACS checks for that request (permissions.ts), so the condition tells an administrator what to grant.
 */
export function acsFailure(err: unknown, what: string, needs?: string): StallingError | GenericError {
  if (err instanceof StallingError || err instanceof GenericError) return err;
  if (err instanceof AcsHttpError && err.status !== 412) {
    const reason = STALLING_REASON[err.status];
    if (reason) {
      const missing = err.status === 403 ? (needs ?? requiredPermission(err.service, err.method, err.path)) : undefined;
      const hint = missing ? `: the account lacks ${missing}` : "";
      return new StallingError(reason, `${what}: ${err.message}${hint}`);
    }
  }
  const reason = err instanceof AcsUnavailableError ? AcsFailureReason.Unavailable : "AcsRequestFailed";
  return new GenericError(reason, `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
