/**
 * @module Map keys for values. JavaScript Maps compare keys by identity, so values that are
 * objects (dates, decimals, blobs, documents) and composite keys get a canonical primitive
 * encoding; numbers, strings, bigints and booleans are their own key.
 */
import { Decimal } from "./decimal.ts";
import { Duration } from "./duration.ts";

/** A value usable as a Map key with value semantics. */
export type MapKey = string | number | bigint | boolean | null;

/** The Map key of one value. Equal values of one kind (as in one column) get equal keys. */
export function mapKeyOf(value: unknown): MapKey {
  switch (typeof value) {
    case "number":
      // -0 and 0 are equal values; Maps already treat them as one key (SameValueZero).
      return value;
    case "string":
    case "bigint":
    case "boolean":
      return value;
    case "undefined":
      return null;
    default:
      return value === null ? null : `\u0001${encodeTagged(value)}`;
  }
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
      // A bigint never holds a safe integer (normalisation), but tag it as a number anyway
      // so that 2^60 as number-from-float and as bigint would still meet.
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
  if (value.scale === 0 && Number.isSafeInteger(Number(value.coefficient))) {
    return `f${Number(value.coefficient)}`;
  }
  return `d${value.toString()}`;
}
