/**
 * @module Literals with a fraction meant for a decimal column, read from their source text so
 * that no digit is lost to a double: inserts and updates store them this way, and the planner
 * looks them up this way, as the filter compares them (expr/compile.ts).
 */
import type { Expr } from "../expr/index.ts";
import type { ValueType } from "../values/index.ts";

/**
 * A literal with a fraction put straight into a decimal column is read from its source text:
 * read as a double first, 12345678901234567890.12 was stored as 12345678901234567000.
 */
export function exactLiteral(expr: Expr, type: ValueType | undefined): Expr {
  if (type?.kind !== "decimal") return expr;
  const negated = expr.type === "unary" && expr.op === "-";
  const literal = negated ? expr.operand : expr;
  if (literal.type !== "literal" || literal.kind !== "float" || literal.text === undefined) {
    return expr;
  }
  const value = negated ? `-${literal.text}` : literal.text;
  return { type: "literal", kind: "string", value, pos: expr.pos };
}
