/**
 * @module Ring buffers: a fixed number of the most recent rows, optionally one buffer per
 * partition key. Pushing into a full buffer evicts the oldest row inside the same transaction;
 * the eviction is a `delete` change, so views and subscribers see it like any removal.
 */
import { assert, assertionFailed } from "../lib/assert.ts";
import { DbError, describeValue } from "../lib/errors.ts";
import { ringBufferCapacityMax } from "../lib/limits.ts";
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
import { coerceValue, mapKeyOf, mapKeyOfTuple } from "../values/index.ts";
import type { MapKey } from "../values/index.ts";
import { Handle } from "./handle.ts";
import { readLimit } from "./read-limit.ts";
import { Schema, columnNameList, normalizeColumns } from "./schema.ts";
import type { ColumnDefinition, ColumnsInput, Row } from "./schema.ts";

export interface RingBufferDefinition extends ObjectDefinition {
  readonly kind: "ring_buffer";
  readonly columns: readonly ColumnDefinition[];
  readonly capacity: number;
  /** Columns whose values pick the partition; absent for one shared buffer. */
  readonly partitionBy?: readonly string[];
}

export interface RingBufferOptions {
  columns: ColumnsInput;
  capacity: number;
  partitionBy?: string | readonly string[];
}

export function ringBufferDefinition(
  name: string,
  options: RingBufferOptions,
): RingBufferDefinition {
  const by = options.partitionBy;
  return {
    kind: "ring_buffer",
    name,
    columns: normalizeColumns(options.columns, name),
    capacity: options.capacity,
    ...(by === undefined ? {} : { partitionBy: columnNameList(by, name, "partitionBy") }),
  };
}

/** Positions of one partition, oldest first: a deque with a moving head. */
class PositionQueue {
  private items: number[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  oldest(): number | undefined {
    return this.items[this.head];
  }

  pushBack(position: number): void {
    this.items.push(position);
  }

  popBack(): number | undefined {
    return this.length > 0 ? this.items.pop() : undefined;
  }

  popFront(): number | undefined {
    if (this.length === 0) return undefined;
    const position = this.items[this.head++];
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return position;
  }

  pushFront(position: number): void {
    if (this.head > 0) this.items[--this.head] = position;
    else this.items.unshift(position);
  }

  /** Positions from newest to oldest. */
  *newestFirst(): Generator<number> {
    for (let i = this.items.length - 1; i >= this.head; i--) yield this.items[i]!;
  }
}

export class RingBuffer implements StoredObject {
  readonly kind = "ring_buffer" as const;
  readonly name: string;
  readonly definition: RingBufferDefinition;
  readonly schema: Schema;
  /** Every row by its global insertion position (the change key). */
  private readonly rows: OrderedMap<number, Row> = createOrderedMap((a, b) => a - b);
  private readonly partitions = new Map<MapKey, PositionQueue>();
  private readonly partitionColumns: readonly string[];
  private positionNext = 1;

  constructor(definition: RingBufferDefinition) {
    this.name = definition.name;
    this.definition = definition;
    this.schema = new Schema(definition.name, definition.columns);
    const capacity = definition.capacity;
    if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > ringBufferCapacityMax) {
      throw new DbError(
        "INVALID_SCHEMA",
        `${this.name}: capacity must be an integer in [1, ${ringBufferCapacityMax}]`,
        {
          object: this.name,
          value: String(capacity),
        },
      );
    }
    this.partitionColumns = definition.partitionBy ?? [];
    for (const column of this.partitionColumns) this.schema.requireColumn(column);
  }

  get capacity(): number {
    return this.definition.capacity;
  }

  get size(): number {
    return this.rows.size;
  }

  /** Rows oldest first; only one partition's when `partition` is given. */
  scan(partition?: unknown): Row[] {
    if (partition === undefined) return [...this.rows.values()];
    return this.latest(Infinity, partition).reverse();
  }

  /** Up to `count` most recent rows, newest first. */
  latest(count: number, partition?: unknown): Row[] {
    count = readLimit(this.name, "count", count);
    const out: Row[] = [];
    if (partition === undefined && this.partitionColumns.length > 0) {
      for (const row of this.rows.values({ reverse: true })) {
        if (out.length >= count) break;
        out.push(row);
      }
      return out;
    }
    const queue = this.partitions.get(this.partitionKeyOfInput(partition));
    if (queue === undefined) return out;
    for (const position of queue.newestFirst()) {
      if (out.length >= count) break;
      out.push(this.rows.get(position)!);
    }
    return out;
  }

  /** Appends a row, evicting the oldest of its partition when full. */
  push(tx: Transaction, input: unknown): Row {
    tx.assertWritable(this.name);
    const row = this.schema.normalizeRow(input);
    const partitionKey = this.partitionKeyOf(row);
    const queue = this.partitions.get(partitionKey);
    if (queue !== undefined && queue.length >= this.capacity) {
      return this.pushEvicting(tx, row, queue);
    }
    return this.pushRow(tx, row);
  }

  /**
   * The eviction and the insert are one write: if the insert fails (a view of the buffer
   * throws) and the caller catches the error, the evicted row must be back.
   */
  private pushEvicting(tx: Transaction, row: Row, queue: PositionQueue): Row {
    const savepoint = tx.savepoint();
    try {
      const oldest = queue.oldest()!;
      const evicted = this.rows.get(oldest)!;
      this.removeOldest(oldest, evicted);
      tx.record(this, new ChangeRecord(this.name, "delete", oldest, evicted, undefined));
      this.pushRow(tx, row);
      tx.release(savepoint);
      return row;
    } catch (error) {
      tx.rollbackTo(savepoint);
      throw error;
    }
  }

  private pushRow(tx: Transaction, row: Row): Row {
    const position = this.positionNext++;
    tx.onRollback(() => (this.positionNext = position));
    this.append(position, row);
    tx.record(this, new ChangeRecord(this.name, "insert", position, undefined, row));
    return row;
  }

  snapshot(): SnapshotSource {
    const readChunk = orderedChunks(this.rows, (position, row) => [position, position, row]);
    return {
      meta: { positionNext: this.positionNext },
      readChunk,
      mapKeyOfChange: (change) => change.key,
    };
  }

  restore(meta: unknown, entries: ReadonlyArray<readonly [unknown, unknown]>): void {
    assert(this.rows.size === 0, "restore into a ring buffer that has rows");
    this.positionNext = (meta as { positionNext: number }).positionNext;
    const sorted = [...entries].sort((a, b) => (a[0] as number) - (b[0] as number));
    for (const [position, row] of sorted) this.append(position as number, row as Row);
  }

  applyChange(change: Change): void {
    const position = change.key as number;
    if (change.kind === "insert") {
      this.append(position, change.after as Row);
      if (position >= this.positionNext) this.positionNext = position + 1;
      return;
    }
    if (change.kind !== "delete") assertionFailed(`unknown ring buffer change ${change.kind}`);
    const row = this.rows.get(position);
    assert(row !== undefined, "replay: evicted row is missing");
    this.removeOldest(position, row);
  }

  revertChange(change: Change): void {
    const position = change.key as number;
    if (change.kind === "insert") {
      const row = change.after as Row;
      const queue = this.partitions.get(this.partitionKeyOf(row))!;
      assert(queue.popBack() === position, "revert: pushed row is not the newest");
      this.rows.del(position);
      if (queue.length === 0) this.partitions.delete(this.partitionKeyOf(row));
      return;
    }
    if (change.kind !== "delete") assertionFailed(`unknown ring buffer change ${change.kind}`);
    const row = change.before as Row;
    const key = this.partitionKeyOf(row);
    let queue = this.partitions.get(key);
    if (queue === undefined) this.partitions.set(key, (queue = new PositionQueue()));
    queue.pushFront(position);
    this.rows.set(position, row);
  }

  private append(position: number, row: Row): void {
    const key = this.partitionKeyOf(row);
    let queue = this.partitions.get(key);
    if (queue === undefined) this.partitions.set(key, (queue = new PositionQueue()));
    queue.pushBack(position);
    this.rows.set(position, row);
  }

  private removeOldest(position: number, row: Row): void {
    const key = this.partitionKeyOf(row);
    const queue = this.partitions.get(key);
    assert(queue?.popFront() === position, "evicted row is not the oldest");
    this.rows.del(position);
    if (queue.length === 0) this.partitions.delete(key);
  }

  private partitionKeyOf(row: Row): MapKey {
    const columns = this.partitionColumns;
    if (columns.length === 0) return null;
    if (columns.length === 1) return mapKeyOf(row[columns[0]!]);
    return mapKeyOfTuple(columns.map((column) => row[column]));
  }

  private partitionKeyOfInput(partition: unknown): MapKey {
    const columns = this.partitionColumns;
    if (columns.length === 0) {
      // Refused, not ignored: answering with every row would look like that partition's.
      if (partition === undefined) return null;
      throw new DbError(
        "INVALID_ARGUMENT",
        `${this.name} has no partitions; got partition ${describeValue(partition)}`,
        { object: this.name, value: describeValue(partition) },
      );
    }
    const values = columns.length === 1 ? [partition] : (partition as unknown[]);
    if (!Array.isArray(values) || values.length !== columns.length) {
      throw new DbError("INVALID_ARGUMENT", `${this.name}: partition is (${columns.join(", ")})`, {
        object: this.name,
      });
    }
    const coerced = columns.map((name, i) =>
      coerceValue(this.schema.requireColumn(name).type, values[i], {
        object: this.name,
        column: name,
      }),
    );
    return coerced.length === 1 ? mapKeyOf(coerced[0]) : mapKeyOfTuple(coerced);
  }
}

/** A handle on a ring buffer: `db.ringBuffer("shop::recent").push({...})`. */
export class RingBufferHandle<
  R extends object = Record<string, unknown>,
> extends Handle<RingBuffer> {
  constructor(engine: Engine, name: string) {
    super(engine, name, "ring_buffer");
  }

  get size(): number {
    return this.object().size;
  }

  get capacity(): number {
    return this.object().capacity;
  }

  /** Rows oldest first (one partition's when given). */
  scan(partition?: unknown): R[] {
    return this.object().scan(partition) as R[];
  }

  /** Up to `count` newest rows, newest first. */
  latest(count: number, partition?: unknown): R[] {
    return this.object().latest(count, partition) as R[];
  }

  push(row: R): R {
    const tx = this.tx;
    if (tx !== undefined) return this.object().push(tx, row) as R;
    return this.write((tx, buffer) => buffer.push(tx, row)) as R;
  }
}
