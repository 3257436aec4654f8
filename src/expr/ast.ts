/**
 * @module The expression AST: what the parser produces and the compiler, type inference, the
 * printer and the RQL planner consume. A discriminated union on `type`; every node carries the
 * source position of its own token (the operator for operators, the first token otherwise) so
 * that compile-time errors can point at it.
 */
import type { Duration } from "../values/index.ts";
import type { Position } from "./lexer.ts";

export type { Position } from "./lexer.ts";

/**
 * Which rules an expression follows: `rql` (specs/rql.md: none propagates, three-valued logic)
 * or `guard` (rstmdb's guard language, rcp.md §3: two-valued, JSON equality, raw strings).
 */
export type Semantics = "rql" | "guard";

export type ComparisonOp = "==" | "!=" | "<" | "<=" | ">" | ">=";
export type ArithmeticOp = "+" | "-" | "*" | "/" | "%";
export type LogicalOp = "and" | "or" | "xor";
export type BinaryOp = ComparisonOp | ArithmeticOp | LogicalOp | "??";

interface NodeBase {
  readonly pos: Position;
}

/** Literal kinds are kept apart because `2.0` is a float even though its value is 2. */
export type LiteralExpr = NodeBase &
  (
    | { readonly type: "literal"; readonly kind: "none"; readonly value: null }
    | { readonly type: "literal"; readonly kind: "bool"; readonly value: boolean }
    | { readonly type: "literal"; readonly kind: "integer"; readonly value: number | bigint }
    | {
        readonly type: "literal";
        readonly kind: "float";
        readonly value: number;
        /** The source spelling when parsed: a decimal column keeps every digit of it. */
        readonly text?: string;
      }
    | { readonly type: "literal"; readonly kind: "string"; readonly value: string }
    | { readonly type: "literal"; readonly kind: "duration"; readonly value: Duration }
  );

export type LiteralKind = LiteralExpr["kind"];

/** `a`, `ctx.customer.tier`: a root name (a column, or ctx/payload in guards) then keys. */
export interface FieldExpr extends NodeBase {
  readonly type: "field";
  /** Root first; never empty. */
  readonly path: readonly string[];
}

/** `$name` (a string) or `$1` (a 1-based index). */
export interface ParamExpr extends NodeBase {
  readonly type: "param";
  readonly name: string | number;
}

export interface RecordEntry {
  readonly key: string;
  readonly value: Expr;
  readonly pos: Position;
}

/** `{a: 1, b: x}`; keys are unique. */
export interface RecordExpr extends NodeBase {
  readonly type: "record";
  readonly entries: readonly RecordEntry[];
}

export interface ListExpr extends NodeBase {
  readonly type: "list";
  readonly items: readonly Expr[];
}

/** `-x` and `not x` / `!x`. */
export interface UnaryExpr extends NodeBase {
  readonly type: "unary";
  readonly op: "-" | "not";
  readonly operand: Expr;
}

/** Arithmetic, comparison, logic (`&&` is `and`, `||` is `or`) and `??`. */
export interface BinaryExpr extends NodeBase {
  readonly type: "binary";
  readonly op: BinaryOp;
  readonly left: Expr;
  readonly right: Expr;
}

/** `x between low and high`, or `x not between low and high` when negated. */
export interface BetweenExpr extends NodeBase {
  readonly type: "between";
  readonly negated: boolean;
  readonly operand: Expr;
  readonly low: Expr;
  readonly high: Expr;
}

/** `x in [..]`, or `x not in [..]` when negated; the list may be any list-valued expression. */
export interface InExpr extends NodeBase {
  readonly type: "in";
  readonly negated: boolean;
  readonly operand: Expr;
  readonly list: Expr;
}

/** `ns::name(args)`; namespace and name are lowercased by the parser. */
export interface CallExpr extends NodeBase {
  readonly type: "call";
  readonly namespace: string;
  readonly name: string;
  readonly args: readonly Expr[];
}

export type Expr =
  | LiteralExpr
  | FieldExpr
  | ParamExpr
  | RecordExpr
  | ListExpr
  | UnaryExpr
  | BinaryExpr
  | BetweenExpr
  | InExpr
  | CallExpr;

export type ExprType = Expr["type"];

export const comparisonOps: ReadonlySet<string> = new Set(["==", "!=", "<", "<=", ">", ">="]);
export const arithmeticOps: ReadonlySet<string> = new Set(["+", "-", "*", "/", "%"]);

/** Words with a meaning of their own in expressions: they cannot name a field root. */
export const reservedWords: ReadonlySet<string> = new Set([
  "true",
  "false",
  "none",
  "null",
  "and",
  "or",
  "xor",
  "not",
  "between",
  "in",
]);
