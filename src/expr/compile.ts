/**
 * @module Compiles an expression AST into nested closures (never eval or new Function), once,
 * so that evaluating it per row is only calls and type tests. Compile time is where names are
 * resolved (unknown columns and functions, arity, aggregates) and statically impossible
 * operations are reported with their position; run time only sees values.
 *
 * Two semantics share the closures' shapes: "rql" (none propagates, Kleene logic, integer
 * division for integer types) and "guard" (rstmdb's guard language: JSON equality, numbers-only
 * ordering, two-valued logic, roots `ctx` and `payload` only).
 */
import { DbError } from "../lib/errors.ts";
import { deadlineTick } from "../lib/deadline.ts";
import { assert, unreachable } from "../lib/assert.ts";
import { setOwnKey as setOwnKeyImported } from "../lib/row-object.ts";
import { arithmeticOps, comparisonOps } from "./ast.ts";
import type {
  BinaryExpr,
  CallExpr,
  Expr,
  FieldExpr,
  ListExpr,
  ParamExpr,
  RecordExpr,
  Semantics,
} from "./ast.ts";
import { baseKinds, coerceValue } from "../values/index.ts";
import type { ValueType } from "../values/index.ts";
import {
  compileArithmetic,
  compileBetween,
  compileCoalesce,
  compileComparison,
  compileIn,
  compileLogic,
  compileNegate,
  compileNot,
} from "./compile-operators.ts";
import { compileError, constantOf, foldConstant, placedTypeErrors } from "./compiled.ts";
import type { CompileEnv, Compiled } from "./compiled.ts";
import { getFunction, isAggregateCall } from "./functions/index.ts";
import type { FunctionSpec } from "./functions/index.ts";
import {
  aggregateCallProblem,
  argumentFamilyProblem,
  callType,
  inferType,
  isKnownType,
  literalType,
  textSpelledKinds,
  unknownType,
} from "./infer.ts";
import {
  isInheritedKey,
  isTruthy as isTruthyImported,
  readKey as readKeyImported,
} from "./runtime.ts";
import type { Evaluator, Scope } from "./scope.ts";

export type { Semantics } from "./ast.ts";
export type { Evaluator, Scope } from "./scope.ts";

export interface CompileOptions {
  /** Default "rql". */
  semantics?: Semantics;
  /**
   * Known root names (columns, or ["ctx", "payload"] for guards) with static types when
   * known; a root not listed is UNKNOWN_COLUMN at compile time naming it and its position.
   * When omitted, any root is allowed (guards still allow only ctx and payload).
   */
  fields?: ReadonlyMap<string, ValueType | undefined>;
  /**
   * The aggregate context: how the RQL aggregate step evaluates `math::sum(x)` and its kin
   * inside this expression (typically by reading the group's accumulator). Without it an
   * aggregate call is an error.
   */
  aggregate?: (call: CallExpr) => Evaluator;
  /**
   * Set when the scope's rows are arrays holding the columns of `fields` in its order (rows a
   * view's join hands its aggregate): a column is then read by index, which V8 does in a few
   * instructions, where a read by name at a site shared by every column is a megamorphic
   * lookup (docs/performance.md, ninth pass).
   */
  positional?: boolean;
}

const guardRoots: ReadonlySet<string> = new Set(["ctx", "payload"]);

// Hot imports as module-level aliases, for the reason given in compile-operators.ts.
const isTruthy = isTruthyImported;
const readKey = readKeyImported;
const setOwnKey = setOwnKeyImported;

/**
 * Compiles an expression to an evaluator.
 *
 * @example
 * const total = compileExpression(parseExpression("price * qty"));
 * total({ row: { price: 3, qty: 4 } }); // -> 12
 */
export function compileExpression(ast: Expr, options: CompileOptions = {}): Evaluator {
  return compileRoot(ast, options).evaluate;
}

/**
 * Compiles a condition: true only when the expression's value is truthy (none, false, 0, "",
 * empty lists and records are not). This is what `filter` and guards use.
 *
 * @example
 * const open = compilePredicate(parseExpression('status == "open"'));
 * open({ row: { status: "open" } }); // -> true
 * open({ row: { status: null } }); // -> false
 */
export function compilePredicate(
  ast: Expr,
  options: CompileOptions = {},
): (scope: Scope) => boolean {
  const compiled = compileRoot(ast, options);
  if (compiled.constant !== undefined) {
    const result = isTruthy(compiled.constant.value);
    return () => result;
  }
  const evaluate = compiled.evaluate;
  // A bool-typed expression yields only true, false or none: an identity test suffices.
  if (compiled.type.kind === "bool") return (scope) => evaluate(scope) === true;
  return (scope) => isTruthy(evaluate(scope));
}

function compileRoot(ast: Expr, options: CompileOptions): Compiled {
  const env: CompileEnv = {
    semantics: options.semantics ?? "rql",
    fields: options.fields,
    aggregate: options.aggregate,
    positions: positionsOf(options),
  };
  return compileNode(ast, env);
}

function compileNode(node: Expr, env: CompileEnv): Compiled {
  // A node compiled is a unit of the active query deadline: counting the work up front, as
  // RQL does for evaluation, would leave the compile of a million-item list unchecked.
  deadlineTick(1);
  switch (node.type) {
    case "literal": {
      // Guard numbers are f64 like rstmdb's, even integers too wide for a double.
      const wide = env.semantics === "guard" && typeof node.value === "bigint";
      return constantOf(wide ? Number(node.value) : node.value, literalType(node));
    }
    case "field":
      return compileField(node, env);
    case "param":
      return compileParam(node);
    case "record":
      return compileRecord(node, env);
    case "list":
      return compileList(node, env);
    case "unary": {
      const operand = compileNode(node.operand, env);
      return node.op === "-" ? compileNegate(node, operand) : compileNot(operand, env);
    }
    case "binary":
      return compileBinary(node, env);
    case "between": {
      const operand = compileNode(node.operand, env);
      const [low, high] = [node.low, node.high].map((child) =>
        typedOperand(child, compileNode(child, env), operand.type, env),
      );
      return compileBetween(node, operand, low!, high!, env);
    }
    case "in": {
      const operand = compileNode(node.operand, env);
      const list =
        node.list.type === "list"
          ? node.list.items.map((item) =>
              typedOperand(item, compileNode(item, env), operand.type, env),
            )
          : typedOperand(node.list, compileNode(node.list, env), operand.type, env, true);
      return compileIn(node, operand, list, env);
    }
    case "call":
      return compileCall(node, env);
    default:
      return unreachable(node);
  }
}

function compileBinary(node: BinaryExpr, env: CompileEnv): Compiled {
  const left = compileNode(node.left, env);
  const right = compileNode(node.right, env);
  if (arithmeticOps.has(node.op)) return compileArithmetic(node, left, right, env);
  if (comparisonOps.has(node.op)) {
    const l = typedOperand(node.left, left, right.type, env);
    const r = typedOperand(node.right, right, left.type, env);
    return compileComparison(node, l, r, env);
  }
  if (node.op === "??") return compileCoalesce(left, right);
  return compileLogic(node, left, right, env);
}

// ---- Fields and parameters ----

function checkRoot(node: FieldExpr, env: CompileEnv): void {
  const root = node.path[0]!;
  if (env.semantics === "guard" && (!guardRoots.has(root) || node.path.length === 1)) {
    // rstmdb's wording, extended by our payload roots.
    const message = `field must start with 'ctx.' or 'payload.', found "${root}"`;
    throw compileError("UNKNOWN_COLUMN", node, message);
  }
  if (env.fields !== undefined && !env.fields.has(root)) {
    throw compileError("UNKNOWN_COLUMN", node, `unknown column "${root}"`);
  }
}

/** Column name to its index in a positional row (see {@link CompileOptions.positional}). */
function positionsOf(options: CompileOptions): ReadonlyMap<string, number> | undefined {
  if (options.positional !== true) return undefined;
  assert(options.fields !== undefined, "positional rows need their fields");
  return new Map([...options.fields.keys()].map((name, index) => [name, index]));
}

function compileField(node: FieldExpr, env: CompileEnv): Compiled {
  assert(node.path.length > 0, "a field path has a root");
  checkRoot(node, env);
  const [root, ...keys] = node.path as [string, ...string[]];
  const type = keys.length === 0 ? (env.fields?.get(root) ?? unknownType) : unknownType;
  const index = env.positions?.get(root);
  if (index !== undefined) {
    // No rootField: the specialised comparisons read rows by name.
    return { evaluate: pathReader(index, keys), type };
  }
  const evaluate = pathReader(root, keys);
  const direct = keys.length === 0 && !isInheritedKey(root);
  return direct ? { evaluate, type, rootField: root } : { evaluate, type };
}

/**
 * Reads `root.key.key` from the scope's row: keys walk plain objects only, and a missing key
 * or any other value on the way (arrays included) gives none. Paths of one or two names, by
 * far the most common, get closures without a loop.
 */
function pathReader(root: string | number, keys: readonly string[]): Evaluator {
  const readRoot: Evaluator =
    typeof root === "number"
      ? (s) => (s.row as unknown as readonly unknown[])[root] ?? null
      : isInheritedKey(root)
        ? (s) => (Object.hasOwn(s.row, root) ? (s.row[root] ?? null) : null)
        : (s) => s.row[root] ?? null;
  if (keys.length === 0) return readRoot;
  const owns = keys.map(isInheritedKey);
  if (keys.length === 1) {
    const [key, own] = [keys[0]!, owns[0]!];
    return (s) => readKey(readRoot(s), key, own);
  }
  return (s) => {
    let value = readRoot(s);
    for (let i = 0; i < keys.length && value !== null; i++) {
      value = readKey(value, keys[i]!, owns[i]!);
    }
    return value;
  };
}

function compileParam(node: ParamExpr): Compiled {
  const name = node.name;
  const key = String(name);
  const index = typeof name === "number" ? name - 1 : -1;
  const own = isInheritedKey(key);
  const unbound = (): DbError =>
    compileError("EVAL_ERROR", node, `parameter $${name} is not bound`);
  const evaluate: Evaluator = (s) => {
    const params = s.params;
    let value: unknown;
    if (params === undefined) value = undefined;
    else if (Array.isArray(params)) value = index >= 0 ? (params as unknown[])[index] : undefined;
    else if (!own || Object.hasOwn(params, key)) value = (params as Record<string, unknown>)[key];
    if (value === undefined) throw unbound();
    return value;
  };
  return { evaluate, type: unknownType };
}

/** Kinds JSON spells natively (booleans, text, floats) or that take any JSON value. */
const jsonNativeKinds: ReadonlySet<string> = new Set([
  "bool",
  "utf8",
  "float4",
  "float8",
  "json",
  "any",
]);

/**
 * Kinds that JSON, the wire format, carries as text (docs/server.md): a parameter of one of
 * these arrives as a string, which never equals the column's value (a bigint, Decimal, Date).
 */
const textCarriedKinds: ReadonlySet<string> = new Set(
  baseKinds.filter((kind) => !jsonNativeKinds.has(kind)),
);

/**
 * An operand compared with an expression of a text-carried type, read as that type. A
 * parameter's text is read as an insert would store it (`at > $since` with
 * `{"since": "2024-01-01T00:00:00Z"}`). Text compared with a time, date, datetime, duration or
 * uuid, whether a literal or computed per row, is read likewise (`tm < "12:00:00.50"` is
 * 12:00:00.5, not the text). Text that is no value of the type is TYPE_MISMATCH (or
 * OUT_OF_RANGE) at the operand's position, at compile time for a constant: a lexical
 * comparison would answer silently and wrongly. `list`: the operand is the list of `x in xs`.
 */
function typedOperand(
  node: Expr,
  compiled: Compiled,
  type: ValueType,
  env: CompileEnv,
  list = false,
): Compiled {
  if (env.semantics !== "rql" || !textCarriedKinds.has(type.kind)) return compiled;
  if (node.type === "param") return typedParam(node, compiled, type, list);
  if (type.kind === "decimal") return exactDecimal(node, compiled);
  if (!textSpelledKinds.has(type.kind) || compiled.type.kind === type.kind) return compiled;
  if (compiled.type.kind !== "utf8" && isKnownType(compiled.type)) return compiled;
  const convert = textReader(node, type);
  const readOne = (value: unknown): unknown => (typeof value === "string" ? convert(value) : value);
  const read = list
    ? (value: unknown): unknown => (Array.isArray(value) ? value.map(readOne) : value)
    : readOne;
  // Text typed utf8 now holds the compared type; other values keep their unknown type.
  const typed: ValueType =
    compiled.type.kind === "utf8"
      ? { kind: type.kind, optional: compiled.type.optional }
      : compiled.type;
  if (compiled.constant !== undefined) return constantOf(read(compiled.constant.value), typed);
  const evaluate = compiled.evaluate;
  return { evaluate: (s) => read(evaluate(s)), type: typed };
}

/**
 * A float literal compared with a decimal, read from its source text as an insert stores it:
 * as a double, `d == 12345678901234567890.12` compared with 12345678901234567000.
 */
function exactDecimal(node: Expr, compiled: Compiled): Compiled {
  const negated = node.type === "unary" && node.op === "-";
  const literal = negated ? node.operand : node;
  if (literal.type !== "literal" || literal.kind !== "float" || literal.text === undefined) {
    return compiled;
  }
  const text = negated ? `-${literal.text}` : literal.text;
  return constantOf(coerceValue({ kind: "decimal", optional: false }, text), {
    kind: "decimal",
    optional: false,
  });
}

/** Reads text as `type`, or throws the coercion's error at `node`'s position. */
function textReader(node: Expr, type: ValueType): (text: string) => unknown {
  // Only text is read, never none: the message names the plain type.
  const target: ValueType = { kind: type.kind, optional: false };
  return (text) => {
    try {
      return coerceValue(target, text);
    } catch (error) {
      if (!(error instanceof DbError)) throw error;
      throw compileError(error.code, node, error.message);
    }
  };
}

/** A parameter compared with a text-carried type: see {@link typedOperand}. */
function typedParam(node: ParamExpr, compiled: Compiled, type: ValueType, list: boolean): Compiled {
  const target: ValueType = { kind: type.kind, optional: true };
  const read = compiled.evaluate;
  const convert = (value: unknown): unknown => {
    if (typeof value !== "string") return value;
    try {
      return coerceValue(target, value);
    } catch (error) {
      if (!(error instanceof DbError)) throw error;
      throw compileError(error.code, node, `parameter $${node.name}: ${error.message}`);
    }
  };
  // A parameter is the same value for every row: it is converted once, not once per row.
  let given: unknown;
  let converted: unknown;
  const evaluate: Evaluator = list
    ? (s) => {
        const value = read(s);
        if (!Array.isArray(value)) return value;
        if (value !== given) [given, converted] = [value, value.map(convert)];
        return converted;
      }
    : (s) => {
        const value = read(s);
        if (typeof value !== "string") return value;
        if (value !== given) [given, converted] = [value, convert(value)];
        return converted;
      };
  return { evaluate, type: compiled.type };
}

// ---- Records, lists and calls ----

function compileRecord(node: RecordExpr, env: CompileEnv): Compiled {
  const keys = node.entries.map((entry) => entry.key);
  const reads = node.entries.map((entry) => compileNode(entry.value, env).evaluate);
  const evaluate: Evaluator = (s) => {
    const record: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) setOwnKey(record, keys[i]!, reads[i]!(s));
    return record;
  };
  return { evaluate, type: { kind: "any", optional: false } };
}

function compileList(node: ListExpr, env: CompileEnv): Compiled {
  const reads = node.items.map((item) => compileNode(item, env).evaluate);
  const evaluate: Evaluator = (s) => {
    const list = new Array<unknown>(reads.length);
    for (let i = 0; i < reads.length; i++) list[i] = reads[i]!(s);
    return list;
  };
  return { evaluate, type: { kind: "any", optional: false } };
}

function checkArity(node: CallExpr, spec: FunctionSpec): void {
  const count = node.args.length;
  const name = `${node.namespace}::${node.name}`;
  const plural = (n: number): string => `${n} argument${n === 1 ? "" : "s"}`;
  let expected: string | undefined;
  if (spec.arityMin === spec.arityMax && count !== spec.arityMin) {
    expected = plural(spec.arityMin);
  } else if (count < spec.arityMin || count > spec.arityMax) {
    expected = `${spec.arityMin} to ${plural(spec.arityMax)}`;
  } else if (spec.arityEven === true && count % 2 !== 0) {
    expected = "an even number of arguments (key, value pairs)";
  }
  if (expected !== undefined) {
    throw compileError("INVALID_ARGUMENT", node, `${name} takes ${expected}, got ${count}`);
  }
}

function compileCall(node: CallExpr, env: CompileEnv): Compiled {
  const name = `${node.namespace}::${node.name}`;
  if (isAggregateCall(node)) {
    if (env.aggregate === undefined) {
      const message = `aggregate function ${name} is only allowed in an aggregate step`;
      throw compileError("INVALID_ARGUMENT", node, message);
    }
    const problem = aggregateCallProblem(node, env.fields);
    if (problem !== undefined) throw compileError(problem.code, node, problem.message);
    // Typed by its argument, as inferType does: an integer sum divides as an integer.
    const argTypes = node.args.map((arg) => inferType(arg, env.fields));
    return { evaluate: env.aggregate(node), type: callType(node, undefined, argTypes) };
  }
  const spec = getFunction(node.namespace, node.name);
  if (spec === undefined) throw compileError("UNKNOWN_FUNCTION", node, `unknown function ${name}`);
  checkArity(node, spec);
  const args = node.args.map((arg) => compileNode(arg, env));
  const problem = argumentFamilyProblem(
    spec,
    args.map((arg) => arg.type),
  );
  if (problem !== undefined) throw compileError("TYPE_MISMATCH", node, problem);
  const type = callType(
    node,
    spec,
    args.map((arg) => arg.type),
  );
  // A function may refuse a value only at run time (text that is no date): said at the call.
  const evaluate = placedTypeErrors(callEvaluator(spec, args), node);
  const compiled: Compiled = { evaluate, type };
  return spec.pure ? foldConstant(compiled, args) : compiled;
}

/** One argument buffer per call site: evaluation is synchronous, so it is never shared. */
function callEvaluator(spec: FunctionSpec, args: readonly Compiled[]): Evaluator {
  const reads = args.map((arg) => arg.evaluate);
  const buffer = new Array<unknown>(reads.length).fill(null);
  const invoke = spec.invoke;
  const propagate = spec.propagatesNone;
  return (s) => {
    for (let i = 0; i < reads.length; i++) {
      const value = reads[i]!(s);
      if (value === null && propagate) {
        buffer.fill(null);
        return null;
      }
      buffer[i] = value;
    }
    const result = invoke(buffer, s);
    // Let go of this row's values: the buffer outlives the evaluation.
    buffer.fill(null);
    return result ?? null;
  };
}
