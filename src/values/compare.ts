/**
 * @module The one total order and equality over runtime values. Sorting, indexes, group-by,
 * distinct and `==` all use it, so they always agree.
 */
import { Decimal } from "./decimal.ts";
import { Duration } from "./duration.ts";

/** Rank of each value family in the total order: none sorts first. */
function rankOf(value: unknown): number {
  if (value === null || value === undefined) return 0;
  switch (typeof value) {
    case "boolean":
      return 1;
    case "number":
    case "bigint":
      return 2;
    case "string":
      return 3;
    default:
      break;
  }
  if (value instanceof Decimal) return 2;
  if (value instanceof Date) return 4;
  if (value instanceof Duration) return 5;
  if (value instanceof Uint8Array) return 6;
  if (Array.isArray(value)) return 7;
  return 8;
}

/** Compares two values: negative, zero or positive. Total over every runtime value. */
export function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  // Fast paths for the common cases: same-typed numbers and strings.
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  const rankA = rankOf(a);
  const rankB = rankOf(b);
  if (rankA !== rankB) return rankA - rankB;
  switch (rankA) {
    case 0:
      return 0;
    case 1:
      return a === b ? 0 : a === false ? -1 : 1;
    case 2:
      return compareNumeric(a as number | bigint | Decimal, b as number | bigint | Decimal);
    case 4:
      return Math.sign((a as Date).getTime() - (b as Date).getTime());
    case 5:
      return (a as Duration).compare(b as Duration);
    case 6:
      return compareBytes(a as Uint8Array, b as Uint8Array);
    case 7:
      return compareArrays(a as unknown[], b as unknown[]);
    default:
      return compareObjects(a as Record<string, unknown>, b as Record<string, unknown>);
  }
}

/** Equality under {@link compareValues}. */
export function valuesEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === "number" && typeof b === "number") return false; // NaN never stored
  return compareValues(a, b) === 0;
}

function compareNumeric(a: number | bigint | Decimal, b: number | bigint | Decimal): number {
  if (a instanceof Decimal || b instanceof Decimal) {
    return toDecimal(a).compare(toDecimal(b));
  }
  // Mixed number/bigint comparison is exact in JavaScript.
  return a < b ? -1 : a > b ? 1 : 0;
}

function toDecimal(value: number | bigint | Decimal): Decimal {
  if (value instanceof Decimal) return value;
  return typeof value === "bigint" ? Decimal.fromBigInt(value) : Decimal.fromNumber(value);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function compareArrays(a: unknown[], b: unknown[]): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const d = compareValues(a[i], b[i]);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function compareObjects(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const keysA = Object.keys(a).sort();
  const keysB = Object.keys(b).sort();
  const d = compareArrays(keysA, keysB);
  if (d !== 0) return d;
  for (const key of keysA) {
    const dv = compareValues(a[key], b[key]);
    if (dv !== 0) return dv;
  }
  return 0;
}
