/**
 * @module Arithmetic over runtime values with RQL's rules: none propagates, integers are exact
 * (numbers widen to bigint instead of losing precision, and results beyond 128 bits fail with
 * ARITHMETIC_OVERFLOW), division by zero fails, decimals stay exact, and `+` joins text.
 * A float8 value with no fraction is a JavaScript number like any integer, so the caller says
 * when the static type is a float (`double`): the operation is then done in doubles and never
 * widens. Storing a result into a column range-checks it against the column's width
 * (coerce.ts).
 */
import { DbError, describeValue } from "../lib/errors.ts";
import { Decimal } from "./decimal.ts";
import { Duration } from "./duration.ts";

export type ArithOp = "+" | "-" | "*" | "/" | "%";

/**
 * How numbers combine: `integer` (`/` of two integers truncates), `float` (it does not), or
 * `double` (the result's static type is a float: every operation is done in doubles, so an
 * integral float beyond 2^53 stays a float instead of widening to bigint).
 */
export type ArithMode = "integer" | "float" | "double";

const wideMax = 2n ** 128n - 1n;
const wideMin = -(2n ** 127n);

/** Applies a binary arithmetic operator. */
export function arith(op: ArithOp, a: unknown, b: unknown, mode: ArithMode = "integer"): unknown {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  if (typeof a === "number" && typeof b === "number") return arithNumbers(op, a, b, mode);
  if (typeof a === "string" && typeof b === "string" && op === "+") return a + b;
  if (isNumeric(a) && isNumeric(b)) {
    if (mode === "double") return arithNumbers(op, toNumber(a), toNumber(b), mode);
    return arithMixed(op, a, b, mode);
  }
  return arithTemporal(op, a, b);
}

/**
 * The first term of a sum, as a sum of one value: a bigint that fits a number becomes one,
 * as any arithmetic result does, so a total's type does not depend on how many rows it has.
 */
export function firstTerm(value: unknown): unknown {
  return typeof value === "bigint" ? normalizeInteger(value) : value;
}

/** Negates a value; none stays none. */
export function negate(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return value === 0 ? 0 : -value;
  if (typeof value === "bigint") return normalizeInteger(-value);
  if (value instanceof Decimal) return value.negate();
  if (value instanceof Duration) return new Duration(-value.ms);
  throw typeError("-", value, undefined);
}

/** A bigint result as a number when it is safe, else the bigint; fails beyond 128 bits. */
export function normalizeInteger(value: bigint): number | bigint {
  if (value > wideMax || value < wideMin) {
    throw new DbError("ARITHMETIC_OVERFLOW", `integer overflow: result exceeds 128 bits`, {
      value: `${value}`,
    });
  }
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value;
}

function isNumeric(value: unknown): value is number | bigint | Decimal {
  return typeof value === "number" || typeof value === "bigint" || value instanceof Decimal;
}

function arithNumbers(op: ArithOp, a: number, b: number, mode: ArithMode): number | bigint {
  const integers = Number.isInteger(a) && Number.isInteger(b);
  if ((op === "/" || op === "%") && b === 0) throw divisionByZero(a, op);
  let result: number;
  switch (op) {
    case "+":
      result = a + b;
      break;
    case "-":
      result = a - b;
      break;
    case "*":
      result = a * b;
      break;
    case "/":
      result = integers && mode === "integer" ? Math.trunc(a / b) : a / b;
      break;
    case "%":
      result = a % b;
      break;
  }
  // Float division of two integers is a float result, never a reason to go exact.
  const exact = integers && mode !== "double" && !(op === "/" && mode === "float");
  if (exact && !Number.isSafeInteger(result)) return arithBigInt(op, BigInt(a), BigInt(b));
  if (!Number.isFinite(result)) {
    throw new DbError("ARITHMETIC_OVERFLOW", `float overflow: ${a} ${op} ${b}`, { value: result });
  }
  return result === 0 ? 0 : result;
}

function arithBigInt(op: ArithOp, a: bigint, b: bigint): number | bigint {
  if ((op === "/" || op === "%") && b === 0n) throw divisionByZero(a, op);
  switch (op) {
    case "+":
      return normalizeInteger(a + b);
    case "-":
      return normalizeInteger(a - b);
    case "*":
      return normalizeInteger(a * b);
    case "/":
      return normalizeInteger(a / b);
    case "%":
      return normalizeInteger(a % b);
  }
}

function arithMixed(
  op: ArithOp,
  a: number | bigint | Decimal,
  b: number | bigint | Decimal,
  mode: ArithMode,
): unknown {
  const float =
    (typeof a === "number" && !Number.isInteger(a)) ||
    (typeof b === "number" && !Number.isInteger(b));
  if (a instanceof Decimal || b instanceof Decimal) {
    if (float) return arithNumbers(op, toNumber(a), toNumber(b), "float");
    return arithDecimal(op, toDecimal(a), toDecimal(b));
  }
  if (float) return arithNumbers(op, toNumber(a), toNumber(b), "float");
  // Both are integers, at least one a bigint.
  if (op === "/" && mode === "float") return arithNumbers(op, toNumber(a), toNumber(b), "float");
  return arithBigInt(op, BigInt(a), BigInt(b));
}

function arithDecimal(op: ArithOp, a: Decimal, b: Decimal): Decimal {
  switch (op) {
    case "+":
      return a.add(b);
    case "-":
      return a.sub(b);
    case "*":
      return a.mul(b);
    case "/":
      return a.div(b);
    case "%":
      return a.mod(b);
  }
}

function arithTemporal(op: ArithOp, a: unknown, b: unknown): unknown {
  if (a instanceof Duration && b instanceof Duration) {
    if (op === "+") return a.add(b);
    if (op === "-") return new Duration(a.ms - b.ms);
  }
  if (a instanceof Date && b instanceof Duration) {
    if (op === "+") return instantOf(a, op, b, a.getTime() + b.ms);
    if (op === "-") return instantOf(a, op, b, a.getTime() - b.ms);
  }
  if (a instanceof Date && b instanceof Date && op === "-") {
    return new Duration(a.getTime() - b.getTime());
  }
  if (a instanceof Duration && typeof b === "number" && (op === "*" || op === "/")) {
    if (op === "/" && b === 0) throw divisionByZero(a.ms, op);
    return new Duration(op === "*" ? a.ms * b : a.ms / b);
  }
  throw typeError(op, a, b);
}

/** A datetime plus or minus a duration, which must stay in the datetime range. */
function instantOf(a: Date, op: ArithOp, b: Duration, ms: number): Date {
  const at = new Date(ms);
  // Past ±8.64e15 ms a Date is Invalid Date, which read as none rather than as an error.
  if (Number.isNaN(at.getTime())) {
    throw new DbError(
      "ARITHMETIC_OVERFLOW",
      `datetime overflow: ${describeValue(a)} ${op} ${describeValue(b)} is out of range`,
      { value: `${ms}` },
    );
  }
  return at;
}

function toNumber(value: number | bigint | Decimal): number {
  return value instanceof Decimal ? value.toNumber() : Number(value);
}

function toDecimal(value: number | bigint | Decimal): Decimal {
  if (value instanceof Decimal) return value;
  return typeof value === "bigint" ? Decimal.fromBigInt(value) : Decimal.fromNumber(value);
}

function divisionByZero(a: unknown, op: ArithOp): DbError {
  const what = op === "%" ? "modulo" : "division";
  return new DbError("DIVISION_BY_ZERO", `${what} by zero: ${describeValue(a)} ${op} 0`);
}

function typeError(op: string, a: unknown, b: unknown): DbError {
  const right = b === undefined ? "" : ` and ${describeValue(b)}`;
  return new DbError(
    "TYPE_MISMATCH",
    `operator ${op} does not apply to ${describeValue(a)}${right}`,
    {
      value: describeValue(a),
    },
  );
}
