/**
 * @module `append { from Y }`: the union of two pipelines' rows. Stateless: each input's deltas
 * pass through with the input's number put in front of the key (`[0, key]`, `[1, key]`), so
 * equal keys from the two inputs stay apart and the left input's rows come first.
 */
import { DbError } from "../lib/errors.ts";
import type { ValueType } from "../values/index.ts";
import type { Columns } from "./columns.ts";
import { Operator } from "./delta.ts";
import type { Delta, Sink } from "./delta.ts";

export class AppendOperator extends Operator {
  readonly columns: Columns | undefined;
  /** Where the appended pipeline pushes its deltas. */
  readonly otherInput: Sink;

  constructor(left: Columns | undefined, right: Columns | undefined) {
    super();
    if (left !== undefined && right !== undefined) {
      const merged = new Map<string, ValueType | undefined>(left);
      for (const [name, type] of right) if (!merged.has(name)) merged.set(name, type);
      this.columns = merged;
    } else {
      this.columns = left ?? right;
    }
    this.otherInput = { push: (delta) => this.forward(1, delta) };
    if (this.columns !== undefined && this.columns.size === 0) {
      throw new DbError("INVALID_SCHEMA", "append: the pipelines have no columns");
    }
  }

  push(delta: Delta): void {
    this.forward(0, delta);
  }

  private forward(input: number, delta: Delta): void {
    this.next.push({ key: [input, delta.key], before: delta.before, after: delta.after });
  }
}
