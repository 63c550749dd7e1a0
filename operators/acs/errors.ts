/**
 * Errors raised by the ACS clients. Messages name the service, method and path; they never carry credentials or
 * tokens (response bodies are the server's own text, cut short).
 */
import { isRetryableStatus } from "../runtime/http-status.js";

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
