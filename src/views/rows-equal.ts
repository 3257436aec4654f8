/**
 * @module Row equality on the maintenance path: most rows that compare equal share their
 * values by identity, so this checks `===` column by column before falling back to the one
 * total order (values/compare.ts) for object values (decimals, dates, lists).
 */
import { valuesEqual } from "../values/index.ts";
import type { Row } from "./delta.ts";

/** True when both rows have the same columns with equal values. */
export function rowsEqual(a: Row, b: Row): boolean {
  if (a === b) return true;
  let count = 0;
  for (const name in a) {
    if (!valueEqual(a[name], b[name])) return false;
    count++;
  }
  // Counted, not listed (Object.keys allocates): this runs for every output row written.
  for (const name in b) {
    if (!(name in a)) return false;
    count--;
  }
  return count === 0;
}

/**
 * {@link rowsEqual}, comparing the columns `first` before all others: when a view's row
 * changes, the change is most often in its last columns (an aggregate's results), and the
 * rows are found to differ after one comparison instead of a walk through both.
 */
export function rowsEqualComparingFirst(
  a: Row,
  b: Row,
  first: readonly string[] | undefined,
): boolean {
  if (a === b) return true;
  if (first !== undefined && !columnsEqual(a, b, first)) return false;
  return rowsEqual(a, b);
}

/** True when the rows hold equal values in the columns `names` (the others are not compared). */
export function columnsEqual(a: Row, b: Row, names: readonly string[]): boolean {
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (!valueEqual(a[name], b[name])) return false;
  }
  return true;
}

function valueEqual(left: unknown, right: unknown): boolean {
  return left === right || (typeof left === "object" && valuesEqual(left, right));
}
