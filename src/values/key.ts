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
 * The Map key of one value. Values equal by `==` get equal keys, also across kinds: an int16
 * column holds 5 as the bigint 5n and an int8 column as the number 5, and a join of the two,
 * or of a decimal 1.5 with a float8 1.5, must meet on one key. So a bigint or decimal that a
 * number holds exactly keys as that number.
 */
export function mapKeyOf(value: unknown): MapKey {
  switch (typeof value) {
    case "number":
      // -0 and 0 are equal values; Maps already treat them as one key (SameValueZero).
      return value;
    case "string":
      return textKey(value);
    case "boolean":
      return value;
    case "bigint":
      return bigintKey(value);
    case "undefined":
      return null;
    default:
      if (value === null) return null;
      if (value instanceof Decimal) {
        if (value.scale === 0) return bigintKey(value.coefficient);
        const asNumber = decimalAsNumber(value);
        if (asNumber !== undefined) return asNumber;
      }
      return `\u0001${encodeTagged(value)}`;
  }
}

/**
 * Text's key: the text itself, unless it starts with one of the marks of encoded keys (\u0001
 * other values, \u0002 tuples) or of this escape (\u0003). Then it is escaped, so text in an
 * any column or a json key never keys like the date or list whose encoding it spells.
 */
export function textKey(text: string): string {
  const first = text.charCodeAt(0);
  return first >= 1 && first <= 3 ? `\u0003${text}` : text;
}

/** A bigint's key: the number when a number holds it exactly, else the bigint. */
function bigintKey(value: bigint): number | bigint {
  const asNumber = Number(value);
  return BigInt(asNumber) === value ? asNumber : value;
}

/**
 * The number equal to a decimal with a fraction, if one is (as `==` compares them: the
 * number's shortest decimal spelling is the decimal), else undefined. Without an exponent the
 * two spellings are both canonical, so comparing the text decides; only a number spelled with
 * one (below 1e-6) needs the decimal parsed back.
 */
function decimalAsNumber(value: Decimal): number | undefined {
  const text = value.toString();
  const asNumber = Number(text);
  if (!Number.isFinite(asNumber)) return undefined;
  const spelled = String(asNumber);
  if (spelled === text) return asNumber;
  if (!spelled.includes("e")) return undefined;
  return Decimal.parse(spelled).compare(value) === 0 ? asNumber : undefined;
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
    case "bigint": {
      // As mapKeyOf: a number that holds the value exactly keys it (int16 columns hold 5n).
      const key = bigintKey(value);
      return typeof key === "number" ? `f${key}` : `i${value}`;
    }
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
  // A decimal equal to a number keys like that number (1.0 == 1, 1.5 == 1.5 as float8).
  if (value.scale === 0) return encodeTagged(value.coefficient);
  const asNumber = decimalAsNumber(value);
  return asNumber === undefined ? `d${value.toString()}` : `f${asNumber}`;
}
