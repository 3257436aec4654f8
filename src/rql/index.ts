/**
 * @module RQL, the query language (specs/rql.md). A request travels:
 *
 * 1. `parseScriptCached` (parser.ts) turns the text into statements (ast.ts), reusing the
 *    expression language's lexer and parser, and keeps the parse in an LRU by text.
 * 2. The entry point (query, command, admin) checks every statement's class before anything
 *    runs (permissions.ts).
 * 3. Each statement is compiled once per catalog epoch: names resolved, filters compiled to
 *    closures, and an access path chosen (planner.ts: primary key or index lookups and ranges).
 * 4. The executor runs the statements in order inside one engine transaction; a throw rolls
 *    the whole script back. Statements that yield rows add one frame each.
 */
export type * from "./ast.ts";
export { parseScript, parseScriptCached, parsedScriptCacheSize } from "./parser.ts";
export type { CachedScript } from "./parser.ts";
export {
  executeScript,
  explainScript,
  framesOfResult,
  FramesResult,
  inProcedureBody,
} from "./executor.ts";
export type { ExecuteOptions } from "./executor.ts";
export type { ProcedureCaller, Prefetched, RqlHost, ViewHost } from "./host.ts";
export { checkEntryPoint, checkProcedureRole, statementClass } from "./permissions.ts";
export type { StatementClass } from "./permissions.ts";
export type { EntryPoint } from "./entry-point.ts";
export { asyncReadsOf, needsAsyncReads } from "./prefetch.ts";
export type { AsyncReads } from "./prefetch.ts";
export { historyKey } from "./source.ts";
export {
  deadlineCheckCostMax,
  queryDeadlineOf,
  queryTimeoutMsMax,
  withinDeadline,
} from "./deadline.ts";
export type { DeadlineClock, DeadlineOptions, QueryDeadline } from "./deadline.ts";
export { joinKeyReader } from "./join.ts";
export type { KeyReader } from "./join.ts";
export {
  ProcedureObject,
  ProcedureRegistry,
  coerceArguments,
  registerProcedureFactory,
} from "./procedures.ts";
export type { NativeProcedure, ProcedureParam, ResolvedProcedure } from "./procedures.ts";
