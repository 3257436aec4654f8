/**
 * @module The RCP message envelopes (specs/rcp.md §2.3, §2.4, §2.7): requests, responses,
 * stream events and end-of-stream messages, the wire error codes with their `retryable`
 * flag, and request parsing that separates what ends a connection (bytes that are not JSON)
 * from what is answered with BAD_REQUEST (JSON that is not a valid request).
 */
import { FrameError } from "./frame.ts";

/**
 * The error codes rstmdb clients understand (§2.5, the 16 codes of v0.1.1), plus
 * READ_ONLY_MODE (decision 3). Anything else would make rstmdb-py's responses unparsable.
 */
export const wireErrorCodes = [
  "UNSUPPORTED_PROTOCOL",
  "BAD_REQUEST",
  "UNAUTHORIZED",
  "AUTH_FAILED",
  "NOT_FOUND",
  "MACHINE_NOT_FOUND",
  "MACHINE_VERSION_EXISTS",
  "MACHINE_VERSION_LIMIT_EXCEEDED",
  "INSTANCE_NOT_FOUND",
  "INSTANCE_EXISTS",
  "INVALID_TRANSITION",
  "GUARD_FAILED",
  "CONFLICT",
  "WAL_IO_ERROR",
  "INTERNAL_ERROR",
  "RATE_LIMITED",
  "READ_ONLY_MODE",
] as const;

export type WireErrorCode = (typeof wireErrorCodes)[number];

/** Codes a client may retry unchanged (derived from the code, as rstmdb does). */
const retryableCodes: ReadonlySet<WireErrorCode> = new Set([
  "WAL_IO_ERROR",
  "INTERNAL_ERROR",
  "RATE_LIMITED",
]);

export function isRetryable(code: WireErrorCode): boolean {
  return retryableCodes.has(code);
}

export interface WireError {
  code: WireErrorCode;
  message: string;
  retryable: boolean;
  details?: Record<string, unknown>;
}

export interface RcpRequest {
  type: string;
  id: string;
  op: string;
  params: unknown;
}

export type RcpResponse =
  | { type: "response"; id: string; status: "ok"; result: unknown }
  | { type: "response"; id: string; status: "error"; error: WireError };

/** A stream event of a subscription (§2.7); `ctx` only with include_ctx. */
export interface RcpStreamEvent {
  type: "event";
  subscription_id: string;
  instance_id: string;
  machine: string;
  version: number;
  wal_offset: number;
  from_state: string;
  to_state: string;
  event: string;
  payload: unknown;
  ctx?: unknown;
  /** Only on lifecycle events (decision 10, `include_lifecycle`): `created` or `deleted`. */
  lifecycle?: "created" | "deleted";
}

/** The end of a subscription (decision 10): the server stopped it, e.g. a lagging reader. */
export interface RcpStreamEnd {
  type: "end";
  subscription_id: string;
  reason: string;
  /** The last offset delivered, to resume from. */
  wal_offset?: number;
}

export function wireError(
  code: WireErrorCode,
  message: string,
  details?: Record<string, unknown>,
): WireError {
  const error: WireError = { code, message, retryable: isRetryable(code) };
  if (details !== undefined && Object.keys(details).length > 0) error.details = details;
  return error;
}

export function okResponse(id: string, result: unknown): RcpResponse {
  return { type: "response", id, status: "ok", result };
}

export function errorResponse(id: string, error: WireError): RcpResponse {
  return { type: "response", id, status: "error", error };
}

/** What a decoded payload turned out to be. */
export type RequestParse =
  | { kind: "request"; request: RcpRequest }
  /** Valid JSON that is no valid request: answered with BAD_REQUEST; the connection stays. */
  | { kind: "invalid"; id: string; message: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses one request payload. Invalid UTF-8 or JSON throws FrameError (the connection
 * ends, decision 2); a JSON value that is not a valid envelope is `invalid`.
 */
export function parseRequest(payload: Uint8Array): RequestParse {
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    // The decoder's own message says nothing the client can use; ours names the problem.
    throw new FrameError("utf8", "invalid frame: payload is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FrameError("json", `invalid frame: payload is not JSON: ${(error as Error).message}`);
  }
  return validateEnvelope(value);
}

/** Checks the request envelope (§2.3): `type`, string `id`, string `op`, optional params. */
export function validateEnvelope(value: unknown): RequestParse {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "invalid", id: "", message: "invalid request: expected a JSON object" };
  }
  const record = value as Record<string, unknown>;
  const id = typeof record.id === "string" ? record.id : "";
  if (!("id" in record)) return invalid(id, "missing field `id`");
  if (typeof record.id !== "string") return invalid(id, "`id` must be a string");
  if (typeof record.type !== "string") return invalid(id, "missing field `type`");
  if (!("op" in record)) return invalid(id, "missing field `op`");
  if (typeof record.op !== "string") return invalid(id, "`op` must be a string");
  return {
    kind: "request",
    request: { type: record.type, id, op: record.op, params: record.params ?? null },
  };
}

function invalid(id: string, reason: string): RequestParse {
  return { kind: "invalid", id, message: `invalid request: ${reason}` };
}
