/**
 * @module A view's output as an engine object (kind `view`): rows under keys, read like a
 * table's, with every output change recorded in the writing transaction's change list. So the
 * log, snapshots, recovery, subscriptions and `from view` treat a view like any table. The
 * operators that maintain it live apart (view-manager.ts): this object only holds the result.
 */
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { createOrderedMap } from "../lib/ordered-map.ts";
import type { OrderedMap } from "../lib/ordered-map.ts";
import { ChangeRecord } from "../engine/index.ts";
import type {
  Catalog,
  Change,
  ObjectDefinition,
  SnapshotSource,
  StoredObject,
  Transaction,
} from "../engine/index.ts";
import type { ColumnDefinition } from "../primitives/index.ts";
import { compareValues, mapKeyOf, parseType } from "../values/index.ts";
import type { MapKey } from "../values/index.ts";
import type { Columns } from "./columns.ts";
import type { Row } from "./delta.ts";
import { rowsEqualComparingFirst } from "./rows-equal.ts";

/** `transactional`: maintained inside the writing transaction; `deferred`: after commit. */
export type ViewMode = "transactional" | "deferred";

/** The stored definition of a view: its RQL pipeline text, mode and declared columns. */
export interface ViewDefinition extends ObjectDefinition {
  readonly kind: "view";
  readonly mode: ViewMode;
  /** The pipeline, as RQL text: `from shop::orders filter { ... } aggregate { ... } by { ... }`. */
  readonly query: string;
  /** Declared output columns; output values are coerced to their types. */
  readonly columns?: readonly ColumnDefinition[];
}

/** Validates the shape of a view definition (the pipeline is compiled on activation). */
export function checkViewDefinition(definition: ObjectDefinition): ViewDefinition {
  const view = definition as ViewDefinition;
  if (view.mode !== "transactional" && view.mode !== "deferred") {
    throw new DbError(
      "INVALID_ARGUMENT",
      `${view.name}: view mode must be transactional or deferred`,
      {
        object: view.name,
      },
    );
  }
  if (typeof view.query !== "string" || view.query.trim() === "") {
    throw new DbError("INVALID_ARGUMENT", `${view.name}: a view needs a query`, {
      object: view.name,
    });
  }
  return view;
}

interface Slot {
  readonly key: unknown;
  row: Row;
}

export class ViewObject implements StoredObject {
  readonly kind = "view" as const;
  readonly name: string;
  readonly definition: ViewDefinition;
  /** Output columns, known once the view is activated (or from its declared columns). */
  columns: Columns | undefined;
  /**
   * Set when output rows were changed from outside the operators (log replay, replication):
   * the operator state no longer matches and must be rebuilt before maintaining again.
   */
  stale = false;
  /** The pipeline's final sort, which reads follow (set on activation). */
  sort: ReadonlyArray<{ column: string; descending: boolean }> | undefined;
  /** Sees every write; a query subscription's detached view reports its deltas here. */
  onWrite: ((key: unknown, before: Row | undefined, after: Row | undefined) => void) | undefined;
  private readonly rows = new Map<MapKey, Slot>();
  private readonly order: OrderedMap<unknown, MapKey> = createOrderedMap(compareValues);

  constructor(definition: ObjectDefinition) {
    this.definition = checkViewDefinition(definition);
    this.name = definition.name;
    // Declared columns are known before activation: a follower applies a replicated view's
    // rows from the log without ever activating it, and queries still name its columns.
    const declared = this.definition.columns;
    if (declared !== undefined && declared.length > 0) {
      this.columns = new Map(declared.map((column) => [column.name, parseType(column.type)]));
    }
  }

  get size(): number {
    return this.rows.size;
  }

  get mode(): ViewMode {
    return this.definition.mode;
  }

  get(key: unknown): Row | undefined {
    return this.rows.get(mapKeyOf(key))?.row;
  }

  /** Output rows in the view's order: its final sort, else key order. */
  *scan(): Generator<Row> {
    const sort = this.sort;
    if (sort === undefined) {
      for (const mapKey of this.order.values()) yield this.rows.get(mapKey)!.row;
      return;
    }
    // Stable: rows come in key order, so ties keep it, as a sort step does.
    yield* [...this.entries()].map((entry) => entry[1]).sort((a, b) => compareRows(sort, a, b));
  }

  /** Output `[key, row]` pairs in key order. */
  *entries(): Generator<readonly [unknown, Row]> {
    for (const mapKey of this.order.values()) {
      const slot = this.rows.get(mapKey)!;
      yield [slot.key, slot.row];
    }
  }

  /**
   * Replaces the row under `key` (its map key given; undefined deletes it) and records the
   * change in `tx`, unless the row there equals `after`; returns whether it wrote. One
   * lookup serves the comparison and the write. `compareFirst`: the columns most likely to
   * differ, compared before the others. `differs`: the caller knows `after` differs from the
   * row there, if any (an exact sum that moved), so none is compared.
   */
  writeIfChanged(
    tx: Transaction | undefined,
    key: unknown,
    mapKey: MapKey,
    after: Row | undefined,
    compareFirst?: readonly string[],
    differs = false,
  ): boolean {
    const slot = this.rows.get(mapKey);
    const before = slot?.row;
    if (before === after) return false;
    if (before !== undefined && after !== undefined) {
      if (!differs && rowsEqualComparingFirst(before, after, compareFirst)) return false;
      slot!.row = after;
    } else {
      this.writeRow(key, mapKey, before, after);
    }
    this.onWrite?.(key, before, after);
    if (tx === undefined) return true;
    const kind = before === undefined ? "insert" : after === undefined ? "delete" : "update";
    tx.record(this, new ChangeRecord(this.name, kind, key, before, after));
    return true;
  }

  // ---- StoredObject ----

  applyChange(change: Change): void {
    const mapKey = mapKeyOf(change.key);
    const current = this.rows.get(mapKey)?.row;
    assert((current === undefined) === (change.before === undefined), "replay: view row differs");
    this.writeRow(change.key, mapKey, current, change.after as Row | undefined);
    this.stale = true;
  }

  revertChange(change: Change): void {
    const mapKey = mapKeyOf(change.key);
    assert(this.rows.get(mapKey)?.row === change.after, "revert: view row differs");
    this.writeRow(
      change.key,
      mapKey,
      change.after as Row | undefined,
      change.before as Row | undefined,
    );
  }

  snapshot(): SnapshotSource {
    const iterator = this.rows.entries();
    const readChunk = (limit: number): Array<readonly [unknown, unknown, unknown]> => {
      const out: Array<readonly [unknown, unknown, unknown]> = [];
      while (out.length < limit) {
        const next = iterator.next();
        if (next.done === true) break;
        out.push([next.value[0], next.value[1].key, next.value[1].row]);
      }
      return out;
    };
    return { meta: null, readChunk, mapKeyOfChange: (change) => mapKeyOf(change.key) };
  }

  restore(_meta: unknown, entries: ReadonlyArray<readonly [unknown, unknown]>): void {
    assert(this.rows.size === 0, "restore into a view that has rows");
    for (const [key, row] of entries) this.writeRow(key, mapKeyOf(key), undefined, row as Row);
    this.stale = true;
  }

  private writeRow(
    key: unknown,
    mapKey: MapKey,
    before: Row | undefined,
    after: Row | undefined,
  ): void {
    if (after === undefined) {
      assert(this.rows.delete(mapKey), "deleted a missing view row");
      this.order.del(key);
    } else if (before === undefined) {
      assert(!this.rows.has(mapKey), "inserted a view row twice");
      this.rows.set(mapKey, { key, row: after });
      this.order.set(key, mapKey);
    } else {
      this.rows.get(mapKey)!.row = after;
    }
  }
}

function compareRows(
  sort: ReadonlyArray<{ column: string; descending: boolean }>,
  a: Row,
  b: Row,
): number {
  for (const { column, descending } of sort) {
    const order = compareValues(a[column], b[column]);
    if (order !== 0) return descending ? -order : order;
  }
  return 0;
}

/** Registers the view factory with a catalog, so views are rebuilt from their definitions. */
export function registerViewFactory(catalog: Catalog): void {
  catalog.registerFactory("view", (definition) => new ViewObject(definition));
}
