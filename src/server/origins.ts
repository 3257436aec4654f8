/**
 * @module Which web pages may use the server from a browser. A browser lets any page open a
 * WebSocket to any address, 127.0.0.1 included, and sends the page's origin with it; without
 * a check, a page from anywhere could run RQL on a server without tokens (cross-site
 * WebSocket hijacking). So a request that carries an `Origin` is served only when that origin
 * is the server's own (the console) or listed in `allowedOrigins`; listed origins also get
 * CORS headers, so a web app served elsewhere can use the HTTP API. A request without
 * `Origin` (curl, Node, the CLI) is not a browser's and is served as before.
 */
import { ProtocolError } from "./wire-error.ts";

/** `allowedOrigins` as configured: `scheme://host[:port]` entries, or `*` for every origin. */
export type AllowedOrigins = readonly string[];

/** How long a browser may keep a CORS preflight's answer. */
const preflightMaxAgeSeconds = 600;

/**
 * Refuses a request whose `Origin` is neither this server's (`host`, the Host header) nor
 * allowed; returns whether CORS headers should be sent (an allowed foreign origin).
 */
export function checkOrigin(
  origin: string | undefined,
  host: string | undefined,
  allowed: AllowedOrigins,
): boolean {
  if (origin === undefined) return false;
  if (allowed.includes("*") || allowed.includes(origin)) return true;
  if (host !== undefined && hostOf(origin) === host.toLowerCase()) return false;
  throw new ProtocolError(
    "FORBIDDEN",
    `requests from pages at ${origin} are not allowed; list the origin in allowedOrigins ` +
      `(STATEBASE_ALLOWED_ORIGINS) to let its pages use this server`,
    403,
  );
}

/** The CORS headers for an allowed foreign origin; with `preflight`, the preflight's too. */
export function corsHeaders(origin: string, preflight: boolean): Record<string, string> {
  const headers: Record<string, string> = {
    "access-control-allow-origin": origin,
    vary: "Origin",
  };
  if (!preflight) return headers;
  return {
    ...headers,
    "access-control-allow-methods": "GET, POST",
    "access-control-allow-headers": "authorization, content-type",
    "access-control-max-age": String(preflightMaxAgeSeconds),
  };
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined; // `null` (a file or a sandboxed frame) is nobody's host
  }
}
