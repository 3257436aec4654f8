/**
 * @module `math::` scalar functions. Integers stay exact (results widen to bigint and fail
 * beyond 128 bits, like the operators), decimals stay decimal, floats round as floats. The
 * aggregate spellings (`math::sum(x)`, one-argument `math::min(x)`) are not here: the RQL
 * aggregate step evaluates those itself.
 */
import {
  compareValues,
  Decimal,
  arith,
  integerKinds,
  normalizeInteger,
} from "../../values/index.ts";
import type { ValueType } from "../../values/index.ts";
import { DbError, describeValue } from "../../lib/errors.ts";
import { functionArgumentsMax } from "../../lib/limits.ts";
import { valueFamily } from "../runtime.ts";
import {
  anyType,
  defineFunction,
  expectNumeric,
  expectSafeInteger,
  fixed,
  invalidArgument,
  sameAsFirst,
  toFloat,
} from "./common.ts";
import type { ArgumentFamily, FunctionSpec, Numeric } from "./common.ts";

/** Digits `math::round` accepts: enough for any decimal division result. */
const roundDigitsMax = 28;
/** Exponents beyond this cannot give an exact integer within 128 bits unless |base| <= 1. */
const exactExponentMax = 128;

type RoundMode = "floor" | "ceil" | "half";

function scalar(
  name: string,
  arity: readonly [number, number],
  returns: FunctionSpec["returns"],
  invoke: FunctionSpec["invoke"],
  argumentFamilies?: readonly ArgumentFamily[],
): FunctionSpec {
  return defineFunction("math", name, arity, returns, invoke, { argumentFamilies });
}

/** Rounds a decimal to `digits` places: toward -inf, toward +inf, or half away from zero. */
function roundDecimal(value: Decimal, digits: number, mode: RoundMode): Decimal {
  if (value.scale <= digits) return value;
  const factor = 10n ** BigInt(value.scale - digits);
  let quotient = value.coefficient / factor;
  const remainder = value.coefficient % factor;
  if (mode === "floor" && remainder < 0n) quotient -= 1n;
  if (mode === "ceil" && remainder > 0n) quotient += 1n;
  if (mode === "half") {
    const twice = 2n * (remainder < 0n ? -remainder : remainder);
    if (twice >= factor) quotient += value.coefficient < 0n ? -1n : 1n;
  }
  return Decimal.of(quotient, digits);
}

function roundNumeric(fn: string, value: Numeric, digits: number, mode: RoundMode): Numeric {
  if (typeof value === "bigint") return value;
  if (value instanceof Decimal) return roundDecimal(value, digits, mode);
  if (Number.isInteger(value)) return value;
  let result: number;
  if (mode === "floor") result = Math.floor(value);
  else if (mode === "ceil") result = Math.ceil(value);
  else {
    const factor = 10 ** digits;
    result = (Math.sign(value) * Math.round(Math.abs(value) * factor)) / factor;
  }
  if (!Number.isFinite(result)) throw invalidArgument(fn, "result is out of range", value);
  return result === 0 ? 0 : result;
}

function abs(args: readonly unknown[]): unknown {
  const value = expectNumeric("math::abs", args, 0);
  if (typeof value === "number") return Math.abs(value);
  if (typeof value === "bigint") return normalizeInteger(value < 0n ? -value : value);
  return value.coefficient < 0n ? value.negate() : value;
}

function round(args: readonly unknown[]): unknown {
  const value = expectNumeric("math::round", args, 0);
  const digits = args.length > 1 ? expectSafeInteger("math::round", args, 1) : 0;
  if (digits < 0 || digits > roundDigitsMax) {
    throw invalidArgument("math::round", `digits must be 0 to ${roundDigitsMax}`, digits);
  }
  return roundNumeric("math::round", value, digits, "half");
}

function isWholeNumber(value: Numeric): value is number | bigint {
  return typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value));
}

/** Exact for integer bases and whole non-negative exponents; floats otherwise. */
function power(args: readonly unknown[]): unknown {
  const base = expectNumeric("math::power", args, 0);
  const exponent = expectNumeric("math::power", args, 1);
  if (isWholeNumber(exponent) && exponent >= 0) {
    if (isWholeNumber(base)) return powerExact(BigInt(base), BigInt(exponent));
    if (base instanceof Decimal && exponent <= exactExponentMax) {
      let result = Decimal.fromBigInt(1n);
      for (let i = 0; i < Number(exponent); i++) result = result.mul(base);
      return result;
    }
  }
  const x = toFloat(base);
  const y = toFloat(exponent);
  if (x === 0 && y < 0) {
    throw new DbError("DIVISION_BY_ZERO", `math::power: 0 to a negative power ${y}`);
  }
  const result = Math.pow(x, y);
  if (Number.isNaN(result)) {
    throw invalidArgument("math::power", `${x} to the power ${y} is not a real number`, x);
  }
  if (!Number.isFinite(result)) {
    throw new DbError("ARITHMETIC_OVERFLOW", `math::power: ${x} to the power ${y} overflows`);
  }
  return result === 0 ? 0 : result;
}

function powerExact(base: bigint, exponent: bigint): number | bigint {
  const magnitude = base < 0n ? -base : base;
  if (magnitude > 1n && exponent > BigInt(exactExponentMax)) {
    throw new DbError("ARITHMETIC_OVERFLOW", "math::power: integer result exceeds 128 bits", {
      value: `${base} ** ${exponent}`,
    });
  }
  return normalizeInteger(base ** exponent);
}

function sqrt(args: readonly unknown[]): unknown {
  const value = toFloat(expectNumeric("math::sqrt", args, 0));
  if (value < 0) throw invalidArgument("math::sqrt", "square root of a negative number", value);
  return Math.sqrt(value);
}

/** Orders two arguments of one family; mixing families (text and number) is an error. */
function ordered(fn: string, args: readonly unknown[], i: number, j: number): number {
  const a = args[i];
  const b = args[j];
  if (valueFamily(a) !== valueFamily(b)) {
    throw new DbError(
      "TYPE_MISMATCH",
      `${fn}: cannot compare ${describeValue(a)} with ${describeValue(b)}`,
      { value: describeValue(b), argument: j + 1 },
    );
  }
  return compareValues(a, b);
}

function extreme(fn: string, sign: 1 | -1): FunctionSpec["invoke"] {
  return (args) => {
    let best = 0;
    for (let i = 1; i < args.length; i++) {
      if (ordered(fn, args, i, best) * sign > 0) best = i;
    }
    return args[best];
  };
}

function clamp(args: readonly unknown[]): unknown {
  if (ordered("math::clamp", args, 1, 2) > 0) {
    throw invalidArgument("math::clamp", "the lower bound exceeds the upper bound", args[1]);
  }
  if (ordered("math::clamp", args, 0, 1) < 0) return args[1];
  if (ordered("math::clamp", args, 0, 2) > 0) return args[2];
  return args[0];
}

function mod(args: readonly unknown[]): unknown {
  expectNumeric("math::mod", args, 0);
  expectNumeric("math::mod", args, 1);
  return arith("%", args[0], args[1]);
}

function rounding(name: "ceil" | "floor"): FunctionSpec {
  const invoke: FunctionSpec["invoke"] = (args) =>
    roundNumeric(`math::${name}`, expectNumeric(`math::${name}`, args, 0), 0, name);
  return scalar(name, [1, 1], sameAsFirst, invoke, ["number"]);
}

function powerType(args: readonly ValueType[]): ValueType {
  const [base, exponent] = args;
  if (base === undefined || exponent === undefined) return anyType;
  const optional = base.optional || exponent.optional;
  if (integerKinds.has(base.kind) && integerKinds.has(exponent.kind)) {
    return { kind: "int8", optional };
  }
  if (base.kind === "any" || base.kind === "json") return anyType;
  return { kind: base.kind === "decimal" ? "decimal" : "float8", optional };
}

export const mathFunctions: readonly FunctionSpec[] = [
  scalar("abs", [1, 1], sameAsFirst, abs, ["number"]),
  rounding("ceil"),
  rounding("floor"),
  scalar("round", [1, 2], sameAsFirst, round, ["number", "number"]),
  scalar("power", [2, 2], powerType, power, ["number", "number"]),
  scalar("sqrt", [1, 1], fixed("float8"), sqrt, ["number"]),
  scalar("min", [2, functionArgumentsMax], sameAsFirst, extreme("math::min", -1)),
  scalar("max", [2, functionArgumentsMax], sameAsFirst, extreme("math::max", 1)),
  scalar("clamp", [3, 3], sameAsFirst, clamp),
  scalar("mod", [2, 2], sameAsFirst, mod, ["number", "number"]),
];
