/**
 * @module Tables: typed rows under a primary key, with auto-increment columns and secondary
 * indexes. Rows are kept in a hash map for point access and a B+tree for key order. Every
 * write, forward or undo, goes through one path (`writeRow`) that keeps rows and indexes in
 * step and records the change `{object, kind: insert|update|delete, key, before, after}`.
 */
import { assert } from "../lib/assert.ts";
import { DbError, describeValue } from "../lib/errors.ts";
import { indexesPerObjectMax, tableDenseKeysMax, tableDenseKeysSkippedMax } from "../lib/limits.ts";
import { createOrderedMap } from "../lib/ordered-map.ts";
import type { OrderedMap, Range } from "../lib/ordered-map.ts";
import { ChangeRecord, changedColumnsUnknown, checkIdentifier } from "../engine/index.ts";
import type {
  Change,
  Engine,
  ObjectDefinition,
  SnapshotSource,
  StoredObject,
  Transaction,
} from "../engine/index.ts";
import { orderedChunks } from "./snapshot-source.ts";
import {
  coerceValue,
  compareValues,
  mapKeyOf,
  mapKeyOfTuple,
  textKey,
  typeName,
} from "../values/index.ts";
import type { MapKey } from "../values/index.ts";
import { Handle } from "./handle.ts";
import { readLimit } from "./read-limit.ts";
import { Schema, columnNameList, normalizeColumns } from "./schema.ts";
import type { Column, ColumnDefinition, ColumnsInput, Row } from "./schema.ts";
import { SecondaryIndex } from "./secondary-index.ts";
import type { IndexDefinition } from "./secondary-index.ts";

/** The stored definition of a table. */
export interface TableDefinition extends ObjectDefinition {
  readonly kind: "table";
  readonly columns: readonly ColumnDefinition[];
  /** Primary key columns; without one, rows get a hidden row id and keep insertion order. */
  readonly primaryKey?: readonly string[];
  readonly indexes?: readonly IndexDefinition[];
}

/** What `createTable` accepts. */
export interface TableOptions {
  columns: ColumnsInput;
  primaryKey?: string | readonly string[];
  indexes?: readonly IndexDefinition[];
}

/** Options of ordered scans: bounds on the primary key (or index key), direction, count. */
export interface ScanOptions extends Range<unknown> {
  limit?: number;
}

/** Normalises `createTable` options into a definition. */
export function tableDefinition(name: string, options: TableOptions): TableDefinition {
  const pk = options.primaryKey;
  const definition: TableDefinition = {
    kind: "table",
    name,
    columns: normalizeColumns(options.columns, name),
    ...(pk === undefined ? {} : { primaryKey: columnNameList(pk, name, "primaryKey") }),
    ...(options.indexes === undefined ? {} : { indexes: indexList(options.indexes, name) }),
  };
  return definition;
}

/** Copies of the index definitions given to createTable, each checked to be an object. */
function indexList(input: unknown, object: string): IndexDefinition[] {
  if (!Array.isArray(input)) {
    throw new DbError(
      "INVALID_SCHEMA",
      `${object}: indexes must be a list of index definitions, got ${describeValue(input)}`,
      { object, value: describeValue(input) },
    );
  }
  return input.map((item: unknown, i) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw new DbError(
        "INVALID_SCHEMA",
        `${object}: index ${i + 1} must be an object such as { name, columns }, got ` +
          describeValue(item),
        { object, value: describeValue(item) },
      );
    }
    return { ...(item as IndexDefinition) };
  });
}

/** A table's state. */
export class Table implements StoredObject {
  readonly kind = "table" as const;
  readonly name: string;
  readonly definition: TableDefinition;
  readonly schema: Schema;
  readonly indexes: readonly SecondaryIndex[];
  private readonly pkColumns: readonly Column[];
  /** `typeof` of keys that need no coercion to be looked up (single-column keys only). */
  private readonly pkPlainType: "number" | "string" | undefined;
  /**
   * The key columns as changed-columns bits (see `Schema.patchChangedColumns`), or undefined
   * when the schema is too wide to track them: an update then checks the patch by name.
   */
  private readonly pkBits: number | undefined;
  /** Whether stored rows are own copies written in place (see {@link rows}): with a primary key. */
  private readonly inPlace: boolean;
  /** Whether any column is auto-increment: a field, as updates ask on every call. */
  private readonly hasAutoIncrement: boolean;
  /**
   * Stored rows by map key. With a primary key, each is the table's own copy, which writes
   * overwrite in place and which is never handed out: callers get snapshots (copies), but for
   * the `*Stored` reads, whose callers copy what they hand out and never keep a row. An update
   * that stored a new young row into the map's old table made the scavenger copy and promote
   * about one row per transfer (garbage collection 26 % of the transfer loop,
   * docs/performance.md); in place, the map and `dense` are written only by inserts and
   * deletes. The rows are held directly, not in a slot object per row as when rows were
   * replaced on update: a read follows one pointer fewer (a cache miss, for a large table).
   * Without a primary key, the row is the immutable row itself (RQL finds such rows by
   * identity), replaced on update. Holds only the keys `dense` does not cover.
   */
  private readonly rows = new Map<MapKey, Row>();
  /**
   * The rows of the whole-number keys 0 .. length - 1 (undefined where there is no row),
   * which `rows` then does not hold: an array element instead of a hash lookup for tables
   * keyed by small whole numbers (ids, account numbers, row ids of tables without a key),
   * whose keys then cost one memory access fewer, and whose inserts no hash map entry (an
   * insert's look-up of its key in a 1M-entry map was 18 % of opening 1M single-row
   * commits). It grows only by keys near its end (skipped ones hold undefined), so it stays
   * packed; a key past its end is in `rows` until the array grows over it. The transfer
   * bench (four lookups per transfer): its hash lookups, 215 instructions per transfer,
   * became 116 (callgrind), and its CPU time per transfer fell from 2.42 to 1.93 µs (medians
   * of 4 alternating runs).
   */
  private readonly dense: Array<Row | undefined> = [];
  /** The largest whole-number key inserted past the end of `dense` (-1: none). */
  private denseKeyPastMax = -1;
  private readonly order: OrderedMap<unknown, MapKey> = createOrderedMap(compareValues);
  /** Rows in `rows` and `dense` together. */
  private rowCount = 0;
  private readonly autoNext = new Map<string, bigint>();
  private rowIdNext = 1;
  private revisionValue = 0;

  /** `created`: a new definition, not one replayed (see ObjectFactory), gets every check. */
  constructor(definition: TableDefinition, created = true) {
    this.name = definition.name;
    this.definition = definition;
    this.schema = new Schema(definition.name, definition.columns);
    this.pkColumns = (definition.primaryKey ?? []).map((c) => this.schema.requireColumn(c));
    if (new Set(definition.primaryKey ?? []).size !== this.pkColumns.length) {
      throw new DbError("INVALID_SCHEMA", `${this.name}: primary key repeats a column`, {
        object: this.name,
      });
    }
    this.indexes = this.buildIndexes(definition.indexes ?? []);
    this.refuseUntypedKeys();
    if (created) this.refuseOptionalKey();
    this.pkPlainType = plainKeyType(this.pkColumns);
    this.inPlace = this.pkColumns.length > 0;
    for (const column of this.schema.columns) {
      if (column.autoIncrement) this.autoNext.set(column.name, 1n);
    }
    this.hasAutoIncrement = this.autoNext.size > 0;
    this.pkBits = this.schema.columnBits(this.pkColumns.map((column) => column.name));
  }

  get size(): number {
    return this.rowCount;
  }

  get hasPrimaryKey(): boolean {
    return this.pkColumns.length > 0;
  }

  // ---- Reads ----

  /** The row under primary key `key` (a value, or a list for composite keys). */
  get(key: unknown): Row | undefined {
    const stored = this.storedRow(this.mapKeyOfInput(key));
    return stored === undefined ? undefined : this.snapshotOf(stored);
  }

  /**
   * The stored row under `key`, not a copy: read it, never keep or write it. For the engine's
   * own readers that copy what they hand out and write nothing while they read (RQL queries).
   */
  getStored(key: unknown): Row | undefined {
    return this.storedRow(this.mapKeyOfInput(key));
  }

  /**
   * A number that changes whenever a row does (write, replay, revert, restore): a cache of
   * something derived from the rows stays valid while it is the same.
   */
  get revision(): number {
    return this.revisionValue;
  }

  /** Rows in primary key order (insertion order without a primary key). */
  *scan(options: ScanOptions = {}): Generator<Row> {
    for (const stored of this.scanStored(options)) yield this.snapshotOf(stored);
  }

  /**
   * {@link scan}'s stored rows, not copies: read them, never keep or write them. Its options
   * are checked when it is called (a scan's on its first step); with a limit of 0, only the
   * limit is.
   */
  scanStored(options: ScanOptions = {}): IterableIterator<Row> {
    const limit = readLimit(this.name, "limit", options.limit);
    const keys = limit === 0 ? noKeys : this.order.values(this.coerceRange(options));
    return new StoredRows(keys, this.dense, this.rows, limit);
  }

  /** Rows whose index key equals `value`, via the named index. */
  lookup(indexName: string, value: unknown): Row[] {
    return this.lookupRows(indexName, value, true);
  }

  /** {@link lookup}'s stored rows, not copies: read them, never keep or write them. */
  lookupStored(indexName: string, value: unknown): Row[] {
    return this.lookupRows(indexName, value, false);
  }

  private lookupRows(indexName: string, value: unknown, copy: boolean): Row[] {
    const index = this.requireIndex(indexName);
    const key = this.coerceIndexKey(index, value);
    const out: Row[] = [];
    for (const pk of index.lookup(key)) {
      const stored = this.storedRow(pk)!;
      out.push(copy ? this.snapshotOf(stored) : stored);
    }
    return out;
  }

  /** Rows in the order of an ordered index, within bounds on its key. */
  *range(indexName: string, options: ScanOptions = {}): Generator<Row> {
    for (const stored of this.rangeStored(indexName, options)) yield this.snapshotOf(stored);
  }

  /**
   * {@link range}'s stored rows, not copies: read them, never keep or write them. Its options
   * are checked when it is called (a range's on its first step).
   */
  rangeStored(indexName: string, options: ScanOptions = {}): IterableIterator<Row> {
    const keys = this.indexRangeKeys(indexName, options);
    const limit = readLimit(this.name, "limit", options.limit);
    return new StoredRows(keys[Symbol.iterator](), this.dense, this.rows, limit);
  }

  /** The primary map keys in an ordered index's range, taken before any is read. */
  private indexRangeKeys(indexName: string, options: ScanOptions): MapKey[] {
    const index = this.requireIndex(indexName);
    const range: Range<unknown> = { ...options };
    if (options.lower !== undefined) range.lower = this.coerceIndexKey(index, options.lower);
    if (options.upper !== undefined) range.upper = this.coerceIndexKey(index, options.upper);
    return [...index.range(range)];
  }

  /**
   * A row of a `*Stored` read as the copying reads hand it out (the row itself, for a table
   * without a primary key, whose rows are immutable): for a reader that keeps a few of them.
   */
  copyOfStored(stored: Row): Row {
    return this.snapshotOf(stored);
  }

  /** The primary key value of a stored row. */
  keyOf(row: Row): unknown {
    const columns = this.pkColumns;
    if (columns.length === 1) return row[columns[0]!.name];
    return columns.map((column) => row[column.name]);
  }

  // ---- Writes (inside a transaction) ----

  /** Inserts a row; CONSTRAINT_VIOLATION if its key exists. Returns the stored row. */
  insert(tx: Transaction, input: unknown, rowIndex?: number): Row {
    tx.assertWritable(this.name);
    return this.atomically(tx, () => this.insertRow(tx, input, rowIndex));
  }

  /**
   * Runs a write that may allocate ids before it fails: on a throw, everything it did is
   * undone at once, so an id consumed by a failed (and caught) write is handed out again,
   * exactly as a replica replaying the log would.
   */
  private atomically<T>(tx: Transaction, write: () => T): T {
    if (!this.hasAutoIncrement && this.hasPrimaryKey) return write();
    const savepoint = tx.savepoint();
    try {
      const result = write();
      tx.release(savepoint);
      return result;
    } catch (error) {
      tx.rollbackTo(savepoint);
      throw error;
    }
  }

  private insertRow(tx: Transaction, input: unknown, rowIndex?: number): Row {
    const row = this.schema.normalizeRow(input, (column) => this.allocate(tx, column), rowIndex);
    const key = this.hasPrimaryKey ? this.keyOf(row) : this.rowIdNext;
    const mapKey = this.mapKeyOfStored(key);
    if (this.storedRow(mapKey) !== undefined) {
      throw new DbError(
        "CONSTRAINT_VIOLATION",
        `${this.name}: primary key ${describeValue(key)} already exists` +
          (rowIndex === undefined ? "" : ` (row ${rowIndex})`),
        {
          object: this.name,
          column: this.pkNames(),
          value: describeValue(key),
          ...(rowIndex === undefined ? {} : { row: rowIndex }),
        },
      );
    }
    if (!this.hasPrimaryKey) this.allocateRowId(tx);
    this.noteAutoValues(tx, row);
    this.write(tx, key, mapKey, undefined, row, changedColumnsUnknown, rowIndex);
    return row;
  }

  /** Replaces the row under `patch`'s key with `patch` applied; NOT_FOUND if there is none. */
  update(tx: Transaction, key: unknown, patch: unknown): Row {
    tx.assertWritable(this.name);
    // Only an explicit value in an auto-increment column moves an allocator in an update.
    if (!this.hasAutoIncrement) return this.updateRow(tx, key, patch);
    return this.atomically(tx, () => this.updateRow(tx, key, patch));
  }

  private updateRow(tx: Transaction, key: unknown, patch: unknown): Row {
    const mapKey = this.mapKeyOfInput(key);
    // The row found here is the one written: one map lookup per update, not two.
    const stored = this.storedRow(mapKey);
    if (stored === undefined) {
      throw new DbError("NOT_FOUND", `${this.name}: no row with key ${describeValue(key)}`, {
        object: this.name,
        value: describeValue(key),
      });
    }
    // A snapshot: it becomes the change's before, which must never change.
    const before = this.snapshotOf(stored);
    const after = this.schema.patchRow(before, patch);
    const changedColumns = this.schema.patchChangedColumns;
    if (this.keyMayChange(patch, changedColumns)) this.checkKeyUnchanged(before, after);
    this.noteAutoValues(tx, after);
    // Without a primary key the row id is the key (keyOf would give an empty list).
    const rowKey = this.hasPrimaryKey ? this.keyOf(before) : key;
    for (const index of this.indexes) index.checkUnique(after, mapKey);
    this.writeRow(rowKey, mapKey, before, after, stored, changedColumns);
    tx.record(this, new ChangeRecord(this.name, "update", rowKey, before, after), changedColumns);
    return after;
  }

  /** Inserts the row, or replaces the row with the same key. */
  set(tx: Transaction, input: unknown): Row {
    tx.assertWritable(this.name);
    if (!this.hasPrimaryKey) return this.insert(tx, input);
    return this.atomically(tx, () => {
      const row = this.schema.normalizeRow(input, (column) => this.allocate(tx, column));
      const key = this.keyOf(row);
      const mapKey = this.mapKeyOfStored(key);
      this.noteAutoValues(tx, row);
      const stored = this.storedRow(mapKey);
      this.write(tx, key, mapKey, stored === undefined ? undefined : this.snapshotOf(stored), row);
      return row;
    });
  }

  /** Deletes the row under `key`; returns whether there was one. */
  del(tx: Transaction, key: unknown): boolean {
    tx.assertWritable(this.name);
    const mapKey = this.mapKeyOfInput(key);
    const stored = this.storedRow(mapKey);
    if (stored === undefined) return false;
    const before = this.snapshotOf(stored);
    this.write(tx, this.hasPrimaryKey ? this.keyOf(before) : key, mapKey, before, undefined);
    return true;
  }

  /** Deletes a stored row found by a scan or lookup. */
  delRow(tx: Transaction, row: Row): boolean {
    if (this.hasPrimaryKey) return this.del(tx, this.keyOf(row));
    for (const mapKey of this.order.values()) {
      if (this.storedRow(mapKey) === row) return this.del(tx, mapKey);
    }
    return false;
  }

  // ---- StoredObject ----

  snapshot(): SnapshotSource {
    const meta = {
      autoNext: [...this.autoNext].map(([name, next]) => [name, `${next}`]),
      rowIdNext: this.rowIdNext,
    };
    // In key order, resumed after the last key read: a row moved from `rows` into `dense`
    // while the snapshot is written (another key's insert grew the array) is still read.
    const readChunk = orderedChunks(this.order, (_key, mapKey) => {
      const stored = this.storedRow(mapKey);
      assert(stored !== undefined, "a key in the table's order has a row");
      return [mapKey, this.hasPrimaryKey ? this.keyOf(stored) : mapKey, this.snapshotOf(stored)];
    });
    return { meta, readChunk, mapKeyOfChange: (change) => this.mapKeyOfStored(change.key) };
  }

  restore(meta: unknown, entries: ReadonlyArray<readonly [unknown, unknown]>): void {
    assert(this.rowCount === 0, "restore into a table that has rows");
    const { autoNext, rowIdNext } = meta as {
      autoNext: Array<[string, string]>;
      rowIdNext: number;
    };
    for (const [name, next] of autoNext) this.autoNext.set(name, BigInt(next));
    this.rowIdNext = rowIdNext;
    for (const [key, row] of entries) {
      this.writeRow(key, this.mapKeyOfStored(key), undefined, row as Row);
    }
  }

  applyChange(change: Change): void {
    const mapKey = this.mapKeyOfStored(change.key);
    const current = this.storedRow(mapKey);
    assert(
      (current === undefined) === (change.before === undefined),
      "replay: row existence differs",
    );
    const after = change.after as Row | undefined;
    if (after !== undefined) this.noteAutoValuesReplay(after, change.key);
    this.writeRow(change.key, mapKey, current, after);
  }

  revertChange(change: Change): void {
    const mapKey = this.mapKeyOfStored(change.key);
    const stored = this.storedRow(mapKey);
    const after = change.after as Row | undefined;
    const same =
      stored === undefined || after === undefined || !this.inPlace
        ? stored === after
        : this.schema.sameValues(stored, after);
    assert(same, "revert: row differs from the change");
    this.writeRow(
      change.key,
      mapKey,
      change.after as Row | undefined,
      change.before as Row | undefined,
    );
  }

  // ---- The single write path ----

  private write(
    tx: Transaction,
    key: unknown,
    mapKey: MapKey,
    before: Row | undefined,
    after: Row | undefined,
    changedColumns = changedColumnsUnknown,
    rowIndex?: number,
  ): void {
    if (after !== undefined) {
      for (const index of this.indexes) index.checkUnique(after, mapKey, rowIndex);
    }
    const kind = before === undefined ? "insert" : after === undefined ? "delete" : "update";
    this.writeRow(key, mapKey, before, after);
    tx.record(this, new ChangeRecord(this.name, kind, key, before, after), changedColumns);
  }

  /**
   * `stored`: the stored row, when the caller has looked it up (an update), with the columns the
   * update changed (`changedColumns`, see `Schema.patchChangedColumns`): only those are
   * written. `before` may be the stored row itself (a replayed change), so the indexes read it
   * before it is overwritten.
   */
  private writeRow(
    key: unknown,
    mapKey: MapKey,
    before: Row | undefined,
    after: Row | undefined,
    stored?: Row,
    changedColumns = changedColumnsUnknown,
  ): void {
    const indexes = this.indexes;
    for (let i = 0; i < indexes.length; i++) indexes[i]!.update(mapKey, before, after);
    if (after === undefined) {
      const index = this.denseIndexOf(mapKey);
      if (index >= 0) {
        assert(this.dense[index] !== undefined, "deleted a missing row");
        this.dense[index] = undefined;
      } else {
        assert(this.rows.delete(mapKey), "deleted a missing row");
      }
      this.rowCount--;
      this.order.del(key);
    } else if (before === undefined) {
      // The table's own copy: the row given may be handed out (the change's after, insert()'s
      // result), and the stored one is overwritten by later updates.
      const created = this.inPlace ? this.schema.copyRow(after) : after;
      if (!this.denseSet(mapKey, created)) this.rows.set(mapKey, created);
      this.rowCount++;
      this.order.set(key, mapKey);
    } else {
      const target = stored ?? this.storedRow(mapKey);
      assert(target !== undefined, "updated a missing row");
      if (this.inPlace) {
        this.schema.assignRow(target, after, changedColumns);
      } else {
        assert(target === before, "updated row differs from the stored one");
        const index = this.denseIndexOf(mapKey);
        if (index >= 0) this.dense[index] = after;
        else this.rows.set(mapKey, after);
      }
    }
    this.revisionValue++;
  }

  /**
   * The row a read hands out: a copy of the stored one, made per read. Keeping it beside the row
   * for the next read (tried: a ring of 256 per table) cost more than the copy it saved:
   * storing a young copy into an old object is the write barrier the in-place rows avoid
   * (53 against 36 ns a cold read, and fewer transfers/s; docs/performance.md).
   */
  private snapshotOf(stored: Row): Row {
    return this.inPlace ? this.schema.copyRow(stored) : stored;
  }

  // ---- Rows by key ----

  /** The row under `mapKey`: by array index for a key the dense array covers, else by hash. */
  private storedRow(mapKey: MapKey): Row | undefined {
    return storedRowIn(this.dense, this.rows, mapKey);
  }

  /** `mapKey` as an index of `dense`, or -1 when the array does not cover it. */
  private denseIndexOf(mapKey: MapKey): number {
    return denseIndexIn(this.dense, mapKey);
  }

  /**
   * Puts a new row in `dense` when it covers the key, or extends it to the key when the
   * key is near its end, and says whether it did (else the row goes in `rows`). Every key it
   * newly covers moves from `rows` (a row inserted earlier past its end) into it.
   */
  private denseSet(mapKey: MapKey, row: Row): boolean {
    if (typeof mapKey !== "number" || !Number.isInteger(mapKey) || mapKey < 0) return false;
    const dense = this.dense;
    if (mapKey < dense.length) {
      dense[mapKey] = row;
      return true;
    }
    // Rows past the end lie at most at the largest key inserted there, so inserts in key
    // order (each key the next) look nothing more up.
    const pastMax = this.denseKeyPastMax;
    if (mapKey > pastMax) this.denseKeyPastMax = mapKey;
    if (mapKey >= tableDenseKeysMax || mapKey > dense.length + tableDenseKeysSkippedMax) {
      return false;
    }
    while (dense.length < mapKey) {
      dense.push(dense.length <= pastMax ? this.takeHashed(dense.length) : undefined);
    }
    dense.push(row);
    while (dense.length <= pastMax && dense.length < tableDenseKeysMax) {
      const next = this.takeHashed(dense.length);
      if (next === undefined) break;
      dense.push(next);
    }
    return true;
  }

  /** Removes the row of `mapKey` from `rows` (the array now covers it) and returns it. */
  private takeHashed(mapKey: number): Row | undefined {
    const row = this.rows.get(mapKey);
    if (row !== undefined) this.rows.delete(mapKey);
    return row;
  }

  // ---- Keys, ids and validation ----

  private mapKeyOfStored(key: unknown): MapKey {
    return this.pkColumns.length > 1 ? mapKeyOfTuple(key as unknown[]) : mapKeyOf(key);
  }

  /** Coerces a caller's key to the key columns' types, then maps it. */
  private mapKeyOfInput(key: unknown): MapKey {
    // Hot path: an integer or text key is its own map key, text as textKey has it (a value
    // outside the column's range cannot match a stored key, so skipping the check is safe).
    if (typeof key === this.pkPlainType) {
      if (typeof key === "string") return textKey(key);
      if (Number.isSafeInteger(key)) return key as MapKey;
    }
    const columns = this.pkColumns.length;
    if (columns === 0) return mapKeyOf(key);
    const coerced = this.coerceKey(key);
    return columns === 1 ? mapKeyOf(coerced) : mapKeyOfTuple(coerced as unknown[]);
  }

  /**
   * A primary key as given (text for an int, Unix ms for a datetime; a list of values for a
   * composite key) in its columns' types, as `get` reads it.
   */
  coerceKey(key: unknown): unknown {
    const columns = this.pkColumns;
    if (columns.length === 0) return key;
    if (columns.length === 1) return coerceValue(columns[0]!.type, key, columns[0]!.site);
    if (!Array.isArray(key) || key.length !== columns.length) {
      throw new DbError(
        "TYPE_MISMATCH",
        `${this.name}: the key is (${this.pkNames()}); pass a list of ${columns.length} values`,
        { object: this.name, value: describeValue(key) },
      );
    }
    return columns.map((column, i) =>
      coerceValue(column.type, key[i], { object: this.name, column: column.name }),
    );
  }

  private coerceRange(options: ScanOptions): Range<unknown> {
    const range: Range<unknown> = { ...options };
    if (this.pkColumns.length === 0) return range;
    if (options.lower !== undefined) range.lower = this.coerceBound(options.lower);
    if (options.upper !== undefined) range.upper = this.coerceBound(options.upper);
    return range;
  }

  /**
   * A scan bound in the key columns' types. Of a composite key: a list of its first values
   * (a prefix), each coerced as a key is (text, Unix ms), not compared as it was given.
   */
  private coerceBound(bound: unknown): unknown {
    const columns = this.pkColumns;
    if (columns.length === 1) return coerceValue(columns[0]!.type, bound, columns[0]!.site);
    if (!Array.isArray(bound) || bound.length === 0 || bound.length > columns.length) {
      throw new DbError(
        "TYPE_MISMATCH",
        `${this.name}: a scan bound of the key (${this.pkNames()}) is a list of ` +
          `1 to ${columns.length} values, got ${describeValue(bound)}`,
        { object: this.name, value: describeValue(bound) },
      );
    }
    return bound.map((value: unknown, i) => coerceValue(columns[i]!.type, value, columns[i]!.site));
  }

  private coerceIndexKey(index: SecondaryIndex, value: unknown): unknown {
    if (index.columns.length === 1) {
      const column = this.schema.requireColumn(index.columns[0]!);
      return coerceValue(column.type, value, { object: this.name, column: column.name });
    }
    if (!Array.isArray(value) || value.length !== index.columns.length) {
      throw new DbError(
        "TYPE_MISMATCH",
        `${this.name}: index ${index.name} takes a list of ${index.columns.length} values`,
        {
          object: this.name,
        },
      );
    }
    return index.columns.map((name, i) => {
      const column = this.schema.requireColumn(name);
      return coerceValue(column.type, value[i], { object: this.name, column: name });
    });
  }

  private requireIndex(name: string): SecondaryIndex {
    const index = this.indexes.find((candidate) => candidate.name === name);
    if (index === undefined) {
      throw new DbError("UNKNOWN_OBJECT", `${this.name} has no index "${name}"`, {
        object: this.name,
      });
    }
    return index;
  }

  /**
   * Whether an update may have changed the key: by the changed-columns bits when the patch
   * gave them (a patch that leaves every key column identical cannot change it), else by
   * whether the patch names a key column.
   */
  private keyMayChange(patch: unknown, changedColumns: number): boolean {
    const bits = this.pkBits;
    if (bits === undefined || changedColumns === changedColumnsUnknown) {
      return this.patchTouchesKey(patch);
    }
    return (changedColumns & bits) !== 0;
  }

  private patchTouchesKey(patch: unknown): boolean {
    const columns = this.pkColumns;
    for (let i = 0; i < columns.length; i++) {
      if ((patch as Record<string, unknown>)[columns[i]!.name] !== undefined) return true;
    }
    return false;
  }

  private checkKeyUnchanged(before: Row, after: Row): void {
    for (const column of this.pkColumns) {
      if (compareValues(before[column.name], after[column.name]) !== 0) {
        throw new DbError(
          "INVALID_ARGUMENT",
          `${this.name}: update cannot change primary key column ${column.name}; delete and insert`,
          { object: this.name, column: column.name },
        );
      }
    }
  }

  private allocate(tx: Transaction, column: Column): unknown {
    if (!column.autoIncrement) return undefined;
    const next = this.autoNext.get(column.name)!;
    this.setAutoNext(tx, column.name, next + 1n);
    const asNumber = Number(next);
    return Number.isSafeInteger(asNumber) ? asNumber : next;
  }

  /** Explicit values in auto-increment columns move the counter past them. */
  private noteAutoValues(tx: Transaction, row: Row): void {
    if (!this.hasAutoIncrement) return;
    for (const [name, next] of this.autoNext) {
      const value = row[name];
      if (value !== null && value !== undefined && BigInt(value as number) >= next) {
        this.setAutoNext(tx, name, BigInt(value as number) + 1n);
      }
    }
  }

  private noteAutoValuesReplay(row: Row, key: unknown): void {
    // Most tables have neither: no Map iteration per replayed row.
    if (!this.hasAutoIncrement && this.hasPrimaryKey) return;
    for (const [name, next] of this.autoNext) {
      const value = row[name];
      if (value !== null && value !== undefined && BigInt(value as number) >= next) {
        this.autoNext.set(name, BigInt(value as number) + 1n);
      }
    }
    if (!this.hasPrimaryKey && typeof key === "number" && key >= this.rowIdNext) {
      this.rowIdNext = key + 1;
    }
  }

  private setAutoNext(tx: Transaction, name: string, value: bigint): void {
    const previous = this.autoNext.get(name)!;
    this.autoNext.set(name, value);
    tx.onRollback(() => this.autoNext.set(name, previous));
  }

  private allocateRowId(tx: Transaction): void {
    const previous = this.rowIdNext;
    this.rowIdNext = previous + 1;
    tx.onRollback(() => (this.rowIdNext = previous));
  }

  /**
   * Keys must have one representation per value: an `any` column may hold 5, 5n and
   * decimal 5, which compare equal but would key differently.
   */
  /**
   * A key that may be none is a trap: none never equals none, so such a row cannot be found
   * again by its key in a query. Refused since a later version than the log format, so a
   * replayed definition is spared (see ObjectFactory).
   */
  private refuseOptionalKey(): void {
    for (const column of this.pkColumns) {
      if (!column.type.optional) continue;
      throw new DbError(
        "INVALID_SCHEMA",
        `${this.name}: primary key column ${column.name} is ${typeName(column.type)}, which ` +
          `may be none; a primary key column must not be optional`,
        { object: this.name, column: column.name },
      );
    }
  }

  private refuseUntypedKeys(): void {
    const keyed = [...this.pkColumns.map((c) => c.name), ...this.indexes.flatMap((i) => i.columns)];
    for (const name of keyed) {
      if (this.schema.requireColumn(name).type.kind === "any") {
        throw new DbError(
          "INVALID_SCHEMA",
          `${this.name}: column ${name} has type any, which cannot be a key; give it a type`,
          { object: this.name, column: name },
        );
      }
    }
  }

  private pkNames(): string {
    return this.pkColumns.map((column) => column.name).join(", ");
  }

  private buildIndexes(definitions: readonly IndexDefinition[]): SecondaryIndex[] {
    if (definitions.length > indexesPerObjectMax) {
      throw new DbError("LIMIT_EXCEEDED", `${this.name}: at most ${indexesPerObjectMax} indexes`, {
        object: this.name,
      });
    }
    const names = new Set<string>();
    return definitions.map((definition) => {
      checkIdentifier(definition.name, `${this.name} index ${definition.name}`);
      if (names.has(definition.name)) {
        throw new DbError(
          "INVALID_SCHEMA",
          `${this.name}: index ${definition.name} appears twice`,
          {
            object: this.name,
          },
        );
      }
      names.add(definition.name);
      return new SecondaryIndex(this.name, this.schema, definition);
    });
  }
}

function plainKeyType(columns: readonly Column[]): "number" | "string" | undefined {
  if (columns.length !== 1) return undefined;
  const kind = columns[0]!.type.kind;
  if (kind === "utf8") return "string";
  const numeric = ["int1", "int2", "int4", "int8", "uint1", "uint2", "uint4", "uint8"];
  return numeric.includes(kind) ? "number" : undefined;
}

// ---- Stored rows by key ----

/** `mapKey` as an index of a table's `dense` rows, or -1 when the array does not cover it. */
function denseIndexIn(dense: ReadonlyArray<Row | undefined>, mapKey: MapKey): number {
  if (typeof mapKey !== "number") return -1;
  // A whole number below the length; 1.5, -1 and NaN are hashed (-0 is 0, as in a Map).
  return mapKey >= 0 && mapKey < dense.length && Number.isInteger(mapKey) ? mapKey : -1;
}

/** The row under `mapKey`: by array index for a key `dense` covers, else by hash. */
function storedRowIn(
  dense: ReadonlyArray<Row | undefined>,
  rows: ReadonlyMap<MapKey, Row>,
  mapKey: MapKey,
): Row | undefined {
  const index = denseIndexIn(dense, mapKey);
  return index >= 0 ? dense[index] : rows.get(mapKey);
}

const noKeys: Iterator<MapKey> = [][Symbol.iterator]();

const iterationDone: IteratorReturnResult<undefined> = Object.freeze({
  value: undefined,
  done: true,
});

/**
 * A table's stored rows under a sequence of map keys, at most `remaining` of them: what
 * `scanStored` and `rangeStored` return. An iterator object, not a generator: resuming a
 * generator per row cost about as much as the key walk itself (1M rows: 30 against 17 ms
 * CPU, measured), where a plain `next` is inlined into the reader's loop.
 */
class StoredRows implements IterableIterator<Row> {
  constructor(
    private readonly keys: Iterator<MapKey>,
    private readonly dense: ReadonlyArray<Row | undefined>,
    private readonly rows: ReadonlyMap<MapKey, Row>,
    private remaining: number,
  ) {}

  next(): IteratorResult<Row> {
    if (this.remaining <= 0) return iterationDone;
    const step = this.keys.next();
    if (step.done === true) return iterationDone;
    this.remaining--;
    return { value: storedRowIn(this.dense, this.rows, step.value)!, done: false };
  }

  [Symbol.iterator](): IterableIterator<Row> {
    return this;
  }
}

// ---- The embedded handle ----

/** A typed handle on a table: `db.table<Account>("bank::accounts")`. */
export class TableHandle<R extends object = Record<string, unknown>> extends Handle<Table> {
  constructor(engine: Engine, name: string) {
    super(engine, name, "table");
  }

  get size(): number {
    return this.object().size;
  }

  get(key: unknown): R | undefined {
    return this.object().get(key) as R | undefined;
  }

  has(key: unknown): boolean {
    return this.object().get(key) !== undefined;
  }

  /** Rows in primary key order, optionally bounded. */
  scan(options?: ScanOptions): R[] {
    return [...this.object().scan(options)] as R[];
  }

  lookup(indexName: string, value: unknown): R[] {
    return this.object().lookup(indexName, value) as R[];
  }

  range(indexName: string, options?: ScanOptions): R[] {
    return [...this.object().range(indexName, options)] as R[];
  }

  /** Inserts one row and returns it as stored (with auto-increment values filled in). */
  insert(row: Partial<R>): R {
    const tx = this.tx;
    if (tx !== undefined) return this.object().insert(tx, row) as R;
    return this.write((tx, table) => table.insert(tx, row)) as R;
  }

  /** Inserts several rows in one transaction; all or nothing. */
  insertMany(rows: readonly Partial<R>[]): R[] {
    // A savepoint inside a running transaction, so a failed row also undoes the rows before it.
    return this.engine.transactWith(this, (handle, tx) => {
      const table = handle.object();
      return rows.map((row, i) => table.insert(tx, row, i + 1));
    }) as R[];
  }

  /** Applies `patch` to the row under `key`; returns the new row. */
  update(key: unknown, patch: Partial<R>): R {
    const tx = this.tx;
    if (tx !== undefined) return this.object().update(tx, key, patch) as R;
    return this.write((tx, table) => table.update(tx, key, patch)) as R;
  }

  /** Inserts or replaces. */
  set(row: Partial<R>): R {
    return this.write((tx, table) => table.set(tx, row)) as R;
  }

  del(key: unknown): boolean {
    return this.write((tx, table) => table.del(tx, key));
  }
}
