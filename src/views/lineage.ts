/**
 * @module Which input columns a view reads. Compiling a pipeline follows where each column of
 * each stream comes from (its lineage: input object and column); a step that reads columns
 * (a filter's predicate, a group key, a join key, a sort) and the view's output (every column
 * it shows) mark their origins as read. An update of an input row that changes none of the
 * columns the view reads cannot change the view, so the view manager skips it: a view counting
 * orders by status costs nothing when an order's total changes.
 */
import { assert } from "../lib/assert.ts";
import type { CallExpr, Expr } from "../expr/index.ts";
import type { Columns } from "./columns.ts";

/** One input column a stream column is computed from; `column` undefined: any of them. */
interface Origin {
  readonly object: string;
  readonly column: string | undefined;
}

/** Where the columns of one stream come from. */
export interface Lineage {
  readonly columns: ReadonlyMap<string, readonly Origin[]>;
  /**
   * False when the stream's rows may hold columns missing from `columns` (an input without
   * a schema): reading those reads any column of every source.
   */
  readonly complete: boolean;
  /** The input objects whose rows flow into the stream. */
  readonly sources: readonly string[];
}

/** Input object name to the columns read, or undefined when every column may be read. */
export type ColumnsRead = Map<string, Set<string> | undefined>;

/** Rows written inline in the pipeline: they never change, so they read nothing. */
export const constantLineage: Lineage = { columns: new Map(), complete: true, sources: [] };

/**
 * The lineage of an input object's rows: each column is itself, or, where `storedAs` names one,
 * the field of the stored row (what its changes carry) it is read from: a queue row's
 * `available_at` is its message's `availableAt`, and its body columns are the `body`.
 */
export function inputLineage(
  object: string,
  columns: Columns | undefined,
  storedAs?: ReadonlyMap<string, string>,
): Lineage {
  if (columns === undefined) return { columns: new Map(), complete: false, sources: [object] };
  const origins = new Map<string, readonly Origin[]>();
  for (const name of columns.keys()) {
    origins.set(name, [{ object, column: storedAs?.get(name) ?? name }]);
  }
  return { columns: origins, complete: true, sources: [object] };
}

/** Marks the columns `names` of a stream (every column when "all") as read. */
export function markRead(
  read: ColumnsRead,
  lineage: Lineage,
  names: Iterable<string> | "all",
): void {
  if (names === "all") {
    for (const origins of lineage.columns.values()) markOrigins(read, origins);
    if (!lineage.complete) markOrigins(read, anyColumnOf(lineage));
    return;
  }
  for (const name of names) markOrigins(read, originsOf(lineage, name));
}

/** Marks the columns the expressions refer to as read. */
export function markExprsRead(read: ColumnsRead, lineage: Lineage, exprs: readonly Expr[]): void {
  markRead(read, lineage, fieldsOf(exprs));
}

/** The lineage of a `map` (or, with `keep`, an `extend`) of named expressions. */
export function mapLineage(
  lineage: Lineage,
  specs: ReadonlyArray<{ readonly name: string; readonly expr: Expr }>,
  keep: boolean,
): Lineage {
  const columns = new Map(keep ? lineage.columns : []);
  for (const spec of specs) {
    columns.set(
      spec.name,
      [...fieldsOf([spec.expr])].flatMap((name) => originsOf(lineage, name)),
    );
  }
  return { columns, complete: keep ? lineage.complete : true, sources: lineage.sources };
}

/** An aggregate's rows come from what it read (marked there), not from any input column. */
export function derivedLineage(columns: Columns): Lineage {
  return {
    columns: new Map([...columns.keys()].map((name) => [name, []])),
    complete: true,
    sources: [],
  };
}

/** A join's rows: the left columns, then the right ones under their output names. */
export function joinLineage(
  left: Lineage,
  right: Lineage,
  prefixed: ReadonlyArray<readonly [string, string]>,
): Lineage {
  const columns = new Map(left.columns);
  for (const [name, output] of prefixed) columns.set(output, originsOf(right, name));
  return combined(columns, left, right);
}

/** An append's rows: each column from either side. */
export function appendLineage(left: Lineage, right: Lineage): Lineage {
  const columns = new Map(left.columns);
  for (const [name, origins] of right.columns) {
    columns.set(name, [...(columns.get(name) ?? []), ...origins]);
  }
  return combined(columns, left, right);
}

/** The columns read of each input, in the form the view manager checks. */
export function readColumnLists(read: ColumnsRead): Map<string, readonly string[] | undefined> {
  return new Map([...read].map(([object, names]) => [object, names && [...names]]));
}

function combined(columns: Map<string, readonly Origin[]>, a: Lineage, b: Lineage): Lineage {
  const sources = [...new Set([...a.sources, ...b.sources])];
  return { columns, complete: a.complete && b.complete, sources };
}

function originsOf(lineage: Lineage, name: string): readonly Origin[] {
  const origins = lineage.columns.get(name);
  if (origins !== undefined) return origins;
  // A column the stream is not known to have: with a schemaless input it may be any.
  return lineage.complete ? [] : anyColumnOf(lineage);
}

function anyColumnOf(lineage: Lineage): Origin[] {
  return lineage.sources.map((object) => ({ object, column: undefined }));
}

function markOrigins(read: ColumnsRead, origins: readonly Origin[]): void {
  for (const { object, column } of origins) {
    if (!read.has(object)) read.set(object, new Set());
    const names = read.get(object);
    if (names === undefined) continue;
    if (column === undefined) read.set(object, undefined);
    else names.add(column);
  }
}

/** The root names (columns) the expressions read. */
export function fieldsOf(exprs: readonly Expr[]): Set<string> {
  const names = new Set<string>();
  forEachNode(exprs, (expr) => {
    if (expr.type === "field") names.add(expr.path[0]!);
  });
  return names;
}

/** The calls in the expressions, nested ones included. */
export function callsOf(exprs: readonly Expr[]): CallExpr[] {
  const calls: CallExpr[] = [];
  forEachNode(exprs, (expr) => {
    if (expr.type === "call") calls.push(expr);
  });
  return calls;
}

/** Visits every node of the expressions (without recursion: nesting is bounded by the parser). */
function forEachNode(exprs: readonly Expr[], visit: (expr: Expr) => void): void {
  const stack = [...exprs];
  for (let expr = stack.pop(); expr !== undefined; expr = stack.pop()) {
    visit(expr);
    switch (expr.type) {
      case "record":
        for (const entry of expr.entries) stack.push(entry.value);
        break;
      case "list":
        stack.push(...expr.items);
        break;
      case "unary":
        stack.push(expr.operand);
        break;
      case "binary":
        stack.push(expr.left, expr.right);
        break;
      case "between":
        stack.push(expr.operand, expr.low, expr.high);
        break;
      case "in":
        stack.push(expr.operand, expr.list);
        break;
      case "call":
        stack.push(...expr.args);
        break;
      case "field":
      case "literal":
      case "param":
        break;
      default:
        // A new kind of expression must say which nodes it holds before views use it.
        assert(false, `lineage: unknown expression ${(expr satisfies never as Expr).type}`);
    }
  }
}
