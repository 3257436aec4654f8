/**
 * @module `sort { a: desc } take N` (and `take N` alone, in input order): the first N rows of
 * the input in sort order, kept correct under deletes. The operator holds more rows than the
 * window, in sort order, so when a row leaves the window the next one is there to refill it.
 * `boundary` is the sort position of the window's last row: a change before it moves the
 * window; a change after it is only stored.
 *
 * When its input can be read again (a table, ring buffer, series or view, through filters and
 * maps only), the operator holds only the best N + `spare` rows: every row it does not hold
 * sorts after every row it holds, so a change past the last held row is ignored. Should the
 * held rows fall below N (deletes of held rows outnumbering inserts among them), it reads the
 * input again. Otherwise it holds every input row.
 */
import { assert } from "../lib/assert.ts";
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

/** Reads the operator's input again: every current `[key, row]`. */
export type InputScan = (fn: (key: unknown, row: Row) => void) => void;

export class TopKOperator extends Operator {
  readonly columns: Columns | undefined;
  private readonly rows: OrderedMap<Position, Entry>;
  private boundary: Position | undefined;
  private readonly compare: (a: Position, b: Position) => number;
  /** True while every input row is held (always, without an input scan). */
  private complete = true;
  /** Set when the held rows may miss a window row: the input is read again. */
  private stale = false;
  /** Off while a change is fed back inverted: the input does not match the state then. */
  refillAllowed = true;
  private readonly capacity: number;
  private readonly probe: unknown[] = [];

  constructor(
    private readonly sort: readonly SortColumn[],
    private readonly limit: number,
    input: Columns | undefined,
    /** How to read the input again, and how many rows past the window to hold. */
    private readonly scan?: { readonly read: InputScan; readonly spare: number },
  ) {
    super();
    this.capacity = scan === undefined ? Infinity : limit + Math.max(1, scan.spare);
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
    if (this.limit <= 0) return; // `take 0` shows nothing and needs nothing
    // Both sides are first placed in the reused probe: most rows sort past the held ones,
    // and such a change then costs two comparisons and no allocation.
    if (delta.before !== undefined) this.remove(this.probeOf(delta.key, delta.before));
    if (delta.after !== undefined) {
      this.insert(this.probeOf(delta.key, delta.after), delta.key, delta.after);
    }
    if (this.stale || (!this.complete && this.rows.size < this.limit)) this.refill();
  }

  /** Whether a row at `position` is past every held row, so not held (never when complete). */
  private pastHeld(position: Position): boolean {
    return !this.complete && this.compare(position, this.rows.lastKey()!) > 0;
  }

  private insert(probe: Position, key: unknown, row: Row): void {
    if (!this.complete) {
      // Rows past the last held one are not held; with too few held, read the input again.
      if (this.rows.size < this.limit) {
        this.stale = true;
        return;
      }
      if (this.pastHeld(probe)) return;
    }
    this.insertHeld(probe.slice(), { key, row });
    this.truncate();
  }

  private insertHeld(position: Position, entry: Entry): void {
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
    if (rows.size > 0 && this.pastHeld(position)) return;
    const entry = rows.get(position);
    if (entry === undefined) {
      assert(!this.complete, "top-k removed a row it never saw");
      return;
    }
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

  /** Holds at most `capacity` rows: the last one goes (it is never in the window). */
  private truncate(): void {
    if (this.rows.size <= this.capacity) return;
    const last = this.rows.lastKey()!;
    assert(this.compare(last, this.boundary!) > 0, "top-k dropped a row of its window");
    this.rows.del(last);
    this.complete = false;
  }

  /**
   * Reads the input again: holds its best rows and emits how the window changed. The input
   * already reflects the change being maintained, so the result is exact.
   */
  private refill(): void {
    this.stale = false;
    if (!this.refillAllowed) {
      this.lost = true;
      return;
    }
    const read = this.scan!.read;
    const window = this.windowEntries();
    const rows = this.rows;
    rows.clear();
    this.complete = true;
    read((key, row) => {
      const probe = this.probeOf(key, row);
      if (!this.complete && this.compare(probe, rows.lastKey()!) > 0) return;
      rows.set(probe.slice(), { key, row });
      if (rows.size > this.capacity) {
        rows.del(rows.lastKey()!);
        this.complete = false;
      }
    });
    const next = this.windowEntries();
    const last = next.at(-1);
    this.boundary = last?.[0];
    const kept = new Set(next.map(([, entry]) => entry.row));
    for (const [, entry] of window) if (!kept.has(entry.row)) this.emit(entry, "delete");
    const shown = new Set(window.map(([, entry]) => entry.row));
    for (const [, entry] of next) if (!shown.has(entry.row)) this.emit(entry, "insert");
  }

  /** The window: the first `limit` held rows. */
  private windowEntries(): Array<[Position, Entry]> {
    const out: Array<[Position, Entry]> = [];
    if (this.limit <= 0) return out;
    this.rows.forEach((entry, position) => {
      out.push([position, entry]);
      return out.length < this.limit;
    });
    return out;
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

  /** The row's position in the reused probe array: valid until the next call. */
  private probeOf(key: unknown, row: Row): Position {
    const probe = this.probe;
    const sort = this.sort;
    for (let i = 0; i < sort.length; i++) probe[i] = row[sort[i]!.column] ?? null;
    probe[sort.length] = key;
    return probe;
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
