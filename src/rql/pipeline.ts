/**
 * @module Compiles a pipeline (`from` then steps) into one function from a run to rows. The
 * filters right after `from` go to the planner, which picks the access path. Leading row-wise
 * steps (filter, map, extend, then take) run as one loop over the source that stops as soon
 * as `take` has its rows; the other steps (sort, distinct, aggregate, join, append) work on
 * the whole list. Expressions are compiled here, once, against the known columns, so an
 * unknown column is an error before any row is read.
 */
import { DbError, describeValue } from "../lib/errors.ts";
import { compileExpression, compilePredicate, inferType, printExpression } from "../expr/index.ts";
import type { Evaluator, Expr } from "../expr/index.ts";
import type { Row } from "../primitives/index.ts";
import { compareValues, mapKeyOfTuple } from "../values/index.ts";
import type { MapKey, ValueType } from "../values/index.ts";
import type { ColumnExpr, DistinctStep, Pipeline, SortStep, Step } from "./ast.ts";
import { scopeOf } from "./context.ts";
import type { Columns, CompileEnv, CompiledPipeline, RowScope, RunContext } from "./context.ts";
import { compileAggregate } from "./aggregate.ts";
import { compileJoin } from "./join.ts";
import { compileSource } from "./source.ts";
import { deadlineTick, expressionCost } from "./deadline.ts";

/** Turns rows into rows over a whole list. */
export type Stage = (rows: Row[], ctx: RunContext) => Row[];
/** Turns one row into a row, or drops it (undefined). */
type RowStep = (row: Row, scope: RowScope) => Row | undefined;

export function compilePipeline(pipeline: Pipeline, env: CompileEnv): CompiledPipeline {
  const steps = pipeline.steps;
  let leading = 0;
  let predicate: Expr | undefined;
  while (leading < steps.length && steps[leading]!.type === "filter") {
    const filter = (steps[leading] as Extract<Step, { type: "filter" }>).predicate;
    predicate =
      predicate === undefined
        ? filter
        : { type: "binary", op: "and", left: predicate, right: filter, pos: filter.pos };
    leading++;
  }
  const source = compileSource(pipeline.source, env, predicate);
  const plan: string[] = [source.plan];
  let columns = source.columns;
  let shared = source.shared;
  // The streaming prefix: row-wise steps, then at most one take.
  const rowSteps: RowStep[] = [];
  // The work of one source row through the row-wise steps, counted against the deadline.
  let rowCost = 1;
  let index = 0;
  for (; index < steps.length; index++) {
    const step = steps[index]!;
    if (step.type !== "filter" && step.type !== "map" && step.type !== "extend") break;
    const cost = expressionCost(step);
    deadlineTick(cost); // compiling costs about what one evaluation does
    rowCost += cost;
    rowSteps.push(compileRowStep(step, columns));
    columns = columnsAfter(step, columns);
    if (step.type !== "filter") shared = false;
  }
  let limit: Evaluator | undefined;
  if (steps[index]?.type === "take") {
    limit = compileTakeCount((steps[index] as Extract<Step, { type: "take" }>).count);
    index++;
  }
  const stages: Stage[] = [];
  for (; index < steps.length; index++) {
    const step = steps[index]!;
    deadlineTick(1);
    const compiled = compileStage(step, columns, env);
    stages.push(compiled.stage);
    plan.push(...compiled.plan);
    columns = compiled.columns;
    if (compiled.fresh) shared = false;
    if (compiled.shares === true) shared = true;
  }
  const head = streamRows(source.rows, rowSteps, limit, rowCost);
  const run =
    stages.length === 0
      ? head
      : (ctx: RunContext): Row[] => {
          let rows = head(ctx);
          for (let i = 0; i < stages.length; i++) {
            deadlineTick(1);
            rows = stages[i]!(rows, ctx);
          }
          return rows;
        };
  return { columns, run, plan, shared };
}

/**
 * The loop over the source: row-wise steps, stopping when `limit` rows are out. Each row
 * counts `rowCost` units against the deadline, rows the filter drops too.
 */
function streamRows(
  source: (ctx: RunContext) => Iterable<Row>,
  rowSteps: readonly RowStep[],
  limit: Evaluator | undefined,
  rowCost: number,
): (ctx: RunContext) => Row[] {
  const count = rowSteps.length;
  return (ctx) => {
    const scope = scopeOf(ctx);
    const max = limit === undefined ? Infinity : (limit(scope) as number);
    const out: Row[] = [];
    if (max === 0) return out;
    for (const input of source(ctx)) {
      deadlineTick(rowCost);
      let row: Row | undefined = input;
      for (let i = 0; i < count && row !== undefined; i++) row = rowSteps[i]!(row, scope);
      if (row === undefined) continue;
      out.push(row);
      if (out.length >= max) break;
    }
    return out;
  };
}

/** `take N`'s count: a whole number >= 0, or INVALID_ARGUMENT at N's position. */
function compileTakeCount(expr: Expr): Evaluator {
  const read = compileExpression(expr);
  return (scope) => {
    const value = read(scope);
    const count = typeof value === "bigint" ? Number(value) : value;
    if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0) {
      const { line, col } = expr.pos;
      const shown = describeValue(value);
      const message = `line ${line}, column ${col}: take needs a whole number >= 0, got ${shown}`;
      const fragment = printExpression(expr);
      throw new DbError("INVALID_ARGUMENT", message, { value: shown, line, col, fragment });
    }
    return count;
  };
}

function compileRowStep(step: Step, columns: Columns): RowStep {
  const fields = columns;
  if (step.type === "filter") {
    const keep = compilePredicate(step.predicate, fields === undefined ? {} : { fields });
    return (row, scope) => {
      scope.row = row;
      return keep(scope) ? row : undefined;
    };
  }
  if (step.type === "map") return compileMap(step.columns, columns);
  if (step.type === "extend") return compileExtend(step.columns, columns);
  throw new Error(`not a row step: ${step.type}`);
}

/** Evaluators of named expressions, in order. */
export function compileColumns(list: readonly ColumnExpr[], columns: Columns): Evaluator[] {
  return list.map((column) =>
    compileExpression(column.expr, columns === undefined ? {} : { fields: columns }),
  );
}

function compileMap(list: readonly ColumnExpr[], columns: Columns): RowStep {
  const names = list.map((column) => column.name);
  const reads = compileColumns(list, columns);
  return (row, scope) => {
    scope.row = row;
    const out: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) out[names[i]!] = reads[i]!(scope);
    return out;
  };
}

function compileExtend(list: readonly ColumnExpr[], columns: Columns): RowStep {
  for (const column of list) {
    if (columns?.has(column.name) === true) throw columnExists(column);
  }
  const names = list.map((column) => column.name);
  const reads = compileColumns(list, columns);
  return (row, scope) => {
    scope.row = row;
    const out: Record<string, unknown> = { ...row };
    for (let i = 0; i < names.length; i++) {
      if (columns === undefined && Object.hasOwn(row, names[i]!)) throw columnExists(list[i]!);
      out[names[i]!] = reads[i]!(scope);
    }
    return out;
  };
}

function columnExists(column: ColumnExpr): DbError {
  return new DbError(
    "INVALID_ARGUMENT",
    `line ${column.pos.line}, column ${column.pos.col}: extend: column "${column.name}" ` +
      "already exists; use map to replace columns",
    { column: column.name, line: column.pos.line, col: column.pos.col, fragment: column.name },
  );
}

/** The columns a row-wise step leaves. */
function columnsAfter(step: Step, columns: Columns): Columns {
  if (step.type === "map") return typedColumns(step.columns, columns);
  if (step.type === "extend") {
    if (columns === undefined) return undefined;
    return new Map([...columns, ...typedColumns(step.columns, columns)!]);
  }
  return columns;
}

export function typedColumns(list: readonly ColumnExpr[], columns: Columns): Columns {
  const out = new Map<string, ValueType | undefined>();
  for (const column of list) out.set(column.name, inferType(column.expr, columns));
  return out;
}

interface CompiledStage {
  stage: Stage;
  columns: Columns;
  plan: readonly string[];
  /** True when the stage makes new rows (they need no copy on the way out). */
  fresh: boolean;
  /** True when the stage adds stored rows from another source (append). */
  shares?: boolean;
}

function compileStage(step: Step, columns: Columns, env: CompileEnv): CompiledStage {
  switch (step.type) {
    case "filter":
    case "map":
    case "extend": {
      const rowStep = compileRowStep(step, columns);
      const rowCost = 1 + expressionCost(step);
      const stage: Stage = (rows, ctx) => {
        const scope = scopeOf(ctx);
        const out: Row[] = [];
        for (const row of rows) {
          deadlineTick(rowCost);
          const next = rowStep(row, scope);
          if (next !== undefined) out.push(next);
        }
        return out;
      };
      return {
        stage,
        columns: columnsAfter(step, columns),
        plan: [],
        fresh: step.type !== "filter",
      };
    }
    case "take": {
      const limit = compileTakeCount(step.count);
      const stage: Stage = (rows, ctx) => rows.slice(0, limit(scopeOf(ctx)) as number);
      return { stage, columns, plan: [], fresh: false };
    }
    case "sort":
      return { stage: compileSort(step, columns), columns, plan: [], fresh: false };
    case "distinct":
      return { stage: compileDistinct(step, columns), columns, plan: [], fresh: false };
    case "aggregate":
      return { ...compileAggregate(step, columns), plan: [], fresh: true };
    case "join":
      return { ...compileJoin(step, columns, env, compilePipeline), fresh: true };
    case "append": {
      const other = compilePipeline(step.pipeline, env);
      const stage: Stage = (rows, ctx) => rows.concat(other.run(ctx));
      const merged =
        columns === undefined || other.columns === undefined
          ? undefined
          : new Map([...columns, ...other.columns]);
      return { stage, columns: merged, plan: other.plan, fresh: false, shares: other.shared };
    }
  }
}

function requireColumn(columns: Columns, name: string, pos: Expr["pos"], what: string): void {
  if (columns === undefined || columns.has(name)) return;
  throw new DbError(
    "UNKNOWN_COLUMN",
    `line ${pos.line}, column ${pos.col}: ${what}: unknown column "${name}"`,
    { column: name, line: pos.line, col: pos.col, fragment: name },
  );
}

function compileSort(step: SortStep, columns: Columns): Stage {
  for (const key of step.keys) requireColumn(columns, key.column, key.pos, "sort");
  const keys = step.keys.map((key) => ({ name: key.column, sign: key.descending ? -1 : 1 }));
  const compareCost = keys.length;
  const compare = (a: Row, b: Row): number => {
    deadlineTick(compareCost);
    for (const key of keys) {
      const order = compareValues(a[key.name] ?? null, b[key.name] ?? null);
      if (order !== 0) return order * key.sign;
    }
    return 0;
  };
  // Array.prototype.sort is stable, so equal keys keep their input order.
  return (rows) => rows.slice().sort(compare);
}

function compileDistinct(step: DistinctStep, columns: Columns): Stage {
  for (const name of step.columns) requireColumn(columns, name, step.pos, "distinct");
  const names = step.columns;
  const rowCost = 1 + names.length;
  return (rows) => {
    const seen = new Set<MapKey>();
    const out: Row[] = [];
    for (const row of rows) {
      deadlineTick(rowCost);
      const values = names.length === 0 ? Object.values(row) : names.map((n) => row[n] ?? null);
      const key =
        names.length === 0
          ? mapKeyOfTuple([...Object.keys(row), ...values])
          : mapKeyOfTuple(values);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(row);
    }
    return out;
  };
}
