/**
 * @module `distinct { a, b }`: one row per distinct value of the columns (of all columns when
 * none are named), the first row of that value in input order. Each value keeps its rows
 * ordered by input key, so deleting the first row promotes the next one.
 */
import { DbError } from "../lib/errors.ts";
import { createOrderedMap } from "../lib/ordered-map.ts";
import type { OrderedMap } from "../lib/ordered-map.ts";
import { compareValues, mapKeyOfTuple } from "../values/index.ts";
import type { MapKey } from "../values/index.ts";
import type { Columns } from "./columns.ts";
import { Operator } from "./delta.ts";
import type { Delta, Row } from "./delta.ts";

interface Value {
  readonly key: unknown;
  readonly rows: OrderedMap<unknown, Row>;
}

export class DistinctOperator extends Operator {
  readonly columns: Columns;
  private readonly values = new Map<MapKey, Value>();
  private readonly names: readonly string[] | undefined;

  constructor(names: readonly string[], input: Columns | undefined) {
    super();
    for (const name of names) {
      if (input !== undefined && !input.has(name)) {
        throw new DbError("UNKNOWN_COLUMN", `distinct: unknown column ${name}`, { column: name });
      }
    }
    this.names = names.length > 0 ? names : input === undefined ? undefined : [...input.keys()];
    this.columns = input ?? new Map();
  }

  push(delta: Delta): void {
    if (delta.before !== undefined) this.remove(delta.key, delta.before);
    if (delta.after !== undefined) this.add(delta.key, delta.after);
  }

  private add(key: unknown, row: Row): void {
    const tuple = this.tupleOf(row);
    const mapKey = mapKeyOfTuple(tuple);
    let value = this.values.get(mapKey);
    if (value === undefined) {
      value = { key: tuple.length === 1 ? tuple[0] : tuple, rows: createOrderedMap(compareValues) };
      this.values.set(mapKey, value);
    }
    const firstBefore = value.rows.first();
    const rows = value.rows;
    rows.set(key, row);
    const firstAfter = rows.first()!;
    if (firstBefore !== undefined && compareValues(firstBefore[0], firstAfter[0]) === 0) return;
    this.next.push({ key: value.key, before: firstBefore?.[1], after: firstAfter[1] });
  }

  private remove(key: unknown, row: Row): void {
    const mapKey = mapKeyOfTuple(this.tupleOf(row));
    const value = this.values.get(mapKey)!;
    const rows = value.rows;
    const firstBefore = rows.first()!;
    rows.del(key);
    const firstAfter = rows.first();
    if (firstAfter === undefined) {
      this.values.delete(mapKey);
    }
    if (firstAfter !== undefined && compareValues(firstAfter[0], firstBefore[0]) === 0) return;
    this.next.push({ key: value.key, before: firstBefore[1], after: firstAfter?.[1] });
  }

  private tupleOf(row: Row): unknown[] {
    const names = this.names ?? Object.keys(row);
    return names.map((name) => row[name] ?? null);
  }
}
