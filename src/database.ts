/**
 * @module The composition root of an embedded database: it wires the engine, the primitive
 * factories, the system tables, the change feed and durability (durability.ts, loaded only
 * for a database with a path), and offers the typed embedded API. Primitives never learn
 * that the log exists.
 */
import { setMaxListeners } from "node:events";
import { assert, assertionFailed } from "./lib/assert.ts";
import { checkCreateFlags, checkCreateOptions } from "./create-options.ts";
import { DbError, describeValue } from "./lib/errors.ts";
import { systemClock } from "./lib/clock.ts";
import { changeFeedCommitsRetainedDefault, changeFeedCommitsRetainedMax } from "./lib/limits.ts";
import { segmentSizeBytesMin, walSegmentSizeBytesMax } from "./log/segment.ts";
import type { DurableLog, KeyVersion, LogStats } from "./durability.ts";
import type { FlushPolicy } from "./log/index.ts";
import { throwIfAborted } from "./log/abort.ts";
import { originOf, procedureOrigin } from "./lib/origin.ts";
import { createLocalBackend } from "./replication/log-backend.ts";
import type { LogBackend } from "./replication/log-backend.ts";
import {
  Engine,
  SystemTable,
  qualifyName,
  readChanges,
  registerSystemTables,
} from "./engine/index.ts";
import { valuesEqual } from "./values/index.ts";
import { createMachines } from "./machines/index.ts";
import {
  ViewManager,
  ViewObject,
  registerViewFactory,
  subscribe,
  viewDefinition,
} from "./views/index.ts";
import {
  FramesResult,
  ProcedureRegistry,
  asyncReadsOf,
  checkEntryPoint,
  checkProcedureRole,
  coerceArguments,
  executeScript,
  explainScript,
  historyKey,
  inProcedureBody,
  needsAsyncReads,
  parseScriptCached,
  queryDeadlineOf,
  queryTimeoutMsMax,
  registerProcedureFactory,
  withinDeadline,
} from "./rql/index.ts";
import type { CachedScript, Prefetched, QueryDeadline, RqlHost, ViewHost } from "./rql/index.ts";
import { procedureCallDepthMax, timeTravelWaitingMax } from "./lib/limits.ts";
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
  Table,
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
  QueryOptions,
  QueryParams,
  QueryResult,
  Subscription,
  SubscribeOptions,
  SubscriptionTarget,
  OpenOptions,
  ReplicateOptions,
  ReplicationStatus,
  QueueOptions,
  RingBufferOptions,
  SeriesOptions,
  SystemTableName,
  TableOptions,
  Tx,
  ViewHandle,
  ViewOptions,
  TransactOptions,
} from "./types.ts";

/** Opens a database: in memory without `path`, else recovered from its log. */
export async function open(options: OpenOptions = {}): Promise<Database> {
  checkOpenOptionKeys(options);
  const replicated = options.replicate !== undefined;
  // A replicated database acknowledges after JetStream does (sync) unless told otherwise.
  const durability =
    options.durability ?? (replicated ? "sync" : options.path === undefined ? "memory" : "async");
  if (options.path === undefined && !replicated && durability !== "memory") {
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
  throwIfAborted(options.signal, "before it began");
  const db = new EmbeddedDatabase(options, durability);
  if (options.replicate !== undefined) await db.attachReplication(options.replicate);
  else if (options.path !== undefined && durability !== "memory") await db.attachLog(options.path);
  try {
    throwIfAborted(options.signal, "during recovery"); // aborted as it ended: nothing served yet
    db.activateViews();
  } catch (error) {
    await db.close().catch(() => undefined); // frees the data directory for another try
    throw error;
  }
  return db;
}

/** Numeric options and their allowed ranges (inclusive); the server's config checks the same. */
export const numericOptionRanges: ReadonlyArray<readonly [keyof OpenOptions, number, number]> = [
  ["segmentSizeBytes", segmentSizeBytesMin, walSegmentSizeBytesMax],
  ["durabilityWindowMs", 0, 60_000],
  ["snapshotLogBytes", 0, Number.MAX_SAFE_INTEGER],
  ["snapshotsKept", 1, Infinity],
  ["logRetentionMs", 0, Number.MAX_SAFE_INTEGER],
  ["commitsRetained", 0, changeFeedCommitsRetainedMax],
  ["queryTimeoutMs", 0, queryTimeoutMsMax],
];

/** Every option open() reads, by section: the compiler keeps them in step with the types. */
const openOptionKeys: Record<keyof OpenOptions, true> = {
  path: true,
  durability: true,
  durabilityWindowMs: true,
  segmentSizeBytes: true,
  snapshotLogBytes: true,
  snapshotsKept: true,
  logRetentionMs: true,
  onMessage: true,
  clock: true,
  commitsRetained: true,
  machines: true,
  replicate: true,
  signal: true,
  queryTimeoutMs: true,
};
const machinesOptionKeys: Record<keyof NonNullable<OpenOptions["machines"]>, true> = {
  idempotencyWindowMs: true,
  versionsMax: true,
};
const replicateOptionKeys: Record<keyof ReplicateOptions, true> = {
  url: true,
  stream: true,
  node: true,
  role: true,
  replicas: true,
  leaseTtlMs: true,
  snapshotLogBytes: true,
  snapshotsKept: true,
  purgeLog: true,
  monitorUrl: true,
  advertiseHttp: true,
};

/**
 * Refuses a key open() does not read: a typo (`durabilty`) would otherwise be ignored and
 * the database opened with the default, and `open("./data")` would open one in memory.
 */
function checkOpenOptionKeys(options: unknown): void {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    const example = typeof options === "string" ? JSON.stringify(options) : '"./data"';
    throw new DbError(
      "INVALID_ARGUMENT",
      `open takes an options object, such as open({ path: ${example} }), got ` +
        describeValue(options),
      { value: describeValue(options) },
    );
  }
  const sections: Array<[string, unknown, object]> = [
    ["", options, openOptionKeys],
    ["machines.", (options as OpenOptions).machines, machinesOptionKeys],
    ["replicate.", (options as OpenOptions).replicate, replicateOptionKeys],
  ];
  for (const [prefix, section, known] of sections) {
    if (section === undefined) continue;
    if (section === null || typeof section !== "object" || Array.isArray(section)) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `open option ${prefix.slice(0, -1)} must be an object`,
        {
          value: describeValue(section),
        },
      );
    }
    const unknown = Object.keys(section).find((key) => !Object.hasOwn(known, key));
    if (unknown === undefined) continue;
    throw new DbError(
      "INVALID_ARGUMENT",
      `unknown open option ${prefix}${unknown}; the options are ${Object.keys(known).join(", ")}`,
      { field: `${prefix}${unknown}` },
    );
  }
}

/** Refuses options a database cannot honour, naming the option and the allowed range. */
function checkOpenOptions(options: OpenOptions): void {
  if (options.path !== undefined && (typeof options.path !== "string" || options.path === "")) {
    throw new DbError("INVALID_ARGUMENT", "path must be a non-empty directory name", {
      value: describeValue(options.path),
    });
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new DbError("INVALID_ARGUMENT", "signal must be an AbortSignal", {
      value: describeValue(options.signal),
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
function reportToStderr(kind: "warning" | "progress", message: string): void {
  process.stderr.write(`statebase ${kind}: ${message}\n`);
}

class EmbeddedDatabase implements Database, Tx {
  private readonly engine: Engine;
  private readonly handles = new Map<string, object>();
  private readonly closing = new AbortController();
  /** The last past state `at()` builds: they are built one after another (see at()). */
  private rebuildTurn: Promise<unknown> = Promise.resolve();
  /** Calls of `at()` building or waiting for their turn. */
  private rebuildsWaiting = 0;
  /** The close under way or done, shared by every caller of close(). */
  private closed: Promise<void> | undefined;
  private log: DurableLog | undefined;
  private machinesApi: MachinesApi | undefined;
  /** Where commits become durable: the local log files or a JetStream stream. */
  private backend: LogBackend | undefined;
  /** The wait of writers for the log to catch up, shared by all of them (see writable). */
  private windowWait: Promise<void> | undefined;
  /** Flush policy of the commit being made (a per-transaction override or the default). */
  private policy: FlushPolicy;
  /** TypeScript procedures registered in this process (RQL ones live in the catalog). */
  private readonly procedures = new ProcedureRegistry<Tx>();
  /** Procedure calls under way, nested inside one another. */
  private procedureDepth = 0;
  /** Views for RQL (`create view`, `from view`): set by the views wiring when it exists. */
  private viewHost: ViewHost | undefined;
  /** What RQL reaches outside the engine; the async entry points add prefetched reads. */
  private readonly rqlHost: RqlHost = ((db: EmbeddedDatabase): RqlHost => ({
    procedures: { call: (_tx, name, args, entry) => db.callInTransaction(name, args, entry) },
    get views(): ViewHost | undefined {
      return db.viewHost;
    },
  }))(this);

  constructor(
    private readonly options: OpenOptions,
    readonly durability: Durability,
    readOnly = false,
  ) {
    this.policy = durability === "sync" ? "immediate" : "window";
    // Every live subscription listens for the close: more than ten is not a leak.
    setMaxListeners(0, this.closing.signal);
    this.engine = new Engine({
      clock: options.clock ?? systemClock,
      commitsRetained: options.commitsRetained ?? changeFeedCommitsRetainedDefault,
      readOnly,
    });
    const catalog = this.engine.catalog;
    registerPrimitiveFactories(catalog);
    registerSystemTables(catalog);
    registerProcedureFactory(catalog);
    registerViewFactory(catalog);
    this.views = new ViewManager(this.engine);
    this.viewHost = this.views;
  }

  /** Views maintained from the engine's changes (transactional and deferred). */
  private readonly views: ViewManager;

  /** Rebuilds recovered views from their inputs; see ViewManager.activateAll. */
  activateViews(): void {
    this.views.activateAll();
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
    if (override !== undefined && override !== "sync" && override !== "async") {
      // Anything else was logged as async, so a "memory" commit still went to disk.
      throw new DbError(
        "INVALID_ARGUMENT",
        `durability of a transaction must be sync or async, got ${describeValue(override)}`,
        { value: describeValue(override) },
      );
    }
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
    // Only a seq already committed can become durable: a later one would wait for ever (and
    // NaN never compares), so it is the caller's mistake, said here rather than hung on.
    if (!Number.isSafeInteger(seq) || seq < 0 || seq > this.engine.seq) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `durable(): seq must be a whole number in [0, ${this.engine.seq}], got ` +
          describeValue(seq),
        { value: describeValue(seq) },
      );
    }
    await this.backend?.waitDurable(seq);
  }

  async writable(): Promise<void> {
    const backend = this.backend;
    if (backend === undefined) return;
    // One shared wait, so writers go on in the order they came: one that arrives while
    // others wait for the log queues behind them instead of overtaking them.
    this.windowWait ??= backend.writable().finally(() => (this.windowWait = undefined));
    await this.windowWait;
  }

  async flush(): Promise<void> {
    await this.backend?.flush();
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
        ...(o.signal === undefined ? {} : { signal: o.signal }),
      },
      () => this.policy,
    );
    this.backend = createLocalBackend(this.log);
  }

  /** Recovers state from a JetStream stream, then follows it or writes to it (scale-out). */
  async attachReplication(replicate: ReplicateOptions): Promise<void> {
    assert(this.backend === undefined, "log attached twice");
    if (this.options.path !== undefined) {
      throw new DbError(
        "INVALID_ARGUMENT",
        "path and replicate exclude each other: a replicated database keeps its log in JetStream",
        { value: this.options.path },
      );
    }
    // Loaded on demand: only replicated databases load the NATS client.
    const { openReplicatedLog } = await import("./replication/index.ts");
    this.backend = await openReplicatedLog(
      this.engine,
      replicate,
      this.options.onMessage ?? reportToStderr,
      this.durability,
    );
  }

  /** Role, applied seq and lag when replicated through JetStream. */
  get replication(): ReplicationStatus | undefined {
    return this.backend?.status();
  }

  get failure(): DbError | undefined {
    return this.backend?.failure();
  }

  /** A read-only database as it was right after commit `target` (or at a time). */
  async at(target: number | Date): Promise<Database> {
    this.refuseClosed("at");
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
    if (this.rebuildsWaiting >= timeTravelWaitingMax) {
      throw new DbError(
        "LIMIT_EXCEEDED",
        `at(): ${timeTravelWaitingMax} past states are being rebuilt or wait for their turn ` +
          `(one at a time: each is a copy of the state); retry when they are done`,
        { limit: timeTravelWaitingMax },
      );
    }
    this.rebuildsWaiting++;
    try {
      await this.flush();
      const turn = this.rebuildTurn.then(() => this.rebuildPast(path, target, time));
      this.rebuildTurn = turn.catch(() => undefined);
      return await turn;
    } finally {
      this.rebuildsWaiting--;
    }
  }

  /** Builds the past database `at()` asked for; its caller makes them take turns. */
  private async rebuildPast(
    path: string,
    target: number | Date,
    time: number | undefined,
  ): Promise<Database> {
    const { rebuildAt } = await import("./durability.ts");
    // The past database lives in memory only: it gets the clock, not the path.
    const past = new EmbeddedDatabase(
      this.options.clock === undefined ? {} : { clock: this.options.clock },
      "memory",
      true,
    );
    const rebuildTarget = time === undefined ? { seq: target as number } : { time };
    await this.log!.reading(() => rebuildAt(past.engine, path, rebuildTarget));
    past.activateViews();
    return past;
  }

  /** Every retained version of one key of one object, oldest first, with seq, time and origin. */
  async history(object: string, key: unknown): Promise<KeyVersion[]> {
    this.refuseClosed("history");
    const path = this.requirePath("history");
    await this.flush();
    const { readKeyHistory } = await import("./durability.ts");
    const name = qualifyName(object).qualified;
    // A key as a table's get() takes it (text "7" for an int key) finds that key's versions.
    const current = this.engine.catalog.get(name);
    const wanted = current instanceof Table ? current.coerceKey(key) : key;
    return this.log!.reading(() =>
      readKeyHistory(path, name, (changeKey) => valuesEqual(changeKey, wanted)),
    );
  }

  /**
   * The methods that read or write the data directory refuse once the database is closed:
   * its lock is released, so another database may own the directory by now.
   */
  private refuseClosed(method: string): void {
    if (!this.engine.closed) return;
    throw new DbError("DATABASE_CLOSED", `db.${method}(): the database is closed`);
  }

  private requirePath(what: string): string {
    const path = this.options.path;
    if (path === undefined || this.log === undefined) throw this.noLog(`${what} needs`);
    return path;
  }

  /** Says a feature needs a log; a path opened in memory durability writes none there. */
  private noLog(what: string): DbError {
    const path = this.options.path;
    const why =
      path === undefined || this.durability !== "memory"
        ? ""
        : `: this one was opened on ${path} with durability "memory", which writes nothing there`;
    return new DbError("INVALID_ARGUMENT", `${what} a database opened with a path${why}`);
  }

  /** Writes a snapshot now; commits go on while it is written. */
  snapshot(): Promise<{ seq: number; sizeBytes: number }> {
    // Thrown, as query()'s refusal is: it fails the transaction, where a rejected promise a
    // procedure did not await would end a server (it was a failed assertion).
    if (this.engine.current !== undefined) {
      throw new DbError(
        "TXN_ASYNC",
        "db.snapshot() cannot run inside a transaction: a snapshot starts between commits; " +
          "take it after the transaction",
      );
    }
    return this.snapshotNow();
  }

  private async snapshotNow(): Promise<{ seq: number; sizeBytes: number }> {
    this.refuseClosed("snapshot");
    if (this.backend === undefined) {
      throw this.noLog("snapshots need");
    }
    const info = await this.backend.snapshot();
    return { seq: info.seq, sizeBytes: info.sizeBytes };
  }

  // ---- Layers built by later issues (stubs until they land) ----

  get machines(): MachinesApi {
    // Built on first use: a database that never uses machines pays nothing for them.
    this.machinesApi ??= createMachines(this.engine, {
      ...this.options.machines,
      report: this.options.onMessage ?? reportToStderr,
    });
    return this.machinesApi;
  }

  // ---- RQL ----

  /** Runs a script in the running transaction (a savepoint), or in its own one. */
  execute(rql: string, params?: QueryParams, entry: EntryPoint = "command"): QueryResult {
    const deadline = this.deadlineOf(undefined);
    const cached = parseScriptCached(rql, deadline);
    return this.runScript(cached, params, entry, undefined, deadline);
  }

  query(rql: string, params?: QueryParams, options?: QueryOptions): Promise<QueryResult> {
    this.refuseInTransaction("query", "tx.execute(rql, params, entry)");
    return this.runRql(rql, params, "query", options);
  }

  command(rql: string, params?: QueryParams, options?: QueryOptions): Promise<QueryResult> {
    this.refuseInTransaction("command", "tx.execute(rql, params, entry)");
    return this.runRql(rql, params, "command", options);
  }

  admin(rql: string, params?: QueryParams, options?: QueryOptions): Promise<QueryResult> {
    this.refuseInTransaction("admin", "tx.execute(rql, params, entry)");
    return this.runRql(rql, params, "admin", options);
  }

  /** The deadline of one call (src/rql/deadline.ts); an injected clock drives it too. */
  private deadlineOf(options: QueryOptions | undefined): QueryDeadline | undefined {
    const clock = this.options.clock;
    const now = clock === undefined ? undefined : () => clock.now();
    return queryDeadlineOf(this.options.queryTimeoutMs, options, now);
  }

  /** The access path of every statement of a script, one line each (nothing runs). */
  explain(rql: string): string[] {
    return explainScript(parseScriptCached(rql), this.engine.catalog, this.rqlHost);
  }

  /**
   * The async entry points: parse (cached), refuse disallowed statements, fetch what the
   * script reads from the log (time travel, history), run it as one transaction, and in sync
   * durability resolve once the state it saw or made is on disk.
   */
  private async runRql(
    rql: string,
    params: QueryParams | undefined,
    entry: EntryPoint,
    options: QueryOptions | undefined,
  ) {
    const deadline = this.deadlineOf(options);
    const cached = parseScriptCached(rql, deadline);
    checkEntryPoint(cached.script, entry);
    // In async durability a write is held back while the oldest commit not on disk is older
    // than the window, so HTTP, WebSocket and the CLI keep the bound when the disk falls
    // behind (in sync each write waits for its own fsync). Tested inline, not in an async
    // method: awaiting one that does nothing cost every sync call a turn of the microtasks.
    if (entry !== "query" && this.durability === "async") await this.writable();
    const prefetched = needsAsyncReads(cached.script)
      ? await this.prefetch(cached, params)
      : undefined;
    let result: QueryResult;
    try {
      result = this.runScript(cached, params, entry, prefetched, deadline);
    } catch (error) {
      // An error is an answer too: a duplicate key or a failing expression may reveal a
      // commit not yet on disk, which a crash could still take back.
      await this.durableIfSync();
      throw error;
    }
    await this.durableIfSync();
    return result;
  }

  /** In sync durability, waits until every commit so far (all an answer can reveal) is on disk. */
  private async durableIfSync(): Promise<void> {
    if (this.durability === "sync") await this.durable(this.engine.seq);
  }

  private runScript(
    cached: CachedScript,
    params: QueryParams | undefined,
    entry: EntryPoint,
    prefetched: Prefetched | undefined,
    deadline: QueryDeadline | undefined,
  ): QueryResult {
    const host: RqlHost =
      prefetched === undefined
        ? this.rqlHost
        : { ...this.rqlHost, prefetched, views: this.viewHost };
    const synchronous = prefetched === undefined;
    return this.engine.transactWith(
      this,
      (db, tx) =>
        executeScript(cached, tx, db.engine.catalog, {
          entry,
          params,
          host,
          synchronous,
          deadline,
        }),
      { origin: originOf("rql", cached.text) },
    );
  }

  /** Rebuilds the past states and reads the key histories a script names. */
  private async prefetch(cached: CachedScript, params: QueryParams | undefined) {
    const reads = asyncReadsOf(cached.script, params, this.engine.clock.now());
    const asOf = new Map<number, EmbeddedDatabase["engine"]["catalog"]>();
    for (const { seq, pos } of reads.seqs) {
      if (asOf.has(seq)) continue;
      if (seq > this.engine.seq) {
        throw new DbError(
          "INVALID_ARGUMENT",
          `line ${pos.line}, column ${pos.col}: as of ${seq}: ` +
            `the last commit is ${this.engine.seq}`,
          { value: String(seq), line: pos.line, col: pos.col, fragment: String(seq) },
        );
      }
      const past = await this.at(seq);
      assert(past instanceof EmbeddedDatabase, "at() builds an embedded database");
      asOf.set(seq, past.engine.catalog);
    }
    const history = new Map<string, Array<Record<string, unknown>>>();
    for (const { object, key } of reads.histories) {
      const versions = await this.history(object, key);
      history.set(
        historyKey(object, key),
        versions.map((v) => ({ ...v })),
      );
    }
    return { asOf, history } satisfies Prefetched;
  }

  subscribe(target: SubscriptionTarget, options?: SubscribeOptions): Subscription {
    const context = {
      engine: this.engine,
      durable: (seq: number) => this.durable(seq),
      closing: this.closing.signal,
    };
    return subscribe(context, target, options);
  }

  // ---- Procedures ----

  defineProcedure(name: string, definition: ProcedureDefinition): void {
    this.procedures.define(name, definition);
  }

  /**
   * Calls a procedure as one transaction (a savepoint inside a running one). Arguments are
   * checked before anything runs; the commit's origin names the procedure and its arguments.
   * An RQL procedure resolves to its frames, a TypeScript one to what it returned.
   */
  call(
    name: string,
    args?: Record<string, unknown> | readonly unknown[],
    options?: QueryOptions,
  ): Promise<unknown> {
    this.refuseInTransaction("call", `tx.execute("call ${name}(...)")`);
    return this.callNow(name, args, options);
  }

  private async callNow(
    name: string,
    args: Record<string, unknown> | readonly unknown[] | undefined,
    options: QueryOptions | undefined,
  ): Promise<unknown> {
    const deadline = this.deadlineOf(options);
    const resolved = this.procedures.resolve(this.engine.catalog, name);
    const procedure = resolved.procedure;
    const coerced = coerceArguments(procedure.name, procedure.params, args);
    if (this.durability === "async") await this.writable(); // as in runRql
    const origin = procedureOrigin(procedure.name, coerced);
    let result: unknown;
    try {
      // The deadline covers the RQL the procedure runs (a TypeScript body's own code is not
      // checked: only the scripts it executes tick). The arrows are written inline: tsx names
      // a `const f = () => ...` with a defineProperty each time it is made (~320 ns).
      result = this.engine.transactWith(
        this,
        (db: EmbeddedDatabase): unknown =>
          withinDeadline(deadline, () => db.runProcedure(name, coerced)),
        { origin },
      );
    } catch (error) {
      await this.durableIfSync();
      throw inProcedureBody(error, procedure.name);
    }
    await this.durableIfSync();
    return result instanceof FramesResult ? { frames: result.frames } : result;
  }

  /**
   * The async entry points run as their own transaction after an await. Started inside a
   * transaction (a procedure's `run`), they would commit on their own after it ended, even
   * when it rolled back, so they are refused there; `instead` names what runs inside it.
   * The refusal is thrown, not returned as a rejected promise: it fails the transaction, and
   * a promise the procedure did not await would be an unhandled rejection (a server exits).
   */
  private refuseInTransaction(entry: string, instead: string): void {
    if (this.engine.current === undefined) return;
    throw new DbError(
      "TXN_ASYNC",
      `db.${entry} cannot run inside a transaction (it would commit on its own after it); ` +
        `use ${instead} there`,
      { value: entry },
    );
  }

  /** `call` inside an RQL script: runs in the script's transaction. */
  private callInTransaction(name: string, args: readonly unknown[], entry: EntryPoint): unknown {
    const resolved = this.procedures.resolve(this.engine.catalog, name);
    const procedure = resolved.procedure;
    if (resolved.kind === "native")
      checkProcedureRole(procedure.name, resolved.procedure.role, entry);
    // One record argument names the parameters when every key is a parameter's name.
    const first = args[0];
    const names = new Set(procedure.params.map((param) => param.name));
    const named =
      args.length === 1 && isRecord(first) && Object.keys(first).every((key) => names.has(key));
    const input = named ? first : args;
    return this.runProcedure(name, coerceArguments(procedure.name, procedure.params, input));
  }

  /** Runs a procedure with checked arguments inside the running transaction. */
  private runProcedure(name: string, args: Record<string, unknown>): unknown {
    if (this.procedureDepth >= procedureCallDepthMax) {
      throw new DbError(
        "LIMIT_EXCEEDED",
        `procedure calls nest deeper than ${procedureCallDepthMax}`,
        {
          object: name,
        },
      );
    }
    const resolved = this.procedures.resolve(this.engine.catalog, name);
    this.procedureDepth++;
    try {
      if (resolved.kind === "native") return resolved.procedure.run(this, args);
      const tx = this.engine.current!;
      const { frames } = executeScript(resolved.procedure.script, tx, this.engine.catalog, {
        entry: "admin",
        params: args,
        host: this.rqlHost,
        synchronous: true,
      });
      return new FramesResult(frames);
    } finally {
      this.procedureDepth--;
    }
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
    if (!(object instanceof SystemTable)) assertionFailed(`system::${table} is not a system table`);
    return object.scan();
  }

  // ---- Schema ----

  createNamespace(name: string, options: CreateOptions = {}): boolean {
    checkCreateFlags(name, options);
    return this.engine.write((tx) =>
      this.engine.catalog.createNamespace(tx, name, options.ifNotExists === true),
    );
  }

  createTable<R extends object = Record<string, unknown>>(
    name: string,
    options: TableOptions,
    create: CreateOptions = {},
  ): TableHandle<R> {
    checkCreateOptions("table", name, options, create);
    this.create(tableDefinition(name, options), create);
    return this.table<R>(name);
  }

  createRingBuffer<R extends object = Record<string, unknown>>(
    name: string,
    options: RingBufferOptions,
    create: CreateOptions = {},
  ): RingBufferHandle<R> {
    checkCreateOptions("ring buffer", name, options, create);
    this.create(ringBufferDefinition(name, options), create);
    return this.ringBuffer<R>(name);
  }

  createSeries<R extends object = Record<string, unknown>>(
    name: string,
    options: SeriesOptions,
    create: CreateOptions = {},
  ): SeriesHandle<R> {
    checkCreateOptions("series", name, options, create);
    this.create(seriesDefinition(name, options), create);
    return this.series<R>(name);
  }

  createCounter(
    name: string,
    options: CounterOptions = {},
    create: CreateOptions = {},
  ): CounterHandle {
    checkCreateOptions("counter", name, options, create);
    this.create(counterDefinition(name, options), create);
    return this.counter(name);
  }

  createHistogram(
    name: string,
    options: HistogramOptions = {},
    create: CreateOptions = {},
  ): HistogramHandle {
    checkCreateOptions("histogram", name, options, create);
    this.create(histogramDefinition(name, options), create);
    return this.histogram(name);
  }

  createQueue<B = unknown>(
    name: string,
    options: QueueOptions = {},
    create: CreateOptions = {},
  ): QueueHandle<B> {
    checkCreateOptions("queue", name, options, create);
    this.create(queueDefinition(name, options), create);
    return this.queue<B>(name);
  }

  createView<R extends object = Record<string, unknown>>(
    name: string,
    options: ViewOptions,
    create: CreateOptions = {},
  ): ViewHandle<R> {
    checkCreateOptions("view", name, options, create);
    this.create(viewDefinition(name, options), create);
    return this.view<R>(name);
  }

  view<R extends object = Record<string, unknown>>(name: string): ViewHandle<R> {
    return this.handle(name, "view", () => this.viewHandle<R>(name));
  }

  private viewHandle<R extends object>(name: string): ViewHandle<R> {
    const views = this.views;
    const object = (): ViewObject => {
      const view = this.engine.catalog.require(name, "view");
      if (!(view instanceof ViewObject)) assertionFailed(`${name} is not a view object`);
      return view;
    };
    return {
      name,
      get mode() {
        return object().mode;
      },
      get size() {
        return object().size;
      },
      get: (key) => object().get(key) as R | undefined,
      has: (key) => object().get(key) !== undefined,
      scan: () => [...object().scan()] as R[],
      get lag() {
        return views.lagOf(name);
      },
      settled: () => views.settled(),
    };
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

  /** Retained commits come from memory; older ones from the log (after a flush). */
  async readCommits(fromSeq: number, limit: number): Promise<Commit[]> {
    this.refuseClosed("readCommits");
    if (
      !Number.isSafeInteger(fromSeq) ||
      fromSeq < 1 ||
      !Number.isSafeInteger(limit) ||
      limit < 0
    ) {
      throw new DbError(
        "INVALID_ARGUMENT",
        "readCommits(): fromSeq must be a whole number >= 1 and limit a whole number >= 0, " +
          `got fromSeq ${describeValue(fromSeq)}, limit ${describeValue(limit)}`,
        { value: describeValue(fromSeq) },
      );
    }
    const ring = this.engine.retained;
    let commits: Commit[] = [];
    if (fromSeq < ring.oldestSeq && this.log !== undefined) {
      await this.flush();
      commits = await this.log.readCommits(fromSeq, limit);
    }
    const last = this.engine.seq;
    let next = commits.length === 0 ? Math.max(fromSeq, ring.oldestSeq) : commits.at(-1)!.seq + 1;
    for (; next <= last && commits.length < limit; next++) {
      const commit = ring.get(next);
      if (commit === undefined) break; // the ring moved on while the log was read
      commits.push(commit);
    }
    return commits;
  }

  async logStats(): Promise<LogStats | undefined> {
    this.refuseClosed("logStats");
    return this.log?.stats();
  }

  /** Every call waits for the one close: a second caller may reopen the directory next. */
  close(): Promise<void> {
    if (this.engine.current !== undefined) {
      // Refused, not remembered: the close after the transaction must still work.
      const error = new DbError("TXN_ASYNC", "db.close() cannot run inside a transaction");
      return Promise.reject(error);
    }
    this.closed ??= this.closeOnce();
    return this.closed;
  }

  private async closeOnce(): Promise<void> {
    this.engine.close();
    this.closing.abort();
    await this.backend?.close();
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date)
  );
}
