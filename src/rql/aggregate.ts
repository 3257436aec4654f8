/**
 * @module The `aggregate` step: groups rows by the `by` columns (first appearance order, so
 * the output follows the input's order) and reduces each group with `math::count`, `sum`,
 * `avg`, `min`, `max`, `first` and `last`. Aggregate columns may be expressions over
 * aggregate calls (`math::sum(x) / 2`): the expression compiler calls back for each call, and
 * the callback reads the current group's accumulated value. `none` inputs are skipped, as in
 * SQL; an empty input with no `by` gives one row (count 0, every other aggregate none).
 */
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { compileExpression, inferType, sumModeOf } from "../expr/index.ts";
import type { CallExpr, Evaluator } from "../expr/index.ts";
import type { Row } from "../primitives/index.ts";
import { RunningSum, compareValues, mapKeyOfTuple } from "../values/index.ts";
import type { ArithMode, MapKey, ValueType } from "../values/index.ts";
import type { AggregateStep } from "./ast.ts";
import { scopeOf } from "./context.ts";
import type { Columns, RowScope, RunContext } from "./context.ts";
import type { Stage } from "./pipeline.ts";
import { deadlineTick, expressionCost } from "./deadline.ts";

interface Accumulator {
  count: number;
  value: unknown;
  /** The total of `sum` and `avg`. */
  sum: RunningSum | undefined;
}

interface Reducer {
  readonly name: string;
  readonly argument: Evaluator | undefined;
  /** `double` when the argument is a float: its sum never widens to bigint. */
  readonly mode: ArithMode;
}

const emptyValue = (): Accumulator => ({ count: 0, value: null, sum: undefined });

function reduce(reducer: Reducer, acc: Accumulator, value: unknown): void {
  const name = reducer.name;
  if (name === "first") {
    if (acc.count++ === 0) acc.value = value;
    return;
  }
  if (name === "last") {
    acc.count++;
    acc.value = value;
    return;
  }
  if (name === "sum" || name === "avg") {
    (acc.sum ??= new RunningSum(reducer.mode)).add(value);
    return;
  }
  if (value === null || value === undefined) return;
  acc.count++;
  if (name === "count") return;
  if (acc.count === 1) {
    acc.value = value;
    return;
  }
  if (name === "min" && compareValues(value, acc.value) < 0) acc.value = value;
  else if (name === "max" && compareValues(value, acc.value) > 0) acc.value = value;
}

function result(name: string, acc: Accumulator): unknown {
  if (name === "count") return acc.count;
  if (name === "sum") return acc.sum?.total() ?? null;
  if (name === "avg") return acc.sum?.average() ?? null;
  return acc.count === 0 ? null : (acc.value ?? null);
}

interface Group {
  readonly key: unknown[];
  readonly accs: Accumulator[];
}

/**
 * The groups of `rows` with their accumulated values, in first-appearance order. Without
 * `by` there is one group, made before the loop (an empty input still gives its row), and no
 * row computes a key: a list and a map key per row were a third of a 1M-row sum's time.
 */
function groupRows(
  rows: readonly Row[],
  scope: RowScope,
  byReads: readonly Evaluator[],
  reducers: readonly Reducer[],
  rowCost: number,
): Map<MapKey, Group> {
  const groups = new Map<MapKey, Group>();
  const single: Group | undefined =
    byReads.length === 0 ? { key: [], accs: reducers.map(emptyValue) } : undefined;
  if (single !== undefined) groups.set(null, single);
  for (let r = 0; r < rows.length; r++) {
    deadlineTick(rowCost);
    scope.row = rows[r]!;
    let group = single;
    if (group === undefined) {
      const key = byReads.map((read) => read(scope));
      const mapKey = mapKeyOfTuple(key);
      group = groups.get(mapKey);
      if (group === undefined) {
        group = { key, accs: reducers.map(emptyValue) };
        groups.set(mapKey, group);
      }
    }
    for (let i = 0; i < reducers.length; i++) {
      const reducer = reducers[i]!;
      const value = reducer.argument === undefined ? true : reducer.argument(scope);
      reduce(reducer, group.accs[i]!, value);
    }
  }
  return groups;
}

/** Compiles the step; its stage maps input rows to one row per group. */
export function compileAggregate(
  step: AggregateStep,
  columns: Columns,
): { stage: Stage; columns: Columns } {
  const options = columns === undefined ? {} : { fields: columns };
  const reducers: Reducer[] = [];
  let results: unknown[] = [];
  const onCall = (call: CallExpr): Evaluator => {
    const slot = reducers.length;
    if (call.name !== "count" && call.args.length !== 1) {
      throw new DbError("INVALID_ARGUMENT", `math::${call.name} takes 1 argument`, {
        line: call.pos.line,
        col: call.pos.col,
        fragment: `math::${call.name}`,
      });
    }
    const arg = call.args[0];
    reducers.push({
      name: call.name,
      argument: arg === undefined ? undefined : compileExpression(arg, options),
      mode: arg === undefined ? "integer" : sumModeOf(arg, columns),
    });
    return () => results[slot];
  };
  const byNames = step.by.map((column) => column.name);
  const byReads = step.by.map((column) => compileExpression(column.expr, options));
  const aggNames = step.aggregates.map((column) => column.name);
  const aggReads = step.aggregates.map((column) =>
    compileExpression(column.expr, { ...options, aggregate: onCall }),
  );
  const outColumns = new Map<string, ValueType | undefined>();
  step.by.forEach((column) => outColumns.set(column.name, inferType(column.expr, columns)));
  // Typed as a view types them, so a later `/` divides alike in a query and in a view.
  step.aggregates.forEach((column) => outColumns.set(column.name, inferType(column.expr, columns)));
  const rowCost = 1 + expressionCost(step.by) + expressionCost(step.aggregates); // deadline
  const stage: Stage = (rows: Row[], ctx: RunContext) => {
    const scope = scopeOf(ctx);
    const groups = groupRows(rows, scope, byReads, reducers, rowCost);
    const out: Row[] = [];
    for (const group of groups.values()) {
      assert(group.accs.length === reducers.length, "one accumulator per aggregate call");
      results = group.accs.map((acc, i) => result(reducers[i]!.name, acc));
      const row: Record<string, unknown> = {};
      byNames.forEach((name, i) => (row[name] = group.key[i] ?? null));
      scope.row = row;
      aggNames.forEach((name, i) => (row[name] = aggReads[i]!(scope)));
      out.push(row);
    }
    return out;
  };
  return { stage, columns: outColumns };
}
