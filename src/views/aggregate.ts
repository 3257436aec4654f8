/**
 * @module `aggregate { n: math::count(x), ... } by { g }`: one output row per group, keyed by
 * the group's values. A delta retracts its `before` from one group and adds its `after` to
 * another (or the same), then emits each touched group's old and new row. Aggregate columns
 * may be any expression over aggregate calls (`math::sum(x) / 2`); each call gets a
 * retractable accumulator (accumulator.ts). Without `by` there is one group, present even when
 * empty (count 0, the others none), as a from-scratch aggregate over no rows gives.
 */
import { DbError } from "../lib/errors.ts";
import { rowConstructor } from "../lib/row-object.ts";
import { compileExpression, inferType, sumModeOf } from "../expr/index.ts";
import type { CallExpr, Evaluator } from "../expr/index.ts";
import type { QueryParams } from "../types.ts";
import { integerKinds, mapKeyOf, mapKeyOfTuple, sameMapKey } from "../values/index.ts";
import type { ArithMode, MapKey, ValueType } from "../values/index.ts";
import { createAccumulator } from "./accumulator.ts";
import type { Accumulator, AccumulatorKind } from "./accumulator.ts";
import type { Columns } from "./columns.ts";
import { Operator } from "./delta.ts";
import type { Delta, Row } from "./delta.ts";
import type { ColumnSpec } from "./map.ts";
import { columnsEqual } from "./rows-equal.ts";

interface Group {
  readonly key: unknown;
  readonly values: readonly unknown[];
  readonly accumulators: Accumulator[];
  rowCount: number;
  output: Row | undefined;
}

interface AggregateCall {
  readonly kind: AccumulatorKind;
  readonly argument: Evaluator;
  /** `double` when the argument is a float: its sum never widens to bigint. */
  readonly mode: ArithMode;
  /** The argument's static type is an integer: its sum is exact, so moves with every value. */
  readonly integer: boolean;
}

export class AggregateOperator extends Operator {
  readonly columns: Columns;
  private readonly groups = new Map<MapKey, Group>();
  private readonly byNames: readonly string[];
  private readonly byEvaluators: readonly Evaluator[];
  private readonly aggregateNames: readonly string[];
  private readonly aggregateEvaluators: readonly Evaluator[];
  /**
   * Per aggregate column, the index of its accumulator when the column is that one call
   * (`n: math::count(id)`, the usual case), else -1: its row value is then read from the
   * accumulator, not through the compiled closures.
   */
  private readonly directCalls: number[] = [];
  /** The evaluator {@link bindCall} made for each call, by call index. */
  private readonly callReaders: Evaluator[] = [];
  private readonly calls: AggregateCall[] = [];
  /** Argument values of an update, before then after: reused, so an update allocates none. */
  private readonly scratch: unknown[] = [];
  private readonly scope: { row: Row; params?: QueryParams };
  /** Makes the output rows (see lib/row-object.ts). */
  private readonly RowObject = rowConstructor();
  /** The delta {@link emit} pushes, refilled for each (see delta.ts: sinks keep none). */
  private readonly outDelta: { key: unknown; before: Row | undefined; after: Row | undefined } = {
    key: undefined,
    before: undefined,
    after: undefined,
  };
  /** The group whose row is being built: what aggregate calls read. */
  private current: Group | undefined;

  constructor(options: {
    aggregates: readonly ColumnSpec[];
    by: readonly ColumnSpec[];
    input: Columns | undefined;
    params: QueryParams | undefined;
    /** Input rows are arrays of the input columns in order (see JoinOptions.positional). */
    positional?: boolean | undefined;
  }) {
    super();
    const { aggregates, by, input, params } = options;
    const positional = options.positional === true;
    const fields = input === undefined ? {} : { fields: input, positional };
    this.byNames = by.map((spec) => spec.name);
    this.byEvaluators = by.map((spec) => compileExpression(spec.expr, fields));
    this.aggregateNames = aggregates.map((spec) => spec.name);
    this.aggregateEvaluators = aggregates.map((spec) => {
      const first = this.calls.length;
      const evaluate = compileExpression(spec.expr, {
        ...fields,
        aggregate: (call) => this.bindCall(call, input, positional),
      });
      this.directCalls.push(evaluate === this.callReaders[first] ? first : -1);
      return evaluate;
    });
    const columns = new Map<string, ValueType | undefined>();
    for (const spec of [...by, ...aggregates]) {
      if (columns.has(spec.name)) {
        throw new DbError("INVALID_SCHEMA", `aggregate repeats column ${spec.name}`, {
          column: spec.name,
        });
      }
      columns.set(spec.name, inferType(spec.expr, input));
    }
    this.columns = columns;
    this.scope = params === undefined ? { row: {} } : { row: {}, params };
  }

  override populated(): void {
    if (this.byNames.length > 0) return;
    const group = this.group([]);
    if (group.output === undefined) this.emit(group);
  }

  push(delta: Delta): void {
    if (delta.before !== undefined && delta.after !== undefined && this.updateInPlace(delta)) {
      return;
    }
    const from = delta.before === undefined ? undefined : this.retract(delta);
    const to = delta.after === undefined ? undefined : this.add(delta);
    if (from !== undefined) this.emit(from);
    if (to !== undefined && to !== from) this.emit(to);
  }

  /**
   * An update that stays in its group (the usual case) takes each value out and puts the new
   * one in, then emits the group once; when no aggregate argument changed, nothing happens at
   * all. Returns false when the row moves to another group.
   */
  private updateInPlace(delta: Delta): boolean {
    const groupKey = this.groupKeyOf(delta.before!);
    if (!sameMapKey(groupKey, this.groupKeyOf(delta.after!))) return false;
    const group = this.groups.get(groupKey)!;
    const calls = this.calls;
    const values = this.scratch;
    this.scope.row = delta.before!;
    for (let i = 0; i < calls.length; i++) values[i] = calls[i]!.argument(this.scope);
    this.scope.row = delta.after!;
    let changed = false;
    for (let i = 0; i < calls.length; i++) {
      const value = calls[i]!.argument(this.scope);
      if (value !== values[i]) changed = true;
      values[calls.length + i] = value;
    }
    if (!changed) return true;
    // Whether the group's row may change (a sum or average whose argument changed), and
    // whether it surely does (see surelyMoves): then no stage compares it with the old row.
    let mayChange = false;
    let differs = false;
    for (let i = 0; i < calls.length; i++) {
      const value = values[calls.length + i];
      // An unchanged argument (count(id) while a total changes) leaves its accumulator as is.
      if (value === values[i]) continue;
      const call = calls[i]!;
      if (call.kind === "sum" || call.kind === "avg") mayChange = true;
      if (!differs) differs = surelyMoves(call, values[i], value);
      const accumulator = group.accumulators[i]!;
      accumulator.remove(values[i], delta.key);
      accumulator.add(value, delta.key);
    }
    this.emit(group, !mayChange && !differs, differs);
    return true;
  }

  private retract(delta: Delta): Group {
    const row = delta.before!;
    const group = this.groups.get(this.groupKeyOf(row))!;
    this.scope.row = row;
    for (let i = 0; i < this.calls.length; i++) {
      const value = this.calls[i]!.argument(this.scope);
      group.accumulators[i]!.remove(value, delta.key);
    }
    group.rowCount--;
    return group;
  }

  private add(delta: Delta): Group {
    const row = delta.after!;
    const group = this.groups.get(this.groupKeyOf(row)) ?? this.group(this.groupValues(row));
    this.scope.row = row;
    for (let i = 0; i < this.calls.length; i++) {
      const value = this.calls[i]!.argument(this.scope);
      group.accumulators[i]!.add(value, delta.key);
    }
    group.rowCount++;
    return group;
  }

  /**
   * Pushes the group's row change; an emptied group (with `by`) goes away. `compare`: whether
   * the row may be unchanged, so is compared first; without it, a row that is unchanged after
   * all (a float sum's rounding) is still dropped by the view's output, which compares too.
   * `differs`: the row surely differs from the group's last one; the output is told so
   * ({@link Sink.pushDiffering}) and compares neither.
   */
  private emit(group: Group, compare = true, differs = false): void {
    const before = group.output;
    const after = group.rowCount > 0 || this.byNames.length === 0 ? this.rowOf(group) : undefined;
    // A change that leaves the group's row as it was (a min that did not move) emits nothing.
    // Both rows hold the group's own `by` values, so only the aggregates are compared.
    const same =
      compare &&
      before !== undefined &&
      after !== undefined &&
      columnsEqual(before, after, this.aggregateNames);
    if (same) return;
    group.output = after;
    if (after === undefined) {
      const mapKey = mapKeyOfTuple(group.values);
      this.groups.delete(mapKey);
    }
    if (before === undefined && after === undefined) return;
    // One delta object, refilled: a sink reads a delta during `push` and keeps none.
    const delta = this.outDelta;
    delta.key = group.key;
    delta.before = before;
    delta.after = after;
    this.pushNext(delta, differs);
  }

  private group(values: readonly unknown[]): Group {
    const mapKey = mapKeyOfTuple(values);
    let group = this.groups.get(mapKey);
    if (group !== undefined) return group;
    group = {
      key: values.length === 1 ? values[0] : values.length === 0 ? null : values,
      values,
      accumulators: this.calls.map((call) => createAccumulator(call.kind, call.mode)),
      rowCount: 0,
      output: undefined,
    };
    this.groups.set(mapKey, group);
    return group;
  }

  /** The map key of a row's group; one `by` column needs no list. */
  private groupKeyOf(row: Row): MapKey {
    if (this.byEvaluators.length !== 1) return mapKeyOfTuple(this.groupValues(row));
    this.scope.row = row;
    return mapKeyOf(this.byEvaluators[0]!(this.scope));
  }

  private groupValues(row: Row): unknown[] {
    this.scope.row = row;
    return this.byEvaluators.map((evaluate) => evaluate(this.scope));
  }

  private rowOf(group: Group): Row {
    const row = new this.RowObject();
    for (let i = 0; i < this.byNames.length; i++) row[this.byNames[i]!] = group.values[i];
    this.current = group;
    const direct = this.directCalls;
    for (let i = 0; i < this.aggregateNames.length; i++) {
      const call = direct[i]!;
      row[this.aggregateNames[i]!] =
        call >= 0 ? group.accumulators[call]!.result() : this.aggregateEvaluators[i]!(this.scope);
    }
    this.current = undefined;
    return row;
  }

  /** Allocates an accumulator slot for one aggregate call; its value reads the current group. */
  private bindCall(call: CallExpr, input: Columns | undefined, positional: boolean): Evaluator {
    const index = this.calls.length;
    const argument = call.args[0];
    const fields = input === undefined ? {} : { fields: input, positional };
    const evaluate = argument === undefined ? () => true : compileExpression(argument, fields);
    const mode = argument === undefined ? "integer" : sumModeOf(argument, input);
    const integer = argument !== undefined && integerKinds.has(inferType(argument, input).kind);
    this.calls.push({ kind: call.name as AccumulatorKind, argument: evaluate, mode, integer });
    const read = (): unknown => this.current!.accumulators[index]!.result();
    this.callReaders.push(read);
    return read;
  }
}

const isNone = (value: unknown): boolean => value === null || value === undefined;

/**
 * Whether replacing one row's argument value `before` by `after` (which differs by identity)
 * surely changes the call's result: a count whose value turns none or stops being none, or an
 * exact (integer) sum whose value changes between two non-none values of one representation
 * (5 and 5n are the same value; 0 taken out for none leaves a sum as it was). Averages and
 * float sums round, min, max, first and last may not move: those rows are compared.
 */
function surelyMoves(call: AggregateCall, before: unknown, after: unknown): boolean {
  if (call.kind === "count") return isNone(before) !== isNone(after);
  if (call.kind !== "sum" || !call.integer || isNone(before) || isNone(after)) return false;
  return typeof before === typeof after;
}
