/**
 * @module Canonical JSON: compact text with object keys sorted. By their UTF-8 bytes, it is
 * how rstmdb's serde_json prints a `Value` (keys in a BTreeMap), which the definition checksum
 * needs for `meta`; idempotency fingerprints only need equal documents to give equal text.
 */
import { DbError } from "../lib/errors.ts";
import { jsonDepthMax } from "../lib/limits.ts";
import { setOwnKey } from "../lib/row-object.ts";

/**
 * Compact JSON of `value` with every object's keys sorted (UTF-16 order: only determinism
 * matters here, and it is cheaper than byte order).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortedCopy(value, undefined));
}

/**
 * A copy of a JSON value whose objects have their keys inserted in sorted order: UTF-8 byte
 * order (serde's) with `compareUtf8`, or UTF-16 order without a comparator.
 */
export function sortedCopy(
  value: unknown,
  compare: ((a: string, b: string) => number) | undefined,
  depth = 0,
): unknown {
  if (depth > jsonDepthMax) {
    throw new DbError("INVALID_ARGUMENT", `JSON nested deeper than ${jsonDepthMax} levels`);
  }
  // Not JSON, but a fingerprint must not throw on it; the json column refuses it later.
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => sortedCopy(item, compare, depth + 1));
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source).sort(compare)) {
    if (source[key] === undefined) continue;
    setOwnKey(out, key, sortedCopy(source[key], compare, depth + 1));
  }
  return out;
}

/** Orders strings by their UTF-8 bytes (UTF-16 order differs for astral characters). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
