/**
 * @module Coercion of outside values into a column's type: the single gate every stored value
 * passes. It range-checks, normalises the representation (see types.ts) and fails with an
 * error naming the object, column and value.
 */
import { DbError, describeValue } from "../lib/errors.ts";
import type { ErrorDetails } from "../lib/errors.ts";
import { blobSizeBytesMax, jsonDepthMax, textLengthMax } from "../lib/limits.ts";
import { rowConstructor, setOwnKey } from "../lib/row-object.ts";
import { Decimal } from "./decimal.ts";
import { Duration } from "./duration.ts";
import { integerBounds, typeName } from "./types.ts";
import type { BaseKind, ValueType } from "./types.ts";

/** Where a value is going, for error messages. */
export interface ValueSite {
  object?: string;
  column?: string;
  row?: number;
}

const float4Max = 3.4028234663852886e38;
const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/;
/** A date, then optionally a time (minutes at least), then optionally a zone. */
const dateTimePattern = new RegExp(
  "^(\\d{4})-(\\d{2})-(\\d{2})" +
    "(?:[Tt ](\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d{1,9}))?)?" +
    "(?:[Zz]|([+-])(\\d{2}):?(\\d{2}))?)?$",
);
/** The last year a date (YYYY-MM-DD) can spell. */
const dateYearMax = 9999;
/** The range of a JavaScript Date: ms either side of the epoch. */
const dateTimeMsMax = 8.64e15;
const timePattern = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;
const uuidPattern =
  /^[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-([0-9a-f])[0-9a-f]{3}-[0-9a-f]{12}$/;

/** Coerces `value` to `type`, or throws TYPE_MISMATCH / OUT_OF_RANGE naming the site. */
export function coerceValue(type: ValueType, value: unknown, site: ValueSite = {}): unknown {
  // Hot path: a safe integer into int8 or a finite number into float8 is already normal.
  if (typeof value === "number") {
    const kind = type.kind;
    if (
      kind === "int8" ? Number.isSafeInteger(value) : kind === "float8" && Number.isFinite(value)
    ) {
      return value === 0 ? 0 : value;
    }
  }
  if (value === null || value === undefined) {
    if (type.optional || type.kind === "any" || type.kind === "json") return null;
    throw mismatch(type, value, site, "none is not allowed; declare the column Option(T)");
  }
  return coerceKind(type, value, site);
}

function coerceKind(type: ValueType, value: unknown, site: ValueSite): unknown {
  const kind = type.kind;
  switch (kind) {
    case "bool":
      if (typeof value === "boolean") return value;
      throw mismatch(type, value, site);
    case "float4":
    case "float8":
      return coerceFloat(type, value, site);
    case "decimal":
      return coerceDecimal(type, value, site);
    case "utf8":
      return coerceText(type, value, site);
    case "blob":
      return coerceBlob(type, value, site);
    case "date":
      return coerceDate(type, value, site);
    case "datetime":
      return coerceDateTime(type, value, site);
    case "time":
      return coerceTime(type, value, site);
    case "duration":
      return coerceDuration(type, value, site);
    case "uuid4":
    case "uuid7":
      return coerceUuid(type, value, site);
    case "json":
      return copyJson(value, site, 0);
    case "any":
      return copyStorable(value, site);
    default:
      return coerceInteger(type, kind, value, site);
  }
}

function coerceInteger(type: ValueType, kind: BaseKind, value: unknown, site: ValueSite): unknown {
  const bounds = integerBounds[kind];
  if (bounds === undefined) throw mismatch(type, value, site);
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw mismatch(type, value, site, "not an integer");
    // Fast path: safe integers within a narrow kind need no bigint arithmetic.
    if (value >= -2147483648 && value <= 2147483647 && kind !== "int16" && kind !== "uint16") {
      if (value < bounds[0] || value > bounds[1]) throw outOfRange(type, value, site);
      // An integer has no negative zero; -0 would key like 0 yet print and compare as -0.
      return value === 0 ? 0 : value;
    }
    if (!Number.isSafeInteger(value)) {
      throw mismatch(type, value, site, "beyond 2^53 a number loses precision; pass a bigint");
    }
    return checkBigInt(type, kind, BigInt(value), bounds, site, value);
  }
  if (typeof value === "bigint") return checkBigInt(type, kind, value, bounds, site, value);
  if (typeof value === "string" && /^[+-]?\d{1,40}$/.test(value.trim())) {
    return checkBigInt(type, kind, BigInt(value.trim()), bounds, site, value);
  }
  if (value instanceof Decimal && value.scale === 0) {
    return checkBigInt(type, kind, value.coefficient, bounds, site, value);
  }
  throw mismatch(type, value, site);
}

function checkBigInt(
  type: ValueType,
  kind: BaseKind,
  value: bigint,
  bounds: readonly [bigint, bigint],
  site: ValueSite,
  original: unknown,
): number | bigint {
  if (value < bounds[0] || value > bounds[1]) throw outOfRange(type, original, site);
  if (kind === "int16" || kind === "uint16") return value;
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value;
}

function coerceFloat(type: ValueType, value: unknown, site: ValueSite): number {
  let n: number;
  if (typeof value === "number") n = value;
  else if (typeof value === "bigint") n = Number(value);
  else if (value instanceof Decimal) n = value.toNumber();
  else throw mismatch(type, value, site);
  if (!Number.isFinite(n)) throw outOfRange(type, value, site);
  if (type.kind === "float4") {
    if (Math.abs(n) > float4Max) throw outOfRange(type, value, site);
    n = Math.fround(n);
  }
  // Stored values never hold -0 (as the float8 hot path above already ensures).
  return n === 0 ? 0 : n;
}

function coerceDecimal(type: ValueType, value: unknown, site: ValueSite): Decimal {
  try {
    if (value instanceof Decimal) return value;
    if (typeof value === "number") return Decimal.fromNumber(value);
    if (typeof value === "bigint") return Decimal.fromBigInt(value);
    if (typeof value === "string") return Decimal.parse(value);
  } catch (error) {
    // A number too long to be a decimal is said as that, naming the column.
    if (error instanceof DbError && error.code === "OUT_OF_RANGE") {
      throw new DbError("OUT_OF_RANGE", `${where(site)}${error.message}`, {
        ...details(site),
        value: describeValue(value),
      });
    }
    // Else fall through to the error that names the column; the parse error lacks the site.
  }
  throw mismatch(type, value, site);
}

function coerceText(type: ValueType, value: unknown, site: ValueSite): string {
  if (typeof value !== "string") throw mismatch(type, value, site);
  return checkTextLength(value, site);
}

/**
 * Text of any kind of value (a utf8 column, text or a key inside an any or json value) is at
 * most textLengthMax long, so no single string outgrows what a log record or a frame holds.
 */
function checkTextLength(text: string, site: ValueSite): string {
  if (text.length > textLengthMax) {
    throw new DbError("LIMIT_EXCEEDED", `${where(site)}text longer than ${textLengthMax}`, {
      ...details(site),
      value: describeValue(text),
    });
  }
  return text;
}

function coerceBlob(type: ValueType, value: unknown, site: ValueSite): Uint8Array {
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) bytes = new Uint8Array(value);
  else if (typeof value === "string" && /^0x([0-9a-fA-F]{2})*$/.test(value)) {
    bytes = new Uint8Array(Buffer.from(value.slice(2), "hex"));
  } else throw mismatch(type, value, site, "expected bytes or 0x-prefixed hex");
  if (bytes.length > blobSizeBytesMax) {
    throw new DbError(
      "LIMIT_EXCEEDED",
      `${where(site)}blob larger than ${blobSizeBytesMax}`,
      details(site),
    );
  }
  return bytes;
}

function coerceDate(type: ValueType, value: unknown, site: ValueSite): string {
  if (value instanceof Date && !Number.isNaN(value.getTime())) {
    // YYYY-MM-DD has four year digits; beyond them toISOString writes +275760-09-13.
    const year = value.getUTCFullYear();
    if (year < 0 || year > dateYearMax) throw outOfRange(type, value, site);
    return value.toISOString().slice(0, 10);
  }
  if (typeof value === "string") {
    const match = datePattern.exec(value);
    // As a datetime's day: Date.UTC would read years 0 to 99 as 1900 to 1999.
    if (match && calendarDayMs(Number(match[1]), Number(match[2]), Number(match[3])) !== undefined)
      return value;
  }
  throw mismatch(type, value, site, "expected YYYY-MM-DD");
}

function coerceDateTime(type: ValueType, value: unknown, site: ValueSite): Date {
  let ms: number | undefined;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === "number" && Number.isFinite(value)) ms = value;
  else if (typeof value === "string") ms = dateTimeTextMs(value);
  if (ms === undefined || Number.isNaN(ms)) {
    throw mismatch(type, value, site, "expected a Date, ISO 8601 text or Unix ms");
  }
  // Beyond it a Date is Invalid Date, which reads back as none.
  if (Math.abs(ms) > dateTimeMsMax) throw outOfRange(type, value, site);
  // A copy: a caller mutating its Date must not change stored state.
  return new Date(ms);
}

/**
 * Unix ms of ISO 8601 text (`2024-01-02`, `2024-01-02T03:04[:05[.fraction]]` with `T` or a
 * space, then `Z`, `±HH:MM`, `±HHMM` or nothing), or undefined. No offset means UTC, as the
 * date functions read dates, never the server's zone; an impossible day or time is refused
 * rather than rolled over.
 */
function dateTimeTextMs(text: string): number | undefined {
  const match = dateTimePattern.exec(text);
  if (!match) return undefined;
  const day = calendarDayMs(Number(match[1]), Number(match[2]), Number(match[3]));
  const [hour, minute, second] = [match[4], match[5], match[6]].map((part) => Number(part ?? 0));
  const [offsetHour, offsetMinute] = [Number(match[9] ?? 0), Number(match[10] ?? 0)];
  if (day === undefined || hour! > 23 || minute! > 59 || second! > 59) return undefined;
  if (offsetHour > 23 || offsetMinute > 59) return undefined;
  const fractionMs = Number((match[7] ?? "").padEnd(3, "0").slice(0, 3));
  const offsetMs = (match[8] === "-" ? -1 : 1) * (offsetHour * 60 + offsetMinute) * 60_000;
  return day + ((hour! * 60 + minute!) * 60 + second!) * 1000 + fractionMs - offsetMs;
}

/** Unix ms of a calendar day at midnight UTC, or undefined for a day that does not exist. */
function calendarDayMs(year: number, month: number, day: number): number | undefined {
  const probe = new Date(0);
  // setUTCFullYear, not Date.UTC: that maps years 0 to 99 to 1900 to 1999.
  probe.setUTCFullYear(year, month - 1, day);
  return probe.getUTCMonth() === month - 1 && probe.getUTCDate() === day
    ? probe.getTime()
    : undefined;
}

function coerceTime(type: ValueType, value: unknown, site: ValueSite): string {
  if (typeof value === "string") {
    const match = timePattern.exec(value);
    if (match && Number(match[1]) < 24 && Number(match[2]) < 60 && Number(match[3]) < 60) {
      // One spelling per time (12:00:00.5, not .50), as keys, == and distinct compare text.
      const fraction = (match[4] ?? "").replace(/0+$/, "");
      return fraction === "" ? value.slice(0, 8) : `${value.slice(0, 8)}.${fraction}`;
    }
  }
  throw mismatch(type, value, site, "expected HH:MM:SS[.fraction]");
}

function coerceDuration(type: ValueType, value: unknown, site: ValueSite): Duration {
  if (value instanceof Duration) return value;
  if (typeof value === "number" && Number.isFinite(value)) return new Duration(value);
  if (typeof value === "string") {
    try {
      return Duration.parse(value);
    } catch {
      // Reported below with the column's name.
    }
  }
  throw mismatch(type, value, site, "expected a duration such as 30s or 1h30m");
}

function coerceUuid(type: ValueType, value: unknown, site: ValueSite): string {
  if (typeof value === "string") {
    const lower = value.toLowerCase();
    const match = uuidPattern.exec(lower);
    const version = type.kind === "uuid4" ? "4" : "7";
    if (match && match[1] === version && "89ab".includes(match[2]!)) return lower;
  }
  throw mismatch(type, value, site, `expected a version ${type.kind.slice(4)} UUID`);
}

/**
 * Makes the objects of stored JSON documents: plain objects, but not from an object literal,
 * which V8 may pretenure when the change feed keeps its objects (lib/young-array.ts).
 */
const JsonObject = rowConstructor();

function copyJson(value: unknown, site: ValueSite, depth: number): unknown {
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "string") return checkTextLength(value, site);
  if (typeof value === "number") {
    // No -0, as in every stored value: the log writes it as 0, so it would not come back.
    if (Number.isFinite(value)) return value === 0 ? 0 : value;
    throw mismatch({ kind: "json", optional: true }, value, site, "JSON numbers are finite");
  }
  // Containers count as levels (scalars do not), so 65 nested empty arrays are refused too.
  if (depth >= jsonDepthMax && typeof value === "object") {
    throw new DbError(
      "LIMIT_EXCEEDED",
      `${where(site)}JSON nested deeper than ${jsonDepthMax}`,
      details(site),
    );
  }
  if (Array.isArray(value)) return value.map((item) => copyJson(item, site, depth + 1));
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out = new JsonObject();
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) {
        setOwnKey(out, checkTextLength(key, site), copyJson(item, site, depth + 1));
      }
    }
    return out;
  }
  throw mismatch({ kind: "json", optional: true }, value, site, "not a JSON value");
}

/** The type named in errors about values of no declared type. */
const anyType: ValueType = { kind: "any", optional: false };

/**
 * A copy of a value of no declared type (an `any` column, a schema-free queue body) made of
 * what the log carries and reads back as it was: none, booleans, finite numbers, bigints,
 * text, decimals, durations, datetimes, blobs, lists and plain objects, nested at most
 * jsonDepthMax deep, with text and keys at most textLengthMax long. Anything else (a Map, a
 * Set, a class instance, a function, NaN, an invalid date) would be stored, then come back
 * from the log as something else, stop the commit or stop the log from opening, so it is
 * refused here, naming the site. A copy, so the caller changing its object later changes
 * nothing.
 */
export function copyStorable(value: unknown, site: ValueSite, depth = 0): unknown {
  switch (typeof value) {
    case "string":
      return checkTextLength(value, site);
    case "boolean":
    case "bigint":
    case "undefined":
      return value;
    case "number":
      if (Number.isFinite(value)) return value === 0 ? 0 : value;
      throw mismatch(anyType, value, site, "only finite numbers can be stored");
    case "object":
      break;
    default:
      throw mismatch(anyType, value, site, `a ${typeof value} cannot be stored`);
  }
  if (value === null || value instanceof Decimal || value instanceof Duration) return value;
  if (value instanceof Date) {
    // An invalid date's time is NaN, which the log refuses to read back.
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw mismatch(anyType, value, site, "an invalid date cannot be stored");
    return new Date(ms);
  }
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (depth >= jsonDepthMax) {
    throw new DbError("LIMIT_EXCEEDED", `${where(site)}value nested deeper than ${jsonDepthMax}`, {
      ...details(site),
    });
  }
  if (Array.isArray(value)) return Array.from(value, (item) => copyStorable(item, site, depth + 1));
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    const name = (value.constructor as { name?: unknown } | undefined)?.name;
    const article = /^[AEIOU]/.test(String(name)) ? "an" : "a";
    const what = typeof name === "string" && name !== "" ? `${article} ${name}` : "this object";
    throw mismatch(anyType, value, site, `${what} cannot be stored; use plain objects and lists`);
  }
  const out = new JsonObject();
  for (const [key, item] of Object.entries(value)) {
    setOwnKey(out, checkTextLength(key, site), copyStorable(item, site, depth + 1));
  }
  return out;
}

function where(site: ValueSite): string {
  if (site.object && site.column) return `${site.object}.${site.column}: `;
  if (site.column) return `column ${site.column}: `;
  if (site.object) return `${site.object}: `;
  return "";
}

function details(site: ValueSite): ErrorDetails {
  const out: ErrorDetails = {};
  if (site.object !== undefined) out.object = site.object;
  if (site.column !== undefined) out.column = site.column;
  if (site.row !== undefined) out.row = site.row;
  return out;
}

function mismatch(type: ValueType, value: unknown, site: ValueSite, hint?: string): DbError {
  const rowText = site.row === undefined ? "" : ` (row ${site.row})`;
  const message =
    `${where(site)}expected ${typeName(type)}, got ${describeValue(value)}${rowText}` +
    (hint ? `: ${hint}` : "");
  return new DbError("TYPE_MISMATCH", message, { ...details(site), value: describeValue(value) });
}

function outOfRange(type: ValueType, value: unknown, site: ValueSite): DbError {
  const bounds = integerBounds[type.kind];
  const range = bounds ? ` [${bounds[0]}, ${bounds[1]}]` : "";
  const rowText = site.row === undefined ? "" : ` (row ${site.row})`;
  return new DbError(
    "OUT_OF_RANGE",
    `${where(site)}${describeValue(value)} is out of range for ${typeName(type)}${range}${rowText}`,
    { ...details(site), value: describeValue(value) },
  );
}
