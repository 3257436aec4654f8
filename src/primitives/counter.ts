/**
 * @module Counters: a single 64-bit signed counter, or one per key (`by { page }`). Values are
 * exact (numbers while safe, bigints beyond 2^53) and an add that would leave the int8 range
 * fails instead of wrapping. Each write records a `set` change with the value before and after.
 */
import { assert, assertionFailed } from "../lib/assert.ts";
import { DbError, describeValue } from "../lib/errors.ts";
import { ChangeRecord } from "../engine/index.ts";
import type {
  Change,
  ColumnDescription,
  Engine,
  ObjectDefinition,
  SnapshotSource,
  StoredObject,
  Transaction,
} from "../engine/index.ts";
import { mapChunks } from "./snapshot-source.ts";
import { coerceValue, integerBounds, mapKeyOf, mapKeyOfTuple, valueType } from "../values/index.ts";
import type { MapKey } from "../values/index.ts";
import { Handle } from "./handle.ts";
import { Schema, normalizeColumns } from "./schema.ts";
import type { Column, ColumnDefinition, ColumnsInput } from "./schema.ts";

/** The stored definition of a counter. */
export interface CounterDefinition extends ObjectDefinition {
  readonly kind: "counter";
  /** Key columns of a keyed counter; absent for a single counter. */
  readonly by?: readonly ColumnDefinition[];
}

export interface CounterOptions {
  /** Makes a keyed counter: `{ page: "utf8" }`. */
  by?: ColumnsInput;
}

/** Normalises `createCounter` options into a definition. */
export function counterDefinition(name: string, options: CounterOptions = {}): CounterDefinition {
  return options.by === undefined
    ? { kind: "counter", name }
    : { kind: "counter", name, by: normalizeColumns(options.by, name) };
}

const int8 = valueType("int8");
const amountColumn = "amount";
/** The column of a counter's rows that holds its value (`from c`). */
const valueColumn = "value";
const [int8Min, int8Max] = integerBounds.int8!;

/** One counter value and the key it is under (as normalised). */
interface CounterEntry {
  key: unknown;
  value: number | bigint;
}

/** A counter's state. */
export class Counter implements StoredObject {
  readonly kind = "counter" as const;
  readonly name: string;
  readonly definition: CounterDefinition;
  private readonly keySchema: Schema | undefined;
  private readonly amountSite: { object: string; column: string };
  /** Keyed values; the single counter lives under the key `null`. */
  private readonly values = new Map<MapKey, CounterEntry>();
  /**
   * `values.get(null)`, kept in step by {@link setEntry} and {@link delEntry}: a single
   * counter's add reads it on every call, and a Map hashes null through a runtime call.
   */
  private nullEntry: CounterEntry | undefined;

  /** `created`: a new definition, not one replayed (see ObjectFactory), gets every check. */
  constructor(definition: CounterDefinition, created = true) {
    this.name = definition.name;
    this.definition = definition;
    this.amountSite = { object: definition.name, column: amountColumn };
    this.keySchema =
      definition.by === undefined ? undefined : new Schema(definition.name, definition.by);
    // Refused since a later version than the log format, so a replayed definition is spared.
    if (created && this.keySchema?.column(valueColumn) !== undefined) {
      // A counter's rows are its key columns and `value`: a key column of that name is lost.
      throw new DbError(
        "INVALID_SCHEMA",
        `${this.name}: key column ${valueColumn} has the name of the counter's value column; ` +
          `name it otherwise`,
        { object: this.name, column: valueColumn },
      );
    }
  }

  /** A counter's rows: its key columns (none for a single counter), then its `value`. */
  describeColumns(): readonly ColumnDescription[] {
    return [...(this.definition.by ?? []), { name: valueColumn, type: "int8" }];
  }

  get keyed(): boolean {
    return this.keySchema !== undefined;
  }

  /** The value under `key` (0 when never set). */
  get(key?: unknown): number | bigint {
    return this.values.get(this.mapKey(this.normalizeKey(key)))?.value ?? 0;
  }

  /** Every key with its value, in no particular order. */
  entries(): Array<{ key: unknown; value: number | bigint }> {
    return [...this.values.values()].map((entry) => ({ key: entry.key, value: entry.value }));
  }

  /** Adds `amount` (may be negative); returns the new value. */
  add(tx: Transaction, amount: unknown, key?: unknown): number | bigint {
    tx.assertWritable(this.name);
    const delta = coerceValue(int8, amount, this.amountSite) as number | bigint;
    // A single counter's key is none: normalised and mapped to null without the calls.
    const single = key === undefined && this.keySchema === undefined;
    const normalized = single ? null : this.normalizeKey(key);
    // One lookup: the entry is updated in place (the map is read directly, since get()
    // would normalise the key a second time).
    const mapKey = single ? null : this.mapKey(normalized);
    const entry = mapKey === null ? this.nullEntry : this.values.get(mapKey);
    const before = entry === undefined ? 0 : entry.value;
    // Adding 0 changes nothing, so it records nothing (no 0 row, no commit), as a reset of an
    // absent key and a merge of an empty histogram.
    if (delta === 0) return before;
    let after: number | bigint;
    if (typeof before === "number" && typeof delta === "number") {
      after = before + delta;
      if (!Number.isSafeInteger(after)) after = this.checkedBigSum(BigInt(before), BigInt(delta));
    } else {
      after = this.checkedBigSum(BigInt(before), BigInt(delta));
    }
    if (entry === undefined) this.setEntry(mapKey, { key: normalized, value: after });
    else entry.value = after;
    const recordedBefore = entry === undefined ? undefined : before;
    tx.record(this, new ChangeRecord(this.name, "set", normalized, recordedBefore, after));
    return after;
  }

  /** Sets the value under `key` back to 0 (removes the key of a keyed counter). */
  reset(tx: Transaction, key?: unknown): void {
    tx.assertWritable(this.name);
    const normalized = this.normalizeKey(key);
    const entry = this.values.get(this.mapKey(normalized));
    if (entry === undefined) return;
    this.write(tx, normalized, entry.value, undefined);
  }

  snapshot(): SnapshotSource {
    const readChunk = mapChunks(this.values, (mapKey, entry) => [mapKey, entry.key, entry.value]);
    return { meta: null, readChunk, mapKeyOfChange: (change) => this.mapKey(change.key) };
  }

  restore(_meta: unknown, entries: ReadonlyArray<readonly [unknown, unknown]>): void {
    assert(this.values.size === 0, "restore into a counter that has values");
    for (const [key, value] of entries) this.store(key, value as number | bigint);
  }

  applyChange(change: Change): void {
    if (change.kind !== "set") assertionFailed(`unknown counter change ${change.kind}`);
    const entry = this.values.get(this.mapKey(change.key));
    assert(entry?.value === change.before, "replay: counter differs from the change's before");
    this.store(change.key, change.after as number | bigint | undefined);
  }

  revertChange(change: Change): void {
    if (change.kind !== "set") assertionFailed(`unknown counter change ${change.kind}`);
    assert(
      this.values.get(this.mapKey(change.key))?.value === change.after,
      "revert: counter differs",
    );
    this.store(change.key, change.before as number | bigint | undefined);
  }

  private write(
    tx: Transaction,
    key: unknown,
    before: number | bigint,
    after: number | bigint | undefined,
  ): void {
    const existed = this.values.has(this.mapKey(key));
    this.store(key, after);
    tx.record(this, new ChangeRecord(this.name, "set", key, existed ? before : undefined, after));
  }

  private store(key: unknown, value: number | bigint | undefined): void {
    const mapKey = this.mapKey(key);
    if (value === undefined) {
      this.delEntry(mapKey);
      return;
    }
    const entry = this.values.get(mapKey);
    if (entry === undefined) this.setEntry(mapKey, { key, value });
    else entry.value = value;
  }

  private setEntry(mapKey: MapKey, entry: CounterEntry): void {
    assert(!this.values.has(mapKey), "counter entry set twice");
    this.values.set(mapKey, entry);
    if (mapKey === null) this.nullEntry = entry;
  }

  private delEntry(mapKey: MapKey): void {
    this.values.delete(mapKey);
    if (mapKey === null) this.nullEntry = undefined;
    assert(this.nullEntry === this.values.get(null), "single counter entry out of step");
  }

  private checkedBigSum(a: bigint, b: bigint): number | bigint {
    const sum = a + b;
    if (sum < int8Min || sum > int8Max) {
      throw new DbError(
        "OUT_OF_RANGE",
        `${this.name}: counter would leave the int8 range (${sum})`,
        {
          object: this.name,
          value: `${sum}`,
        },
      );
    }
    const asNumber = Number(sum);
    return Number.isSafeInteger(asNumber) ? asNumber : sum;
  }

  /** Validates a caller's key: none for a single counter, a value or record for keyed ones. */
  private normalizeKey(key: unknown): unknown {
    const schema = this.keySchema;
    if (schema === undefined) {
      if (key !== undefined && key !== null) {
        throw new DbError(
          "INVALID_ARGUMENT",
          `${this.name} is not keyed; got key ${describeValue(key)}`,
          {
            object: this.name,
          },
        );
      }
      return null;
    }
    if (key === undefined || key === null) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `${this.name} is keyed by ${schema.columns.map((c) => c.name).join(", ")}; pass a key`,
        {
          object: this.name,
        },
      );
    }
    const columns = schema.columns;
    if (columns.length === 1 && (typeof key !== "object" || key instanceof Date)) {
      return coerceValue(columns[0]!.type, key, { object: this.name, column: columns[0]!.name });
    }
    // A list is the key as entries() and changes give it back for several key columns.
    if (columns.length > 1 && Array.isArray(key)) return this.normalizeListKey(columns, key);
    const row = schema.normalizeRow(key);
    return columns.length === 1 ? row[columns[0]!.name] : columns.map((c) => row[c.name]);
  }

  private normalizeListKey(columns: readonly Column[], key: readonly unknown[]): unknown[] {
    if (key.length !== columns.length) {
      const names = columns.map((c) => c.name).join(", ");
      throw new DbError(
        "TYPE_MISMATCH",
        `${this.name}: the key is (${names}); pass a list of ${columns.length} values`,
        { object: this.name, value: describeValue(key) },
      );
    }
    return columns.map((column, i) =>
      coerceValue(column.type, key[i], { object: this.name, column: column.name }),
    );
  }

  private mapKey(key: unknown): MapKey {
    return Array.isArray(key) ? mapKeyOfTuple(key) : mapKeyOf(key);
  }
}

/** A handle on a counter: `db.counter("shop::visits").add(1)`. */
export class CounterHandle extends Handle<Counter> {
  constructor(engine: Engine, name: string) {
    super(engine, name, "counter");
  }

  get(key?: unknown): number | bigint {
    return this.object().get(key);
  }

  entries(): Array<{ key: unknown; value: number | bigint }> {
    return this.object().entries();
  }

  add(amount: number | bigint, key?: unknown): number | bigint {
    const tx = this.tx;
    if (tx !== undefined) return this.object().add(tx, amount, key);
    return this.write((tx, counter) => counter.add(tx, amount, key));
  }

  reset(key?: unknown): void {
    this.write((tx, counter) => counter.reset(tx, key));
  }
}
