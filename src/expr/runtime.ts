/**
 * @module The run-time rules both semantics share or differ on: truthiness, value families,
 * comparison (RQL: none-propagating and family-checked; guard: rstmdb's JSON equality and
 * numbers-only ordering) and field path reads. Compiled closures call these on their slow
 * paths; the fast paths in compile-operators.ts must agree with them exactly.
 */
import { compareValues, Decimal, Duration } from "../values/index.ts";
import type { ComparisonOp } from "./ast.ts";

/**
 * Value families: values of one family are comparable, values of two are not. The RQL kinds
 * that are text at run time (utf8, date, time, uuid) share "text".
 */
export type ValueFamily =
  | "none"
  | "bool"
  | "number"
  | "text"
  | "datetime"
  | "duration"
  | "blob"
  | "list"
  | "record"
  | "other";

export function valueFamily(value: unknown): ValueFamily {
  if (value === null || value === undefined) return "none";
  switch (typeof value) {
    case "boolean":
      return "bool";
    case "number":
    case "bigint":
      return "number";
    case "string":
      return "text";
    case "object":
      break;
    default:
      return "other";
  }
  if (value instanceof Decimal) return "number";
  if (value instanceof Date) return "datetime";
  if (value instanceof Duration) return "duration";
  if (value instanceof Uint8Array) return "blob";
  if (Array.isArray(value)) return "list";
  return isPlainObject(value) ? "record" : "other";
}

/** Records and JSON objects: the only values a field path walks into (arrays are not). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Truthiness, the same in both semantics and the same as rstmdb's for JSON values: none,
 * false, zero (of every numeric kind, and a zero duration), "" and empty lists, records and
 * blobs are false; everything else is true.
 */
export function isTruthy(value: unknown): boolean {
  if (value === true) return true;
  if (value === false || value === null || value === undefined) return false;
  switch (typeof value) {
    case "number":
      return value !== 0 && !Number.isNaN(value);
    case "bigint":
      return value !== 0n;
    case "string":
      return value.length > 0;
    case "object":
      break;
    default:
      return true;
  }
  if (Array.isArray(value)) return value.length > 0;
  if (value instanceof Decimal) return value.coefficient !== 0n;
  if (value instanceof Duration) return value.ms !== 0;
  if (value instanceof Uint8Array) return value.length > 0;
  if (isPlainObject(value)) return hasOwnKey(value);
  return true;
}

function hasOwnKey(record: Record<string, unknown>): boolean {
  for (const key in record) {
    if (Object.hasOwn(record, key)) return true;
  }
  return false;
}

/** A logic operand in RQL: none stays unknown (null), anything else is its truthiness. */
export function logicValue(value: unknown): boolean | null {
  if (value === true || value === false) return value;
  if (value === null || value === undefined) return null;
  return isTruthy(value);
}

/** Turns a three-way comparison result into the operator's answer. */
export function orderHolds(op: ComparisonOp, order: number): boolean {
  switch (op) {
    case "==":
      return order === 0;
    case "!=":
      return order !== 0;
    case "<":
      return order < 0;
    case "<=":
      return order <= 0;
    case ">":
      return order > 0;
    case ">=":
      return order >= 0;
  }
}

/**
 * RQL comparison: none if either side is none; false (for every operator, `!=` included)
 * when the families differ, because incomparable kinds have no order and no equality.
 */
export function rqlCompare(op: ComparisonOp, a: unknown, b: unknown): boolean | null {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  if (typeof a === "number" && typeof b === "number") return orderHolds(op, a < b ? -1 : +(a > b));
  if (typeof a === "string" && typeof b === "string") return orderHolds(op, a < b ? -1 : +(a > b));
  if (valueFamily(a) !== valueFamily(b)) return false;
  return orderHolds(op, compareValues(a, b));
}

/** Guard numbers are f64, as in rstmdb; bigint and decimal values are read as f64 too. */
export function guardNumber(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Decimal) return value.toNumber();
  return undefined;
}

/**
 * rstmdb's `==`: null equals null, bools and strings exactly, numbers as f64 within
 * Number.EPSILON, and any kind mismatch is false. Values rstmdb has no literal for (lists,
 * records, durations) are equal when they have equal families and values (our superset).
 */
export function guardEquals(a: unknown, b: unknown): boolean {
  if (a === null || a === undefined) return b === null || b === undefined;
  if (typeof a === "boolean" || typeof a === "string") return a === b;
  const x = guardNumber(a);
  if (x !== undefined) {
    const y = guardNumber(b);
    return y !== undefined && Math.abs(x - y) < Number.EPSILON;
  }
  if (b === null || b === undefined) return false;
  return valueFamily(a) === valueFamily(b) && compareValues(a, b) === 0;
}

/** Guard comparison: `!=` negates `==`; ordering is false unless both sides are numbers. */
export function guardCompare(op: ComparisonOp, a: unknown, b: unknown): boolean {
  if (op === "==") return guardEquals(a, b);
  if (op === "!=") return !guardEquals(a, b);
  const x = guardNumber(a);
  const y = guardNumber(b);
  if (x === undefined || y === undefined) return false;
  return orderHolds(op, x < y ? -1 : +(x > y));
}

/** Reads one key of a plain object; `own` forces an own-property check for keys such as
 * "constructor" that every object inherits. Missing keys and non-objects give null. */
export function readKey(container: unknown, key: string, own: boolean): unknown {
  if (!isPlainObject(container)) return null;
  if (own && !Object.hasOwn(container, key)) return null;
  const value = container[key];
  return value === undefined ? null : value;
}

/** True for keys that a plain object inherits, which a direct read would wrongly find. */
export function isInheritedKey(key: string): boolean {
  return key in Object.prototype;
}
