/**
 * @module The composition root of an embedded database: it wires the engine, the primitive
 * factories, the system tables and the change feed, and offers the typed embedded API.
 * Durability (the log) plugs in here when it lands; primitives never learn it exists.
 */
import { assert } from "./lib/assert.ts";
import { DbError } from "./lib/errors.ts";
import { systemClock } from "./lib/clock.ts";
import { changeFeedCommitsRetainedDefault } from "./lib/limits.ts";
import { Engine, SystemTable, readChanges, registerSystemTables } from "./engine/index.ts";
import type {
  Commit,
  ObjectDefinition,
  ObjectKind,
  StoredObject,
  Transaction,
} from "./engine/index.ts";
import {
  Counter,
  CounterHandle,
  Histogram,
  HistogramHandle,
  Queue,
  QueueHandle,
  RingBuffer,
  RingBufferHandle,
  Series,
  SeriesHandle,
  Table,
  TableHandle,
  counterDefinition,
  histogramDefinition,
  queueDefinition,
  ringBufferDefinition,
  seriesDefinition,
  tableDefinition,
} from "./primitives/index.ts";
import type {
  CounterDefinition,
  HistogramDefinition,
  QueueDefinition,
  RingBufferDefinition,
  SeriesDefinition,
  TableDefinition,
} from "./primitives/index.ts";
import type {
  ChangesOptions,
  CreateOptions,
  CounterOptions,
  Database,
  DropOptions,
  HistogramOptions,
  OpenOptions,
  QueueOptions,
  RingBufferOptions,
  SeriesOptions,
  SystemTableName,
  TableOptions,
  Tx,
  TransactOptions,
} from "./types.ts";

/** Opens a database. Memory-only until the write-ahead log lands. */
export async function open(options: OpenOptions = {}): Promise<Database> {
  const durability = options.durability ?? "memory";
  if (options.path !== undefined || durability !== "memory") {
    // Refuse instead of pretending: a caller asking for files must not get memory.
    throw new DbError(
      "INVALID_ARGUMENT",
      "durable storage (path, sync/async durability) is not available yet; open() without a " +
        "path uses memory only",
      { value: options.path ?? durability },
    );
  }
  return Promise.resolve(new EmbeddedDatabase(options));
}

class EmbeddedDatabase implements Database, Tx {
  private readonly engine: Engine;
  private readonly handles = new Map<string, object>();
  private readonly closing = new AbortController();

  constructor(options: OpenOptions) {
    this.engine = new Engine({
      clock: options.clock ?? systemClock,
      commitsRetained: options.commitsRetained ?? changeFeedCommitsRetainedDefault,
    });
    const catalog = this.engine.catalog;
    catalog.registerFactory("table", (d) => new Table(d as TableDefinition));
    catalog.registerFactory("ring_buffer", (d) => new RingBuffer(d as RingBufferDefinition));
    catalog.registerFactory("series", (d) => new Series(d as SeriesDefinition));
    catalog.registerFactory("counter", (d) => new Counter(d as CounterDefinition));
    catalog.registerFactory("histogram", (d) => new Histogram(d as HistogramDefinition));
    catalog.registerFactory("queue", (d) => new Queue(d as QueueDefinition));
    registerSystemTables(catalog);
  }

  get seq(): number {
    return this.engine.seq;
  }

  get lastCommit(): Commit | undefined {
    return this.engine.lastCommit;
  }

  get now(): number {
    return this.engine.current?.now ?? this.engine.clock.now();
  }

  get inTransaction(): boolean {
    return this.engine.current !== undefined;
  }

  // ---- Transactions ----

  transact<T>(fn: (tx: Tx) => T, options?: TransactOptions): T {
    return this.engine.transactWith<Tx, T>(this, fn, options);
  }

  abort(reason = "aborted"): never {
    throw new DbError("TXN_ABORTED", `transaction aborted: ${reason}`);
  }

  // ---- Handles ----

  table<R extends object = Record<string, unknown>>(name: string): TableHandle<R> {
    return this.handle(name, "table", () => new TableHandle<R>(this.engine, name));
  }

  ringBuffer<R extends object = Record<string, unknown>>(name: string): RingBufferHandle<R> {
    return this.handle(name, "ring_buffer", () => new RingBufferHandle<R>(this.engine, name));
  }

  series<R extends object = Record<string, unknown>>(name: string): SeriesHandle<R> {
    return this.handle(name, "series", () => new SeriesHandle<R>(this.engine, name));
  }

  counter(name: string): CounterHandle {
    return this.handle(name, "counter", () => new CounterHandle(this.engine, name));
  }

  histogram(name: string): HistogramHandle {
    return this.handle(name, "histogram", () => new HistogramHandle(this.engine, name));
  }

  queue<B = unknown>(name: string): QueueHandle<B> {
    return this.handle(name, "queue", () => new QueueHandle<B>(this.engine, name));
  }

  system(table: SystemTableName): Array<Record<string, unknown>> {
    const object = this.engine.catalog.require(`system::${table}`);
    assert(object instanceof SystemTable, `system::${table} is not a system table`);
    return object.scan();
  }

  // ---- Schema ----

  createNamespace(name: string, options: CreateOptions = {}): boolean {
    return this.engine.write((tx) =>
      this.engine.catalog.createNamespace(tx, name, options.ifNotExists === true),
    );
  }

  createTable<R extends object = Record<string, unknown>>(
    name: string,
    options: TableOptions,
    create: CreateOptions = {},
  ): TableHandle<R> {
    this.create(tableDefinition(name, options), create);
    return this.table<R>(name);
  }

  createRingBuffer<R extends object = Record<string, unknown>>(
    name: string,
    options: RingBufferOptions,
    create: CreateOptions = {},
  ): RingBufferHandle<R> {
    this.create(ringBufferDefinition(name, options), create);
    return this.ringBuffer<R>(name);
  }

  createSeries<R extends object = Record<string, unknown>>(
    name: string,
    options: SeriesOptions,
    create: CreateOptions = {},
  ): SeriesHandle<R> {
    this.create(seriesDefinition(name, options), create);
    return this.series<R>(name);
  }

  createCounter(
    name: string,
    options: CounterOptions = {},
    create: CreateOptions = {},
  ): CounterHandle {
    this.create(counterDefinition(name, options), create);
    return this.counter(name);
  }

  createHistogram(
    name: string,
    options: HistogramOptions = {},
    create: CreateOptions = {},
  ): HistogramHandle {
    this.create(histogramDefinition(name, options), create);
    return this.histogram(name);
  }

  createQueue<B = unknown>(
    name: string,
    options: QueueOptions = {},
    create: CreateOptions = {},
  ): QueueHandle<B> {
    this.create(queueDefinition(name, options), create);
    return this.queue<B>(name);
  }

  drop(name: string, options: DropOptions = {}): boolean {
    return this.engine.write((tx) => this.engine.catalog.drop(tx, name, options.ifExists === true));
  }

  // ---- Change feed ----

  changes(options: ChangesOptions = {}): AsyncIterable<Commit> {
    const signal =
      options.signal === undefined
        ? this.closing.signal
        : AbortSignal.any([options.signal, this.closing.signal]);
    return readChanges(this.engine, { ...options, signal });
  }

  addCommitListener(listener: (commit: Commit) => void): () => void {
    return this.engine.addCommitListener(listener);
  }

  async close(): Promise<void> {
    if (this.engine.closed) return;
    this.engine.close();
    this.closing.abort();
    await Promise.resolve();
  }

  // ---- Internals ----

  private create(definition: ObjectDefinition, options: CreateOptions): StoredObject {
    return this.engine.write((tx: Transaction) =>
      this.engine.catalog.create(tx, definition, options.ifNotExists === true),
    );
  }

  private handle<H extends object>(name: string, kind: string, make: () => H): H {
    const key = `${kind}\u0000${name}`;
    let handle = this.handles.get(key) as H | undefined;
    if (handle === undefined) {
      // Validate the name now so a typo fails where it is written, not at first use.
      this.engine.catalog.require(name, kind as ObjectKind);
      handle = make();
      this.handles.set(key, handle);
    }
    return handle;
  }
}
