/**
 * @module Operating errors. Every error a user can cause is a {@link DbError} with a stable
 * `code`, a message a person can act on, and details naming the object, column and value.
 * Programmer errors are assertions (lib/assert.ts), never DbErrors.
 */

/** Broad classes of failure; they decide replay and protocol behaviour. */
export type ErrorCategory =
  | "InvalidInput"
  | "NotFound"
  | "Conflict"
  | "ReadOnly"
  | "LimitExceeded"
  | "Aborted"
  | "IO"
  | "Corrupt";

/** Every stable error code and its category. Codes never change meaning once released. */
export const errorCodes = {
  INVALID_ARGUMENT: "InvalidInput",
  TYPE_MISMATCH: "InvalidInput",
  OUT_OF_RANGE: "InvalidInput",
  UNKNOWN_COLUMN: "InvalidInput",
  MISSING_COLUMN: "InvalidInput",
  INVALID_SCHEMA: "InvalidInput",
  INVALID_NAME: "InvalidInput",
  RQL_PARSE: "InvalidInput",
  UNKNOWN_FUNCTION: "InvalidInput",
  ARITHMETIC_OVERFLOW: "InvalidInput",
  DIVISION_BY_ZERO: "InvalidInput",
  EVAL_ERROR: "InvalidInput",
  UNKNOWN_OBJECT: "NotFound",
  RQL_UNKNOWN_OBJECT: "NotFound",
  UNKNOWN_NAMESPACE: "NotFound",
  NOT_FOUND: "NotFound",
  OBJECT_EXISTS: "Conflict",
  CONSTRAINT_VIOLATION: "Conflict",
  WRONG_OBJECT_KIND: "InvalidInput",
  OBJECT_IN_USE: "Conflict",
  NOT_CLAIMED: "Conflict",
  TXN_ABORTED: "Aborted",
  TXN_ASYNC: "InvalidInput",
  TXN_NESTED: "InvalidInput",
  READ_ONLY: "ReadOnly",
  DATABASE_CLOSED: "Aborted",
  /** An operation stopped by its caller's AbortSignal (open({ signal }) during recovery). */
  ABORTED: "Aborted",
  SEQ_NOT_RETAINED: "NotFound",
  LIMIT_EXCEEDED: "LimitExceeded",
  /** A script ran past its deadline (queryTimeoutMs, src/rql/deadline.ts); it was undone. */
  QUERY_TIMEOUT: "LimitExceeded",
  IO_ERROR: "IO",
  CORRUPT: "Corrupt",
  // State machines (the RCP codes of specs/rcp.md §2.5 where one fits).
  MACHINE_NOT_FOUND: "NotFound",
  MACHINE_VERSION_EXISTS: "Conflict",
  MACHINE_VERSION_LIMIT_EXCEEDED: "LimitExceeded",
  INVALID_DEFINITION: "InvalidInput",
  INSTANCE_NOT_FOUND: "NotFound",
  INSTANCE_EXISTS: "Conflict",
  INVALID_TRANSITION: "Conflict",
  GUARD_FAILED: "Conflict",
  STATE_CONFLICT: "Conflict",
  IDEMPOTENCY_MISMATCH: "InvalidInput",
  // Procedures, servers and replication.
  UNKNOWN_PROCEDURE: "NotFound",
  UNAUTHORIZED: "ReadOnly",
  FORBIDDEN: "ReadOnly",
  NOT_WRITER: "ReadOnly",
  APPEND_FENCED: "Conflict",
} as const satisfies Record<string, ErrorCategory>;

export type ErrorCode = keyof typeof errorCodes;

/** Where an error happened, as far as it is known. Every field is optional. */
export interface ErrorDetails {
  object?: string;
  column?: string;
  value?: unknown;
  row?: number;
  line?: number;
  col?: number;
  fragment?: string;
  [extra: string]: unknown;
}

/** An operating error with a stable code. */
export class DbError extends Error {
  override name = "DbError";
  readonly code: ErrorCode;
  readonly category: ErrorCategory;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message);
    this.code = code;
    this.category = errorCodes[code];
    this.details = details;
  }
}

/** Deterministic failures replay identically, so they are recorded as results, not retried. */
export function isDeterministic(category: ErrorCategory): boolean {
  return category !== "IO" && category !== "Corrupt" && category !== "Aborted";
}

/** Whether `error` is a Node error with this `code` (ENOENT, EADDRINUSE, ERR_...). */
export function hasErrorCode(error: unknown, code: string): boolean {
  return error instanceof Error && "code" in error && error.code === code;
}

/** Renders a value for an error message: short, unambiguous, never throws. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "none";
  if (typeof value === "bigint") return `${value}`;
  if (typeof value === "string") {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value instanceof Date)
    return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  if (value instanceof Uint8Array) return `blob(${value.length} bytes)`;
  try {
    const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}` : v));
    return text.length > 60 ? `${text.slice(0, 60)}…` : text;
  } catch {
    // A value that cannot be serialised (cycles) still needs a name in the message.
    return Object.prototype.toString.call(value);
  }
}
