/**
 * @module One engine transaction: the ordered changes it made, the object each change belongs
 * to (for rollback), and rare undo actions that have no change of their own. Primitives mutate
 * state in place and record a change; rollback reverts the changes in reverse order, so a
 * transaction always sees its own writes and a throw leaves no trace.
 */
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { changesPerTransactionMax } from "../lib/limits.ts";
import { changedColumnsUnknown } from "./types.ts";
import type { Change, ChangeObserver, Commit, Origin, StoredObject } from "./types.ts";

/** A change record with a fixed shape, so V8 keeps every access monomorphic. */
export class ChangeRecord implements Change {
  constructor(
    readonly object: string,
    readonly kind: string,
    readonly key: unknown,
    readonly before: unknown,
    readonly after: unknown,
  ) {}
}

/**
 * A commit with a fixed shape, made by a constructor rather than an object literal: the change
 * feed keeps the last commits, and V8 may decide to allocate a literal's later objects in the
 * old generation when one scavenge finds all of them alive (docs/performance.md, "Runs in a
 * slow mode"). A constructor's objects have no allocation site, so they always start young.
 */
export class CommitRecord implements Commit {
  constructor(
    readonly seq: number,
    readonly ts: number,
    readonly origin: Origin,
    readonly changes: readonly Change[],
  ) {}
}

/**
 * Arrays a transaction needs only while it runs, which the engine keeps for the next one: a
 * fresh array's first push allocates room for 16 entries, and with one change per commit that
 * was a third of the memory a commit allocated. The change list is one of them: the commit
 * takes an exact copy, which is what the change feed, the log and the views' history retain.
 */
export class TransactionScratch {
  readonly changes: Array<Change | undefined> = [];
  readonly targets: Array<StoredObject | undefined> = [];
  readonly observed: number[] = [];
  inUse = false;
}

/** A running transaction. Handed to primitives; never outlives `engine.transact`. */
export class Transaction {
  /**
   * Changes in the order they happened: the first `changeCountValue` entries. Entries past
   * them are stale (left by a rollback or by an earlier transaction that used the same
   * scratch), as are those of `targets`.
   */
  private readonly changes: Array<Change | undefined>;
  private changeCountValue = 0;
  /** `targets[i]` is the object `changes[i]` belongs to. */
  private readonly targets: Array<StoredObject | undefined>;
  /** How many entries of `targets` this transaction set: cleared on close. */
  private targetsSet = 0;
  private undoActions: Array<{ at: number; undo: () => void }> | undefined;
  /** Change and undo-action counts at each savepoint; savepoint id n is `marks[n - 1]`. */
  private marks: Array<{ changeCount: number; undoCount: number }> | undefined;
  /**
   * Indexes of the changes the observer took, ascending (a change is listed before the
   * changes recorded while the observer handles it): each is handed back to
   * `observer.onRevert` when rolled back (one small integer instead of an undo closure).
   */
  private readonly observed: number[];
  /** How many entries of `observed` are this transaction's. */
  private observedCount = 0;
  private closed = false;
  private readonly scratch: TransactionScratch | undefined;

  constructor(
    /** The time every decision of this transaction uses; becomes the commit's `ts`. */
    readonly now: number,
    readonly readOnly: boolean,
    /** Transactional views: fed each change synchronously (see {@link ChangeObserver}). */
    private readonly observer?: ChangeObserver,
    scratch?: TransactionScratch,
  ) {
    assert(Number.isFinite(now), "transaction time must be finite");
    if (scratch !== undefined && !scratch.inUse) {
      scratch.inUse = true;
      this.scratch = scratch;
      this.changes = scratch.changes;
      this.targets = scratch.targets;
      this.observed = scratch.observed;
    } else {
      this.scratch = undefined;
      this.changes = [];
      this.targets = [];
      this.observed = [];
    }
  }

  /** How many changes the transaction has made so far. */
  get changeCount(): number {
    return this.changeCountValue;
  }

  /** The changes so far, in order, as a new array of exactly their number. */
  copyChanges(): Change[] {
    // A builtin's copy, although an array literal costs less for a few changes: the change
    // feed keeps these arrays, and a literal's can end up pretenured (see CommitRecord).
    return (this.changes as Change[]).slice(0, this.changeCountValue);
  }

  /**
   * Records a change the caller has already applied to `target`; if it is refused (read-only,
   * too many changes), it is reverted before the throw. `changedColumns`: which columns an
   * update changed, when the caller knows (see {@link ChangeObserver.onChange}).
   */
  record(
    target: StoredObject,
    change: Change,
    changedColumns: number = changedColumnsUnknown,
  ): void {
    assert(!this.closed, "change recorded on a closed transaction");
    assert(target.name === change.object, "change recorded against the wrong object");
    if (this.readOnly) {
      target.revertChange(change);
      throw new DbError("READ_ONLY", `${change.object}: this transaction is read-only`, {
        object: change.object,
      });
    }
    const index = this.changeCountValue;
    if (index >= changesPerTransactionMax) {
      // The caller has applied the change, and a change never recorded is never reverted.
      target.revertChange(change);
      throw new DbError(
        "LIMIT_EXCEEDED",
        `a transaction may make at most ${changesPerTransactionMax} changes`,
        { object: change.object },
      );
    }
    this.changes[index] = change;
    this.changeCountValue = index + 1;
    this.targets[index] = target;
    if (index >= this.targetsSet) this.targetsSet = index + 1;
    const observer = this.observer;
    if (observer !== undefined && observer.observes(change.object)) {
      this.notify(observer, change, changedColumns);
    }
  }

  /**
   * Feeds one change to the observer as a unit with the change itself: if the observer throws
   * (a view expression fails), the change and whatever was recorded for it are reverted, so a
   * caller that catches the error is left with no half-maintained view. No savepoint object is
   * opened: this runs for every observed change, and the two counts on the stack suffice.
   */
  private notify(observer: ChangeObserver, change: Change, changedColumns: number): void {
    const changeIndex = this.changeCountValue - 1;
    assert(this.changes[changeIndex] === change, "observer notified of an older change");
    const undoCount = this.undoActions?.length ?? 0;
    const depth = this.marks?.length ?? 0;
    // Pushed before the call: changes the observer records meanwhile come after it.
    this.observed[this.observedCount++] = changeIndex;
    try {
      observer.onChange(this, change, changedColumns);
    } catch (error) {
      // The observer undid its own part for this change; it is not told of its revert.
      this.revertTo(changeIndex, undoCount, changeIndex);
      throw error;
    }
    assert((this.marks?.length ?? 0) === depth, "observer left a savepoint open");
  }

  /** Fails before a write if the transaction is read-only (so nothing is half-applied). */
  assertWritable(object: string): void {
    if (this.readOnly) {
      throw new DbError("READ_ONLY", `${object}: this transaction is read-only`, { object });
    }
  }

  /** Registers an undo action for state that no change describes (e.g. id allocation). */
  onRollback(undo: () => void): void {
    assert(!this.closed, "undo registered on a closed transaction");
    this.undoActions ??= [];
    this.undoActions.push({ at: this.changeCountValue, undo });
  }

  /**
   * Opens a savepoint, used by nested `transact` calls; returns its id (0 stands for the start
   * of the transaction). Savepoints nest: each is closed by {@link release} or
   * {@link rollbackTo}, innermost first. A savepoint remembers how many undo actions existed,
   * because an action registered just before it (an allocation by an op that then failed, so
   * recorded no change) has the same change count as one registered just after it.
   */
  savepoint(): number {
    this.marks ??= [];
    this.marks.push({
      changeCount: this.changeCountValue,
      undoCount: this.undoActions?.length ?? 0,
    });
    return this.marks.length;
  }

  /** Closes the innermost savepoint, keeping its changes in the transaction. */
  release(savepoint: number): void {
    assert(savepoint >= 1, "release of the transaction start");
    assert(savepoint === this.marks?.length, "savepoints close innermost first");
    this.marks.pop();
  }

  /** Reverts everything after `savepoint`, newest first, interleaving undo actions; closes it. */
  rollbackTo(savepoint: number): void {
    const depth = this.marks?.length ?? 0;
    assert(savepoint === 0 || savepoint === depth, "savepoints close innermost first");
    const mark = savepoint === 0 ? undefined : this.marks![savepoint - 1]!;
    this.revertTo(mark?.changeCount ?? 0, mark?.undoCount ?? 0, -1);
    if (this.marks !== undefined) this.marks.length = Math.max(0, savepoint - 1);
  }

  /**
   * Reverts the changes from index `changeCount` on, newest first, with the undo actions
   * registered after the first `undoCount`; an observed change is handed back to the observer
   * (after the actions registered after it, before its own revert), except change `untaken`.
   */
  private revertTo(changeCount: number, undoCount: number, untaken: number): void {
    assert(!this.closed, "rollback of a closed transaction");
    assert(changeCount <= this.changeCountValue, "savepoint out of range");
    const actions = this.undoActions;
    const observed = this.observed;
    for (let i = this.changeCountValue - 1; i >= changeCount; i--) {
      this.runUndoActionsAfter(actions, i, undoCount);
      const change = this.changes[i]!;
      if (this.observedCount > 0 && observed[this.observedCount - 1] === i) {
        this.observedCount--;
        if (i !== untaken) this.observer!.onRevert(this, change);
      }
      this.targets[i]!.revertChange(change);
    }
    this.runUndoActionsAfter(actions, changeCount - 1, undoCount);
    this.changeCountValue = changeCount;
  }

  /** Ends the transaction; no more changes may be recorded. Its scratch goes back, emptied. */
  close(): void {
    assert(!this.closed, "transaction closed twice");
    this.closed = true;
    // Dropped objects must not stay reachable from the engine's scratch. A loop, not fill():
    // Array.prototype.fill is a C++ builtin here, about 200 instructions per call.
    const changes = this.changes;
    const targets = this.targets;
    for (let i = 0; i < this.targetsSet; i++) {
      changes[i] = undefined;
      targets[i] = undefined;
    }
    this.targetsSet = 0;
    this.changeCountValue = 0;
    this.observedCount = 0;
    if (this.scratch !== undefined) this.scratch.inUse = false;
  }

  /**
   * Runs undo actions registered after change `index` was recorded, newest first, keeping the
   * first `keep` (those registered before the savepoint being rolled back to).
   */
  private runUndoActionsAfter(
    actions: Array<{ at: number; undo: () => void }> | undefined,
    index: number,
    keep: number,
  ): void {
    if (actions === undefined) return;
    while (actions.length > keep && actions[actions.length - 1]!.at > index) {
      actions.pop()!.undo();
    }
  }
}
