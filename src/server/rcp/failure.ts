/**
 * @module The one translator from errors to RCP wire errors (STYLE.md "one translator per
 * protocol"). Handlers throw {@link RcpFailure} for protocol-level refusals; engine and
 * machine errors arrive as DbError and are mapped to the 16 codes rstmdb clients know
 * (decision 3), with rstmdb's message patterns (`core error: ...`) where rstmdb has them.
 */
import { AssertionError } from "../../lib/assert.ts";
import { DbError } from "../../lib/errors.ts";
import type { ErrorCode } from "../../lib/errors.ts";
import { wireError } from "../../protocol/index.ts";
import type { WireError, WireErrorCode } from "../../protocol/index.ts";

/** A refusal decided by the server itself, already in wire terms. */
export class RcpFailure extends Error {
  override name = "RcpFailure";
  constructor(
    readonly code: WireErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** BAD_REQUEST with rstmdb's `invalid request: ` prefix. */
export function badRequest(reason: string, details?: Record<string, unknown>): RcpFailure {
  return new RcpFailure("BAD_REQUEST", `invalid request: ${reason}`, details);
}

/** Engine codes that keep their name on the wire, with rstmdb's `core error: ` prefix. */
const coreCodes: Partial<Record<ErrorCode, WireErrorCode>> = {
  MACHINE_NOT_FOUND: "MACHINE_NOT_FOUND",
  MACHINE_VERSION_EXISTS: "MACHINE_VERSION_EXISTS",
  INSTANCE_NOT_FOUND: "INSTANCE_NOT_FOUND",
  INSTANCE_EXISTS: "INSTANCE_EXISTS",
  INVALID_TRANSITION: "INVALID_TRANSITION",
  GUARD_FAILED: "GUARD_FAILED",
  STATE_CONFLICT: "CONFLICT",
  // Invalid definitions and guards are the client's fault (decision 3), not INTERNAL_ERROR.
  INVALID_DEFINITION: "BAD_REQUEST",
};

/** Other engine codes with a fitting wire code; the message is passed on as it is. */
const plainCodes: Partial<Record<ErrorCode, WireErrorCode>> = {
  MACHINE_VERSION_LIMIT_EXCEEDED: "MACHINE_VERSION_LIMIT_EXCEEDED",
  READ_ONLY: "READ_ONLY_MODE",
  NOT_WRITER: "READ_ONLY_MODE",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "UNAUTHORIZED",
  UNKNOWN_PROCEDURE: "NOT_FOUND",
  NOT_FOUND: "NOT_FOUND",
  UNKNOWN_OBJECT: "NOT_FOUND",
  UNKNOWN_NAMESPACE: "NOT_FOUND",
  APPEND_FENCED: "CONFLICT",
  OBJECT_EXISTS: "CONFLICT",
  CONSTRAINT_VIOLATION: "CONFLICT",
  OBJECT_IN_USE: "CONFLICT",
  NOT_CLAIMED: "CONFLICT",
};

const corePrefix = "core error: ";
const requestPrefix = "invalid request: ";

/**
 * The wire error for anything a handler threw. Assertion failures are bugs: they are
 * rethrown, never turned into a response (STYLE.md).
 */
export function toWireError(error: unknown): WireError {
  if (error instanceof AssertionError) throw error;
  if (error instanceof RcpFailure) return wireError(error.code, error.message, error.details);
  if (error instanceof DbError) return fromDbError(error);
  const message = error instanceof Error ? error.message : String(error);
  return wireError("INTERNAL_ERROR", `internal error: ${message}`);
}

function fromDbError(error: DbError): WireError {
  const core = coreCodes[error.code];
  if (core !== undefined) return wireError(core, prefixed(corePrefix, error.message));
  const plain = plainCodes[error.code];
  if (plain !== undefined) return wireError(plain, error.message);
  switch (error.category) {
    case "InvalidInput":
    case "LimitExceeded":
    case "Aborted":
      return wireError("BAD_REQUEST", prefixed(requestPrefix, error.message));
    case "Conflict":
      return wireError("CONFLICT", error.message);
    case "NotFound":
      return wireError("NOT_FOUND", error.message);
    case "ReadOnly":
      return wireError("READ_ONLY_MODE", error.message);
    case "IO":
      return wireError("WAL_IO_ERROR", prefixed(`${corePrefix}WAL error: `, error.message));
    case "Corrupt":
      return wireError("INTERNAL_ERROR", prefixed(corePrefix, error.message));
  }
}

/** Adds `prefix` unless the message already carries it (the machines may add it). */
function prefixed(prefix: string, message: string): string {
  return message.startsWith(prefix) || message.startsWith(corePrefix)
    ? message
    : `${prefix}${message}`;
}
