/**
 * @module The row count a read may return (`limit` of scans and ranges, `latest(count)`): a
 * whole number >= 0, or Infinity for all. Checked once per read, so NaN or 2.5 is an error
 * naming the object rather than all rows, one row or a rounded count, depending on the loop.
 */
import { DbError, describeValue } from "../lib/errors.ts";

/** `value` as a row count (undefined: no limit); INVALID_ARGUMENT naming `object` if not one. */
export function readLimit(object: string, what: string, value: unknown): number {
  if (value === undefined) return Infinity;
  if (typeof value === "number" && (Number.isSafeInteger(value) || value === Infinity)) {
    if (value >= 0) return value;
  }
  throw new DbError(
    "INVALID_ARGUMENT",
    `${object}: ${what} must be a whole number >= 0, got ${describeValue(value)}`,
    { object, value: describeValue(value) },
  );
}
