/**
 * @module Public contracts of the transactional engine: objects, changes, commits and
 * transactions. The engine is synchronous CPU work with no IO; the log, views and servers
 * consume its commits from the outside.
 */
import type { Transaction } from "./transaction.ts";

/** Every kind of object the catalog can hold. */
export type ObjectKind =
  | "table"
  | "ring_buffer"
  | "series"
  | "counter"
  | "histogram"
  | "queue"
  | "system"
  | "view"
  | "procedure";

/**
 * One mutation of one object. The same record feeds the log, views, subscriptions and
 * replication. `kind` is `insert`/`update`/`delete` for row-like primitives (tables, ring
 * buffers, series, queue messages) and primitive-specific otherwise (`set` for counters,
 * `record`/`reset`/`merge` for histograms, `create`/`drop` for the catalog).
 * `before` is undefined when the key did not exist; `after` is undefined when it was removed.
 */
export interface Change {
  readonly object: string;
  readonly kind: string;
  readonly key: unknown;
  readonly before: unknown;
  readonly after: unknown;
}

/** The changed-columns bits of a change that does not say which columns it changed. */
export const changedColumnsUnknown = -1;

/** What caused a commit, kept for audit: an API call, RQL text, a procedure, an RCP op. */
export interface Origin {
  readonly kind: string;
  readonly detail?: unknown;
}

/** A committed transaction: its gapless sequence number, time and ordered changes. */
export interface Commit {
  readonly seq: number;
  /** Commit time in Unix ms; also the `now` every time-based decision of the transaction saw. */
  readonly ts: number;
  readonly origin: Origin;
  readonly changes: readonly Change[];
}

/** The state an object keeps and how its changes are applied and reverted. */
export interface StoredObject {
  readonly kind: ObjectKind;
  /** Qualified name, `namespace::name`. */
  readonly name: string;
  /** The definition the object was created from (JSON-serialisable). */
  readonly definition: ObjectDefinition;
  /** Re-applies a committed change (recovery, replication). `before` must match current state. */
  applyChange(change: Change): void;
  /** Undoes a change made by the running transaction (rollback). */
  revertChange(change: Change): void;
  /**
   * The columns of the rows `from <object>` reads, as `system::columns` lists them, for an
   * object whose definition has no `columns` that say so (counters, histograms, queues).
   */
  describeColumns?(): readonly ColumnDescription[];
  /** Starts reading the object's state for a snapshot (see {@link SnapshotSource}). */
  snapshot?(): SnapshotSource;
  /** Loads state written from a {@link SnapshotSource} into this freshly built object. */
  restore?(meta: unknown, entries: ReadonlyArray<readonly [unknown, unknown]>): void;
}

/**
 * Reads an object's state at one commit while later commits go on. `meta` (small: id
 * counters, a histogram's buckets) is captured when the source is made; entries are read in
 * chunks between commits. The snapshot writer keeps, for every entry a later commit changes
 * before it is read, that change's `before`, so the image stays the one of the start.
 */
export interface SnapshotSource {
  readonly meta: unknown;
  /** Up to `limit` entries `[mapKey, key, value]` not read yet; empty when done. */
  readChunk(limit: number): Array<readonly [unknown, unknown, unknown]>;
  /** The map key a change of this object touches (the first element of an entry). */
  mapKeyOfChange(change: Change): unknown;
}

/** A column as `system::columns` lists it: its name and type as written (`Option(utf8)`). */
export interface ColumnDescription {
  readonly name: string;
  readonly type: string;
  readonly autoIncrement?: boolean;
}

/** A JSON-serialisable description from which an object is (re)built. */
export interface ObjectDefinition {
  readonly kind: ObjectKind;
  readonly name: string;
  readonly [option: string]: unknown;
}

/**
 * Sees every change a transaction records, synchronously, right after it is recorded: how
 * transactional views stay correct inside the writing transaction. `observes` is asked first
 * so that objects nobody watches cost one set lookup.
 */
export interface ChangeObserver {
  observes(object: string): boolean;
  /**
   * A throw undoes the change and everything recorded for it, then propagates.
   * `changedColumns`: for an update that knows them, bit i is set when column i of the
   * object's schema changed (by identity) and no other bit is; else {@link changedColumnsUnknown}.
   */
  onChange(tx: Transaction, change: Change, changedColumns: number): void;
  /**
   * A change `onChange` took is being rolled back: called after the undo actions registered
   * after it ran and before the change itself is reverted (so, newest change first).
   */
  onRevert(tx: Transaction, change: Change): void;
  /** Sees a commit re-applied from elsewhere (recovery, replication) before it is applied. */
  applied?(commit: Commit): void;
}

/** Options of one transaction. */
export interface TransactOptions {
  origin?: Origin;
}
