/**
 * @module The one translator from a thrown error to what HTTP and WebSocket clients see:
 * `{code, message}` with a stable code and an HTTP status. A DbError keeps its code and
 * message; anything else is a server fault reported as `INTERNAL` without its text or stack,
 * so internals never leak to a client (the operator sees them in the server's trace).
 */
import { DbError } from "../lib/errors.ts";
import type { ErrorCategory } from "../lib/errors.ts";

/** What a client receives for a failed request. */
export interface WireError {
  code: string;
  message: string;
  /** Where the error happened (line, column, object), when the database said so. */
  details?: Record<string, unknown>;
}

/** A failure the protocol layer itself detects (bad JSON, a body too large, no route). */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const statusOfCategory: Readonly<Record<ErrorCategory, number>> = {
  InvalidInput: 400,
  NotFound: 404,
  Conflict: 409,
  ReadOnly: 403,
  LimitExceeded: 413,
  Aborted: 409,
  IO: 500,
  Corrupt: 500,
};

/** Codes whose status differs from their category's. */
const statusOfCode: Readonly<Record<string, number>> = {
  UNAUTHORIZED: 401,
  DATABASE_CLOSED: 503,
  NOT_WRITER: 503,
  // A script stopped at its deadline (as Snowflake's SQL API answers one). A 4xx: the same
  // request would fail again, and clients retry 502-504 (client.ts); QUERY_TIMEOUT, not
  // TIMEOUT, says it was the script, not the request's arrival, that took too long.
  QUERY_TIMEOUT: 408,
};

/** Translates any thrown value; `fault` receives errors that are not the client's doing. */
export function toWireError(
  error: unknown,
  fault: (error: unknown) => void,
): { status: number; body: WireError } {
  if (error instanceof ProtocolError) {
    return { status: error.status, body: { code: error.code, message: error.message } };
  }
  if (error instanceof DbError) {
    const status = statusOfCode[error.code] ?? statusOfCategory[error.category];
    const body: WireError = { code: error.code, message: error.message };
    const details = publicDetails(error.details);
    if (details !== undefined) body.details = details;
    if (status >= 500) fault(error);
    return { status, body };
  }
  fault(error);
  return { status: 500, body: { code: "INTERNAL", message: "internal server error" } };
}

/** Details that are plain data (positions, names); anything else stays on the server. */
function publicDetails(details: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  let count = 0;
  for (const [key, value] of Object.entries(details)) {
    const plain = ["string", "number", "boolean"].includes(typeof value);
    if (!plain) continue;
    out[key] = value;
    count += 1;
  }
  return count === 0 ? undefined : out;
}
