/**
 * @module Bearer-token authentication shared by every server protocol (RCP, HTTP, WebSocket).
 * The server stores only SHA-256 hashes of tokens, never the tokens, so a leaked config file
 * does not leak credentials. A presented token is hashed and compared in constant time with
 * every configured hash, so response timing does not reveal how much of a hash matched.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** The roles a token grants, each a superset of the one before. */
export type TokenRole = "read" | "write" | "admin";

/** One configured token: its SHA-256 (lower-case hex), what it may do, and a label for logs. */
export interface TokenEntry {
  sha256: string;
  role: TokenRole;
  name?: string;
}

/** The rank of each role; a token may do what its rank or a lower one allows. */
const roleRank: Readonly<Record<TokenRole, number>> = { read: 0, write: 1, admin: 2 };

/**
 * The lower-case hex SHA-256 of `token`, as stored in configuration (and printed by
 * `statebase hash-token`, like rstmdb-cli's).
 * @example
 * hashToken("secret").slice(0, 8); // -> "2bb80d53"
 */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/**
 * The entry whose hash matches `presented`, or undefined. Every entry is compared (no early
 * exit) and each comparison is constant-time. Hashes are compared case-sensitively, as
 * rstmdb does: an upper-case hash in a config never matches.
 */
export function findToken(
  tokens: readonly TokenEntry[],
  presented: string,
): TokenEntry | undefined {
  const digest = Buffer.from(hashToken(presented), "utf8");
  let found: TokenEntry | undefined;
  for (const entry of tokens) {
    const stored = Buffer.from(entry.sha256, "utf8");
    const same = stored.length === digest.length && timingSafeEqual(stored, digest);
    if (same && found === undefined) found = entry;
  }
  return found;
}

/** Whether a token with role `granted` may run something that needs role `needed`. */
export function roleAllows(granted: TokenRole, needed: TokenRole): boolean {
  return roleRank[granted] >= roleRank[needed];
}
