/**
 * @module One engine transaction: the ordered changes it made, the object each change belongs
 * to (for rollback), and rare undo actions that have no change of their own. Primitives mutate
 * state in place and record a change; rollback reverts the changes in reverse order, so a
 * transaction always sees its own writes and a throw leaves no trace.
 */
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { changesPerTransactionMax } from "../lib/limits.ts";
import type { Change, StoredObject } from "./types.ts";

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

/** A running transaction. Handed to primitives; never outlives `engine.transact`. */
export class Transaction {
  /** Changes in the order they happened. */
  readonly changes: Change[] = [];
  /** `targets[i]` is the object `changes[i]` belongs to. */
  private readonly targets: StoredObject[] = [];
  private undoActions: Array<{ at: number; undo: () => void }> | undefined;
  private closed = false;

  constructor(
    /** The time every decision of this transaction uses; becomes the commit's `ts`. */
    readonly now: number,
    readonly readOnly: boolean,
  ) {
    assert(Number.isFinite(now), "transaction time must be finite");
  }

  /** Records a change the caller has already applied to `target`. */
  record(target: StoredObject, change: Change): void {
    assert(!this.closed, "change recorded on a closed transaction");
    assert(target.name === change.object, "change recorded against the wrong object");
    if (this.readOnly) {
      throw new DbError("READ_ONLY", `${change.object}: this transaction is read-only`, {
        object: change.object,
      });
    }
    if (this.changes.length >= changesPerTransactionMax) {
      throw new DbError(
        "LIMIT_EXCEEDED",
        `a transaction may make at most ${changesPerTransactionMax} changes`,
        { object: change.object },
      );
    }
    this.changes.push(change);
    this.targets.push(target);
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
    this.undoActions.push({ at: this.changes.length, undo });
  }

  /** A point to roll back to: used by nested `transact` calls as savepoints. */
  savepoint(): number {
    return this.changes.length;
  }

  /** Reverts everything after `savepoint`, newest first, interleaving undo actions. */
  rollbackTo(savepoint: number): void {
    assert(savepoint >= 0 && savepoint <= this.changes.length, "savepoint out of range");
    const actions = this.undoActions;
    for (let i = this.changes.length - 1; i >= savepoint; i--) {
      this.runUndoActionsAfter(actions, i);
      this.targets[i]!.revertChange(this.changes[i]!);
    }
    this.runUndoActionsAfter(actions, savepoint - 1);
    this.changes.length = savepoint;
    this.targets.length = savepoint;
  }

  /** Ends the transaction; no more changes may be recorded. */
  close(): void {
    assert(!this.closed, "transaction closed twice");
    this.closed = true;
  }

  /** Runs undo actions registered after change `index` was recorded, newest first. */
  private runUndoActionsAfter(
    actions: Array<{ at: number; undo: () => void }> | undefined,
    index: number,
  ): void {
    if (actions === undefined) return;
    while (actions.length > 0 && actions[actions.length - 1]!.at > index) {
      actions.pop()!.undo();
    }
  }
}
