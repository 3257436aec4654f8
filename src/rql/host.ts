/**
 * @module What the executor needs from the database around it, as interfaces the composition
 * root (database.ts) implements: views (built in src/views, which rql never imports),
 * procedures, and the asynchronous reads (time travel, key history) that an entry point
 * resolves before the script's transaction starts.
 */
import type { Catalog, StoredObject, Transaction } from "../engine/index.ts";
import type { Row } from "../primitives/index.ts";
import type { CreateViewStatement } from "./ast.ts";
import type { Columns } from "./context.ts";
import type { EntryPoint } from "./entry-point.ts";

/**
 * Views are built by src/views; database.ts registers an implementation. `create view` and
 * `drop view` are delegated here, inside the script's transaction.
 */
export interface ViewHost {
  /** Creates and populates a view; returns false when it exists and `ifNotExists` is set. */
  create(tx: Transaction, statement: CreateViewStatement): boolean;
  /** Drops a view; returns false when it does not exist and `ifExists` is set. */
  drop(tx: Transaction, name: string, ifExists: boolean): boolean;
  /**
   * The rows of a catalog object that is one of this host's views (`from view`), in the
   * view's order, with its columns and their types (where known: a sum over a view's float
   * column must add up in floats, as the view's own operators do); undefined for any other
   * object.
   */
  read(object: StoredObject): { columns: Columns; rows: Iterable<Row> } | undefined;
}

/**
 * Runs procedures inside the caller's transaction (`call ns::p(args)` in a script), refusing
 * one whose role is above the script's entry point (FORBIDDEN).
 */
export interface ProcedureCaller {
  call(tx: Transaction, name: string, args: readonly unknown[], entry: EntryPoint): unknown;
}

/** Results of the asynchronous reads a script needs, fetched before its transaction. */
export interface Prefetched {
  /** Catalogs of the database as of a commit seq (`from X as of N`). */
  readonly asOf: ReadonlyMap<number, Catalog>;
  /** `system::history` results by `${object}\u0000${describeValue(key)}`. */
  readonly history: ReadonlyMap<string, readonly Row[]>;
}

/** Everything the executor reaches outside the engine. */
export interface RqlHost {
  readonly views?: ViewHost | undefined;
  readonly procedures: ProcedureCaller;
  /** Present in the async entry points only; time travel and history need it. */
  readonly prefetched?: Prefetched | undefined;
}
