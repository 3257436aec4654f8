/**
 * @module Secondary indexes of a table: hash indexes for equality and ordered indexes for
 * ranges, unique or not. They are maintained inside the writing transaction by the table's
 * single write path, so an index can never disagree with the rows.
 */
import { assertionFailed } from "../lib/assert.ts";
import { DbError, describeValue } from "../lib/errors.ts";
import { createOrderedMap } from "../lib/ordered-map.ts";
import type { OrderedMap, Range } from "../lib/ordered-map.ts";
import { compareValues, mapKeyOf, mapKeyOfTuple, valuesEqual } from "../values/index.ts";
import type { MapKey } from "../values/index.ts";
import type { Row, Schema } from "./schema.ts";

/** An index as written in a table definition. */
export interface IndexDefinition {
  readonly name: string;
  readonly columns: readonly string[];
  readonly unique?: boolean;
  /** Ordered indexes serve ranges and ordered scans; hash indexes only equality. */
  readonly ordered?: boolean;
}

/** Primary keys (as map keys) under one index key. A Set when several rows share it. */
type Postings = MapKey | Set<MapKey>;

/** One secondary index. */
export class SecondaryIndex {
  readonly name: string;
  readonly columns: readonly string[];
  readonly unique: boolean;
  readonly ordered: boolean;
  private readonly hash = new Map<MapKey, Postings>();
  private readonly order: OrderedMap<unknown, MapKey> | undefined;

  constructor(
    private readonly table: string,
    schema: Schema,
    definition: IndexDefinition,
  ) {
    const columns: unknown = definition.columns;
    if (!Array.isArray(columns) || columns.length === 0 || !columns.every(isText)) {
      throw new DbError("INVALID_SCHEMA", `${table}: index ${definition.name} needs column names`, {
        object: table,
      });
    }
    for (const column of definition.columns) schema.requireColumn(column);
    this.name = definition.name;
    this.columns = definition.columns;
    this.unique = definition.unique === true;
    this.ordered = definition.ordered === true;
    this.order = this.ordered ? createOrderedMap<unknown, MapKey>(compareValues) : undefined;
  }

  /** The index key of a row: the column's value, or a tuple for several columns. */
  keyOf(row: Row): unknown {
    const columns = this.columns;
    if (columns.length === 1) return row[columns[0]!];
    return columns.map((column) => row[column]);
  }

  /**
   * Throws CONSTRAINT_VIOLATION if `row` would duplicate another row's unique key; `rowIndex`
   * (1-based, in a multi-row insert) is named so the caller can find the row.
   */
  checkUnique(row: Row, pk: MapKey, rowIndex?: number): void {
    if (!this.unique) return;
    const key = this.keyOf(row);
    if (hasNone(key)) return; // none is never equal to none, as in SQL
    const holder = this.hash.get(this.mapKey(key));
    if (holder !== undefined && holder !== pk) {
      throw new DbError(
        "CONSTRAINT_VIOLATION",
        `${this.table}: unique index ${this.name} already holds ${this.columns.join(", ")} = ` +
          describeValue(key) +
          (rowIndex === undefined ? "" : ` (row ${rowIndex})`),
        {
          object: this.table,
          column: this.columns.join(","),
          value: describeValue(key),
          ...(rowIndex === undefined ? {} : { row: rowIndex }),
        },
      );
    }
  }

  /** Moves `pk` from `before`'s key to `after`'s key (either may be undefined). */
  update(pk: MapKey, before: Row | undefined, after: Row | undefined): void {
    if (before !== undefined && after !== undefined) {
      const oldKey = this.keyOf(before);
      const newKey = this.keyOf(after);
      if (valuesEqual(oldKey, newKey)) return;
      this.remove(oldKey, pk);
      this.add(newKey, pk);
      return;
    }
    if (before !== undefined) this.remove(this.keyOf(before), pk);
    if (after !== undefined) this.add(this.keyOf(after), pk);
  }

  /** Primary keys of the rows whose index key equals `key`. */
  lookup(key: unknown): Iterable<MapKey> {
    return this.postingsOf(this.mapKey(key));
  }

  /**
   * Primary keys in index order within `range` (ordered indexes only). A bounded range never
   * holds a key whose (leading) value is none: none sorts first, so a lower bound leaves it
   * out by itself, and an upper bound alone must too, since nothing compares with none.
   */
  *range(range: Range<unknown> = {}): Generator<MapKey> {
    if (this.order === undefined) {
      throw new DbError("INVALID_ARGUMENT", `${this.table}: index ${this.name} is not ordered`, {
        object: this.table,
      });
    }
    if (range.lower !== undefined || range.upper === undefined) {
      for (const mapKey of this.order.values(range)) yield* this.postingsOf(mapKey);
      return;
    }
    if (this.columns.length === 1) {
      // Everything above none, which is the least key: the none keys are never visited.
      const aboveNone: Range<unknown> = { ...range, lower: null, lowerExclusive: true };
      for (const mapKey of this.order.values(aboveNone)) yield* this.postingsOf(mapKey);
      return;
    }
    for (const [key, mapKey] of this.order.entries(range)) {
      if ((key as readonly unknown[])[0] !== null) yield* this.postingsOf(mapKey);
    }
  }

  private postingsOf(mapKey: MapKey): Iterable<MapKey> {
    const postings = this.hash.get(mapKey);
    if (postings === undefined) return [];
    return postings instanceof Set ? postings : [postings];
  }

  private add(key: unknown, pk: MapKey): void {
    const mapKey = this.mapKey(key);
    const postings = this.hash.get(mapKey);
    if (postings === undefined) {
      this.hash.set(mapKey, pk);
      this.order?.set(key, mapKey);
      return;
    }
    if (this.unique && !hasNone(key)) assertionFailed(`unique index ${this.name} got a duplicate`);
    if (postings instanceof Set) postings.add(pk);
    else this.hash.set(mapKey, new Set([postings, pk]));
  }

  private remove(key: unknown, pk: MapKey): void {
    const mapKey = this.mapKey(key);
    const postings = this.hash.get(mapKey);
    if (postings === undefined) assertionFailed(`index ${this.name} lost an entry`);
    if (postings instanceof Set) {
      if (!postings.delete(pk)) assertionFailed(`index ${this.name} lost a posting`);
      if (postings.size === 1) this.hash.set(mapKey, postings.values().next().value!);
      return;
    }
    if (postings !== pk) assertionFailed(`index ${this.name} holds another row`);
    this.hash.delete(mapKey);
    this.order?.del(key);
  }

  private mapKey(key: unknown): MapKey {
    return this.columns.length === 1 ? mapKeyOf(key) : mapKeyOfTuple(key as unknown[]);
  }
}

function isText(value: unknown): value is string {
  return typeof value === "string";
}

function hasNone(key: unknown): boolean {
  if (key === null) return true;
  return Array.isArray(key) && key.some((part) => part === null);
}
