/**
 * @module Public types of the embedded API. No runtime code: implementations are typed
 * against these contracts and never exported themselves.
 */
import type { Clock } from "./lib/clock.ts";
import type { DbError } from "./lib/errors.ts";
import type { Commit, Origin } from "./engine/index.ts";
import type { KeyVersion, LogStats } from "./durability.ts";
import type {
  CounterHandle,
  CounterOptions,
  HistogramHandle,
  HistogramOptions,
  QueueHandle,
  QueueOptions,
  RingBufferHandle,
  RingBufferOptions,
  SeriesHandle,
  SeriesOptions,
  TableHandle,
  TableOptions,
} from "./primitives/index.ts";
import type {
  QueryParams,
  QueryResult,
  RowDelta,
  SubscriptionMessage,
  SubscriptionTarget,
} from "./protocol/index.ts";

export type { Commit, LogStats, Origin };
export type { QueryParams, QueryResult, RowDelta, SubscriptionMessage, SubscriptionTarget };
export type {
  CounterOptions,
  HistogramOptions,
  QueueOptions,
  RingBufferOptions,
  SeriesOptions,
  TableOptions,
};

/** How commits reach disk. Only `memory` exists until the write-ahead log lands. */
export type Durability = "sync" | "async" | "memory";

export interface OpenOptions {
  /** Data directory: state is recovered from its log and every commit is logged there. */
  path?: string;
  /**
   * `sync`: a commit is durable when `await db.durable()` resolves (group commit, one fsync
   * for every commit waiting); `async` (default with a path): on disk within
   * `durabilityWindowMs`; `memory` (default without a path): nothing on disk.
   */
  durability?: Durability;
  /** Bound for `async` commits, in ms (default 10). */
  durabilityWindowMs?: number;
  /** Size of preallocated log segments (default 64 MiB). */
  segmentSizeBytes?: number;
  /** Take a snapshot after this much log (default 256 MiB); 0 turns automatic ones off. */
  snapshotLogBytes?: number;
  /**
   * Retention: how many snapshots to keep (default 2); the log before the oldest kept one is
   * removed. `Infinity` keeps every snapshot and the whole log.
   */
  snapshotsKept?: number;
  /**
   * Retention by time: also keep every log record younger than this (ms), for `at()`,
   * `history()` and audit, and the snapshot `at()` starts from, so disk holds up to two spans
   * of log (docs/log-format.md, "Snapshots"). Default: no time constraint.
   */
  logRetentionMs?: number;
  /** Receives recovery warnings and progress; default: one line each on stderr. */
  onMessage?: (kind: "warning" | "progress", message: string) => void;
  /** Time source; tests pass a manual clock. */
  clock?: Clock;
  /** Commits kept in memory for `changes({ fromSeq })` (default 1,024). */
  commitsRetained?: number;
  /** State machine settings (docs/machines.md). */
  machines?: {
    /** How long idempotency keys are remembered, in ms of commit time (default 24 h). */
    idempotencyWindowMs?: number;
    /** Versions one machine may have (rstmdb's `max_machine_versions`; default 65,536). */
    versionsMax?: number;
  };
  /**
   * Scale-out: use a NATS JetStream stream as the log instead of local files (docs/scale-out.md).
   * Excludes `path`. One node holds the writer lease; the others follow and refuse writes.
   */
  replicate?: ReplicateOptions;
  /**
   * The deadline of every RQL script and procedure call, in ms of running on the event loop
   * (docs/rql.md, "Deadlines"): past it the script fails with QUERY_TIMEOUT and is undone.
   * Default 0: no limit (a server sets one: `limits.queryTimeoutMs`).
   */
  queryTimeoutMs?: number;
  /**
   * Stops a long recovery: once aborted, open() rejects with `ABORTED` (checked between log
   * records and while a snapshot loads) and leaves the data directory as it was.
   */
  signal?: AbortSignal;
}

/** Where and how a replicated database keeps its log (docs/scale-out.md). */
export interface ReplicateOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  url: string | readonly string[];
  /** JetStream stream holding the log (default `statebase`); names the KV and object buckets. */
  stream?: string;
  /** This node's name in the lease and in status (default: a random id). */
  node?: string;
  /** `auto` (default) may take the writer lease; `follower` never writes. */
  role?: "auto" | "follower";
  /** Replicas of the stream, lease and snapshot buckets when this node creates them (1, 3, 5). */
  replicas?: number;
  /** Lease time to live in ms (default 3,000): failover happens within about this bound. */
  leaseTtlMs?: number;
  /** Writer snapshots after this much published log (default 256 MiB); 0 turns them off. */
  snapshotLogBytes?: number;
  /** Snapshots kept in the object store (default 2). */
  snapshotsKept?: number;
  /** Purge the stream below the oldest kept snapshot (default true). */
  purgeLog?: boolean;
  /** NATS monitoring URL (`http://host:8222`), read once to report the server's sync setting. */
  monitorUrl?: string;
  /**
   * This node's HTTP base URL (`http://host:8090`), published in the writer lease so followers
   * can forward writes to it. A function is read at every lease renewal: a server passes one
   * because its HTTP listener binds after the database opens.
   */
  advertiseHttp?: string | (() => string | undefined);
}

/** What a replicated node reports about itself (`db.replication`, INFO, `serve` at start). */
export interface ReplicationStatus {
  /** `fenced`: another writer appended first; this node must be reopened to serve again. */
  role: "writer" | "follower" | "fenced" | "closed";
  node: string;
  stream: string;
  /** Last commit applied to this node's state. */
  appliedSeq: number;
  /** Last commit known to be acknowledged by JetStream. */
  durableSeq: number;
  /** Stream sequence of the last log message this node has read or written. */
  streamSeq: number;
  /** Commits in the stream this node has not applied yet (0 on the writer). */
  lagCommits: number;
  /** Age of the newest applied commit when it was applied, in ms (followers). */
  lagMs: number;
  /** Replica count of the stream (durability against losing NATS nodes). */
  streamReplicas: number;
  /** The writer lease's time to live this node uses, in ms: the bound on failover. */
  leaseTtlMs: number;
  /** The NATS server's version and its fsync setting as far as it is known. */
  serverVersion: string;
  serverSync: string;
  /** Seq of the newest snapshot in the object store, 0 when there is none. */
  snapshotSeq: number;
  /**
   * The lease holder and the HTTP address it advertises, as this node last read the lease
   * (every lease period); undefined while no node holds it.
   */
  writer: { readonly node: string; readonly http?: string } | undefined;
}

/** Options of one RQL call or procedure call. */
export interface QueryOptions {
  /**
   * This call's deadline in ms, overriding the database's `queryTimeoutMs`; 0: no limit.
   * Past it the call fails with QUERY_TIMEOUT and everything it did is undone.
   */
  timeoutMs?: number;
}

export interface TransactOptions {
  /** What caused this commit, recorded with it for audit. */
  origin?: Origin;
  /**
   * Overrides the database's durability for this commit: `sync` starts its fsync at once.
   * Any other value is INVALID_ARGUMENT (a commit of a database with a path is always logged).
   */
  durability?: "sync" | "async";
}

export interface CreateOptions {
  ifNotExists?: boolean;
}

export interface DropOptions {
  ifExists?: boolean;
}

export interface ChangesOptions {
  /** First commit to deliver; default: the next one. */
  fromSeq?: number;
  signal?: AbortSignal;
}

export type SystemTableName = "namespaces" | "objects" | "columns" | "indexes";

/**
 * What a transaction function receives. Handles obtained from it (or from the database)
 * join the running transaction. Everything here is synchronous: no `await` inside.
 */
export interface Tx {
  /** The transaction's time (Unix ms), identical for every decision it makes. */
  readonly now: number;
  table<R extends object = Record<string, unknown>>(name: string): TableHandle<R>;
  ringBuffer<R extends object = Record<string, unknown>>(name: string): RingBufferHandle<R>;
  series<R extends object = Record<string, unknown>>(name: string): SeriesHandle<R>;
  counter(name: string): CounterHandle;
  histogram(name: string): HistogramHandle;
  queue<B = unknown>(name: string): QueueHandle<B>;
  system(table: SystemTableName): Array<Record<string, unknown>>;
  createNamespace(name: string, options?: CreateOptions): boolean;
  createTable<R extends object = Record<string, unknown>>(
    name: string,
    options: TableOptions,
    create?: CreateOptions,
  ): TableHandle<R>;
  createRingBuffer<R extends object = Record<string, unknown>>(
    name: string,
    options: RingBufferOptions,
    create?: CreateOptions,
  ): RingBufferHandle<R>;
  createSeries<R extends object = Record<string, unknown>>(
    name: string,
    options: SeriesOptions,
    create?: CreateOptions,
  ): SeriesHandle<R>;
  createCounter(name: string, options?: CounterOptions, create?: CreateOptions): CounterHandle;
  createHistogram(
    name: string,
    options?: HistogramOptions,
    create?: CreateOptions,
  ): HistogramHandle;
  createQueue<B = unknown>(
    name: string,
    options?: QueueOptions,
    create?: CreateOptions,
  ): QueueHandle<B>;
  /**
   * Creates an incremental view over an RQL pipeline and populates it from existing rows.
   * @example
   * db.createView("shop::open_counts", {
   *   query: "from shop::orders aggregate { n: math::count(id) } by { customer }",
   * });
   */
  createView<R extends object = Record<string, unknown>>(
    name: string,
    options: ViewOptions,
    create?: CreateOptions,
  ): ViewHandle<R>;
  view<R extends object = Record<string, unknown>>(name: string): ViewHandle<R>;
  drop(name: string, options?: DropOptions): boolean;
  /** Rolls the transaction back with TXN_ABORTED. */
  abort(reason?: string): never;
  /** State machine definitions and instances, inside this transaction. */
  readonly machines: MachinesApi;
  /** Runs an RQL script inside this transaction (entry point default `command`). */
  execute(rql: string, params?: QueryParams, entry?: EntryPoint): QueryResult;
}

/** How a view is defined through the embedded API (RQL: `create view`). */
export interface ViewOptions {
  /** The pipeline, as RQL text: `from shop::orders filter { total > 100 }`. */
  query: string;
  /**
   * `transactional` (default): maintained inside every transaction that changes an input, and
   * readable there. `deferred`: maintained after commit, in a follow-up commit of its own.
   */
  mode?: "transactional" | "deferred";
  /** Declared output columns (name to RQL type); output values are coerced to them. */
  columns?: Readonly<Record<string, string>> | ReadonlyArray<{ name: string; type: string }>;
}

/** A typed handle on a view: reads only; the view's rows change with its inputs. */
export interface ViewHandle<R extends object = Record<string, unknown>> {
  readonly name: string;
  readonly mode: "transactional" | "deferred";
  readonly size: number;
  get(key: unknown): R | undefined;
  has(key: unknown): boolean;
  /** Rows in key order. */
  scan(): R[];
  /** Commits a deferred view is behind (0 when caught up, always 0 when transactional). */
  readonly lag: number;
  /** Resolves when every deferred view has applied every commit so far. */
  settled(): Promise<void>;
}

/** An open database. */
export interface Database extends Tx {
  /** Sequence number of the last commit (0 before the first). */
  readonly seq: number;
  readonly lastCommit: Commit | undefined;
  readonly inTransaction: boolean;
  /**
   * Runs `fn` as one serializable transaction and returns its result. A throw undoes every
   * change it made and propagates. Nested calls are savepoints of the outer transaction.
   * @example
   * db.transact((tx) => tx.counter("shop::visits").add(1));
   * db.counter("shop::visits").get(); // -> 1
   */
  transact<T>(fn: (tx: Tx) => T, options?: TransactOptions): T;
  /** Commits in order from `fromSeq` (retained ones first), then live, until aborted or closed. */
  changes(options?: ChangesOptions): AsyncIterable<Commit>;
  /** The database's durability mode. */
  readonly durability: Durability;
  /**
   * Resolves when commit `seq` (default: the last) is on disk; at once in memory mode. A seq
   * that is not a whole number up to the last commit is INVALID_ARGUMENT.
   */
  durable(seq?: number): Promise<void>;
  /**
   * Back-pressure for `async` durability: resolves at once while the log keeps up, or once
   * the log has caught up when its oldest commit not on disk is older than the window.
   * Writers that await it before each commit keep their possible loss within the window;
   * writers waiting together go on in the order they called it.
   */
  writable(): Promise<void>;
  /** Resolves when every commit so far is on disk. */
  flush(): Promise<void>;
  /**
   * A read-only database as it was right after commit `seq`, or after the last commit at or
   * before a `Date`: rebuilt from the newest snapshot before it plus the log (needs a path).
   */
  at(target: number | Date): Promise<Database>;
  /** Every retained version of one key of one object, oldest first (needs a path). */
  history(object: string, key: unknown): Promise<KeyVersion[]>;
  /** Writes a snapshot of the current state without stopping commits (needs a path). */
  snapshot(): Promise<{ seq: number; sizeBytes: number }>;
  /** RQL, read-only: one transaction, resolves when it is durable per the database's mode. */
  query(rql: string, params?: QueryParams, options?: QueryOptions): Promise<QueryResult>;
  /** RQL that may read and write data. */
  command(rql: string, params?: QueryParams, options?: QueryOptions): Promise<QueryResult>;
  /** RQL that may also change schema (DDL). */
  admin(rql: string, params?: QueryParams, options?: QueryOptions): Promise<QueryResult>;
  /**
   * How each statement of a script would find its rows (primary key or index lookup or
   * range, full scan, join method), one line per access path; nothing runs.
   */
  explain(rql: string): string[];
  /** An initial snapshot then per-commit deltas, in commit order, resumable from a seq. */
  subscribe(target: SubscriptionTarget, options?: SubscribeOptions): Subscription;
  /** Registers an application procedure; each call runs as one transaction. */
  defineProcedure(name: string, definition: ProcedureDefinition): void;
  /** Calls a procedure (TypeScript or RQL-defined) with validated arguments. */
  call(
    name: string,
    args?: Record<string, unknown> | readonly unknown[],
    options?: QueryOptions,
  ): Promise<unknown>;
  /**
   * Called synchronously after every commit; returns the unsubscribe function. A listener
   * that throws does not undo the commit nor stop the other listeners: its error is thrown
   * again on its own (a microtask), an uncaught exception that ends a Node process unless
   * `process.on("uncaughtException")` takes it. Catch inside the listener what may fail.
   */
  addCommitListener(listener: (commit: Commit) => void): () => void;
  /**
   * Up to `limit` commits from `fromSeq` on, in order: from memory when retained, else from
   * the log on disk. Starts at the oldest commit still kept when `fromSeq` is older (RCP's
   * WAL_READ). Empty when `fromSeq` is past the last commit.
   */
  readCommits(fromSeq: number, limit: number): Promise<Commit[]>;
  /** Figures of the write-ahead log (RCP's WAL_STATS); undefined without a path. */
  logStats(): Promise<LogStats | undefined>;
  /** Role, applied seq and lag of a replicated database; undefined without `replicate`. */
  readonly replication?: ReplicationStatus | undefined;
  /**
   * Set once the log takes no more commits (a write or fsync failed, the disk is full; a
   * replicated writer was fenced): every commit is refused from then on, because the state
   * in memory may be ahead of the log. Reopening recovers from the log. Undefined while the
   * log works, and always for a memory-only database.
   */
  readonly failure?: DbError | undefined;
  close(): Promise<void>;
}

// ---- Contracts of the query, machine, procedure and subscription layers ----
// The wire shapes (QueryParams, QueryResult, SubscriptionTarget, RowDelta,
// SubscriptionMessage) are defined once in src/protocol/shapes.ts, shared with the client.
// These shapes are shared by the embedded API and every server protocol (DESIGN.md,
// "Contracts that outside tests rely on"); protocol code maps them, never reshapes them.

/** The three RQL entry points; each allows a superset of the one before. */
export type EntryPoint = "query" | "command" | "admin";

/** A machine definition in rstmdb's JSON DSL (specs/rcp.md §4), plus Statebase extensions. */
export type MachineDefinitionInput = Readonly<Record<string, unknown>>;

/** State machine operations. Results have exactly the RCP result shapes of specs/rcp.md §2.6. */
export interface MachinesApi {
  put(
    machine: string,
    version: number,
    definition: MachineDefinitionInput,
  ): { machine: string; version: number; stored_checksum: string; created: boolean };
  get(machine: string, version: number): { definition: Record<string, unknown>; checksum: string };
  list(): { items: Array<{ machine: string; versions: number[] }> };
  createInstance(params: {
    instance_id?: string;
    machine: string;
    version: number;
    initial_ctx?: unknown;
    idempotency_key?: string;
  }): { instance_id: string; state: string; wal_offset: number };
  getInstance(instanceId: string): {
    machine: string;
    version: number;
    state: string;
    ctx: unknown;
    last_event_id?: string;
    last_wal_offset: number;
  };
  listInstances(params?: { machine?: string; state?: string; limit?: number; offset?: number }): {
    instances: Array<{
      id: string;
      machine: string;
      version: number;
      state: string;
      created_at: number;
      updated_at: number;
      last_wal_offset: number;
    }>;
    total: number;
    has_more: boolean;
  };
  deleteInstance(params: { instance_id: string; idempotency_key?: string }): {
    instance_id: string;
    deleted: true;
    wal_offset: number;
  };
  applyEvent(params: {
    instance_id: string;
    event: string;
    payload?: unknown;
    expected_state?: string;
    expected_wal_offset?: number;
    event_id?: string;
    idempotency_key?: string;
  }): {
    from_state: string;
    to_state: string;
    ctx: unknown;
    wal_offset: number;
    applied: boolean;
    event_id?: string;
  };
  /** Moves instances of `machine` from one version to another with an explicit state map. */
  migrateInstances(params: {
    machine: string;
    from_version: number;
    to_version: number;
    state_map: Readonly<Record<string, string>>;
    instance_ids?: readonly string[];
  }): { migrated: number; wal_offset: number };
  /** Every transition of one instance, oldest first. */
  history(instanceId: string): MachineTransition[];
  /** Fires every durable timer whose deadline is at or before `now`; returns how many fired. */
  fireDueTimers(): number;
  /**
   * The machine operations a commit made, in rstmdb's WAL entry shapes (specs/rcp.md §2.8.2)
   * plus `machine`, `version`, `wal_offset` (= commit seq) and, for applied events, `ctx`.
   * Feeds WAL_READ and watch streams; empty for commits that touched no machine.
   */
  entriesOf(commit: Commit): MachineLogEntry[];
}

/** One machine operation of a commit, as WAL_READ and watch streams report it. */
export type MachineLogEntry =
  | {
      type: "put_machine";
      machine: string;
      version: number;
      definition_hash: string;
      definition: unknown;
    }
  | {
      type: "create_instance";
      instance_id: string;
      machine: string;
      version: number;
      initial_state: string;
      initial_ctx: unknown;
      idempotency_key?: string;
    }
  | {
      type: "apply_event";
      instance_id: string;
      machine: string;
      version: number;
      event: string;
      from_state: string;
      to_state: string;
      payload: unknown;
      ctx: unknown;
      event_id?: string;
      idempotency_key?: string;
    }
  | {
      type: "delete_instance";
      instance_id: string;
      machine: string;
      version: number;
      idempotency_key?: string;
    };

/** One recorded transition of a machine instance. */
export interface MachineTransition {
  seq: number;
  ts: number;
  event: string;
  from_state: string;
  to_state: string;
  payload: unknown;
  event_id?: string;
}

export interface SubscribeOptions {
  /** Resume: deliver only commits after this seq (no snapshot when the seq is retained). */
  fromSeq?: number;
  signal?: AbortSignal;
  /** Undelivered commits a slow subscriber may have queued before it gets `end: lagged`. */
  pendingCommitsMax?: number;
}

export interface Subscription extends AsyncIterable<SubscriptionMessage> {
  close(): void;
}

/** A procedure's typed parameters: name to RQL type text (`int8`, `Option(utf8)`, ...). */
export type ProcedureParams = Readonly<Record<string, string>>;

export interface ProcedureDefinition {
  params: ProcedureParams;
  /** The role a caller needs (servers check it); default `write`. */
  role?: "read" | "write" | "admin";
  run: (tx: Tx, args: Record<string, unknown>) => unknown;
}
