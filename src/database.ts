/**
 * @module The composition root of an embedded database: it wires the engine, the primitive
 * factories, the system tables, the change feed and durability (durability.ts, loaded only
 * for a database with a path), and offers the typed embedded API. Primitives never learn
 * that the log exists.
 */
import { assert } from "./lib/assert.ts";
import { DbError, describeValue } from "./lib/errors.ts";
import { systemClock } from "./lib/clock.ts";
import { changeFeedCommitsRetainedDefault, changeFeedCommitsRetainedMax } from "./lib/limits.ts";
import { segmentSizeBytesMin, walSegmentSizeBytesMax } from "./log/segment.ts";
import type { DurableLog, KeyVersion } from "./durability.ts";
import type { FlushPolicy } from "./log/index.ts";
import {
  Engine,
  SystemTable,
  qualifyName,
  readChanges,
  registerSystemTables,
} from "./engine/index.ts";
import { valuesEqual } from "./values/index.ts";
import type {
  Commit,
  ObjectDefinition,
  ObjectKind,
  StoredObject,
  Transaction,
} from "./engine/index.ts";
import {
  CounterHandle,
  HistogramHandle,
  QueueHandle,
  RingBufferHandle,
  SeriesHandle,
  TableHandle,
  counterDefinition,
  histogramDefinition,
  registerPrimitiveFactories,
  queueDefinition,
  ringBufferDefinition,
  seriesDefinition,
  tableDefinition,
} from "./primitives/index.ts";
import type {} from "./primitives/index.ts";
import type {
  ChangesOptions,
  CreateOptions,
  CounterOptions,
  Database,
  Durability,
  DropOptions,
  EntryPoint,
  HistogramOptions,
  MachinesApi,
  ProcedureDefinition,
  QueryParams,
  QueryResult,
  Subscription,
  SubscribeOptions,
  SubscriptionTarget,
  OpenOptions,
  QueueOptions,
  RingBufferOptions,
  SeriesOptions,
  SystemTableName,
  TableOptions,
  Tx,
  TransactOptions,
} from "./types.ts";

/** Opens a database: in memory without `path`, else recovered from its log. */
export async function open(options: OpenOptions = {}): Promise<Database> {
  const durability = options.durability ?? (options.path === undefined ? "memory" : "async");
  if (options.path === undefined && durability !== "memory") {
    throw new DbError("INVALID_ARGUMENT", `durability "${durability}" needs a path to write to`, {
      value: durability,
    });
  }
  if (!["sync", "async", "memory"].includes(durability)) {
    throw new DbError("INVALID_ARGUMENT", `durability must be sync, async or memory`, {
      value: durability,
    });
  }
  checkOpenOptions(options);
  const db = new EmbeddedDatabase(options, durability);
  if (options.path !== undefined && durability !== "memory") await db.attachLog(options.path);
  return db;
}

/** Numeric options and their allowed ranges (inclusive). */
const numericOptionRanges: ReadonlyArray<readonly [keyof OpenOptions, number, number]> = [
  ["segmentSizeBytes", segmentSizeBytesMin, walSegmentSizeBytesMax],
  ["durabilityWindowMs", 0, 60_000],
  ["snapshotLogBytes", 0, Number.MAX_SAFE_INTEGER],
  ["snapshotsKept", 1, Infinity],
  ["logRetentionMs", 0, Number.MAX_SAFE_INTEGER],
  ["commitsRetained", 0, changeFeedCommitsRetainedMax],
];

/** Refuses options a database cannot honour, naming the option and the allowed range. */
function checkOpenOptions(options: OpenOptions): void {
  if (options.path !== undefined && (typeof options.path !== "string" || options.path === "")) {
    throw new DbError("INVALID_ARGUMENT", "path must be a non-empty directory name", {
      value: describeValue(options.path),
    });
  }
  for (const [name, min, max] of numericOptionRanges) {
    const value = options[name];
    if (value === undefined) continue;
    const whole = typeof value === "number" && (Number.isInteger(value) || value === Infinity);
    if (!whole || value < min || value > max) {
      // Above a limit is LIMIT_EXCEEDED (STYLE.md); anything else is plain invalid input.
      if (whole && value > max) {
        throw new DbError("LIMIT_EXCEEDED", `${name} may be at most ${max}, got ${value}`, {
          value: describeValue(value),
        });
      }
      throw new DbError(
        "INVALID_ARGUMENT",
        `${name} must be a whole number in [${min}, ${max}], got ${describeValue(value)}`,
        { value: describeValue(value) },
      );
    }
  }
}

/** Default reporter: warnings and progress go to stderr, one line each. */
function notBuilt(what: string): never {
  throw new DbError("INVALID_ARGUMENT", `${what} are not built yet`);
}

function reportToStderr(kind: "warning" | "progress", message: string): void {
  process.stderr.write(`statebase ${kind}: ${message}\n`);
}

class EmbeddedDatabase implements Database, Tx {
  private readonly engine: Engine;
  private readonly handles = new Map<string, object>();
  private readonly closing = new AbortController();
  private log: DurableLog | undefined;
  /** Flush policy of the commit being made (a per-transaction override or the default). */
  private policy: FlushPolicy;

  constructor(
    private readonly options: OpenOptions,
    readonly durability: Durability,
    readOnly = false,
  ) {
    this.policy = durability === "sync" ? "immediate" : "window";
    this.engine = new Engine({
      clock: options.clock ?? systemClock,
      commitsRetained: options.commitsRetained ?? changeFeedCommitsRetainedDefault,
      readOnly,
    });
    const catalog = this.engine.catalog;
    registerPrimitiveFactories(catalog);
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
    const override = options?.durability;
    if (override === undefined || this.engine.current !== undefined) {
      return this.engine.transactWith<Tx, T>(this, fn, options);
    }
    const saved = this.policy;
    this.policy = override === "sync" ? "immediate" : "window";
    try {
      return this.engine.transactWith<Tx, T>(this, fn, options);
    } finally {
      this.policy = saved;
    }
  }

  // ---- Durability ----

  /** Resolves when commit `seq` (default: the last one) is on disk; at once in memory mode. */
  async durable(seq: number = this.engine.seq): Promise<void> {
    await this.log?.wal.waitDurable(seq);
  }

  async writable(): Promise<void> {
    await this.log?.writable();
  }

  async flush(): Promise<void> {
    await this.log?.wal.flush();
  }

  /** Recovers state from the data directory `path`, then logs every new commit there. */
  async attachLog(path: string): Promise<void> {
    assert(this.log === undefined, "log attached twice");
    // Loaded on demand: a memory-only database never loads the log or the file system code.
    const { DurableLog } = await import("./durability.ts");
    const o = this.options;
    this.log = await DurableLog.open(
      this.engine,
      {
        path,
        report: o.onMessage ?? reportToStderr,
        ...(o.segmentSizeBytes === undefined ? {} : { segmentSizeBytes: o.segmentSizeBytes }),
        ...(o.durabilityWindowMs === undefined ? {} : { durabilityWindowMs: o.durabilityWindowMs }),
        ...(o.snapshotLogBytes === undefined ? {} : { snapshotLogBytes: o.snapshotLogBytes }),
        ...(o.snapshotsKept === undefined ? {} : { snapshotsKept: o.snapshotsKept }),
        ...(o.logRetentionMs === undefined ? {} : { logRetentionMs: o.logRetentionMs }),
      },
      () => this.policy,
    );
  }

  /** A read-only database as it was right after commit `target` (or at a time). */
  async at(target: number | Date): Promise<Database> {
    const path = this.requirePath("time travel");
    const time = target instanceof Date ? target.getTime() : undefined;
    if (
      time === undefined &&
      (!Number.isSafeInteger(target) ||
        (target as number) < 0 ||
        (target as number) > this.engine.seq)
    ) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `at(): seq must be an integer in [0, ${this.engine.seq}]`,
        {
          value: String(target),
        },
      );
    }
    if (time !== undefined && Number.isNaN(time)) {
      throw new DbError("INVALID_ARGUMENT", "at(): invalid Date");
    }
    await this.flush();
    const { rebuildAt } = await import("./durability.ts");
    // The past database lives in memory only: it gets the clock, not the path.
    const past = new EmbeddedDatabase(
      this.options.clock === undefined ? {} : { clock: this.options.clock },
      "memory",
      true,
    );
    await rebuildAt(past.engine, path, time === undefined ? { seq: target as number } : { time });
    return past;
  }

  /** Every retained version of one key of one object, oldest first, with seq, time and origin. */
  async history(object: string, key: unknown): Promise<KeyVersion[]> {
    const path = this.requirePath("history");
    await this.flush();
    const { readKeyHistory } = await import("./durability.ts");
    const name = qualifyName(object).qualified;
    return readKeyHistory(path, name, (changeKey) => valuesEqual(changeKey, key));
  }

  private requirePath(what: string): string {
    const path = this.options.path;
    if (path === undefined || this.log === undefined) {
      throw new DbError("INVALID_ARGUMENT", `${what} needs a database opened with a path`);
    }
    return path;
  }

  /** Writes a snapshot now; commits go on while it is written. */
  async snapshot(): Promise<{ seq: number; sizeBytes: number }> {
    if (this.log === undefined) {
      throw new DbError("INVALID_ARGUMENT", "snapshots need a database opened with a path");
    }
    const info = await this.log.snapshot();
    return { seq: info.seq, sizeBytes: info.sizeBytes };
  }

  // ---- Layers built by later issues (stubs until they land) ----

  get machines(): MachinesApi {
    return notBuilt("state machines");
  }

  execute(_rql: string, _params?: QueryParams, _entry?: EntryPoint): QueryResult {
    return notBuilt("RQL");
  }

  async query(_rql: string, _params?: QueryParams): Promise<QueryResult> {
    return notBuilt("RQL");
  }

  async command(_rql: string, _params?: QueryParams): Promise<QueryResult> {
    return notBuilt("RQL");
  }

  async admin(_rql: string, _params?: QueryParams): Promise<QueryResult> {
    return notBuilt("RQL");
  }

  subscribe(_target: SubscriptionTarget, _options?: SubscribeOptions): Subscription {
    return notBuilt("subscriptions");
  }

  defineProcedure(_name: string, _definition: ProcedureDefinition): void {
    notBuilt("procedures");
  }

  async call(
    _name: string,
    _args?: Record<string, unknown> | readonly unknown[],
  ): Promise<unknown> {
    return notBuilt("procedures");
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
    await this.log?.close();
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
