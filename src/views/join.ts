/**
 * @module `inner join { from Y } as y using (a, y.b)` and `left join`: an equi-join kept with an
 * index on each side (join key → rows), so a change on either side touches only its matches.
 * Output rows hold the left columns then every right column prefixed `alias_`; a left join
 * fills those with none while a left row has no match. Output keys are `[leftKey, rightKey]`
 * for matches and `[leftKey]` for an unmatched left row. A key holding none matches nothing,
 * as `none == none` is not true. Keys match as `==` does (see the query's join, rql/join.ts):
 * text joined with a time, date, datetime, duration or uuid column is read as that type.
 *
 * When the left input is a table read as each change is applied (a transactional view), the
 * left index holds only keys and left rows are read from the table when a right row changes:
 * an update that keeps its join key (the usual write) then touches no join state at all.
 */
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { rowConstructor } from "../lib/row-object.ts";
import { joinKeyReader } from "../rql/index.ts";
import type { KeyReader, Position } from "../rql/index.ts";
import { mapKeyOf, mapKeyOfTuple } from "../values/index.ts";
import type { MapKey, ValueType } from "../values/index.ts";
import type { Columns } from "./columns.ts";
import { Operator } from "./delta.ts";
import type { Delta, Row, Sink } from "./delta.ts";

/** Rows of one side under one join key, by their stream key's map key. */
type Bucket = Map<MapKey, Entry>;

/** A held row; `row` is undefined when the left rows are read from the input (`readLeft`). */
interface Entry {
  readonly key: unknown;
  row: Row | undefined;
}

/** Reads the current row of the left input under `key`. */
export type ReadRow = (key: unknown) => Row | undefined;

export interface JoinOptions {
  readonly kind: "inner" | "left";
  readonly alias: string;
  /** Pairs of (left column, right column). */
  readonly using: ReadonlyArray<readonly [string, string]>;
  readonly left: Columns;
  readonly right: Columns;
  /**
   * How to read a left row by key, when the left input is read as each change is applied
   * (so what it holds is what the left index would): the left index then keeps keys only.
   */
  readonly readLeft?: ReadRow | undefined;
  /**
   * The output columns the steps after the join read, when they drop the others (an
   * aggregate, a map): joined rows are built with these only. Undefined: every column.
   */
  readonly keep?: ReadonlySet<string> | undefined;
  /** Where each `using` pair is written, for errors reading a key. */
  readonly positions?: readonly Position[] | undefined;
  /**
   * Joined rows are arrays of the output columns in order, not objects: only when the next
   * step is an aggregate compiled to read them so (CompileOptions.positional). Building an
   * object writes each column by name at one site shared by every join, a megamorphic store
   * of about 150 instructions, twice per update; the aggregate's reads by name were
   * megamorphic too.
   */
  readonly positional?: boolean | undefined;
}

export class JoinOperator extends Operator {
  readonly columns: Columns;
  /** Where the right-hand pipeline pushes its deltas. */
  readonly rightInput: Sink;
  private readonly leftIndex = new Map<MapKey, Bucket>();
  private readonly rightIndex = new Map<MapKey, Bucket>();
  private readonly leftColumns: readonly string[];
  private readonly rightColumns: readonly string[];
  private readonly outer: boolean;
  private readonly leftNames: readonly string[];
  /** How each side's key values are read (text meeting a time); undefined: as they are. */
  private readonly leftReaders: readonly KeyReader[] | undefined;
  private readonly rightReaders: readonly KeyReader[] | undefined;
  private readonly readLeft: ReadRow | undefined;
  /** Right column name to its prefixed output name. */
  readonly prefixed: ReadonlyArray<readonly [string, string]>;
  /** Makes the joined rows (see lib/row-object.ts). */
  private readonly RowObject = rowConstructor();
  private readonly positional: boolean;
  /**
   * Positional mode only: the joined rows (before, after) and the update delta handed to the
   * aggregate, refilled for each delta. The aggregate reads them and keeps none (it keeps
   * evaluated values), so a change of a left row allocates no joined rows.
   */
  private readonly scratchRows: [unknown[], unknown[]] = [[], []];
  private readonly scratchDelta: { key: unknown; before: Row | undefined; after: Row | undefined } =
    { key: undefined, before: undefined, after: undefined };

  constructor(options: JoinOptions) {
    super();
    const { left, right, alias, using } = options;
    for (const [leftName, rightName] of using) {
      if (!left.has(leftName)) throw unknownJoinColumn(leftName, "left");
      if (!right.has(rightName)) throw unknownJoinColumn(rightName, "right");
    }
    this.leftColumns = using.map((pair) => pair[0]);
    this.rightColumns = using.map((pair) => pair[1]);
    const positions = options.positions;
    this.leftReaders = readersOf(
      using.map(([l, r], i) => joinKeyReader(left.get(l), right.get(r), l, positions?.[i])),
    );
    this.rightReaders = readersOf(
      using.map(([l, r], i) =>
        joinKeyReader(right.get(r), left.get(l), `${alias}.${r}`, positions?.[i]),
      ),
    );
    this.outer = options.kind === "left";
    this.readLeft = options.readLeft;
    const prefixed = [...right.keys()].map((name) => [name, `${alias}_${name}`] as const);
    const columns = new Map<string, ValueType | undefined>(left);
    for (const [name, output] of prefixed) {
      if (columns.has(output)) {
        throw new DbError("INVALID_SCHEMA", `join output repeats column ${output}`, {
          column: output,
        });
      }
      columns.set(output, right.get(name));
    }
    // Columns no later step reads are never built: a joined row is made twice per update.
    const keep = options.keep;
    if (keep !== undefined)
      for (const name of columns.keys()) if (!keep.has(name)) columns.delete(name);
    this.leftNames = [...left.keys()].filter((name) => columns.has(name));
    this.prefixed = prefixed.filter(([, output]) => columns.has(output));
    this.columns = columns;
    this.positional = options.positional === true;
    this.rightInput = { push: (delta) => this.pushRight(delta) };
  }

  /** A left-side delta. */
  push(delta: Delta): void {
    if (delta.before !== undefined && delta.after !== undefined) {
      const joinKey = joinKeyOf(delta.before, this.leftColumns, this.leftReaders);
      if (
        joinKey !== undefined &&
        joinKey === joinKeyOf(delta.after, this.leftColumns, this.leftReaders)
      ) {
        this.updateLeft(delta.key, delta.before, delta.after, joinKey);
        return;
      }
    }
    if (delta.before !== undefined) {
      const joinKey = joinKeyOf(delta.before, this.leftColumns, this.leftReaders);
      if (joinKey !== undefined) bucketDel(this.leftIndex, joinKey, delta.key);
      this.forEachPair(delta.key, delta.before, joinKey, (key, row) =>
        this.next.push({ key, before: row, after: undefined }),
      );
    }
    if (delta.after !== undefined) {
      const joinKey = joinKeyOf(delta.after, this.leftColumns, this.leftReaders);
      if (joinKey !== undefined) {
        const row = this.readLeft === undefined ? delta.after : undefined;
        bucketSet(this.leftIndex, joinKey, delta.key, row);
      }
      this.forEachPair(delta.key, delta.after, joinKey, (key, row) =>
        this.next.push({ key, before: undefined, after: row }),
      );
    }
  }

  /**
   * A left row changed but kept its join key (the usual update): its index entry is updated
   * in place and each of its output rows changes as one update, not a delete and an insert.
   */
  private updateLeft(leftKey: unknown, before: Row, after: Row, joinKey: MapKey): void {
    // With keys only held, there is nothing to update (and no lookup to pay for).
    if (this.readLeft === undefined) {
      const entry = this.leftIndex.get(joinKey)?.get(mapKeyOf(leftKey));
      assert(entry !== undefined, "join: updated a left row it does not hold");
      entry.row = after;
    }
    const bucket = this.rightIndex.get(joinKey);
    if (bucket === undefined) {
      if (this.outer) {
        const key = [leftKey];
        const joinedBefore = this.joined(before);
        this.next.push({ key, before: joinedBefore, after: this.joined(after, undefined, 1) });
      }
      return;
    }
    for (const right of bucket.values()) {
      const key = [leftKey, right.key];
      if (this.positional) {
        const delta = this.scratchDelta;
        delta.key = key;
        delta.before = this.joinedPositional(before, right.row, 0);
        delta.after = this.joinedPositional(after, right.row, 1);
        this.next.push(delta);
        continue;
      }
      this.next.push({
        key,
        before: this.joined(before, right.row),
        after: this.joined(after, right.row),
      });
    }
  }

  private pushRight(delta: Delta): void {
    if (delta.before !== undefined) {
      const joinKey = joinKeyOf(delta.before, this.rightColumns, this.rightReaders);
      if (joinKey !== undefined) {
        bucketDel(this.rightIndex, joinKey, delta.key);
        const unmatched = this.outer && this.rightIndex.get(joinKey) === undefined;
        this.forEachLeft(joinKey, (leftKey, leftRow) => {
          const key = [leftKey, delta.key];
          this.next.push({ key, before: this.joined(leftRow, delta.before), after: undefined });
          if (unmatched) this.pushUnmatched(leftKey, leftRow, "insert");
        });
      }
    }
    if (delta.after !== undefined) {
      const joinKey = joinKeyOf(delta.after, this.rightColumns, this.rightReaders);
      if (joinKey !== undefined) {
        const firstMatch = this.outer && this.rightIndex.get(joinKey) === undefined;
        bucketSet(this.rightIndex, joinKey, delta.key, delta.after);
        this.forEachLeft(joinKey, (leftKey, leftRow) => {
          if (firstMatch) this.pushUnmatched(leftKey, leftRow, "delete");
          const key = [leftKey, delta.key];
          this.next.push({ key, before: undefined, after: this.joined(leftRow, delta.after) });
        });
      }
    }
  }

  /** Calls `fn` with each output row a left row takes part in. */
  private forEachPair(
    leftKey: unknown,
    leftRow: Row,
    joinKey: MapKey | undefined,
    fn: (key: unknown, row: Row) => void,
  ): void {
    const bucket = joinKey === undefined ? undefined : this.rightIndex.get(joinKey);
    if (bucket === undefined) {
      if (this.outer) fn([leftKey], this.joined(leftRow, undefined));
      return;
    }
    for (const right of bucket.values()) fn([leftKey, right.key], this.joined(leftRow, right.row));
  }

  private forEachLeft(joinKey: MapKey, fn: (key: unknown, row: Row) => void): void {
    const bucket = this.leftIndex.get(joinKey);
    if (bucket === undefined) return;
    const readLeft = this.readLeft;
    for (const left of bucket.values()) {
      const row = readLeft === undefined ? left.row : readLeft(left.key);
      assert(row !== undefined, "join: a held left row is missing from the input");
      fn(left.key, row);
    }
  }

  private pushUnmatched(leftKey: unknown, leftRow: Row, kind: "insert" | "delete"): void {
    const row = this.joined(leftRow, undefined);
    const delta =
      kind === "insert"
        ? { key: [leftKey], before: undefined, after: row }
        : { key: [leftKey], before: row, after: undefined };
    this.next.push(delta);
  }

  /**
   * The output row of a left row and its match. Positional rows are scratch (see
   * {@link scratchRows}): a delta's before and after take slots 0 and 1.
   */
  private joined(left: Row, right?: Row, slot: 0 | 1 = 0): Row {
    if (this.positional) return this.joinedPositional(left, right, slot);
    // Same keys in the same order every time: V8 gives every joined row one shape.
    const out = new this.RowObject();
    const leftNames = this.leftNames;
    for (let i = 0; i < leftNames.length; i++) out[leftNames[i]!] = left[leftNames[i]!];
    const prefixed = this.prefixed;
    for (let i = 0; i < prefixed.length; i++) {
      const [name, output] = prefixed[i]!;
      out[output] = right === undefined ? null : right[name];
    }
    return out;
  }

  /**
   * {@link joined} as an array of the output columns in order (JoinOptions.positional),
   * written into scratch row `slot`: valid until that slot is filled again.
   */
  private joinedPositional(left: Row, right: Row | undefined, slot: 0 | 1): Row {
    const leftNames = this.leftNames;
    const prefixed = this.prefixed;
    const leftCount = leftNames.length;
    const out = this.scratchRows[slot];
    for (let i = 0; i < leftCount; i++) out[i] = left[leftNames[i]!];
    for (let i = 0; i < prefixed.length; i++) {
      out[leftCount + i] = right === undefined ? null : right[prefixed[i]![0]];
    }
    return out as unknown as Row;
  }
}

function unknownJoinColumn(name: string, side: string): DbError {
  return new DbError("UNKNOWN_COLUMN", `join: unknown ${side} column ${name}`, { column: name });
}

/** The readers, or undefined when no key value needs reading (the usual join). */
function readersOf(readers: KeyReader[]): readonly KeyReader[] | undefined {
  return readers.some(Boolean) ? readers : undefined;
}

/** The join key of a row, or undefined when a part is none (it can match nothing). */
function joinKeyOf(
  row: Row,
  columns: readonly string[],
  readers: readonly KeyReader[] | undefined,
): MapKey | undefined {
  if (columns.length === 1 && readers === undefined) {
    const value = row[columns[0]!];
    return value === null || value === undefined ? undefined : mapKeyOf(value);
  }
  const values: unknown[] = [];
  for (let i = 0; i < columns.length; i++) {
    const value = row[columns[i]!];
    if (value === null || value === undefined) return undefined;
    const read = readers?.[i];
    values.push(read === undefined ? value : read(value));
  }
  return mapKeyOfTuple(values);
}

function bucketSet(
  index: Map<MapKey, Bucket>,
  joinKey: MapKey,
  key: unknown,
  row: Row | undefined,
): void {
  let bucket = index.get(joinKey);
  if (bucket === undefined) index.set(joinKey, (bucket = new Map() as Bucket));
  const rowKey = mapKeyOf(key);
  bucket.set(rowKey, { key, row });
}

function bucketDel(index: Map<MapKey, Bucket>, joinKey: MapKey, key: unknown): void {
  const rowKey = mapKeyOf(key);
  const entry = index.get(joinKey)?.get(rowKey);
  if (entry === undefined) return;
  bucketDelNow(index, joinKey, rowKey);
}

function bucketDelNow(index: Map<MapKey, Bucket>, joinKey: MapKey, rowKey: MapKey): void {
  const bucket = index.get(joinKey);
  if (bucket === undefined) return;
  bucket.delete(rowKey);
  if (bucket.size === 0) index.delete(joinKey);
}
