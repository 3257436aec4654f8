/**
 * @module `sort { a: desc } take N` (and `take N` alone, in input order): the first N rows of
 * the input in sort order, kept correct under deletes. The operator holds every input row in
 * sort order, not just the window, so when a row leaves the window the next one is there to
 * refill it. `boundary` is the sort position of the window's last row: a change before it
 * moves the window; a change after it is only stored.
 */
import { DbError } from "../lib/errors.ts";
import { createOrderedMap } from "../lib/ordered-map.ts";
import type { OrderedMap } from "../lib/ordered-map.ts";
import { compareValues } from "../values/index.ts";
import type { Columns } from "./columns.ts";
import { Operator } from "./delta.ts";
import type { Delta, Row } from "./delta.ts";

/** One sort key: a column and its direction. */
export interface SortColumn {
  readonly column: string;
  readonly descending: boolean;
}

interface Entry {
  readonly key: unknown;
  readonly row: Row;
}

/** A row's sort position: its sort values, then its input key (ties keep input order). */
type Position = readonly unknown[];

export class TopKOperator extends Operator {
  readonly columns: Columns | undefined;
  private readonly rows: OrderedMap<Position, Entry>;
  private boundary: Position | undefined;
  private readonly compare: (a: Position, b: Position) => number;

  constructor(
    private readonly sort: readonly SortColumn[],
    private readonly limit: number,
    input: Columns | undefined,
  ) {
    super();
    for (const { column } of sort) {
      if (input !== undefined && !input.has(column)) {
        throw new DbError("UNKNOWN_COLUMN", `sort: unknown column ${column}`, { column });
      }
    }
    this.columns = input;
    this.compare = positionComparator(sort.map((key) => (key.descending ? -1 : 1)));
    this.rows = createOrderedMap(this.compare);
  }

  push(delta: Delta): void {
    if (delta.before !== undefined) this.remove(this.positionOf(delta.key, delta.before));
    if (delta.after !== undefined) {
      this.insert(this.positionOf(delta.key, delta.after), { key: delta.key, row: delta.after });
    }
  }

  private insert(position: Position, entry: Entry): void {
    const rows = this.rows;
    rows.set(position, entry);
    if (this.limit <= 0) return;
    const boundary = this.boundary;
    if (rows.size <= this.limit) {
      if (boundary === undefined || this.compare(position, boundary) > 0)
        this.setBoundary(position);
      this.emit(entry, "insert");
      return;
    }
    if (this.compare(position, boundary!) > 0) return;
    this.emit(entry, "insert");
    // The old boundary row is pushed out; the row before it closes the window now.
    this.emit(rows.get(boundary!)!, "delete");
    this.setBoundary(this.neighbour(boundary!, true));
  }

  private remove(position: Position): void {
    const rows = this.rows;
    const entry = rows.get(position)!;
    const boundary = this.boundary;
    rows.del(position);
    if (boundary === undefined || this.compare(position, boundary) > 0) return;
    this.emit(entry, "delete");
    // The first row after the window (if any) moves in and closes it.
    const next = this.neighbour(boundary, false);
    if (next !== undefined) {
      this.emit(rows.get(next)!, "insert");
      this.setBoundary(next);
    } else if (this.compare(position, boundary) === 0) {
      this.setBoundary(this.neighbour(boundary, true));
    }
  }

  /** The position just before (or after) `position` among stored rows. */
  private neighbour(position: Position, before: boolean): Position | undefined {
    let found: Position | undefined;
    const range = before
      ? { upper: position, upperExclusive: true, reverse: true }
      : { lower: position, lowerExclusive: true };
    this.rows.forEach((_entry, key) => {
      found = key;
      return false;
    }, range);
    return found;
  }

  private setBoundary(position: Position | undefined): void {
    this.boundary = position;
  }

  private emit(entry: Entry, kind: "insert" | "delete"): void {
    const delta =
      kind === "insert"
        ? { key: entry.key, before: undefined, after: entry.row }
        : { key: entry.key, before: entry.row, after: undefined };
    this.next.push(delta);
  }

  private positionOf(key: unknown, row: Row): Position {
    const position: unknown[] = [];
    for (const { column } of this.sort) position.push(row[column] ?? null);
    position.push(key);
    return position;
  }
}

/**
 * Orders positions by their sort values (each ascending or descending), then by input key.
 * Numbers and texts, the usual sort columns, are compared inline: this comparator runs some
 * forty times per change on a large input, so it is the top-k's hot path.
 */
function positionComparator(directions: readonly number[]): (a: Position, b: Position) => number {
  const count = directions.length;
  return (a, b) => {
    for (let i = 0; i < count; i++) {
      const x = a[i];
      const y = b[i];
      if (x === y) continue;
      const fast =
        (typeof x === "number" && typeof y === "number") ||
        (typeof x === "string" && typeof y === "string");
      const order = fast ? ((x as number) < (y as number) ? -1 : 1) : compareValues(x, y);
      if (order !== 0) return order * directions[i]!;
    }
    const x = a[count];
    const y = b[count];
    if (typeof x === "number" && typeof y === "number") return x < y ? -1 : x > y ? 1 : 0;
    return compareValues(x, y);
  };
}
