/**
 * @module Series: rows ordered by a time or integer key column, read by key range. Several
 * rows may share a key; a per-series insertion number breaks ties, so the change key is the
 * pair `[key, tiebreak]` and order is stable.
 */
import { assert, assertionFailed } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { createOrderedMap } from "../lib/ordered-map.ts";
import type { OrderedMap } from "../lib/ordered-map.ts";
import { ChangeRecord } from "../engine/index.ts";
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
  integerKinds,
  mapKeyOfTuple,
  typeName,
} from "../values/index.ts";
import { Handle } from "./handle.ts";
import { readLimit } from "./read-limit.ts";
import { Schema, normalizeColumns } from "./schema.ts";
import type { Column, ColumnDefinition, ColumnsInput, Row } from "./schema.ts";

export interface SeriesDefinition extends ObjectDefinition {
  readonly kind: "series";
  readonly columns: readonly ColumnDefinition[];
  /** The ordering column: datetime, date, or an integer type. */
  readonly key: string;
}

export interface SeriesOptions {
  columns: ColumnsInput;
  key: string;
}

/** Bounds of a series read: `from` inclusive, `to` exclusive. */
export interface SeriesRange {
  from?: unknown;
  to?: unknown;
  limit?: number;
  reverse?: boolean;
}

type SeriesKey = readonly [unknown, number];
type SeriesBounds = {
  lower?: SeriesKey;
  upper?: SeriesKey;
  upperExclusive?: boolean;
  reverse?: boolean;
};

export function seriesDefinition(name: string, options: SeriesOptions): SeriesDefinition {
  return {
    kind: "series",
    name,
    columns: normalizeColumns(options.columns, name),
    key: options.key,
  };
}

function compareSeriesKeys(a: SeriesKey, b: SeriesKey): number {
  return compareValues(a[0], b[0]) || a[1] - b[1];
}

export class Series implements StoredObject {
  readonly kind = "series" as const;
  readonly name: string;
  readonly definition: SeriesDefinition;
  readonly schema: Schema;
  private readonly keyColumn: Column;
  private readonly rows: OrderedMap<SeriesKey, Row> = createOrderedMap(compareSeriesKeys);
  private tiebreakNext = 1;

  constructor(definition: SeriesDefinition) {
    this.name = definition.name;
    this.definition = definition;
    this.schema = new Schema(definition.name, definition.columns);
    this.keyColumn = this.schema.requireColumn(definition.key);
    const kind = this.keyColumn.type.kind;
    if (
      this.keyColumn.type.optional ||
      !(integerKinds.has(kind) || kind === "datetime" || kind === "date")
    ) {
      throw new DbError(
        "INVALID_SCHEMA",
        `${this.name}: key column ${definition.key} must be a non-optional datetime, date ` +
          "or integer, " +
          `not ${typeName(this.keyColumn.type)}`,
        { object: this.name, column: definition.key },
      );
    }
  }

  get size(): number {
    return this.rows.size;
  }

  /** Rows with `from <= key < to`, in key order (descending when `reverse`). */
  range(options: SeriesRange = {}): Row[] {
    const out: Row[] = [];
    const limit = readLimit(this.name, "limit", options.limit);
    if (limit === 0) return out;
    const range: SeriesBounds = this.toRange(options);
    if (options.reverse === true) range.reverse = true;
    this.rows.forEach((row) => {
      out.push(row);
      return out.length < limit;
    }, range);
    return out;
  }

  /** The newest `count` rows, newest first. */
  latest(count: number): Row[] {
    return this.range({ reverse: true, limit: readLimit(this.name, "count", count) });
  }

  insert(tx: Transaction, input: unknown): Row {
    tx.assertWritable(this.name);
    const row = this.schema.normalizeRow(input);
    const tiebreak = this.tiebreakNext++;
    tx.onRollback(() => (this.tiebreakNext = tiebreak));
    // Series keys live as long as their rows, so V8 is right to pretenure them if it does.
    const key: SeriesKey = [row[this.keyColumn.name], tiebreak];
    this.rows.set(key, row);
    tx.record(this, new ChangeRecord(this.name, "insert", key, undefined, row));
    return row;
  }

  /** Deletes rows with `from <= key < to`; returns how many. */
  deleteRange(tx: Transaction, options: SeriesRange): number {
    tx.assertWritable(this.name);
    const doomed: Array<[SeriesKey, Row]> = [];
    const range = this.toRange(options);
    this.rows.forEach((row, key) => {
      doomed.push([key, row]);
    }, range);
    // One write: if a delete fails (a view of the series throws) and the caller catches the
    // error, the rows deleted before it must be back.
    const savepoint = tx.savepoint();
    try {
      for (const [key, row] of doomed) {
        this.rows.del(key);
        tx.record(this, new ChangeRecord(this.name, "delete", key, row, undefined));
      }
      tx.release(savepoint);
    } catch (error) {
      tx.rollbackTo(savepoint);
      throw error;
    }
    return doomed.length;
  }

  snapshot(): SnapshotSource {
    const readChunk = orderedChunks(this.rows, (key, row) => [mapKeyOfTuple(key), key, row]);
    return {
      meta: { tiebreakNext: this.tiebreakNext },
      readChunk,
      mapKeyOfChange: (change) => mapKeyOfTuple(change.key as SeriesKey),
    };
  }

  restore(meta: unknown, entries: ReadonlyArray<readonly [unknown, unknown]>): void {
    assert(this.rows.size === 0, "restore into a series that has rows");
    this.tiebreakNext = (meta as { tiebreakNext: number }).tiebreakNext;
    for (const [key, row] of entries) this.rows.set(key as SeriesKey, row as Row);
  }

  applyChange(change: Change): void {
    const key = change.key as SeriesKey;
    if (change.kind === "insert") {
      assert(!this.rows.has(key), "replay: series row exists");
      this.rows.set(key, change.after as Row);
      if (key[1] >= this.tiebreakNext) this.tiebreakNext = key[1] + 1;
      return;
    }
    if (change.kind !== "delete") assertionFailed(`unknown series change ${change.kind}`);
    assert(this.rows.del(key), "replay: deleted series row is missing");
  }

  revertChange(change: Change): void {
    const key = change.key as SeriesKey;
    if (change.kind === "insert") {
      assert(this.rows.del(key), "revert: inserted series row is missing");
      return;
    }
    if (change.kind !== "delete") assertionFailed(`unknown series change ${change.kind}`);
    this.rows.set(key, change.before as Row);
  }

  private toRange(options: SeriesRange): SeriesBounds {
    const range: SeriesBounds = {};
    if (options.from !== undefined) range.lower = [this.coerceKey(options.from), -Infinity];
    if (options.to !== undefined) {
      range.upper = [this.coerceKey(options.to), -Infinity];
      range.upperExclusive = true;
    }
    return range;
  }

  private coerceKey(value: unknown): unknown {
    return coerceValue(this.keyColumn.type, value, {
      object: this.name,
      column: this.keyColumn.name,
    });
  }
}

/** A handle on a series: `db.series("shop::temps").insert({...})`. */
export class SeriesHandle<R extends object = Record<string, unknown>> extends Handle<Series> {
  constructor(engine: Engine, name: string) {
    super(engine, name, "series");
  }

  get size(): number {
    return this.object().size;
  }

  range(options?: SeriesRange): R[] {
    return this.object().range(options) as R[];
  }

  latest(count: number): R[] {
    return this.object().latest(count) as R[];
  }

  insert(row: R): R {
    const tx = this.tx;
    if (tx !== undefined) return this.object().insert(tx, row) as R;
    return this.write((tx, series) => series.insert(tx, row)) as R;
  }

  deleteRange(options: SeriesRange): number {
    return this.write((tx, series) => series.deleteRange(tx, options));
  }
}
