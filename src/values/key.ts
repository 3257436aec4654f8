/**
 * @module Map keys for values. JavaScript Maps compare keys by identity, so values that are
 * objects (dates, decimals, blobs, documents) and composite keys get a canonical primitive
 * encoding; numbers, strings, bigints and booleans are their own key.
 */
import { Decimal } from "./decimal.ts";
import { Duration } from "./duration.ts";

/** A value usable as a Map key with value semantics. */
export type MapKey = string | number | bigint | boolean | null;

/**
 * The Map key of one value. Equal values get equal keys, also across kinds: an int16 column
 * holds 5 as the bigint 5n and an int8 column as the number 5, and a join of the two, or a
 * decimal 5 against either, must meet on one key.
 */
export function mapKeyOf(value: unknown): MapKey {
  switch (typeof value) {
    case "number":
      // -0 and 0 are equal values; Maps already treat them as one key (SameValueZero).
      return value;
    case "string":
    case "boolean":
      return value;
    case "bigint":
      return bigintKey(value);
    case "undefined":
      return null;
    default:
      if (value === null) return null;
      if (value instanceof Decimal && isIntegral(value)) return bigintKey(value.coefficient);
      return `\u0001${encodeTagged(value)}`;
  }
}

/** A bigint's key: the number when it is a safe integer (as every other integer's key is). */
function bigintKey(value: bigint): number | bigint {
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value;
}

function isIntegral(value: Decimal): boolean {
  return value.scale === 0;
}

/** Whether two map keys name one Map entry (SameValueZero: NaN is NaN, -0 is 0). */
export function sameMapKey(a: MapKey, b: MapKey): boolean {
  return a === b || (a !== a && b !== b);
}

/** The Map key of a tuple of values (composite keys, group-by keys). */
export function mapKeyOfTuple(values: readonly unknown[]): MapKey {
  if (values.length === 1) return mapKeyOf(values[0]);
  let out = "\u0002";
  for (const value of values) out += `${encodeTagged(value)}\u0000`;
  return out;
}

function encodeTagged(value: unknown): string {
  if (value === null || value === undefined) return "n";
  switch (typeof value) {
    case "number":
      return `f${value}`;
    case "bigint":
      // A safe integer keys as a number, whichever kind holds it (int16 columns hold 5n).
      return Number.isSafeInteger(Number(value)) ? `f${Number(value)}` : `i${value}`;
    case "string":
      return `s${JSON.stringify(value)}`;
    case "boolean":
      return value ? "t" : "F";
    default:
      break;
  }
  if (value instanceof Decimal) return encodeDecimal(value);
  if (value instanceof Date) return `D${value.getTime()}`;
  if (value instanceof Duration) return `U${value.ms}`;
  if (value instanceof Uint8Array) return `b${Buffer.from(value).toString("hex")}`;
  if (Array.isArray(value)) return `[${value.map(encodeTagged).join(",")}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${encodeTagged(record[k])}`).join(",")}}`;
}

function encodeDecimal(value: Decimal): string {
  // A decimal equal to an integer must key like that integer (1.0 == 1).
  if (isIntegral(value)) return encodeTagged(value.coefficient);
  return `d${value.toString()}`;
}
