/**
 * @module What compiling one AST node yields, and the helpers the compiler files share:
 * compile-time errors that point at a node, and constant folding.
 */
import { DbError } from "../lib/errors.ts";
import type { ErrorCode } from "../lib/errors.ts";
import type { ValueType } from "../values/index.ts";
import type { CallExpr, Expr, Semantics } from "./ast.ts";
import { printExpression } from "./printer.ts";
import { isPlainObject } from "./runtime.ts";
import type { Evaluator, Scope } from "./scope.ts";

/** A compiled node: its closure, static type, and what specialisations may rely on. */
export interface Compiled {
  readonly evaluate: Evaluator;
  readonly type: ValueType;
  /** Present when the value is known at compile time: a scalar literal or folded subtree. */
  readonly constant?: { readonly value: unknown };
  /** Present for a one-segment field whose name is safe to read directly from the row. */
  readonly rootField?: string;
}

/** What every node compiles against. */
export interface CompileEnv {
  readonly semantics: Semantics;
  readonly fields: ReadonlyMap<string, ValueType | undefined> | undefined;
  readonly aggregate: ((call: CallExpr) => Evaluator) | undefined;
  /** Column name to index when rows are arrays (CompileOptions.positional). */
  readonly positions: ReadonlyMap<string, number> | undefined;
}

const fragmentLengthMax = 60;

function fragmentOf(node: Expr): string {
  const printed = printExpression(node);
  return printed.length > fragmentLengthMax ? `${printed.slice(0, fragmentLengthMax)}…` : printed;
}

/** A compile-time DbError: "line L, column C: message", with the node's source as fragment. */
export function compileError(code: ErrorCode, node: Expr, message: string): DbError {
  return new DbError(code, `line ${node.pos.line}, column ${node.pos.col}: ${message}`, {
    line: node.pos.line,
    col: node.pos.col,
    fragment: fragmentOf(node),
  });
}

/**
 * An evaluator whose TYPE_MISMATCH errors (values of kinds only known at run time that
 * cannot meet) name `node`'s line, column and fragment, as compile-time ones do. The
 * innermost node that failed names itself; an error already placed passes unchanged.
 */
export function placedTypeErrors(evaluate: Evaluator, node: Expr): Evaluator {
  return (s) => {
    try {
      return evaluate(s);
    } catch (error) {
      if (!(error instanceof DbError) || error.code !== "TYPE_MISMATCH") throw error;
      if (error.details.line !== undefined) throw error;
      const { line, col } = node.pos;
      const placed = new DbError(error.code, `line ${line}, column ${col}: ${error.message}`, {
        ...error.details,
        line,
        col,
        fragment: fragmentOf(node),
      });
      if (error.stack !== undefined) placed.stack = error.stack;
      throw placed;
    }
  };
}

export function constantOf(value: unknown, type: ValueType): Compiled {
  return { evaluate: constantEvaluator(value), type, constant: { value } };
}

/**
 * Returned, not written `const evaluate = () => value`: tsx (esbuild's keepNames) names such
 * an arrow with a defineProperty each time it is made, ~320 ns, a million in an `in` list.
 */
function constantEvaluator(value: unknown): Evaluator {
  return () => value;
}

const emptyScope: Scope = Object.freeze({ row: Object.freeze({}) });

/**
 * Evaluates a node whose inputs are all constant once, at compile time. A failure (1 / 0)
 * is left to happen at run time, where it belongs to the row that triggers it; lists and
 * records are not folded, so every evaluation returns a fresh one that callers may keep.
 */
export function foldConstant(compiled: Compiled, inputs: readonly Compiled[]): Compiled {
  if (!inputs.every((input) => input.constant !== undefined)) return compiled;
  let value: unknown;
  try {
    value = compiled.evaluate(emptyScope);
  } catch (error) {
    if (error instanceof DbError) return compiled;
    throw error;
  }
  if (Array.isArray(value) || isPlainObject(value)) return compiled;
  return constantOf(value, compiled.type);
}
