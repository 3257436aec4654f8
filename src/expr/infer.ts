/**
 * @module Static types of expressions, best effort: what the compiler knows before it sees a
 * row. They decide integer versus float division, reject comparisons and arithmetic that can
 * never work (text vs number) at compile time, and give computed columns a type. Kind "any"
 * means unknown; every rule here must stay true of the run-time values compile.ts produces.
 */
import { integerBounds, integerKinds, isNumericKind } from "../values/index.ts";
import type { ArithMode, BaseKind, ValueType } from "../values/index.ts";
import { unreachable } from "../lib/assert.ts";
import type { ArithmeticOp, CallExpr, Expr, LiteralExpr, Semantics } from "./ast.ts";
import { arithmeticOps, comparisonOps } from "./ast.ts";
import { getFunction, isAggregateCall } from "./functions/index.ts";
import type { FunctionSpec } from "./functions/index.ts";
import type { ValueFamily } from "./runtime.ts";

/** Unknown, possibly none: parameters, nested paths, untyped columns. */
export const unknownType: ValueType = { kind: "any", optional: true };

function typeOf(kind: BaseKind, optional: boolean): ValueType {
  return { kind, optional };
}

export function isIntegerType(type: ValueType): boolean {
  return integerKinds.has(type.kind);
}

export function isFloatType(type: ValueType): boolean {
  return type.kind === "float4" || type.kind === "float8";
}

/** How a running total of `expr`'s values adds up: in doubles when its type is a float. */
export function sumModeOf(
  expr: Expr,
  fields?: ReadonlyMap<string, ValueType | undefined>,
): ArithMode {
  return isFloatType(inferType(expr, fields)) ? "double" : "integer";
}

/** Known types take part in compile-time checks; any and json are checked at run time. */
export function isKnownType(type: ValueType): boolean {
  return type.kind !== "any" && type.kind !== "json";
}

export function literalType(node: LiteralExpr): ValueType {
  switch (node.kind) {
    case "none":
      return unknownType;
    case "bool":
      return typeOf("bool", false);
    case "integer":
      return typeOf(integerLiteralKind(node.value), false);
    case "float":
      return typeOf("float8", false);
    case "string":
      return typeOf("utf8", false);
    case "duration":
      return typeOf("duration", false);
    default:
      return unreachable(node);
  }
}

/** The narrowest of int8, int16 and uint16 that holds an integer literal. */
function integerLiteralKind(value: number | bigint): BaseKind {
  if (typeof value === "number") return "int8";
  const [int8Min, int8Max] = integerBounds.int8!;
  if (value >= int8Min && value <= int8Max) return "int8";
  return value <= integerBounds.int16![1] ? "int16" : "uint16";
}

/** The run-time family of a known kind's values (see runtime.ts valueFamily). */
export function staticFamily(kind: BaseKind): ValueFamily | undefined {
  if (isNumericKind(kind)) return "number";
  switch (kind) {
    case "utf8":
    case "date":
    case "time":
    case "uuid4":
    case "uuid7":
      return "text";
    case "bool":
      return "bool";
    case "datetime":
      return "datetime";
    case "duration":
      return "duration";
    case "blob":
      return "blob";
    default:
      return undefined;
  }
}

/** False only when both types are known and their values can never be compared. */
export function areComparable(a: ValueType, b: ValueType): boolean {
  const familyA = staticFamily(a.kind);
  const familyB = staticFamily(b.kind);
  return familyA === undefined || familyB === undefined || familyA === familyB;
}

function widerInteger(a: BaseKind, b: BaseKind): BaseKind {
  if (a === b) return a;
  const wide = (kind: BaseKind): boolean => kind === "int16" || kind === "uint16";
  return wide(a) || wide(b) ? "int16" : "int8";
}

function numericArithmeticType(a: BaseKind, b: BaseKind, optional: boolean): ValueType {
  const float = (kind: BaseKind): boolean => kind === "float4" || kind === "float8";
  if (float(a) || float(b)) return typeOf("float8", optional);
  if (a === "decimal" || b === "decimal") return typeOf("decimal", optional);
  return typeOf(widerInteger(a, b), optional);
}

/**
 * The result type of `a op b`, or undefined when the operator can never apply (both types
 * known). Mirrors values/arith.ts: numbers with numbers, text + text, datetime ± duration,
 * datetime − datetime, duration ± duration and duration × or ÷ a number.
 */
export function arithmeticType(
  op: ArithmeticOp,
  a: ValueType,
  b: ValueType,
): ValueType | undefined {
  if (!isKnownType(a) || !isKnownType(b)) return unknownType;
  const optional = a.optional || b.optional;
  if (isNumericKind(a.kind) && isNumericKind(b.kind)) {
    return numericArithmeticType(a.kind, b.kind, optional);
  }
  const additive = op === "+" || op === "-";
  if (a.kind === "utf8" && b.kind === "utf8" && op === "+") return typeOf("utf8", optional);
  if (a.kind === "datetime" && b.kind === "duration" && additive) {
    return typeOf("datetime", optional);
  }
  if (a.kind === "datetime" && b.kind === "datetime" && op === "-") {
    return typeOf("duration", optional);
  }
  if (a.kind === "duration" && b.kind === "duration" && additive) {
    return typeOf("duration", optional);
  }
  const scalesDuration = (op === "*" || op === "/") && b.kind !== "decimal";
  if (a.kind === "duration" && isNumericKind(b.kind) && scalesDuration) {
    return typeOf("duration", optional);
  }
  return undefined;
}

/** The type of `-x`, or undefined when x can never be negated. */
export function negationType(type: ValueType): ValueType | undefined {
  if (!isKnownType(type)) return unknownType;
  return isNumericKind(type.kind) || type.kind === "duration" ? type : undefined;
}

/** Comparisons and logic give bool; in RQL they are none when an operand may be none. */
export function booleanType(semantics: Semantics, ...operands: ValueType[]): ValueType {
  const optional = semantics === "rql" && operands.some((type) => type.optional);
  return typeOf("bool", optional);
}

/** `a ?? b`: a's type when a cannot be none, else whatever both sides agree on. */
export function coalesceType(a: ValueType, b: ValueType): ValueType {
  if (!a.optional) return a;
  if (a.kind === b.kind || a.kind === "any") return typeOf(b.kind, b.optional);
  return b.kind === "any" ? unknownType : typeOf("any", b.optional);
}

/** The type of a call, given its function (undefined for aggregates) and argument types. */
export function callType(
  node: CallExpr,
  spec: FunctionSpec | undefined,
  args: readonly ValueType[],
): ValueType {
  if (isAggregateCall(node)) return aggregateType(node.name, args[0] ?? unknownType);
  if (spec === undefined) return unknownType;
  const result = spec.returns(args);
  const mayBeNone = spec.propagatesNone && args.some((type) => type.optional);
  return mayBeNone && !result.optional ? typeOf(result.kind, true) : result;
}

/** Aggregates over an empty group are none, so their types are optional. */
function aggregateType(name: string, arg: ValueType): ValueType {
  if (name === "count") return typeOf("int8", false);
  if (name === "avg") return typeOf(arg.kind === "decimal" ? "decimal" : "float8", true);
  return typeOf(arg.kind, true);
}

/**
 * The problem with a call's arguments, or undefined: an argument whose known type is of
 * another kind than the function takes (`text::upper(total)` for an int8 total).
 */
export function argumentFamilyProblem(
  spec: FunctionSpec,
  args: readonly ValueType[],
): string | undefined {
  const families = spec.argumentFamilies ?? [];
  for (let i = 0; i < args.length && i < families.length; i++) {
    const found = staticFamily(args[i]!.kind);
    if (found === undefined || found === families[i]) continue;
    const expected = families[i] === "number" ? "a number" : "text";
    const name = `${spec.namespace}::${spec.name}`;
    return `${name}: argument ${i + 1} must be ${expected}, not ${args[i]!.kind}`;
  }
  return undefined;
}

/** Why an aggregate call can never work, whatever the rows hold. */
export interface AggregateCallProblem {
  readonly code: "INVALID_ARGUMENT" | "TYPE_MISMATCH";
  readonly message: string;
}

/**
 * The problem with an aggregate call, or undefined: a wrong argument count, or a sum or mean
 * of a known type that does not add up (text, datetimes), which would otherwise fail only
 * from the second row on, or concatenate text.
 */
export function aggregateCallProblem(
  node: CallExpr,
  fields: ReadonlyMap<string, ValueType | undefined> | undefined,
): AggregateCallProblem | undefined {
  const name = `${node.namespace}::${node.name}`;
  const count = node.args.length;
  if (node.name === "count" ? count > 1 : count !== 1) {
    const expected = node.name === "count" ? "0 or 1 arguments" : "1 argument";
    return { code: "INVALID_ARGUMENT", message: `${name} takes ${expected}, got ${count}` };
  }
  if (node.name !== "sum" && node.name !== "avg") return undefined;
  const type = inferNode(node.args[0]!, fields);
  if (!isKnownType(type) || isNumericKind(type.kind) || type.kind === "duration") {
    return undefined;
  }
  const message = `${name} adds numbers or durations, not ${type.kind}`;
  return { code: "TYPE_MISMATCH", message };
}

/**
 * The static type of an expression under RQL semantics, best effort: kind "any" when unknown.
 * Never throws for unknown columns or ill-typed operators; compileExpression reports those.
 *
 * @example
 * inferType(parseExpression("a + 1"), new Map([["a", parseType("int4")]])).kind; // -> "int8"
 */
export function inferType(
  ast: Expr,
  fields?: ReadonlyMap<string, ValueType | undefined>,
): ValueType {
  return inferNode(ast, fields);
}

function inferNode(
  node: Expr,
  fields: ReadonlyMap<string, ValueType | undefined> | undefined,
): ValueType {
  const infer = (child: Expr): ValueType => inferNode(child, fields);
  switch (node.type) {
    case "literal":
      return literalType(node);
    case "field":
      return node.path.length === 1 ? (fields?.get(node.path[0]!) ?? unknownType) : unknownType;
    case "param":
      return unknownType;
    case "record":
    case "list":
      return typeOf("any", false);
    case "unary":
      if (node.op === "not") return booleanType("rql", infer(node.operand));
      return negationType(infer(node.operand)) ?? unknownType;
    case "binary":
      return inferBinary(node.op, infer(node.left), infer(node.right));
    case "between":
      return booleanType("rql", infer(node.operand), infer(node.low), infer(node.high));
    case "in":
      return booleanType("rql", infer(node.operand), infer(node.list));
    case "call":
      return callType(node, getFunction(node.namespace, node.name), node.args.map(infer));
    default:
      return unreachable(node);
  }
}

function inferBinary(op: string, left: ValueType, right: ValueType): ValueType {
  if (arithmeticOps.has(op)) {
    return arithmeticType(op as ArithmeticOp, left, right) ?? unknownType;
  }
  if (op === "??") return coalesceType(left, right);
  return booleanType("rql", left, right);
}

/**
 * Kinds a text spells (`12:00:00.5`, `2024-01-02T03:04:05Z`, a uuid, `30s`): text compared
 * with one of them is read as one, so that every operator compares values, not spellings (and
 * a join key, rql/join.ts, as `==` does).
 */
export const textSpelledKinds: ReadonlySet<string> = new Set<BaseKind>([
  "date",
  "time",
  "datetime",
  "duration",
  "uuid4",
  "uuid7",
]);

/**
 * The kind text is read as when values of types `a` and `b` meet (compared or joined), or
 * undefined: one is utf8 and the other a kind written as text (`tm == note` for a time tm).
 * Text that is no such value then fails, which depends on the rows, not on the types.
 */
export function textReadAs(a: ValueType, b: ValueType): BaseKind | undefined {
  if (a.kind === "utf8" && textSpelledKinds.has(b.kind)) return b.kind;
  if (b.kind === "utf8" && textSpelledKinds.has(a.kind)) return a.kind;
  return undefined;
}

/** Where an expression can fail on the rows it reads, and why. */
export interface RowDependentProblem {
  readonly node: Expr;
  readonly message: string;
}

/**
 * The first place in `ast` that reads text taken from the row as a date, time, datetime,
 * duration or uuid: a comparison (`d == note`, `note in [d, e]`) or a date function's date
 * argument (`date::year(note)`), or undefined. It fails on text that is no such value, so a
 * view, which must not refuse rows its inputs accept, refuses it when it is created. Text that
 * is constant (`d == "2024-01-01"`) is read when compiled, so it is fine.
 */
export function textReadProblem(
  ast: Expr,
  fields: ReadonlyMap<string, ValueType | undefined> | undefined,
): RowDependentProblem | undefined {
  const pending: Expr[] = [ast];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    const pairs = comparedPairs(node);
    for (const [a, b] of pairs) {
      const problem = textReadPair(node, a, b, fields);
      if (problem !== undefined) return problem;
    }
    const instant = node.type === "call" ? textInstantArgument(node, fields) : undefined;
    if (instant !== undefined) return instant;
    pending.push(...childrenOf(node));
  }
  return undefined;
}

/**
 * A `date::` or `datetime::` call given text from the row where it takes a date or datetime
 * (functions/date.ts expectInstant: both arguments of `diff`, the first of the others).
 */
function textInstantArgument(
  node: CallExpr,
  fields: ReadonlyMap<string, ValueType | undefined> | undefined,
): RowDependentProblem | undefined {
  if (node.namespace !== "date" && node.namespace !== "datetime") return undefined;
  const instants = node.name === "diff" ? node.args : node.args.slice(0, 1);
  for (const arg of instants) {
    if (inferNode(arg, fields).kind !== "utf8" || !readsRow(arg)) continue;
    const name = `${node.namespace}::${node.name}`;
    const message =
      `${name} reads text from each row as a date, and text that is no date would fail ` +
      "the write; declare the text column date or datetime";
    return { node: arg, message };
  }
  return undefined;
}

/** The operand pairs a node compares (`in` with a written list compares each item). */
function comparedPairs(node: Expr): Array<readonly [Expr, Expr]> {
  if (node.type === "binary") {
    return comparisonOps.has(node.op) ? [[node.left, node.right]] : [];
  }
  if (node.type === "between") {
    return [
      [node.operand, node.low],
      [node.operand, node.high],
    ];
  }
  if (node.type === "in" && node.list.type === "list") {
    return node.list.items.map((item) => [node.operand, item] as const);
  }
  return [];
}

function textReadPair(
  node: Expr,
  a: Expr,
  b: Expr,
  fields: ReadonlyMap<string, ValueType | undefined> | undefined,
): RowDependentProblem | undefined {
  const typeA = inferNode(a, fields);
  const typeB = inferNode(b, fields);
  const kind = textReadAs(typeA, typeB);
  if (kind === undefined) return undefined;
  const text = typeA.kind === "utf8" ? a : b;
  if (!readsRow(text)) return undefined;
  const message =
    `comparing ${typeA.kind} with ${typeB.kind} reads text from each row as ${kind}, and ` +
    `text that is no ${kind} would fail the write; declare the text column ${kind}`;
  return { node, message };
}

/** Whether an expression reads a column of the row (else it is constant for a view). */
function readsRow(ast: Expr): boolean {
  const pending: Expr[] = [ast];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    if (node.type === "field") return true;
    pending.push(...childrenOf(node));
  }
  return false;
}

function childrenOf(node: Expr): readonly Expr[] {
  switch (node.type) {
    case "literal":
    case "field":
    case "param":
      return [];
    case "record":
      return node.entries.map((entry) => entry.value);
    case "list":
      return node.items;
    case "unary":
      return [node.operand];
    case "binary":
      return [node.left, node.right];
    case "between":
      return [node.operand, node.low, node.high];
    case "in":
      return [node.operand, node.list];
    case "call":
      return node.args;
    default:
      return unreachable(node);
  }
}

/**
 * Why a value of type `found` can never be stored in a declared column of type `declared`,
 * or undefined when it can (or either is unknown): values of another family (a number into
 * utf8), or text read as a date, time or uuid, which fails on text that is no such value.
 * Narrowing a number (int8 into int1) and none into a non-optional column are left to the
 * row, as most such views hold values that fit.
 */
export function declaredTypeProblem(declared: ValueType, found: ValueType): string | undefined {
  if (!isKnownType(declared) || !isKnownType(found)) return undefined;
  const familyDeclared = staticFamily(declared.kind);
  const familyFound = staticFamily(found.kind);
  if (familyDeclared === undefined || familyFound === undefined) return undefined;
  if (familyDeclared !== familyFound) return `${found.kind} values are never ${declared.kind}`;
  if (found.kind === declared.kind || !textSpelledKinds.has(declared.kind)) return undefined;
  const kind = declared.kind;
  return `${found.kind} is read as ${kind}, and text that is no ${kind} would fail the write`;
}
