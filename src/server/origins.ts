/**
 * @module Which web pages may use the server from a browser. A browser lets any page open a
 * WebSocket to any address, 127.0.0.1 included, and sends the page's origin with it; without
 * a check, a page from anywhere could run RQL on a server without tokens (cross-site
 * WebSocket hijacking). So a request that carries an `Origin` is served only when that origin
 * is the server's own (the console) or listed in `allowedOrigins`; listed origins also get
 * CORS headers, so a web app served elsewhere can use the HTTP API. A request without
 * `Origin` (curl, Node, the CLI) is not a browser's and is served as before.
 *
 * A server listening on a loopback address takes only loopback names (localhost,
 * 127.0.0.1, [::1]) for its own origin: a page whose domain name was pointed at 127.0.0.1
 * after it loaded (DNS rebinding) would otherwise pass for the server's own.
 */
import { ProtocolError } from "./wire-error.ts";

/** Which origins a server serves besides its own. */
export interface OriginPolicy {
  /** `allowedOrigins` as configured: `scheme://host[:port]` entries, or `*` for every one. */
  readonly allowed: readonly string[];
  /** The server listens on a loopback address only: its own origin has a loopback name. */
  readonly loopbackOnly: boolean;
}

/** How long a browser may keep a CORS preflight's answer. */
const preflightMaxAgeSeconds = 600;

/**
 * Refuses a request whose `Origin` is neither this server's (`host`, the Host header) nor
 * allowed; returns whether CORS headers should be sent (an allowed foreign origin).
 */
export function checkOrigin(
  origin: string | undefined,
  host: string | undefined,
  policy: OriginPolicy,
): boolean {
  if (origin === undefined) return false;
  const { allowed } = policy;
  if (allowed.includes("*") || allowed.includes(origin)) return true;
  const own = hostOf(origin);
  const loopbackName = own !== undefined && isLoopbackName(own);
  if (own === host?.toLowerCase() && (loopbackName || !policy.loopbackOnly)) return false;
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

/** A host (with its port) that names this machine wherever it is resolved. */
function isLoopbackName(host: string): boolean {
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0]!;
  // Browsers resolve localhost and *.localhost to loopback themselves, never through DNS.
  return (
    name === "localhost" ||
    name.endsWith(".localhost") ||
    name === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)
  );
}

/** Whether a listener's address is a loopback one (127.0.0.0/8, ::1, localhost). */
export function isLoopbackAddress(address: string): boolean {
  return isLoopbackName(
    address.includes(":") && !address.startsWith("[") ? `[${address}]` : address,
  );
}
