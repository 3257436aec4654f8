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
    const left = a[name];
    const right = b[name];
    if (left !== right && (typeof left !== "object" || !valuesEqual(left, right))) {
      if (!(left === undefined && right === undefined)) return false;
    }
    count++;
  }
  return count === Object.keys(b).length;
}
