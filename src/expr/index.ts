/**
 * @module The one expression language of Statebase: RQL expressions, view predicates and
 * state machine guards. A source text goes through four steps:
 *
 * 1. `tokenize` (lexer.ts) turns text into tokens with positions; RQL reuses it whole.
 * 2. `ExpressionParser` (parser.ts) reads one expression from a `TokenCursor`; the RQL parser
 *    shares the cursor. `parseExpression` does the same for a standalone text.
 * 3. `compileExpression` / `compilePredicate` (compile.ts) resolve names and types and build
 *    closures; `inferType` (infer.ts) gives the static type alone.
 * 4. The evaluator runs per row against a `Scope` (row, params, now).
 *
 * `compileGuard` (guard.ts) does steps 1 to 3 with rstmdb's guard semantics.
 */
export { tokenize } from "./lexer.ts";
export type { LexOptions, Position, SymbolText, Token, TokenKind } from "./lexer.ts";
export { TokenCursor, describeToken } from "./cursor.ts";
export { ExpressionParser, parseExpression } from "./parser.ts";
export type { ParseOptions } from "./parser.ts";
export { printExpression } from "./printer.ts";
export { compileExpression, compilePredicate } from "./compile.ts";
export type { CompileOptions } from "./compile.ts";
export type { Evaluator, Scope } from "./scope.ts";
export {
  declaredTypeProblem,
  inferType,
  sumModeOf,
  textReadAs,
  textReadProblem,
  textSpelledKinds,
} from "./infer.ts";
export type { RowDependentProblem } from "./infer.ts";
export {
  aggregateFunctionNames,
  isAggregateCall,
  isPureCall,
  hasFunction,
} from "./functions/index.ts";
export { isTruthy } from "./runtime.ts";
export { compileGuard } from "./guard.ts";
export type { Guard } from "./guard.ts";
export type {
  ArithmeticOp,
  BetweenExpr,
  BinaryExpr,
  BinaryOp,
  CallExpr,
  ComparisonOp,
  Expr,
  ExprType,
  FieldExpr,
  InExpr,
  ListExpr,
  LiteralExpr,
  LiteralKind,
  LogicalOp,
  ParamExpr,
  RecordEntry,
  RecordExpr,
  Semantics,
  UnaryExpr,
} from "./ast.ts";
