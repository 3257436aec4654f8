/**
 * @module `filter { expr }`: a stateless operator. Each side of a delta passes when the
 * predicate holds for it, so an update that leaves the filter becomes a delete and one that
 * enters it becomes an insert.
 */
import { compilePredicate } from "../expr/index.ts";
import type { Expr, Scope } from "../expr/index.ts";
import type { QueryParams } from "../types.ts";
import type { Columns } from "./columns.ts";
import { Operator } from "./delta.ts";
import type { Delta, Row } from "./delta.ts";

export class FilterOperator extends Operator {
  private readonly predicate: (scope: Scope) => boolean;
  private readonly scope: { row: Row; params?: QueryParams };

  constructor(predicate: Expr, columns: Columns | undefined, params: QueryParams | undefined) {
    super();
    this.predicate = compilePredicate(predicate, columns === undefined ? {} : { fields: columns });
    this.scope = params === undefined ? { row: {} } : { row: {}, params };
  }

  push(delta: Delta): void {
    const before = delta.before !== undefined && this.test(delta.before) ? delta.before : undefined;
    const after = delta.after !== undefined && this.test(delta.after) ? delta.after : undefined;
    if (before === undefined && after === undefined) return;
    const same = before === delta.before && after === delta.after;
    this.next.push(same ? delta : { key: delta.key, before, after });
  }

  /** Whether `row` passes the filter. */
  test(row: Row): boolean {
    this.scope.row = row;
    return this.predicate(this.scope);
  }
}
