/**
 * @module The transactional engine: one catalog, serial transactions, gapless commit
 * sequence numbers and the commit listeners that feed everything downstream. Every
 * transaction runs synchronously to completion before the next starts, so every schedule is
 * serial (serializable isolation without locks). A throw reverts the transaction's changes.
 */
import { assert, assertionFailed } from "../lib/assert.ts";
import type { Clock } from "../lib/clock.ts";
import { DbError, describeValue } from "../lib/errors.ts";
import { changeFeedCommitsRetainedMax, listenersMax } from "../lib/limits.ts";
import { Catalog } from "./catalog.ts";
import { CommitRing } from "./change-feed.ts";
import { CommitRecord, Transaction, TransactionScratch } from "./transaction.ts";
import type { ChangeObserver, Commit, Origin, TransactOptions } from "./types.ts";

/** The range of a JavaScript Date: the times a clock may give, in ms either side of 1970. */
const clockReadingMsMax = 8.64e15;

/** Origin of commits made through the embedded API without an explicit origin. */
export const apiOrigin: Origin = Object.freeze({ kind: "api" });

export interface EngineOptions {
  clock: Clock;
  /** Commits kept in memory for change-feed readers. */
  commitsRetained: number;
  /** A read-only engine refuses every write (time travel, followers). */
  readOnly?: boolean;
  /**
   * Called with each commit before it is published, still inside its transaction: the log
   * appends the record here. A throw rolls the transaction back.
   */
  prepareCommit?: (commit: Commit) => void;
}

/** The transactional core. Synchronous; no IO. */
export class Engine {
  readonly catalog = new Catalog();
  readonly clock: Clock;
  readonly readOnly: boolean;
  readonly retained: CommitRing;
  private lastSeq = 0;
  private lastTs = 0;
  private active: Transaction | undefined;
  /** Replaced, never mutated: publish() iterates the array it started with (copy on write). */
  private listeners: ReadonlyArray<(commit: Commit) => void> = [];
  private lastCommitValue: Commit | undefined;
  private closedValue = false;
  private prepareCommit: ((commit: Commit) => void) | undefined;
  private changeObserver: ChangeObserver | undefined;
  private readonly scratch = new TransactionScratch();
  /** Set while listeners see a commit; commits made meanwhile wait in the queue, in order. */
  private publishing = false;
  private readonly publishQueue: Array<{
    commit: Commit;
    listeners: ReadonlyArray<(commit: Commit) => void>;
  }> = [];

  constructor(options: EngineOptions) {
    assert(options.commitsRetained >= 0, "commitsRetained must not be negative");
    if (options.commitsRetained > changeFeedCommitsRetainedMax) {
      throw new DbError(
        "LIMIT_EXCEEDED",
        `commitsRetained may be at most ${changeFeedCommitsRetainedMax}`,
      );
    }
    this.clock = options.clock;
    this.readOnly = options.readOnly ?? false;
    this.retained = new CommitRing(options.commitsRetained);
    this.prepareCommit = options.prepareCommit;
  }

  /** Sequence number of the last commit (0 before the first). */
  get seq(): number {
    return this.lastSeq;
  }

  get lastCommit(): Commit | undefined {
    return this.lastCommitValue;
  }

  /** The running transaction, if a `transact` call is on the stack. */
  get current(): Transaction | undefined {
    return this.active;
  }

  get closed(): boolean {
    return this.closedValue;
  }

  /**
   * Runs `fn` as one transaction and commits it; returns what `fn` returns. Nested calls join
   * the running transaction as a savepoint: a throw inside reverts only the nested part.
   */
  transact<T>(fn: (tx: Transaction) => T, options?: TransactOptions): T {
    return this.transactWith(
      undefined,
      fn as unknown as (scope: undefined, tx: Transaction) => T,
      options,
    );
  }

  /**
   * Like {@link transact}, but calls `fn(scope, tx)`: lets a caller hand its own API object
   * to the function without allocating a closure per transaction.
   */
  transactWith<S, T>(scope: S, fn: (scope: S, tx: Transaction) => T, options?: TransactOptions): T {
    if (this.closedValue) throw new DbError("DATABASE_CLOSED", "the database is closed");
    if (this.active !== undefined) {
      const active = this.active;
      // transact() passes scope undefined and a one-argument function (see above).
      const call =
        scope === undefined
          ? () => (fn as unknown as (tx: Transaction) => T)(active)
          : () => fn(scope, active);
      return this.nested(active, call);
    }
    const tx = new Transaction(
      this.nextTimestamp(),
      this.readOnly,
      this.changeObserver,
      this.scratch,
    );
    this.active = tx;
    let result: T;
    let commit: Commit | undefined;
    try {
      result = scope === undefined ? (fn as unknown as (tx: Transaction) => T)(tx) : fn(scope, tx);
      if (isThenable(result)) {
        ignoreOutcome(result);
        throw new DbError(
          "TXN_ASYNC",
          "a transaction function must be synchronous: it returned a promise, so it was rolled " +
            "back; do async work before or after db.transact",
        );
      }
      if (tx.changeCount > 0) {
        const origin = options?.origin ?? apiOrigin;
        commit = new CommitRecord(this.lastSeq + 1, tx.now, origin, tx.copyChanges());
        // The log takes the record here; if it refuses (too large, failed disk), the
        // transaction is still open and rolls back like any other failure.
        this.prepareCommit?.(commit);
      }
    } catch (error) {
      tx.rollbackTo(0);
      throw error;
    } finally {
      tx.close();
      this.active = undefined;
    }
    if (commit !== undefined) this.publish(commit);
    return result;
  }

  /** Installs the hook that sees each commit before it is published (the log's append). */
  setCommitPreparer(prepare: ((commit: Commit) => void) | undefined): void {
    assert(this.active === undefined, "commit preparer changed inside a transaction");
    this.prepareCommit = prepare;
  }

  /** Installs the observer that sees each change as it is recorded (transactional views). */
  setChangeObserver(observer: ChangeObserver | undefined): void {
    assert(this.active === undefined, "change observer changed inside a transaction");
    this.changeObserver = observer;
  }

  /** Runs `fn` in the current transaction, or in a new one (auto-commit) when there is none. */
  write<T>(fn: (tx: Transaction) => T, origin?: Origin): T {
    const tx = this.active;
    if (tx !== undefined) return fn(tx);
    return this.transact(fn, origin === undefined ? undefined : { origin });
  }

  /** Re-applies a commit made elsewhere (recovery, replication). Its seq must be next. */
  applyCommit(commit: Commit): void {
    assert(this.active === undefined, "cannot apply a commit inside a transaction");
    if (commit.seq !== this.lastSeq + 1)
      assertionFailed(`commit ${commit.seq} applied after ${this.lastSeq}`);
    this.changeObserver?.applied?.(commit);
    for (const change of commit.changes) {
      const target =
        change.object === this.catalog.name ? this.catalog : this.catalog.require(change.object);
      target.applyChange(change);
    }
    this.lastTs = Math.max(this.lastTs, commit.ts);
    this.publish(commit);
  }

  /** Sets the position of an engine restored from a snapshot taken after commit `seq`. */
  restorePosition(seq: number, ts: number): void {
    assert(this.lastSeq === 0 && this.active === undefined, "restorePosition on a used engine");
    assert(Number.isSafeInteger(seq) && seq >= 0, "snapshot seq must be a whole number");
    this.lastSeq = seq;
    this.lastTs = ts;
    this.retained.reset(seq);
  }

  /** Calls `listener` after every commit, in commit order; returns the unsubscribe function. */
  addCommitListener(listener: (commit: Commit) => void): () => void {
    if (this.listeners.length >= listenersMax) {
      throw new DbError("LIMIT_EXCEEDED", `at most ${listenersMax} commit listeners`);
    }
    // Copy on write: a listener that unsubscribes (itself or another) while a commit is
    // published must not make publish() skip the next listener for that commit.
    this.listeners = [...this.listeners, listener];
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners = this.listeners.toSpliced(index, 1);
    };
  }

  close(): void {
    assert(this.active === undefined, "close() called inside a transaction");
    this.closedValue = true;
  }

  private nested<T>(tx: Transaction, fn: (tx: Transaction) => T): T {
    const savepoint = tx.savepoint();
    try {
      const result = fn(tx);
      if (isThenable(result)) {
        ignoreOutcome(result);
        throw new DbError("TXN_ASYNC", "a nested transaction function returned a promise");
      }
      tx.release(savepoint);
      return result;
    } catch (error) {
      tx.rollbackTo(savepoint);
      throw error;
    }
  }

  private publish(commit: Commit): void {
    this.lastSeq = commit.seq;
    this.lastCommitValue = commit;
    this.retained.push(commit);
    const listeners = this.listeners;
    // A listener that commits (an audit write) must not show its commit to the listeners
    // after it before the one being published: they would see seqs out of order. It waits,
    // for the listeners there were when it was made (a later one starts after it, as ever).
    if (this.publishing) {
      this.publishQueue.push({ commit, listeners });
      return;
    }
    this.publishing = true;
    try {
      this.notifyListeners(commit, listeners);
      while (this.publishQueue.length > 0) {
        const next = this.publishQueue.shift()!;
        this.notifyListeners(next.commit, next.listeners);
      }
    } finally {
      this.publishing = false;
    }
  }

  private notifyListeners(
    commit: Commit,
    listeners: ReadonlyArray<(commit: Commit) => void>,
  ): void {
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!(commit);
      } catch (error) {
        // The commit stands whatever a listener does; surface the failure, never swallow it.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /**
   * Commit times never go backwards, even if the wall clock does. They are whole ms (a clock
   * with fractions would make fractional int8 times: queue deadlines, enqueue times), and a
   * reading that is no time (NaN, Infinity, past a Date's range) is refused, never kept.
   */
  private nextTimestamp(): number {
    const reading = this.clock.now();
    const now = Math.floor(reading);
    if (!(Math.abs(now) <= clockReadingMsMax)) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `clock.now() returned ${describeValue(reading)}: a clock gives Unix ms within ` +
          `±${clockReadingMsMax}`,
        { value: describeValue(reading) },
      );
    }
    this.lastTs = now > this.lastTs ? now : this.lastTs;
    return this.lastTs;
  }
}

/**
 * Marks a refused promise's rejection as handled: the caller gets TXN_ASYNC instead and can
 * no longer observe it, and an unhandled rejection would end the process (a server whose
 * procedure is an async function that throws).
 */
function ignoreOutcome(thenable: unknown): void {
  // Promise.resolve calls a foreign `then` later, so even one that throws cannot escape here.
  Promise.resolve(thenable as PromiseLike<unknown>).catch(() => undefined);
}

function isThenable(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
