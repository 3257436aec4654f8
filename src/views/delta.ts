/**
 * @module What flows between incremental operators: a keyed row delta in the engine's change
 * shape (`before` absent for an insert, `after` absent for a delete) and the sink an operator
 * pushes to. Operators keep no undo log: what they show is a function of the input rows, so a
 * rollback feeds them the change inverted (view-manager.ts).
 */
import { assert } from "../lib/assert.ts";
import type { Row } from "../primitives/index.ts";

export type { Row } from "../primitives/index.ts";

/** One row-level change. `key` identifies the row in its stream (a primary key, a group). */
export interface Delta {
  readonly key: unknown;
  readonly before: Row | undefined;
  readonly after: Row | undefined;
}

/**
 * The next stage of a pipeline. A delta is lent to `push`: a sink reads it during the call and
 * keeps its key and rows, never the delta itself, so an operator may refill one delta object
 * for every change it emits (no allocation per change).
 */
export interface Sink {
  push(delta: Delta): void;
  /**
   * `push`, for a delta whose `after` surely differs from the row its key had before the input
   * change (an exact sum that moved): a sink that compares rows may skip comparing this one.
   */
  pushDiffering?(delta: Delta): void;
}

/** An operator: a sink whose output goes on to `next`, wired after construction. */
export abstract class Operator implements Sink {
  next: Sink = nowhere;
  /** Set when the operator's state no longer matches its input: the view must be rebuilt. */
  lost = false;
  abstract push(delta: Delta): void;
  /**
   * Pushes `delta` on to `next`; `differs` (its row surely changed, see Sink.pushDiffering)
   * goes through `next.pushDiffering` where the next stage has one.
   */
  protected pushNext(delta: Delta, differs: boolean): void {
    const next = this.next;
    if (differs && next.pushDiffering !== undefined) next.pushDiffering(delta);
    else next.push(delta);
  }
  /**
   * Called once the view is populated: a global aggregate that no row reached emits its
   * empty row then (emitted before, it was evaluated over no rows even when rows followed).
   */
  populated(): void {}
}

const nowhere: Sink = {
  push() {
    assert(false, "operator output not wired");
  },
};
