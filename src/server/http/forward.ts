/**
 * @module Write forwarding on a replicated follower (docs/scale-out.md): an HTTP write that
 * failed locally with NOT_WRITER is sent, with the same body and Authorization header, to
 * the writer named in the lease, and the writer's status and body are relayed. A forwarded
 * request carries a header and is never forwarded again, so two nodes that both believe the
 * other is the writer (during an election) cannot bounce a request between them.
 */
import type { FastifyRequest } from "fastify";
import { ProtocolError } from "../wire-error.ts";

/** Marks a request a follower forwarded; a node answers it itself, whatever happens. */
export const forwardedHeader = "x-statebase-forwarded";

/**
 * How long a forwarded write may take at the writer, in ms: long enough for a JetStream
 * acknowledgement through a short leader election, and short of the request timeout.
 */
export const forwardTimeoutMs = 10_000;

/** Where this node forwards writes; undefined when forwarding is off. */
export interface WriteForwarding {
  /** The writer as this node last read the lease; undefined while no writer is known. */
  writer(): { readonly node: string; readonly http?: string } | undefined;
  /** This node's name: a lease naming it means it lost the lease just now. */
  readonly self: string;
}

/** The writer's answer, relayed as is. */
export interface RelayedAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** Whether a failed request goes to the writer: a write refused here, not forwarded before. */
export function isForwardable(error: unknown, request: FastifyRequest): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "NOT_WRITER" && request.headers[forwardedHeader] === undefined;
}

/** Sends the request to the writer; throws NOT_WRITER (503) when no writer can answer. */
export async function forwardWrite(
  forwarding: WriteForwarding,
  request: FastifyRequest,
): Promise<RelayedAnswer> {
  const writer = forwarding.writer();
  if (writer === undefined || writer.node === forwarding.self) {
    throw unavailable("no writer is known (an election is under way); retry shortly");
  }
  if (writer.http === undefined) {
    throw unavailable(
      `writer ${writer.node} advertises no HTTP address (set advertiseHttp on it); ` +
        `send writes to it directly`,
    );
  }
  const base = writerBase(writer.http);
  if (typeof base !== "string") {
    throw unavailable(
      `writer ${writer.node} advertises ${base.shown}, ${base.problem} ` +
        `(set advertiseHttp on it); ${notSent}`,
    );
  }
  const headers: Record<string, string> = {
    "content-type": "application/json",
    [forwardedHeader]: forwarding.self,
  };
  const authorization = request.headers.authorization;
  if (authorization !== undefined) headers["authorization"] = authorization;
  // Only the path and query go on: a request in absolute form (`POST http://host/v1/...`)
  // appended as sent would name a host of the client's choosing after the writer's address.
  const { pathname, search } = new URL(request.url, "http://localhost");
  const where = `writer ${writer.node} at ${base}`;
  // A client may send a NOT_WRITER write again: it is told whether the writer may have it.
  let response: Response;
  let body: string;
  try {
    response = await fetch(`${base}${pathname}${search}`, {
      method: "POST",
      headers,
      // Fastify parsed the body as JSON; encoding it again sends the same value.
      body: JSON.stringify(request.body),
      signal: AbortSignal.timeout(forwardTimeoutMs),
      // Followed, a 301-303 would turn the write into a GET, a 307/308 send it elsewhere.
      redirect: "manual",
    });
    body = await response.text();
  } catch (error) {
    const outcome = wasNotSent(error) ? notSent : maybeApplied;
    throw unavailable(`${where} did not answer: ${reasonOf(error)}: ${outcome}`);
  }
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.get("location") ?? "nowhere";
    throw unavailable(
      `${where} answered a redirect (${response.status}) to ${location}, which a ` +
        `forwarded write does not follow: ${maybeApplied}`,
    );
  }
  const contentType = response.headers.get("content-type") ?? "application/json";
  return { status: response.status, contentType, body };
}

const notSent = "the request did not reach it: sending it again is safe";
const maybeApplied = "it may have applied the write: read before sending it again";

/**
 * Codes of fetch failures (its cause's) that happen before a byte of the request leaves: no
 * connection was made. Anything else (a timeout, a reset, a cut answer) may come after the
 * writer read the request, and applied it.
 */
const notSentCauseCodes = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** fetch's own refusal of a port the fetch standard blocks (6000, 2049, ...): no code. */
const badPortMessage = "bad port";

function wasNotSent(error: unknown): boolean {
  const cause =
    error instanceof Error
      ? (error.cause as { code?: unknown; message?: unknown } | undefined)
      : undefined;
  if (cause?.message === badPortMessage) return true;
  return typeof cause?.code === "string" && notSentCauseCodes.has(cause.code);
}

/**
 * The URL the request's path is appended to (no trailing slash), or why fetch cannot send
 * to the address: the lease holds what the writer (or a person) wrote.
 */
function writerBase(address: string): string | { shown: string; problem: string } {
  if (!URL.canParse(address)) {
    return { shown: JSON.stringify(address), problem: "not an http(s) URL" };
  }
  const url = new URL(address);
  if (url.username !== "" || url.password !== "") {
    // fetch refuses credentials in a URL; the client must not be shown them either.
    url.username = "";
    url.password = "";
    return { shown: JSON.stringify(url.href), problem: "a URL with credentials" };
  }
  const shown = JSON.stringify(address);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { shown, problem: "not an http(s) URL" };
  }
  if (url.search !== "" || url.hash !== "" || address.endsWith("?") || address.endsWith("#")) {
    return { shown, problem: "a URL with a query or fragment, which the path cannot follow" };
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/** fetch reports "fetch failed" and keeps the useful part (ECONNREFUSED, ...) in the cause. */
function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}

function unavailable(message: string): ProtocolError {
  return new ProtocolError("NOT_WRITER", `this node follows and cannot write: ${message}`, 503);
}
