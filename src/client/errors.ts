/**
 * @module The client's typed errors. Every failure a caller sees is a {@link StatebaseError}
 * carrying the server's stable `code`; a subclass per category lets callers branch with
 * `instanceof` (as nats.js does) without matching on message text.
 */
import { errorCodes } from "../lib/errors.ts";
import type { ErrorCategory } from "../lib/errors.ts";

/** An error answered by the server, or a client-side failure (timeout, connection). */
export class StatebaseError extends Error {
  override name = "StatebaseError";
  constructor(
    readonly code: string,
    message: string,
    /** The HTTP status, when the request went over HTTP. */
    readonly status?: number,
    /** Where the error happened (line, column, object), when the server said so. */
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
  }
}

/** Bad input: RQL that does not parse, wrong parameter types, invalid arguments. */
export class InvalidInputError extends StatebaseError {
  override name = "InvalidInputError";
}
/** The named object, row, procedure or route does not exist. */
export class NotFoundError extends StatebaseError {
  override name = "NotFoundError";
}
/** A constraint, an expected state or an existing object stood in the way. */
export class ConflictError extends StatebaseError {
  override name = "ConflictError";
}
/** No valid token (UNAUTHORIZED), or the token's role does not allow it (FORBIDDEN). */
export class AccessError extends StatebaseError {
  override name = "AccessError";
}
/** A size or count limit was exceeded (request body, subscriptions, requests in flight). */
export class LimitExceededError extends StatebaseError {
  override name = "LimitExceededError";
}
/** The transaction was aborted, or the server is shutting down. */
export class AbortedError extends StatebaseError {
  override name = "AbortedError";
}
/** The server failed (disk, corruption, an internal fault). */
export class ServerError extends StatebaseError {
  override name = "ServerError";
}
/** No answer within the request timeout. The request may still have run. */
export class TimeoutError extends StatebaseError {
  override name = "TimeoutError";
}
/** The connection failed or closed before an answer came. The request may have run. */
export class ConnectionError extends StatebaseError {
  override name = "ConnectionError";
}

type ErrorClass = new (
  code: string,
  message: string,
  status?: number,
  details?: Readonly<Record<string, unknown>>,
) => StatebaseError;

const classOfCategory: Readonly<Record<ErrorCategory, ErrorClass>> = {
  InvalidInput: InvalidInputError,
  NotFound: NotFoundError,
  Conflict: ConflictError,
  ReadOnly: AccessError,
  LimitExceeded: LimitExceededError,
  Aborted: AbortedError,
  IO: ServerError,
  Corrupt: ServerError,
};

/** Codes only the protocol layer answers (not database error codes). */
const classOfProtocolCode: Readonly<Record<string, ErrorClass>> = {
  INVALID_JSON: InvalidInputError,
  UNSUPPORTED_MEDIA_TYPE: InvalidInputError,
  METHOD_NOT_ALLOWED: InvalidInputError,
  UPGRADE_REQUIRED: InvalidInputError,
  INTERNAL: ServerError,
  TIMEOUT: TimeoutError,
  DISCONNECTED: ConnectionError,
};

/** The typed error for a server's `{code, message, details?}` answer. */
export function errorFromWire(body: unknown, status?: number): StatebaseError {
  const record = (body ?? {}) as { code?: unknown; message?: unknown; details?: unknown };
  const code = typeof record.code === "string" ? record.code : "INTERNAL";
  const message = typeof record.message === "string" ? record.message : "unknown server error";
  const category = (errorCodes as Readonly<Record<string, ErrorCategory>>)[code];
  const ErrorType =
    category === undefined ? (classOfProtocolCode[code] ?? ServerError) : classOfCategory[category];
  const details =
    record.details !== null && typeof record.details === "object"
      ? (record.details as Record<string, unknown>)
      : undefined;
  return new ErrorType(code, message, status, details);
}
