/**
 * @module The last stage of a view's pipeline: collects the output deltas one input change
 * produces and writes them to the view object when the change is done. Collecting first
 * coalesces what operators emit as delete-then-insert of one key (a top-k refill, a join key
 * that did not move) into one update, and drops changes that leave a row as it was.
 */
import { DbError } from "../lib/errors.ts";
import { declaredTypeProblem } from "../expr/index.ts";
import { rowConstructor } from "../lib/row-object.ts";
import type { Transaction } from "../engine/index.ts";
import type { ColumnDefinition } from "../primitives/index.ts";
import { coerceValue, mapKeyOf, parseType, sameMapKey } from "../values/index.ts";
import type { MapKey, ValueType } from "../values/index.ts";
import type { Columns } from "./columns.ts";
import type { Delta, Row, Sink } from "./delta.ts";
import type { ViewObject } from "./view-object.ts";

interface Pending {
  readonly key: unknown;
  after: Row | undefined;
}

export class OutputSink implements Sink {
  /**
   * Most changes emit one output key (an aggregate's group, a row passing a filter): it waits
   * in the `first*` fields, and the map holds the keys only once a second distinct one comes.
   */
  private pendingCount = 0;
  private firstKey: unknown = undefined;
  private firstMapKey: MapKey = null;
  private firstAfter: Row | undefined = undefined;
  /** The first key's row came through {@link pushDiffering}, and it was its only push. */
  private firstDiffers = false;
  private readonly pending = new Map<MapKey, Pending>();
  /** The output columns, last first: what {@link ViewObject.writeIfChanged} compares first. */
  private readonly compareFirst: readonly string[] | undefined;
  private readonly declared:
    | ReadonlyArray<{ name: string; type: ValueType; site: { object: string; column: string } }>
    | undefined;
  /** Makes the rows of declared columns (see lib/row-object.ts). */
  private readonly RowObject = rowConstructor();

  constructor(
    private readonly view: ViewObject,
    columns: Columns | undefined,
    declared: readonly ColumnDefinition[] | undefined,
  ) {
    this.declared = declared?.map((column) => ({
      name: column.name,
      type: parseType(column.type),
      site: { object: view.name, column: column.name },
    }));
    if (this.declared !== undefined && columns !== undefined)
      checkDeclared(view.name, this.declared, columns);
    const names = this.declared?.map((column) => column.name) ?? [...(columns?.keys() ?? [])];
    this.compareFirst = names.length === 0 ? undefined : names.reverse();
  }

  push(delta: Delta): void {
    const mapKey = mapKeyOf(delta.key);
    if (this.pendingCount === 0) {
      this.pendingCount = 1;
      this.firstKey = delta.key;
      this.firstMapKey = mapKey;
      this.firstAfter = delta.after;
      return;
    }
    if (this.pendingCount === 1) {
      if (sameMapKey(mapKey, this.firstMapKey)) {
        // A second row for the key: what the first push said of the view's row is void.
        this.firstDiffers = false;
        this.firstAfter = delta.after;
        return;
      }
      // A second key: from here on the map keeps them (in first-pushed order).
      this.pending.set(this.firstMapKey, { key: this.firstKey, after: this.firstAfter });
      this.firstKey = this.firstAfter = undefined;
      this.pendingCount = 2;
    }
    const pending = this.pending.get(mapKey);
    if (pending === undefined) this.pending.set(mapKey, { key: delta.key, after: delta.after });
    else pending.after = delta.after;
  }

  /**
   * The change's only output so far, when its row surely differs from the view's (see
   * Sink.pushDiffering): the flush writes it without comparing. Declared columns coerce,
   * which may make two rows equal, so those are compared anyway.
   */
  pushDiffering(delta: Delta): void {
    const only = this.pendingCount === 0 && this.declared === undefined;
    this.push(delta);
    this.firstDiffers = only;
  }

  /** Forgets what was pushed since the last flush (a failed or inverted change). */
  discard(): void {
    if (this.pendingCount > 1) this.pending.clear();
    this.pendingCount = 0;
    this.firstDiffers = false;
    this.firstKey = this.firstAfter = undefined;
  }

  /** Writes what the last change produced to the view, recording it in `tx`. */
  flush(tx: Transaction | undefined): void {
    const count = this.pendingCount;
    if (count === 0) return;
    const view = this.view;
    if (count === 1) {
      const { firstKey, firstMapKey, firstAfter, firstDiffers } = this;
      this.discard();
      const after = firstAfter === undefined ? undefined : this.shape(firstAfter);
      view.writeIfChanged(tx, firstKey, firstMapKey, after, this.compareFirst, firstDiffers);
      return;
    }
    for (const [mapKey, pending] of this.pending) {
      const after = pending.after === undefined ? undefined : this.shape(pending.after);
      view.writeIfChanged(tx, pending.key, mapKey, after, this.compareFirst);
    }
    this.discard();
  }

  /**
   * Makes the view hold exactly what was pushed since the last flush (a rebuild from the
   * inputs): rows not pushed are deleted. Returns how many rows changed.
   */
  replaceAll(tx: Transaction | undefined): number {
    let changed = 0;
    const view = this.view;
    if (this.pendingCount === 1) {
      this.pending.set(this.firstMapKey, { key: this.firstKey, after: this.firstAfter });
    }
    this.pendingCount = 2; // the map holds everything now, and discard() clears it
    for (const [key] of [...view.entries()]) {
      if (!this.pending.has(mapKeyOf(key)))
        this.pending.set(mapKeyOf(key), { key, after: undefined });
    }
    for (const [mapKey, pending] of this.pending) {
      const after = pending.after === undefined ? undefined : this.shape(pending.after);
      if (view.writeIfChanged(tx, pending.key, mapKey, after, this.compareFirst)) changed++;
    }
    this.discard();
    return changed;
  }

  /** The row in the declared columns' order and types, when columns were declared. */
  private shape(row: Row): Row {
    const declared = this.declared;
    if (declared === undefined) return row;
    const out = new this.RowObject();
    for (const column of declared)
      out[column.name] = coerceValue(column.type, row[column.name] ?? null, column.site);
    return out;
  }
}

function checkDeclared(
  view: string,
  declared: ReadonlyArray<{ name: string }>,
  columns: Columns,
): void {
  const names = declared.map((column) => column.name);
  const missing = names.filter((name) => !columns.has(name));
  const extra = [...columns.keys()].filter((name) => !names.includes(name));
  if (missing.length > 0 || extra.length > 0) {
    throw new DbError(
      "INVALID_SCHEMA",
      `${view}: the declared columns (${names.join(", ")}) differ from the query's ` +
        `(${[...columns.keys()].join(", ")})`,
      { object: view },
    );
  }
}

/**
 * Refuses declared columns that a value of the query's type could fail to enter on some row
 * (infer.ts declaredTypeProblem): a view must not refuse rows its inputs accept.
 */
export function refuseDeclaredTypes(
  view: string,
  declared: readonly ColumnDefinition[] | undefined,
  columns: Columns | undefined,
): void {
  if (declared === undefined || columns === undefined) return;
  for (const column of declared) {
    const found = columns.get(column.name);
    if (found === undefined) continue;
    const problem = declaredTypeProblem(parseType(column.type), found);
    if (problem === undefined) continue;
    throw new DbError(
      "TYPE_MISMATCH",
      `${view}.${column.name}: declared ${column.type}, but ${problem}; ` +
        "declare the column as the query's type",
      { object: view, column: column.name },
    );
  }
}
