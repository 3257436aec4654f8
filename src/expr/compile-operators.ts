/**
 * @module Closures for the operators: arithmetic, `??`, logic, comparisons, `between` and
 * `in`, in both semantics. Filters and guards run these millions of times a second, so the
 * common shapes (a field or expression against a constant number or string) get their own
 * closures with the type test inline, one closure literal per operator so that each call site
 * stays monomorphic; everything else falls back to the exact rules in runtime.ts. Nothing here
 * allocates per evaluation.
 */
import { DbError, describeValue } from "../lib/errors.ts";
import {
  arith as arithImported,
  negate as negateImported,
  typeName,
  valuesEqual as valuesEqualImported,
} from "../values/index.ts";
import type { ArithMode } from "../values/index.ts";
import type {
  ArithmeticOp,
  BetweenExpr,
  BinaryExpr,
  ComparisonOp,
  InExpr,
  LogicalOp,
  UnaryExpr,
} from "./ast.ts";
import { compileError, foldConstant, placedTypeErrors } from "./compiled.ts";
import type { CompileEnv, Compiled } from "./compiled.ts";
import {
  areComparable,
  arithmeticType,
  booleanType,
  coalesceType,
  isFloatType,
  isIntegerType,
  isKnownType,
  negationType,
} from "./infer.ts";
import {
  guardCompare as guardCompareImported,
  guardEquals as guardEqualsImported,
  isTruthy as isTruthyImported,
  logicValue as logicValueImported,
  rqlCompare as rqlCompareImported,
} from "./runtime.ts";
import type { Evaluator } from "./scope.ts";

const epsilon = Number.EPSILON;

// ---- Hot imports ----
// Closures call these module-level aliases, not the imported names: under tsx this code runs
// as CommonJS, where each use of an imported name is a call through one shared getter, which
// measured at about half the cost of a whole guard evaluation. In native ESM they are free.
const arith = arithImported;
const negate = negateImported;
const valuesEqual = valuesEqualImported;
const guardCompare = guardCompareImported;
const guardEquals = guardEqualsImported;
const isTruthy = isTruthyImported;
const logicValue = logicValueImported;
const rqlCompare = rqlCompareImported;

export function compileNegate(node: UnaryExpr, operand: Compiled): Compiled {
  const type = negationType(operand.type);
  if (type === undefined) {
    const message = `operator - does not apply to ${typeName(operand.type)}`;
    throw compileError("TYPE_MISMATCH", node, message);
  }
  const read = operand.evaluate;
  const negation: Evaluator = (s) => negate(read(s));
  // Known types were checked above; a value of unknown kind is checked when it comes.
  const evaluate = isKnownType(operand.type) ? negation : placedTypeErrors(negation, node);
  return foldConstant({ evaluate, type }, [operand]);
}

/** `not x`: RQL keeps none unknown; a guard negates truthiness. */
export function compileNot(operand: Compiled, env: CompileEnv): Compiled {
  const read = operand.evaluate;
  const evaluate: Evaluator =
    env.semantics === "guard"
      ? (s) => !isTruthy(read(s))
      : (s) => {
          const value = logicValue(read(s));
          return value === null ? null : !value;
        };
  return foldConstant({ evaluate, type: booleanType(env.semantics, operand.type) }, [operand]);
}

export function compileArithmetic(
  node: BinaryExpr,
  left: Compiled,
  right: Compiled,
  env: CompileEnv,
): Compiled {
  const op = node.op as ArithmeticOp;
  const type = arithmeticType(op, left.type, right.type);
  if (type === undefined) {
    const [a, b] = [typeName(left.type), typeName(right.type)];
    const message = `operator ${op} does not apply to ${a} and ${b}`;
    throw compileError("TYPE_MISMATCH", node, message);
  }
  // Integer `/` truncates only when both sides are known integers; guard numbers are f64. A
  // known float result is computed in doubles (an integral float8 must not widen to bigint).
  const integers = isIntegerType(left.type) && isIntegerType(right.type);
  const mode: ArithMode = isFloatType(type)
    ? "double"
    : env.semantics === "rql" && integers
      ? "integer"
      : "float";
  const resultType =
    op === "/" && mode === "float" && isIntegerType(type)
      ? { ...type, kind: "float8" as const }
      : type;
  const [l, r] = [left.evaluate, right.evaluate];
  const operation: Evaluator = (s) => arith(op, l(s), r(s), mode);
  // Known types were checked above; values of unknown kind are checked when they come.
  const known = isKnownType(left.type) && isKnownType(right.type);
  const evaluate = known ? operation : placedTypeErrors(operation, node);
  return foldConstant({ evaluate, type: resultType }, [left, right]);
}

export function compileCoalesce(left: Compiled, right: Compiled): Compiled {
  if (left.constant !== undefined && left.constant.value !== null) return left;
  const [l, r] = [left.evaluate, right.evaluate];
  const evaluate: Evaluator = (s) => {
    const value = l(s);
    return value === null ? r(s) : value;
  };
  return foldConstant({ evaluate, type: coalesceType(left.type, right.type) }, [left, right]);
}

export function compileLogic(
  node: BinaryExpr,
  left: Compiled,
  right: Compiled,
  env: CompileEnv,
): Compiled {
  const op = node.op as LogicalOp;
  const [l, r] = [left.evaluate, right.evaluate];
  const evaluate = env.semantics === "guard" ? guardLogic(op, l, r) : rqlLogic(op, l, r);
  const type = booleanType(env.semantics, left.type, right.type);
  return foldConstant({ evaluate, type }, [left, right]);
}

function guardLogic(op: LogicalOp, l: Evaluator, r: Evaluator): Evaluator {
  switch (op) {
    case "and":
      return (s) => isTruthy(l(s)) && isTruthy(r(s));
    case "or":
      return (s) => isTruthy(l(s)) || isTruthy(r(s));
    case "xor":
      return (s) => isTruthy(l(s)) !== isTruthy(r(s));
  }
}

/**
 * Kleene logic: false decides `and` and true decides `or` even when the other side is none;
 * otherwise none makes the result none. The right side is skipped once the left decides.
 */
function rqlLogic(op: LogicalOp, l: Evaluator, r: Evaluator): Evaluator {
  switch (op) {
    case "and":
      return (s) => {
        const a = logicValue(l(s));
        if (a === false) return false;
        const b = logicValue(r(s));
        if (b === false) return false;
        return a === null || b === null ? null : true;
      };
    case "or":
      return (s) => {
        const a = logicValue(l(s));
        if (a === true) return true;
        const b = logicValue(r(s));
        if (b === true) return true;
        return a === null || b === null ? null : false;
      };
    case "xor":
      return (s) => {
        const a = logicValue(l(s));
        if (a === null) return null;
        const b = logicValue(r(s));
        return b === null ? null : a !== b;
      };
  }
}

const flipped: Readonly<Record<ComparisonOp, ComparisonOp>> = {
  "==": "==",
  "!=": "!=",
  "<": ">",
  "<=": ">=",
  ">": "<",
  ">=": "<=",
};

export function compileComparison(
  node: BinaryExpr,
  left: Compiled,
  right: Compiled,
  env: CompileEnv,
): Compiled {
  const op = node.op as ComparisonOp;
  if (env.semantics === "rql" && !areComparable(left.type, right.type)) {
    const [a, b] = [typeName(left.type), typeName(right.type)];
    const message = `cannot compare ${a} with ${b} using ${op}`;
    throw compileError("TYPE_MISMATCH", node, message);
  }
  // With the constant on the right, one set of specialisations serves `5 < x` and `x > 5`.
  const swap = left.constant !== undefined && right.constant === undefined;
  const [subject, other] = swap ? [right, left] : [left, right];
  const effective = swap ? flipped[op] : op;
  const evaluate =
    env.semantics === "guard"
      ? guardComparison(effective, subject, other)
      : rqlComparison(effective, subject, other);
  return foldConstant({ evaluate, type: booleanType(env.semantics, left.type, right.type) }, [
    left,
    right,
  ]);
}

// ---- RQL comparisons ----

function rqlComparison(op: ComparisonOp, subject: Compiled, other: Compiled): Evaluator {
  if (other.constant !== undefined) {
    const k = other.constant.value;
    // A comparison with none is none, whatever the other side holds.
    if (k === null) return () => null;
    const root = subject.rootField;
    if (typeof k === "number") {
      return root !== undefined
        ? rootNumberComparison(op, root, k)
        : numberComparison(op, subject.evaluate, k);
    }
    if (typeof k === "string" && (op === "==" || op === "!=")) {
      return stringEquality(op === "==", subject, k);
    }
  }
  return dynamicComparison(op, subject.evaluate, other.evaluate);
}

/** `column <op> number`: the row is read inline, numbers compare without a call. */
function rootNumberComparison(op: ComparisonOp, root: string, k: number): Evaluator {
  const slow = (a: unknown): boolean | null => rqlCompare(op, a, k);
  switch (op) {
    case "==":
      return (s) => {
        const a = s.row[root];
        return typeof a === "number" ? a === k : slow(a);
      };
    case "!=":
      return (s) => {
        const a = s.row[root];
        return typeof a === "number" ? a !== k : slow(a);
      };
    case "<":
      return (s) => {
        const a = s.row[root];
        return typeof a === "number" ? a < k : slow(a);
      };
    case "<=":
      return (s) => {
        const a = s.row[root];
        return typeof a === "number" ? a <= k : slow(a);
      };
    case ">":
      return (s) => {
        const a = s.row[root];
        return typeof a === "number" ? a > k : slow(a);
      };
    case ">=":
      return (s) => {
        const a = s.row[root];
        return typeof a === "number" ? a >= k : slow(a);
      };
  }
}

function numberComparison(op: ComparisonOp, read: Evaluator, k: number): Evaluator {
  const slow = (a: unknown): boolean | null => rqlCompare(op, a, k);
  switch (op) {
    case "==":
      return (s) => {
        const a = read(s);
        return typeof a === "number" ? a === k : slow(a);
      };
    case "!=":
      return (s) => {
        const a = read(s);
        return typeof a === "number" ? a !== k : slow(a);
      };
    case "<":
      return (s) => {
        const a = read(s);
        return typeof a === "number" ? a < k : slow(a);
      };
    case "<=":
      return (s) => {
        const a = read(s);
        return typeof a === "number" ? a <= k : slow(a);
      };
    case ">":
      return (s) => {
        const a = read(s);
        return typeof a === "number" ? a > k : slow(a);
      };
    case ">=":
      return (s) => {
        const a = read(s);
        return typeof a === "number" ? a >= k : slow(a);
      };
  }
}

/** `x == "text"` and `x != "text"`: one identity test decides the common cases. */
function stringEquality(equal: boolean, subject: Compiled, k: string): Evaluator {
  const slow = (a: unknown): boolean | null => rqlCompare(equal ? "==" : "!=", a, k);
  const root = subject.rootField;
  const read = subject.evaluate;
  if (root !== undefined) {
    return equal
      ? (s) => {
          const a = s.row[root];
          return a === k ? true : typeof a === "string" ? false : slow(a);
        }
      : (s) => {
          const a = s.row[root];
          return a === k ? false : typeof a === "string" ? true : slow(a);
        };
  }
  return equal
    ? (s) => {
        const a = read(s);
        return a === k ? true : typeof a === "string" ? false : slow(a);
      }
    : (s) => {
        const a = read(s);
        return a === k ? false : typeof a === "string" ? true : slow(a);
      };
}

function dynamicComparison(op: ComparisonOp, l: Evaluator, r: Evaluator): Evaluator {
  switch (op) {
    case "==":
      return (s) => {
        const a = l(s);
        const b = r(s);
        return typeof a === "number" && typeof b === "number" ? a === b : rqlCompare(op, a, b);
      };
    case "!=":
      return (s) => {
        const a = l(s);
        const b = r(s);
        return typeof a === "number" && typeof b === "number" ? a !== b : rqlCompare(op, a, b);
      };
    case "<":
      return (s) => {
        const a = l(s);
        const b = r(s);
        return typeof a === "number" && typeof b === "number" ? a < b : rqlCompare(op, a, b);
      };
    case "<=":
      return (s) => {
        const a = l(s);
        const b = r(s);
        return typeof a === "number" && typeof b === "number" ? a <= b : rqlCompare(op, a, b);
      };
    case ">":
      return (s) => {
        const a = l(s);
        const b = r(s);
        return typeof a === "number" && typeof b === "number" ? a > b : rqlCompare(op, a, b);
      };
    case ">=":
      return (s) => {
        const a = l(s);
        const b = r(s);
        return typeof a === "number" && typeof b === "number" ? a >= b : rqlCompare(op, a, b);
      };
  }
}

// ---- Guard comparisons (rstmdb) ----

function guardComparison(op: ComparisonOp, subject: Compiled, other: Compiled): Evaluator {
  const read = subject.evaluate;
  const k = other.constant?.value;
  if (other.constant !== undefined && (op === "==" || op === "!=")) {
    const equal = op === "==";
    // Strings, booleans and null equal only themselves (evaluators never return undefined).
    if (typeof k === "string" || typeof k === "boolean" || k === null) {
      return equal ? (s) => read(s) === k : (s) => read(s) !== k;
    }
    if (typeof k === "number") {
      return equal
        ? (s) => {
            const a = read(s);
            return typeof a === "number" ? Math.abs(a - k) < epsilon : guardEquals(a, k);
          }
        : (s) => {
            const a = read(s);
            return typeof a === "number" ? !(Math.abs(a - k) < epsilon) : !guardEquals(a, k);
          };
    }
  }
  if (typeof k === "number" && op !== "==" && op !== "!=") return guardOrdering(op, read, k);
  const r = other.evaluate;
  return (s) => guardCompare(op, read(s), r(s));
}

function guardOrdering(op: "<" | "<=" | ">" | ">=", read: Evaluator, k: number): Evaluator {
  switch (op) {
    case "<":
      return (s) => {
        const a = read(s);
        return typeof a === "number" ? a < k : guardCompare(op, a, k);
      };
    case "<=":
      return (s) => {
        const a = read(s);
        return typeof a === "number" ? a <= k : guardCompare(op, a, k);
      };
    case ">":
      return (s) => {
        const a = read(s);
        return typeof a === "number" ? a > k : guardCompare(op, a, k);
      };
    case ">=":
      return (s) => {
        const a = read(s);
        return typeof a === "number" ? a >= k : guardCompare(op, a, k);
      };
  }
}

// ---- between and in ----

function checkComparable(node: BetweenExpr | InExpr, a: Compiled, b: Compiled): void {
  if (areComparable(a.type, b.type)) return;
  const keyword = node.type === "in" ? "in" : "between";
  const message = `cannot compare ${typeName(a.type)} with ${typeName(b.type)} using ${keyword}`;
  throw compileError("TYPE_MISMATCH", node, message);
}

export function compileBetween(
  node: BetweenExpr,
  operand: Compiled,
  low: Compiled,
  high: Compiled,
  env: CompileEnv,
): Compiled {
  const negated = node.negated;
  const [x, lo, hi] = [operand.evaluate, low.evaluate, high.evaluate];
  let evaluate: Evaluator;
  if (env.semantics === "guard") {
    evaluate = (s) => {
      const v = x(s);
      return (guardCompare(">=", v, lo(s)) && guardCompare("<=", v, hi(s))) !== negated;
    };
  } else {
    checkComparable(node, operand, low);
    checkComparable(node, operand, high);
    evaluate = (s) => {
      const v = x(s);
      const a = lo(s);
      const b = hi(s);
      if (typeof v === "number" && typeof a === "number" && typeof b === "number") {
        return (a <= v && v <= b) !== negated;
      }
      return rqlBetween(v, a, b, negated);
    };
  }
  const type = booleanType(env.semantics, operand.type, low.type, high.type);
  return foldConstant({ evaluate, type }, [operand, low, high]);
}

function rqlBetween(v: unknown, a: unknown, b: unknown, negated: boolean): boolean | null {
  const above = rqlCompare(">=", v, a);
  const below = rqlCompare("<=", v, b);
  if (above === null || below === null) return null;
  return (above && below) !== negated;
}

/**
 * `x in list`. A list literal is compiled item by item (no array is built per row), and a list
 * of constant strings or numbers becomes a Set. `list` is either those items or one compiled
 * list-valued expression.
 */
export function compileIn(
  node: InExpr,
  operand: Compiled,
  list: Compiled | readonly Compiled[],
  env: CompileEnv,
): Compiled {
  const items = Array.isArray(list) ? (list as readonly Compiled[]) : undefined;
  const inputs = items ?? [list as Compiled];
  if (env.semantics === "rql") {
    for (const item of items ?? []) checkComparable(node, operand, item);
  }
  const constants = items?.every((item) => item.constant !== undefined)
    ? items.map((item) => item.constant!.value)
    : undefined;
  let evaluate: Evaluator;
  if (constants !== undefined) {
    evaluate = constantMembership(node.negated, operand.evaluate, constants, env);
  } else if (items !== undefined) {
    evaluate = itemMembership(node.negated, operand.evaluate, items, env);
  } else {
    evaluate = dynamicMembership(node, operand.evaluate, (list as Compiled).evaluate, env);
  }
  // booleanType reads only whether some input may be none, so one stands for all the items:
  // spreading every item's type overflowed the stack for a list of 200,000.
  const itemType = (inputs.find((input) => input.type.optional) ?? operand).type;
  const type = booleanType(env.semantics, operand.type, itemType);
  return foldConstant({ evaluate, type }, [operand, ...inputs]);
}

function constantMembership(
  negated: boolean,
  read: Evaluator,
  values: readonly unknown[],
  env: CompileEnv,
): Evaluator {
  const strings = values.every((v) => typeof v === "string") ? new Set(values) : undefined;
  // Guard numbers are equal within epsilon, which a Set cannot express.
  const numbersExact = env.semantics === "rql" && values.every((v) => typeof v === "number");
  const numbers = numbersExact ? new Set(values) : undefined;
  if (env.semantics === "guard") {
    return (s) => {
      const x = read(s);
      if (strings !== undefined && typeof x === "string") return strings.has(x) !== negated;
      return guardMember(x, values) !== negated;
    };
  }
  return (s) => {
    const x = read(s);
    if (x === null) return null;
    if (strings !== undefined && typeof x === "string") return strings.has(x) !== negated;
    if (numbers !== undefined && typeof x === "number") return numbers.has(x) !== negated;
    return rqlMember(x, values) !== negated;
  };
}

function rqlMember(x: unknown, values: readonly unknown[]): boolean {
  for (const value of values) if (valuesEqual(x, value)) return true;
  return false;
}

function guardMember(x: unknown, values: readonly unknown[]): boolean {
  for (const value of values) if (guardEquals(x, value)) return true;
  return false;
}

function itemMembership(
  negated: boolean,
  read: Evaluator,
  items: readonly Compiled[],
  env: CompileEnv,
): Evaluator {
  const reads = items.map((item) => item.evaluate);
  const equals = env.semantics === "guard" ? guardEquals : valuesEqual;
  const rql = env.semantics === "rql";
  return (s) => {
    const x = read(s);
    if (rql && x === null) return null;
    for (const item of reads) if (equals(x, item(s))) return !negated;
    return negated;
  };
}

function dynamicMembership(
  node: InExpr,
  read: Evaluator,
  readList: Evaluator,
  env: CompileEnv,
): Evaluator {
  const negated = node.negated;
  const where = `line ${node.pos.line}, column ${node.pos.col}`;
  if (env.semantics === "guard") {
    return (s) => {
      const x = read(s);
      const list = readList(s);
      // A guard never fails at run time: a non-list simply contains nothing.
      return (Array.isArray(list) && guardMember(x, list)) !== negated;
    };
  }
  return (s) => {
    const x = read(s);
    const list = readList(s);
    if (x === null || list === null) return null;
    if (!Array.isArray(list)) {
      throw new DbError(
        "TYPE_MISMATCH",
        `${where}: in expects a list, found ${describeValue(list)}`,
        {
          line: node.pos.line,
          col: node.pos.col,
          value: describeValue(list),
        },
      );
    }
    return rqlMember(x, list) !== negated;
  };
}
