/**
 * @module The access planner: for a table read under a filter, picks the cheapest way to find
 * candidate rows. It looks at the filter's top-level `and` terms of the form `col == value`,
 * `col in [values]`, `col between a and b` and `col < value` (and kin), where the value does
 * not depend on the row, and chooses, best first: a primary key lookup, a secondary index
 * lookup (unique first), the same with `in`, a primary key range, an ordered index range, and
 * otherwise a full scan. The filter is still applied to every candidate, so an index only
 * narrows the search and can never change an answer; a value that cannot be a key of the
 * column (text for an integer key) falls back to a scan for the same reason.
 */
import { DbError } from "../lib/errors.ts";
import { compileExpression } from "../expr/index.ts";
import type { Evaluator, Expr } from "../expr/index.ts";
import type { Row, Table } from "../primitives/index.ts";
import { coerceValue, compareValues, mapKeyOf, parseType } from "../values/index.ts";
import type { MapKey, ValueType } from "../values/index.ts";
import type { RowScope } from "./context.ts";
import { exactLiteral } from "./exact-literal.ts";
import { deadlineTick } from "./deadline.ts";

interface Bound {
  value: Evaluator;
  exclusive: boolean;
}

/** How candidate rows are found. `describe` is the line explain prints. */
export interface AccessPath {
  readonly describe: string;
  /** Candidate rows in primary key order. */
  readonly fetch: (table: Table, scope: RowScope) => Iterable<Row>;
}

interface Terms {
  equal: Map<string, Evaluator>;
  within: Map<string, Evaluator>;
  lower: Map<string, Bound>;
  upper: Map<string, Bound>;
}

/** The terms of `a and b and c`. */
function conjuncts(expr: Expr, out: Expr[] = []): Expr[] {
  if (expr.type === "binary" && expr.op === "and") {
    conjuncts(expr.left, out);
    conjuncts(expr.right, out);
  } else {
    out.push(expr);
  }
  return out;
}

/** True when an expression reads no column: literals, parameters, and calls of those. */
function isRowIndependent(expr: Expr): boolean {
  switch (expr.type) {
    case "literal":
    case "param":
      return true;
    case "field":
      return false;
    case "record":
      return expr.entries.every((entry) => isRowIndependent(entry.value));
    case "list":
      return expr.items.every(isRowIndependent);
    case "unary":
      return isRowIndependent(expr.operand);
    case "binary":
      return isRowIndependent(expr.left) && isRowIndependent(expr.right);
    case "between":
      return [expr.operand, expr.low, expr.high].every(isRowIndependent);
    case "in":
      return isRowIndependent(expr.operand) && isRowIndependent(expr.list);
    case "call":
      return expr.args.every(isRowIndependent);
  }
}

function columnOf(expr: Expr): string | undefined {
  return expr.type === "field" && expr.path.length === 1 ? expr.path[0] : undefined;
}

const flipped: Readonly<Record<string, string>> = { "<": ">", "<=": ">=", ">": "<", ">=": "<=" };

function collectTerms(table: Table, predicate: Expr | undefined): Terms {
  const terms: Terms = { equal: new Map(), within: new Map(), lower: new Map(), upper: new Map() };
  if (predicate === undefined) return terms;
  // A value is read as the filter reads it: a decimal column's literals keep every digit.
  const compile = (expr: Expr, column: string): Evaluator => {
    const type = columnType(table, column);
    const exact =
      expr.type === "list"
        ? { ...expr, items: expr.items.map((item) => exactLiteral(item, type)) }
        : exactLiteral(expr, type);
    return compileExpression(exact);
  };
  for (const term of conjuncts(predicate)) collectTerm(term, terms, compile);
  return terms;
}

function collectTerm(
  term: Expr,
  terms: Terms,
  compile: (expr: Expr, column: string) => Evaluator,
): void {
  if (term.type === "in" && !term.negated && isRowIndependent(term.list)) {
    const column = columnOf(term.operand);
    if (column !== undefined) terms.within.set(column, compile(term.list, column));
    return;
  }
  if (term.type === "between" && !term.negated) {
    const column = columnOf(term.operand);
    if (column === undefined || !isRowIndependent(term.low) || !isRowIndependent(term.high)) return;
    setBound(terms.lower, column, compile(term.low, column), false);
    setBound(terms.upper, column, compile(term.high, column), false);
    return;
  }
  if (term.type !== "binary") return;
  let op: string = term.op;
  let column = columnOf(term.left);
  let other = term.right;
  if (column === undefined || !isRowIndependent(other)) {
    column = columnOf(term.right);
    other = term.left;
    op = flipped[op] ?? op;
  }
  if (column === undefined || !isRowIndependent(other)) return;
  const value = compile(other, column);
  if (op === "==") terms.equal.set(column, value);
  else if (op === ">" || op === ">=") setBound(terms.lower, column, value, op === ">");
  else if (op === "<" || op === "<=") setBound(terms.upper, column, value, op === "<");
}

function setBound(map: Map<string, Bound>, column: string, value: Evaluator, exclusive: boolean) {
  if (!map.has(column)) map.set(column, { value, exclusive });
}

const scanPath = (name: string): AccessPath => ({
  describe: `${name}: full scan`,
  fetch: (table) => table.scanStored(),
});

/**
 * Chooses the access path for reading `table` under `predicate` (undefined: no filter). Its
 * rows are the table's stored rows, not copies (`Table.scanStored` and kin): every reader of
 * them writes nothing while it reads and copies what it keeps or hands out (a query's
 * frames, `frameOf`; the rows an update or delete keeps, `copyOfStored`), so a row a filter
 * drops or an aggregate folds is never copied.
 */
export function planTableAccess(table: Table, predicate: Expr | undefined): AccessPath {
  if (!table.hasPrimaryKey) return scanPath(table.name);
  const terms = collectTerms(table, predicate);
  const pk = table.definition.primaryKey ?? [];
  const indexes = [...table.indexes].sort((a, b) => Number(b.unique) - Number(a.unique));
  const path =
    pkLookup(table, pk, terms) ??
    firstOf(indexes, (index) => indexLookup(table, index, terms)) ??
    pkIn(table, pk, terms) ??
    firstOf(indexes, (index) => indexIn(table, index, terms)) ??
    pkRange(table, pk, terms) ??
    firstOf(indexes, (index) => indexRange(table, index, terms));
  return path === undefined ? scanPath(table.name) : withFallback(path);
}

function firstOf<T, R>(items: readonly T[], pick: (item: T) => R | undefined): R | undefined {
  for (const item of items) {
    const result = pick(item);
    if (result !== undefined) return result;
  }
  return undefined;
}

/** A key value the column cannot hold matches no stored key; a scan gives the exact answer. */
function withFallback(path: AccessPath): AccessPath {
  return {
    describe: path.describe,
    fetch: (table, scope) => {
      try {
        // Lookups return lists; ranges return generators, whose coercion errors come on
        // the first step, so those are drained here, inside the try.
        const rows = path.fetch(table, scope);
        return Array.isArray(rows) ? (rows as readonly Row[]) : [...rows];
      } catch (error) {
        if (!(error instanceof DbError)) throw error;
        if (error.code !== "TYPE_MISMATCH" && error.code !== "OUT_OF_RANGE") throw error;
        return table.scanStored();
      }
    },
  };
}

function pkLookup(table: Table, pk: readonly string[], terms: Terms): AccessPath | undefined {
  const reads = pk.map((column) => terms.equal.get(column));
  if (reads.length === 0 || reads.some((read) => read === undefined)) return undefined;
  const evaluators = reads as Evaluator[];
  const single = evaluators.length === 1 ? evaluators[0]! : undefined;
  return {
    describe: `${table.name}: primary key lookup (${pk.join(", ")})`,
    fetch: (t, scope) => {
      const key = single !== undefined ? single(scope) : evaluators.map((read) => read(scope));
      if (key === null) return [];
      const row = t.getStored(key);
      return row === undefined ? [] : [row];
    },
  };
}

function pkIn(table: Table, pk: readonly string[], terms: Terms): AccessPath | undefined {
  const list = pk.length === 1 ? terms.within.get(pk[0]!) : undefined;
  if (list === undefined) return undefined;
  return {
    describe: `${table.name}: primary key lookup of a list (${pk[0]})`,
    fetch: (t, scope) => {
      const keys = list(scope);
      if (!Array.isArray(keys)) return t.scanStored();
      const rows: Row[] = [];
      const seen = new Set<MapKey>();
      for (const key of keys) {
        deadlineTick(1);
        if (key === null) continue;
        const row = t.getStored(key);
        if (row === undefined) continue;
        const mapKey = mapKeyOf(t.keyOf(row));
        if (!seen.has(mapKey)) rows.push(row);
        seen.add(mapKey);
      }
      return sortByKey(t, rows);
    },
  };
}

function pkRange(table: Table, pk: readonly string[], terms: Terms): AccessPath | undefined {
  const column = pk.length === 1 ? pk[0]! : undefined;
  const lower = column === undefined ? undefined : terms.lower.get(column);
  const upper = column === undefined ? undefined : terms.upper.get(column);
  if (lower === undefined && upper === undefined) return undefined;
  const type = columnType(table, column!);
  return {
    describe: `${table.name}: primary key range (${column})`,
    fetch: (t, scope) => {
      const range = rangeOf(lower, upper, scope, type);
      return range === undefined ? [] : t.scanStored(range);
    },
  };
}

type IndexOf = Table["indexes"][number];

function indexLookup(table: Table, index: IndexOf, terms: Terms): AccessPath | undefined {
  const reads = index.columns.map((column) => terms.equal.get(column));
  if (reads.some((read) => read === undefined)) return undefined;
  const evaluators = reads as Evaluator[];
  return {
    describe: `${table.name}: index ${index.name} lookup (${index.columns.join(", ")})`,
    fetch: (t, scope) => {
      const key =
        evaluators.length === 1 ? evaluators[0]!(scope) : evaluators.map((read) => read(scope));
      if (key === null) return [];
      return sortByKey(t, t.lookupStored(index.name, key));
    },
  };
}

function indexIn(table: Table, index: IndexOf, terms: Terms): AccessPath | undefined {
  const list = index.columns.length === 1 ? terms.within.get(index.columns[0]!) : undefined;
  if (list === undefined) return undefined;
  return {
    describe: `${table.name}: index ${index.name} lookup of a list (${index.columns[0]})`,
    fetch: (t, scope) => {
      const keys = list(scope);
      if (!Array.isArray(keys)) return t.scanStored();
      const byKey = new Map<MapKey, Row>();
      for (const key of keys) {
        deadlineTick(1);
        if (key === null) continue;
        for (const row of t.lookupStored(index.name, key)) {
          byKey.set(mapKeyOf(t.keyOf(row)), row);
        }
      }
      return sortByKey(t, [...byKey.values()]);
    },
  };
}

function indexRange(table: Table, index: IndexOf, terms: Terms): AccessPath | undefined {
  const column = index.ordered && index.columns.length === 1 ? index.columns[0]! : undefined;
  const lower = column === undefined ? undefined : terms.lower.get(column);
  const upper = column === undefined ? undefined : terms.upper.get(column);
  if (lower === undefined && upper === undefined) return undefined;
  const type = columnType(table, column!);
  return {
    describe: `${table.name}: index ${index.name} range (${column})`,
    fetch: (t, scope) => {
      const range = rangeOf(lower, upper, scope, type);
      return range === undefined ? [] : sortByKey(t, [...t.rangeStored(index.name, range)]);
    },
  };
}

function columnType(table: Table, column: string): ValueType | undefined {
  const columns = table.definition.columns as ReadonlyArray<{ name: string; type: string }>;
  const found = columns.find((c) => c.name === column);
  return found === undefined ? undefined : parseType(found.type);
}

/**
 * False when the table, putting `value` into the column's type for a bound, would move it
 * (2^53 + 1 into a float8 is 2^53): the bound is then made inclusive, since no value of the
 * column lies strictly between the two, and the filter drops what the bound let in.
 */
function staysExact(type: ValueType | undefined, value: unknown): boolean {
  if (type === undefined) return true;
  try {
    return compareValues(coerceValue(type, value), value) === 0;
  } catch (error) {
    // A value the column cannot hold: the access path falls back to a scan (withFallback).
    if (error instanceof DbError) return true;
    throw error;
  }
}

/** Bounds for a scan; undefined when a bound is none (nothing compares with none). */
function rangeOf(
  lower: Bound | undefined,
  upper: Bound | undefined,
  scope: RowScope,
  type: ValueType | undefined,
):
  | { lower?: unknown; upper?: unknown; lowerExclusive?: boolean; upperExclusive?: boolean }
  | undefined {
  const range: {
    lower?: unknown;
    upper?: unknown;
    lowerExclusive?: boolean;
    upperExclusive?: boolean;
  } = {};
  if (lower !== undefined) {
    range.lower = lower.value(scope);
    range.lowerExclusive = lower.exclusive && staysExact(type, range.lower);
    if (range.lower === null) return undefined;
  }
  if (upper !== undefined) {
    range.upper = upper.value(scope);
    range.upperExclusive = upper.exclusive && staysExact(type, range.upper);
    if (range.upper === null) return undefined;
  }
  return range;
}

/** Rows found through an index, back in primary key order (the order of unsorted output). */
function sortByKey(table: Table, rows: Row[]): Row[] {
  if (rows.length < 2) return rows;
  return rows.sort((a, b) => {
    deadlineTick(1);
    return compareValues(table.keyOf(a), table.keyOf(b));
  });
}
