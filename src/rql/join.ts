/**
 * @module `inner join` and `left join`: equi-joins on `using` columns. When the joined query
 * is a bare table read and its join column is the table's primary key or the first column of
 * one of its indexes, each left row looks its matches up there (an index nested-loop join);
 * otherwise the right side is read once into a hash table. Either way matches come in the
 * right side's key order. Right columns are prefixed with `alias_`; a left join fills them
 * with none when nothing matches, and a none key value matches nothing. Keys match as `==`
 * does: text joined with a time, date, datetime, duration or uuid column is read as that type.
 */
import { DbError } from "../lib/errors.ts";
import { coerceValue, compareValues, mapKeyOfTuple, valuesEqual } from "../values/index.ts";
import type { MapKey, ValueType } from "../values/index.ts";
import { textSpelledKinds } from "../expr/index.ts";
import { Table } from "../primitives/index.ts";
import type { Row } from "../primitives/index.ts";
import type { JoinKey, JoinStep, Pipeline, Position } from "./ast.ts";
import type { Columns, CompileEnv, CompiledPipeline, RunContext } from "./context.ts";
import type { Stage } from "./pipeline.ts";
import { deadlineTick } from "./deadline.ts";

type PipelineCompiler = (pipeline: Pipeline, env: CompileEnv) => CompiledPipeline;

interface CompiledJoin {
  stage: Stage;
  columns: Columns;
  plan: readonly string[];
}

/** Finds the right rows matching one left key. */
type Matcher = (key: unknown[], ctx: RunContext) => readonly Row[];

export function compileJoin(
  step: JoinStep,
  columns: Columns,
  env: CompileEnv,
  compilePipeline: PipelineCompiler,
): CompiledJoin {
  const right = compilePipeline(step.right, env);
  checkJoinKeys(step, columns, right.columns);
  const leftNames = step.using.map((key) => key.left);
  const rightNames = step.using.map((key) => key.right);
  const readers = keyReaders(step, columns, right.columns);
  // An index holds the right column's own values: one whose values must be read as the left
  // key's type (text meeting a time) cannot be looked up.
  const indexed = readers.right.some(Boolean) ? undefined : indexMatcher(step, env, rightNames);
  const plan =
    indexed === undefined
      ? [...right.plan, `join: hash on (${rightNames.join(", ")})`]
      : [indexed.plan];
  const prefix = `${step.alias}_`;
  const rightColumns = right.columns === undefined ? undefined : [...right.columns.keys()];
  const stage: Stage = (rows, ctx) => {
    let match = indexed?.match;
    let names = rightColumns ?? [];
    if (match === undefined) {
      const rightRows = right.run(ctx);
      match = hashMatcher(rightRows, rightNames, readers.right);
      // Columns known only once read (inline rows, the past): every joined row, matched or
      // not, gets each of them, none where its match lacks one.
      if (rightColumns === undefined) names = columnsOfRows(rightRows);
    }
    const out: Row[] = [];
    for (const row of rows) {
      const key = keyOf(row, leftNames, readers.left);
      const matches = key.some((part) => part === null) ? [] : match(key, ctx);
      deadlineTick(1 + matches.length * (1 + names.length));
      for (const other of matches) {
        const joined: Record<string, unknown> = { ...row };
        for (const name of names) joined[prefix + name] = other[name] ?? null;
        out.push(joined);
      }
      if (matches.length === 0 && step.kind === "left") {
        const joined: Record<string, unknown> = { ...row };
        for (const name of names) joined[prefix + name] = null;
        out.push(joined);
      }
    }
    return out;
  };
  let outColumns: Columns;
  if (columns !== undefined && right.columns !== undefined) {
    const merged = new Map<string, ValueType | undefined>(columns);
    for (const [name, type] of right.columns) {
      // A right value written over a left one (`p_name` on the left, `name` under alias p)
      // would lose the left's value without a word.
      if (merged.has(prefix + name)) throw joinColumnTaken(step, prefix + name);
      merged.set(prefix + name, type);
    }
    outColumns = merged;
  }
  return { stage, columns: outColumns, plan };
}

/** A misspelt key column would match nothing and quietly empty an inner join. */
function checkJoinKeys(step: JoinStep, left: Columns, right: Columns): void {
  for (const key of step.using) {
    if (left !== undefined && !left.has(key.left)) throw unknownKey(key, key.left);
    if (right !== undefined && !right.has(key.right)) {
      throw unknownKey(key, `${step.alias}.${key.right}`);
    }
  }
}

function unknownKey(key: JoinKey, name: string): DbError {
  const { line, col } = key.pos;
  return new DbError(
    "UNKNOWN_COLUMN",
    `line ${line}, column ${col}: join: unknown column "${name}"`,
    {
      column: name,
      line,
      col,
      fragment: name,
    },
  );
}

function joinColumnTaken(step: JoinStep, name: string): DbError {
  const { line, col } = step.pos;
  return new DbError(
    "INVALID_ARGUMENT",
    `line ${line}, column ${col}: join: column "${name}" already exists; ` +
      `choose another alias than "${step.alias}"`,
    { column: name, line, col, fragment: step.alias },
  );
}

/** Every column any of the rows has, in the order first met. */
function columnsOfRows(rows: readonly Row[]): string[] {
  const names = new Set<string>();
  for (const row of rows) for (const name of Object.keys(row)) names.add(name);
  return [...names];
}

function hashMatcher(
  rows: readonly Row[],
  names: readonly string[],
  readers: readonly KeyReader[],
): Matcher {
  const table = new Map<MapKey, Row[]>();
  for (const row of rows) {
    const values = keyOf(row, names, readers);
    if (values.some((value) => value === null)) continue;
    const key = mapKeyOfTuple(values);
    const bucket = table.get(key);
    if (bucket === undefined) table.set(key, [row]);
    else bucket.push(row);
  }
  return (key) => table.get(mapKeyOfTuple(key)) ?? [];
}

// ---- Key values read as `==` reads them ----

/** Reads one key value of one side; undefined for a side whose values are used as they are. */
export type KeyReader = ((value: unknown) => unknown) | undefined;

/** Kinds whose values may be text a spelled kind must read: text and untyped columns. */
const textHoldingKinds: ReadonlySet<string> = new Set(["utf8", "any", "json"]);

/**
 * How one side's key values are read so that the join matches as `==` does: text (a utf8 or
 * untyped column) joined with a time, date, datetime, duration or uuid column is read as that
 * type, so 12:00:00.5 meets "12:00:00.50" and a datetime meets its text with an offset. Text
 * that is no such value is TYPE_MISMATCH at the key, as `tm == note` is: matching nothing
 * would quietly empty an inner join over a misspelt value.
 */
export function joinKeyReader(
  own: ValueType | undefined,
  other: ValueType | undefined,
  name: string,
  pos: Position | undefined,
): KeyReader {
  if (other === undefined || !textSpelledKinds.has(other.kind)) return undefined;
  if (own !== undefined && !textHoldingKinds.has(own.kind)) return undefined;
  const target: ValueType = { kind: other.kind, optional: false };
  return (value) => {
    if (typeof value !== "string") return value;
    try {
      return coerceValue(target, value);
    } catch (error) {
      if (!(error instanceof DbError)) throw error;
      const where = pos === undefined ? "" : `line ${pos.line}, column ${pos.col}: `;
      const place = pos === undefined ? {} : { line: pos.line, col: pos.col, fragment: name };
      const message = `${where}join key ${name}: ${error.message}`;
      throw new DbError(error.code, message, { ...error.details, column: name, ...place });
    }
  };
}

function keyReaders(
  step: JoinStep,
  left: Columns,
  right: Columns,
): { left: KeyReader[]; right: KeyReader[] } {
  return {
    left: step.using.map((key) =>
      joinKeyReader(left?.get(key.left), right?.get(key.right), key.left, key.pos),
    ),
    right: step.using.map((key) =>
      joinKeyReader(
        right?.get(key.right),
        left?.get(key.left),
        `${step.alias}.${key.right}`,
        key.pos,
      ),
    ),
  };
}

function keyOf(row: Row, names: readonly string[], readers: readonly KeyReader[]): unknown[] {
  return names.map((name, i) => {
    const value = row[name] ?? null;
    const read = readers[i];
    return read === undefined ? value : read(value);
  });
}

/**
 * An index nested-loop matcher when the right side is a bare table keyed on the column. It
 * reads stored rows: a query writes nothing, and a joined row copies the values it takes.
 */
function indexMatcher(
  step: JoinStep,
  env: CompileEnv,
  rightNames: readonly string[],
): { match: Matcher; plan: string } | undefined {
  const source = step.right.source;
  if (step.right.steps.length > 0 || source.type !== "object" || source.asOf !== undefined) {
    return undefined;
  }
  if (rightNames.length !== 1) return undefined;
  const object = env.catalog.get(source.object.name);
  if (!(object instanceof Table) || !object.hasPrimaryKey) return undefined;
  const column = rightNames[0]!;
  const pk = object.definition.primaryKey ?? [];
  if (pk.length === 1 && pk[0] === column) {
    return {
      plan: `join: ${object.name} primary key lookup (${column})`,
      match: (key) => {
        const row = safely(() => object.getStored(key[0]));
        return row === undefined || !sameKey(row, column, key[0]) ? [] : [row];
      },
    };
  }
  const index = object.indexes.find(
    (candidate) => candidate.columns.length === 1 && candidate.columns[0] === column,
  );
  if (index === undefined) return undefined;
  return {
    plan: `join: ${object.name} index ${index.name} lookup (${column})`,
    match: (key) => {
      const found = safely(() => object.lookupStored(index.name, key[0])) ?? [];
      const rows = found.filter((row) => sameKey(row, column, key[0]));
      return rows.length < 2
        ? rows
        : rows.sort((a, b) => compareValues(object.keyOf(a), object.keyOf(b)));
    },
  };
}

/**
 * Whether a row found by a lookup holds the key as `==` sees it: the lookup reads the key as
 * the table's `get` does (the text "2" as the int 2), which a hash join and `==` never match.
 */
function sameKey(row: Row, column: string, key: unknown): boolean {
  return valuesEqual(row[column], key);
}

/** A left value the right key column cannot hold (text for an integer key) matches nothing. */
function safely<T>(lookup: () => T): T | undefined {
  try {
    return lookup();
  } catch (error) {
    if (error instanceof Error && "code" in error) {
      const code = (error as { code: unknown }).code;
      if (code === "TYPE_MISMATCH" || code === "OUT_OF_RANGE") return undefined;
    }
    throw error;
  }
}
