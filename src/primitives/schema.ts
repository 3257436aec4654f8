/**
 * @module Column schemas shared by the row-like primitives (tables, ring buffers, series,
 * queues): parsing a user's column list, and turning an outside row into a stored row that is
 * complete, typed and frozen.
 */
import { assert } from "../lib/assert.ts";
import { DbError, describeValue } from "../lib/errors.ts";
import { changedColumnsTrackedMax, columnsMax } from "../lib/limits.ts";
import { rowConstructor } from "../lib/row-object.ts";
import type { RowConstructor } from "../lib/row-object.ts";
import { changedColumnsUnknown, checkIdentifier } from "../engine/index.ts";
import { coerceValue, parseType, typeName } from "../values/index.ts";
import type { ValueType } from "../values/index.ts";

/**
 * A row: column name to value. A table with a primary key keeps its own copy of each row and
 * writes updates into it, so every row it hands out is a copy; a table without one stores
 * immutable rows (an update stores a new one) and hands those out. Callers must not write
 * into rows: they are not frozen at run time because `Object.freeze` costs more than the rest
 * of an update; the `Readonly` type enforces the contract in TypeScript.
 */
export type Row = Readonly<Record<string, unknown>>;

/** A column as written in a definition. */
export interface ColumnDefinition {
  readonly name: string;
  readonly type: string;
  readonly autoIncrement?: boolean;
}

/**
 * What users may pass: `{ id: "int8" }`, `{ id: { type: "int8", autoIncrement: true } }`
 * or a list.
 */
export type ColumnsInput =
  | readonly ColumnDefinition[]
  | Readonly<Record<string, string | { type: string; autoIncrement?: boolean }>>;

/** A parsed column. */
export interface Column {
  readonly name: string;
  readonly type: ValueType;
  readonly position: number;
  readonly autoIncrement: boolean;
  /** Where this column's values go, for error messages (built once, not per write). */
  readonly site: { readonly object: string; readonly column: string };
}

/** Normalises a user's column input into the definition form (a list), validating names. */
export function normalizeColumns(input: unknown, object: string): ColumnDefinition[] {
  let list: ColumnDefinition[];
  if (Array.isArray(input)) {
    list = input.map((item: unknown, index) => columnFromItem(item, index, object));
  } else if (input !== null && typeof input === "object") {
    list = Object.entries(input as Record<string, unknown>).map(([name, spec]) =>
      typeof spec === "string"
        ? { name, type: spec }
        : columnFromItem({ ...(spec as object), name }, 0, object),
    );
  } else {
    throw new DbError("INVALID_SCHEMA", `${object}: columns must be an object or a list`, {
      object,
    });
  }
  if (list.length === 0 || list.length > columnsMax) {
    throw new DbError("INVALID_SCHEMA", `${object}: needs 1 to ${columnsMax} columns`, { object });
  }
  return list;
}

/**
 * A primary key or partition given as one column name or a list of them, as a list; anything
 * else (a number, an object, an empty list) is INVALID_SCHEMA naming `option` and `object`.
 */
export function columnNameList(input: unknown, object: string, option: string): string[] {
  const list = typeof input === "string" ? [input] : input;
  if (!Array.isArray(list) || list.length === 0 || !list.every((n) => typeof n === "string")) {
    throw new DbError(
      "INVALID_SCHEMA",
      `${object}: ${option} must be a column name or a list of column names, got ` +
        describeValue(input),
      { object, value: describeValue(input) },
    );
  }
  return [...list];
}

function columnFromItem(item: unknown, index: number, object: string): ColumnDefinition {
  const spec = item as Partial<ColumnDefinition> | null;
  if (
    spec === null ||
    typeof spec !== "object" ||
    typeof spec.name !== "string" ||
    typeof spec.type !== "string"
  ) {
    throw new DbError(
      "INVALID_SCHEMA",
      `${object}: column ${index + 1} needs a name and a type, got ${describeValue(item)}`,
      { object },
    );
  }
  const out: ColumnDefinition = { name: spec.name, type: spec.type };
  return spec.autoIncrement === true ? { ...out, autoIncrement: true } : out;
}

/**
 * Puts `column`'s value into the row being built: the patch's `value` (coerced) or, when the
 * patch has none, the `old` one. Returns the column's changed bit (by identity), or 0.
 */
function patchColumn(
  out: Record<string, unknown>,
  column: Column,
  old: unknown,
  value: unknown,
): number {
  if (value === undefined) {
    out[column.name] = old;
    return 0;
  }
  const coerced = coerceValue(column.type, value, column.site);
  out[column.name] = coerced;
  return coerced === old ? 0 : 1 << column.position;
}

/**
 * Row copiers, one function literal (so one call site of the spread) each. V8 copies by
 * spread in ~6 ns while a site has seen at most four row shapes, and in ~25 ns once it has
 * seen more (megamorphic; measured in a loop, and ~760 instructions an update in
 * bench/views.ts once its join view had copied a second table's rows). Schemas take the
 * sites in turn, so each site sees few shapes. Identical on purpose: do not merge them.
 */
const rowCopiers: ReadonlyArray<(row: Row) => Row> = [
  (row) => ({ ...row }),
  (row) => ({ ...row }),
  (row) => ({ ...row }),
  (row) => ({ ...row }),
  (row) => ({ ...row }),
  (row) => ({ ...row }),
  (row) => ({ ...row }),
  (row) => ({ ...row }),
  (row) => ({ ...row }),
  (row) => ({ ...row }),
  (row) => ({ ...row }),
  (row) => ({ ...row }),
  (row) => ({ ...row }),
  (row) => ({ ...row }),
  (row) => ({ ...row }),
  (row) => ({ ...row }),
];
let rowCopierNext = 0;

/** A parsed, validated schema with fast row normalisation. */
export class Schema {
  readonly columns: readonly Column[];
  /**
   * The columns the last {@link patchRow} changed: bit i for column i (see
   * `ChangeObserver.onChange`). A field, not a second result, so a patch allocates nothing.
   */
  patchChangedColumns = changedColumnsUnknown;
  private readonly byName: ReadonlyMap<string, Column>;
  /** Whether an update can name its changed columns in bits (the schema is narrow enough). */
  private readonly tracksChangedColumns: boolean;
  /**
   * A patch's values by column position while {@link patchRow} runs; all undefined between
   * calls.
   */
  private readonly patchValues: unknown[];
  /** Makes this schema's row objects (see lib/row-object.ts). */
  private readonly RowObject: RowConstructor;

  constructor(
    readonly object: string,
    definitions: readonly ColumnDefinition[],
  ) {
    const columns: Column[] = [];
    const byName = new Map<string, Column>();
    for (const [position, definition] of definitions.entries()) {
      checkIdentifier(definition.name, `${object}.${definition.name}`);
      if (byName.has(definition.name)) {
        throw new DbError("INVALID_SCHEMA", `${object}: column ${definition.name} appears twice`, {
          object,
          column: definition.name,
        });
      }
      const column = this.parseColumn(definition, position);
      columns.push(column);
      byName.set(column.name, column);
    }
    assert(columns.length === definitions.length, "every column parsed");
    this.columns = columns;
    this.byName = byName;
    this.tracksChangedColumns = columns.length <= changedColumnsTrackedMax;
    this.RowObject = rowConstructor();
    this.patchValues = columns.map(() => undefined);
  }

  /**
   * A new row with `row`'s values: a snapshot of a table's stored row. An object spread is
   * V8's fastest copy (one map and the fields at once; for-in with keyed stores took 3x);
   * each schema takes one of {@link rowCopiers}' call sites.
   */
  readonly copyRow: (row: Row) => Row = rowCopiers[rowCopierNext++ % rowCopiers.length]!;

  /**
   * Writes `row`'s values into `stored`, a table's own row (see `Table`). `changedColumns`:
   * the columns that differ, when known (bit i for column i): only they are written, one
   * keyed store each. Else every column: by `row`'s own keys while they are the columns in
   * order (loads from the enumeration cache), or by name.
   */
  assignRow(stored: Row, row: Row, changedColumns: number = changedColumnsUnknown): void {
    const target = stored as Record<string, unknown>;
    const columns = this.columns;
    if (changedColumns !== changedColumnsUnknown) {
      for (let bits = changedColumns; bits !== 0; bits &= bits - 1) {
        const name = columns[31 - Math.clz32(bits & -bits)]!.name;
        target[name] = row[name];
      }
      return;
    }
    let i = 0;
    for (const name in row) {
      if (columns[i]?.name !== name) break;
      target[name] = row[name];
      i++;
    }
    if (i === columns.length) return;
    for (const column of columns) target[column.name] = row[column.name];
  }

  /** Whether two rows hold the same value (`Object.is`) in every column. */
  sameValues(a: Row, b: Row): boolean {
    for (const column of this.columns) {
      if (!Object.is(a[column.name], b[column.name])) return false;
    }
    return true;
  }

  column(name: string): Column | undefined {
    return this.byName.get(name);
  }

  /**
   * The changed-columns bits naming `names`, or undefined when an update of this schema
   * cannot name them all (an unknown column, or a schema too wide to track).
   */
  columnBits(names: readonly string[]): number | undefined {
    if (!this.tracksChangedColumns) return undefined;
    let bits = 0;
    for (const name of names) {
      const column = this.byName.get(name);
      if (column === undefined) return undefined;
      bits |= 1 << column.position;
    }
    return bits;
  }

  /** The column or UNKNOWN_COLUMN naming the object. */
  requireColumn(name: string): Column {
    const column = this.byName.get(name);
    if (column === undefined) {
      throw new DbError("UNKNOWN_COLUMN", `${this.object} has no column "${name}"`, {
        object: this.object,
        column: name,
      });
    }
    return column;
  }

  /**
   * Builds a complete stored row from outside input: unknown columns are refused, missing
   * optional columns become none, `fill` may supply missing values (auto-increment, ids).
   */
  normalizeRow(input: unknown, fill?: (column: Column) => unknown, rowIndex?: number): Row {
    if (input === null || typeof input !== "object" || Array.isArray(input)) {
      throw new DbError(
        "TYPE_MISMATCH",
        `${this.object}: a row must be an object, got ${describeValue(input)}`,
        {
          object: this.object,
          value: describeValue(input),
        },
      );
    }
    const source = input as Record<string, unknown>;
    for (const key in source) {
      if (!this.byName.has(key)) this.requireColumn(key);
    }
    const out = new this.RowObject();
    for (const column of this.columns) {
      let value = source[column.name];
      if (value === undefined && fill) value = fill(column);
      if (value === undefined && !column.type.optional) {
        throw this.missing(column, rowIndex);
      }
      out[column.name] = coerceValue(column.type, value, this.site(column, rowIndex));
    }
    return out;
  }

  /** Applies a patch to a stored row, giving a new row: only patched columns are validated. */
  patchRow(row: Row, patch: unknown): Row {
    if (patch === null || typeof patch !== "object" || Array.isArray(patch)) {
      throw new DbError("TYPE_MISMATCH", `${this.object}: a patch must be an object`, {
        object: this.object,
      });
    }
    // Both objects are read by their own keys (for-in): V8 then loads each property through
    // the object's enumeration cache. Read by a column's name, every load was megamorphic (one
    // code site reads every table's rows): about 100 instructions each, 8 per transfer.
    const source = patch as Record<string, unknown>;
    const values = this.patchValues;
    try {
      for (const key in source) values[this.requireColumn(key).position] = source[key];
      return this.patchInOrder(row, values) ?? this.patchByName(row, values);
    } finally {
      for (let i = 0; i < values.length; i++) values[i] = undefined;
    }
  }

  /**
   * Builds the patched row by walking `row`'s keys, which are this schema's columns in order
   * for every row the table holds; returns undefined (the work so far discarded) for a row
   * of any other shape.
   */
  private patchInOrder(row: Row, values: unknown[]): Row | undefined {
    const out = new this.RowObject();
    const columns = this.columns;
    let changed = 0;
    let i = 0;
    for (const name in row) {
      const column = columns[i];
      if (column === undefined || column.name !== name) return undefined;
      changed |= patchColumn(out, column, row[name], values[i]);
      i++;
    }
    if (i !== columns.length) return undefined;
    this.patchChangedColumns = this.tracksChangedColumns ? changed : changedColumnsUnknown;
    return out;
  }

  /** {@link patchInOrder} for a row of another shape: reads it column by column, by name. */
  private patchByName(row: Row, values: unknown[]): Row {
    const out = new this.RowObject();
    const columns = this.columns;
    let changed = 0;
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i]!;
      changed |= patchColumn(out, column, row[column.name], values[i]);
    }
    this.patchChangedColumns = this.tracksChangedColumns ? changed : changedColumnsUnknown;
    return out;
  }

  private parseColumn(definition: ColumnDefinition, position: number): Column {
    let type: ValueType;
    try {
      type = parseType(definition.type);
    } catch (error) {
      if (!(error instanceof DbError)) throw error;
      throw new DbError("INVALID_SCHEMA", `${this.object}.${definition.name}: ${error.message}`, {
        object: this.object,
        column: definition.name,
      });
    }
    const autoIncrement = definition.autoIncrement === true;
    if (
      autoIncrement &&
      !["int1", "int2", "int4", "int8", "uint1", "uint2", "uint4", "uint8"].includes(type.kind)
    ) {
      throw new DbError(
        "INVALID_SCHEMA",
        `${this.object}.${definition.name}: auto_increment needs an integer column, ` +
          `not ${typeName(type)}`,
        { object: this.object, column: definition.name },
      );
    }
    const site = { object: this.object, column: definition.name };
    return { name: definition.name, type, position, autoIncrement, site };
  }

  private site(column: Column, row?: number): { object: string; column: string; row?: number } {
    return row === undefined ? column.site : { object: this.object, column: column.name, row };
  }

  private missing(column: Column, rowIndex?: number): DbError {
    const rowText = rowIndex === undefined ? "" : ` (row ${rowIndex})`;
    return new DbError(
      "MISSING_COLUMN",
      `${this.object}: column ${column.name} (${typeName(column.type)}) is required${rowText}`,
      rowIndex === undefined
        ? { object: this.object, column: column.name }
        : { object: this.object, column: column.name, row: rowIndex },
    );
  }
}
