/**
 * @module Public types of the embedded API. No runtime code: implementations are typed
 * against these contracts and never exported themselves.
 */
import type { Clock } from "./lib/clock.ts";
import type { Commit, Origin } from "./engine/index.ts";
import type { KeyVersion } from "./durability.ts";
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
   * `history()` and audit. Default: no time constraint.
   */
  logRetentionMs?: number;
  /** Receives recovery warnings and progress; default: one line each on stderr. */
  onMessage?: (kind: "warning" | "progress", message: string) => void;
  /** Time source; tests pass a manual clock. */
  clock?: Clock;
  /** Commits kept in memory for `changes({ fromSeq })` (default 1,024). */
  commitsRetained?: number;
}

export interface TransactOptions {
  /** What caused this commit, recorded with it for audit. */
  origin?: Origin;
  /** Overrides the database's durability for this commit: `sync` starts its fsync at once. */
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
  drop(name: string, options?: DropOptions): boolean;
  /** Rolls the transaction back with TXN_ABORTED. */
  abort(reason?: string): never;
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
  /** Resolves when commit `seq` (default: the last) is on disk; at once in memory mode. */
  durable(seq?: number): Promise<void>;
  /**
   * Back-pressure for `async` durability: resolves at once while the log keeps up, or once
   * the log has caught up when its oldest commit not on disk is older than the window.
   * Writers that await it before each commit keep their possible loss within the window.
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
  /** Called synchronously after every commit; returns the unsubscribe function. */
  addCommitListener(listener: (commit: Commit) => void): () => void;
  close(): Promise<void>;
}
