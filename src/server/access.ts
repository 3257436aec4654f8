/**
 * @module Who may do what over HTTP and WebSocket: a bearer token is looked up among the
 * configured SHA-256 hashes (auth.ts, shared with RCP) and its role gates each entry point:
 * `query` needs read, `command` and procedure calls write (or the procedure's own role),
 * `admin` admin. With no tokens configured, authentication is off and every caller is admin.
 */
import { DbError } from "../lib/errors.ts";
import { findToken, roleAllows } from "./auth.ts";
import type { TokenEntry, TokenRole } from "./auth.ts";

/** The role each request kind needs. */
export const roleOfEntry: Readonly<Record<"query" | "command" | "admin", TokenRole>> = {
  query: "read",
  command: "write",
  admin: "admin",
};

/**
 * The role of the caller presenting `authorization` (an HTTP header value, or a token given
 * some other way prefixed with `Bearer `). Throws UNAUTHORIZED when tokens are configured and
 * none matches.
 */
export function authenticate(
  tokens: readonly TokenEntry[],
  authorization: string | undefined,
): TokenRole {
  if (tokens.length === 0) return "admin";
  if (authorization === undefined || authorization === "") {
    throw new DbError("UNAUTHORIZED", "authentication required: send Authorization: Bearer TOKEN");
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (match === null) {
    throw new DbError("UNAUTHORIZED", "the Authorization header must be Bearer TOKEN");
  }
  const entry = findToken(tokens, match[1]!);
  if (entry === undefined) throw new DbError("UNAUTHORIZED", "invalid token");
  return entry.role;
}

/** Throws FORBIDDEN unless `granted` covers `needed`; `what` names the refused action. */
export function authorize(granted: TokenRole, needed: TokenRole, what: string): void {
  if (roleAllows(granted, needed)) return;
  throw new DbError("FORBIDDEN", `${what} needs a ${needed} token; this token is ${granted}`, {
    role: granted,
    needed,
  });
}
