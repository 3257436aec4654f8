/**
 * @module What compiled statements close over and what they run against. Compilation happens
 * once per statement and catalog epoch (names resolved, closures built); running happens per
 * request with the transaction, the parameters and the host.
 */
import type { Catalog, Transaction } from "../engine/index.ts";
import type { Scope } from "../expr/index.ts";
import type { Row } from "../primitives/index.ts";
import type { ValueType } from "../values/index.ts";
import type { EntryPoint } from "./entry-point.ts";
import type { RqlHost } from "./host.ts";

/** Known output columns with their static types, or undefined when unknown (inline rows). */
export type Columns = ReadonlyMap<string, ValueType | undefined> | undefined;

/** RQL parameters: named (`$name`) from an object, positional (`$1`) from an array. */
export type Params = Readonly<Record<string, unknown>> | readonly unknown[];

/** What compilation resolves names against. */
export interface CompileEnv {
  readonly catalog: Catalog;
  readonly host: RqlHost;
}

/** One run of a compiled statement. */
export interface RunContext {
  readonly tx: Transaction;
  readonly catalog: Catalog;
  readonly params: Params | undefined;
  readonly host: RqlHost;
  /** True inside `tx.execute`: time travel and history cannot be awaited there. */
  readonly synchronous: boolean;
  /** The script's entry point: `call` may not reach a procedure whose role is above it. */
  readonly entry: EntryPoint;
  /** The transaction's time, for `date::now()`; one closure per run, shared by every scope. */
  readonly now: () => number;
}

const emptyRow: Row = Object.freeze({});

/** A scope whose row the caller replaces per evaluation (one allocation per run, not per row). */
export interface RowScope extends Scope {
  row: Row;
}

export function scopeOf(ctx: RunContext, row: Row = emptyRow): RowScope {
  return ctx.params === undefined
    ? { row, now: ctx.now }
    : { row, params: ctx.params, now: ctx.now };
}

/** A compiled pipeline: its output columns, how to run it, and its access paths. */
export interface CompiledPipeline {
  readonly columns: Columns;
  readonly run: (ctx: RunContext) => Row[];
  /** One line per access path chosen, for explain. */
  readonly plan: readonly string[];
  /** True when the rows are stored rows that must be copied before they leave. */
  readonly shared: boolean;
}
