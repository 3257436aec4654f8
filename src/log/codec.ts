/**
 * @module The value codec of the log: runtime values to JSON text and back, exactly. Plain
 * JSON carries none, booleans, text and numbers; bigints, decimals, datetimes, durations,
 * blobs, absent values and user objects with `$` keys become one-key tagged objects
 * (docs/log-format.md). The encoder writes JSON text directly, without a replacer, because
 * it runs once per commit.
 */
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { jsonDepthMax } from "../lib/limits.ts";
import { Decimal, Duration } from "../values/index.ts";

/** Nesting allowed in encoded values: user JSON plus the record's own structure. */
const codecDepthMax = jsonDepthMax + 8;

/** Quoted spellings of object keys (column names repeat in every record). */
const quotedKeys = new Map<string, string>();
/** Bound on that cache, so arbitrary user document keys cannot grow it without limit. */
const quotedKeysMax = 4096;

/** `JSON.stringify(text)` for a key, cached. */
function quoteKey(text: string): string {
  let quoted = quotedKeys.get(text);
  if (quoted === undefined) {
    quoted = JSON.stringify(text);
    if (quotedKeys.size < quotedKeysMax) quotedKeys.set(text, quoted);
  }
  return quoted;
}

/** Encodes a runtime value as JSON text. */
export function encodeValue(value: unknown): string {
  return encodeAt(value, 0);
}

function encodeAt(value: unknown, depth: number): string {
  assert(depth <= codecDepthMax, "value nested too deeply for the log");
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      assert(Number.isFinite(value), "the log cannot hold a non-finite number");
      return Object.is(value, -0) ? "0" : String(value);
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return `{"$int":"${value}"}`;
    case "undefined":
      return '{"$undef":1}';
    default:
      return encodeObject(value, depth);
  }
}

function encodeObject(value: unknown, depth: number): string {
  if (value === null) return "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++)
      out += (i > 0 ? "," : "") + encodeAt(value[i], depth + 1);
    return `${out}]`;
  }
  if (value instanceof Date) return `{"$time":${value.getTime()}}`;
  if (value instanceof Decimal) return `{"$dec":"${value.toString()}"}`;
  if (value instanceof Duration) return `{"$dur":${value.ms}}`;
  if (value instanceof Uint8Array) return `{"$blob":"${Buffer.from(value).toString("hex")}"}`;
  const record = value as Record<string, unknown>;
  let out = "{";
  let first = true;
  let tagged = false;
  for (const key in record) {
    const item = record[key];
    if (key.charCodeAt(0) === 36 /* $ */) tagged = true;
    out += `${first ? "" : ","}${quoteKey(key)}:${encodeAt(item, depth + 1)}`;
    first = false;
  }
  out += "}";
  // An object of the user's with `$` keys is wrapped so it is never read back as a tag.
  return tagged ? `{"$obj":${out}}` : out;
}

/** Decodes JSON text written by {@link encodeValue}. Throws CORRUPT on malformed input. */
export function decodeValue(text: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DbError("CORRUPT", `log value is not JSON: ${(error as Error).message}`);
  }
  return revive(parsed, 0);
}

/** Turns parsed JSON back into runtime values (tags into their types). */
export function revive(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== "object") return value;
  if (depth > codecDepthMax) throw new DbError("CORRUPT", "log value nested too deeply");
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = revive(value[i], depth + 1);
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (key.charCodeAt(0) === 36 /* $ */) return reviveTag(key, record[key], depth);
    record[key] = revive(record[key], depth + 1);
  }
  return record;
}

function reviveTag(tag: string, payload: unknown, depth: number): unknown {
  switch (tag) {
    case "$int":
      if (typeof payload === "string" && /^-?\d+$/.test(payload)) return BigInt(payload);
      break;
    case "$undef":
      return undefined;
    case "$time":
      if (typeof payload === "number") return new Date(payload);
      break;
    case "$dec":
      if (typeof payload === "string") return Decimal.parse(payload);
      break;
    case "$dur":
      if (typeof payload === "number") return new Duration(payload);
      break;
    case "$blob":
      if (typeof payload === "string" && /^(?:[0-9a-f]{2})*$/.test(payload)) {
        return new Uint8Array(Buffer.from(payload, "hex"));
      }
      break;
    case "$obj":
      if (payload !== null && typeof payload === "object" && !Array.isArray(payload)) {
        const record = payload as Record<string, unknown>;
        for (const key in record) record[key] = revive(record[key], depth + 1);
        return record;
      }
      break;
    default:
      break;
  }
  throw new DbError("CORRUPT", `log value has a malformed tag ${tag}`);
}
