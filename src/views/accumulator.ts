/**
 * @module Retractable accumulators of the aggregate step: each takes a value in (`add`) and
 * back out (`remove`), so a group's result stays correct under updates and deletes without
 * rescanning the group. count, sum and avg keep running totals; min and max keep an ordered
 * multiset of values; first and last keep the group's values ordered by input key. Removing
 * what was added restores the state (exactly, except perhaps the last bit of a float sum,
 * which is compensated; the sum resets whenever its group empties).
 */
import { assert } from "../lib/assert.ts";
import { createOrderedMap } from "../lib/ordered-map.ts";
import type { OrderedMap } from "../lib/ordered-map.ts";
import { RunningSum, compareValues } from "../values/index.ts";
import type { ArithMode } from "../values/index.ts";

export type AccumulatorKind = "count" | "sum" | "avg" | "min" | "max" | "first" | "last";

/** One aggregate function's state within one group. */
export interface Accumulator {
  /** `order` is the row's position in input order (its key): first and last use it. */
  add(value: unknown, order: unknown): void;
  remove(value: unknown, order: unknown): void;
  result(): unknown;
}

/** `mode`: how sums add up (`double` when the argument's static type is a float). */
export function createAccumulator(kind: AccumulatorKind, mode: ArithMode): Accumulator {
  switch (kind) {
    case "count":
      return new CountAccumulator();
    case "sum":
      return new SumAccumulator(false, mode);
    case "avg":
      return new SumAccumulator(true, mode);
    case "min":
      return new ExtremeAccumulator(false);
    case "max":
      return new ExtremeAccumulator(true);
    case "first":
      return new PositionAccumulator(false);
    case "last":
      return new PositionAccumulator(true);
  }
}

const isNone = (value: unknown): boolean => value === null || value === undefined;

/** `math::count(x)`: rows whose x is not none (every row when called without argument). */
class CountAccumulator implements Accumulator {
  private count = 0;

  add(value: unknown): void {
    if (isNone(value)) return;
    this.count++;
  }

  remove(value: unknown): void {
    if (isNone(value)) return;
    assert(this.count > 0, "count retracted below zero");
    this.count--;
  }

  result(): unknown {
    return this.count;
  }
}

/** `math::sum(x)` / `math::avg(x)`: the query's running total (values/running-sum.ts). */
class SumAccumulator implements Accumulator {
  private readonly sum: RunningSum;

  constructor(
    private readonly average: boolean,
    mode: ArithMode,
  ) {
    this.sum = new RunningSum(mode);
  }

  add(value: unknown): void {
    this.sum.add(value);
  }

  remove(value: unknown): void {
    this.sum.remove(value);
  }

  result(): unknown {
    return this.average ? this.sum.average() : this.sum.total();
  }
}

/** A multiset of values in the total order, with how many times each occurs. */
class ExtremeAccumulator implements Accumulator {
  private readonly values: OrderedMap<unknown, number> = createOrderedMap(compareValues);

  constructor(private readonly largest: boolean) {}

  add(value: unknown): void {
    if (isNone(value)) return;
    multisetAdd(this.values, value);
  }

  remove(value: unknown): void {
    if (isNone(value)) return;
    multisetRemove(this.values, value);
  }

  result(): unknown {
    const entry = this.largest ? this.values.last() : this.values.first();
    return entry === undefined ? null : entry[0];
  }
}

/** Values by input position: the first (or last) row's value, none values included. */
class PositionAccumulator implements Accumulator {
  private readonly values: OrderedMap<unknown, unknown> = createOrderedMap(compareValues);

  constructor(private readonly last: boolean) {}

  add(value: unknown, order: unknown): void {
    assert(!this.values.has(order), "two rows at one input position");
    this.values.set(order, value);
  }

  remove(value: unknown, order: unknown): void {
    assert(this.values.del(order), "removed a row the group does not hold");
  }

  result(): unknown {
    const entry = this.last ? this.values.last() : this.values.first();
    return entry === undefined ? null : (entry[1] ?? null);
  }
}

/** Adds one occurrence of `value`. */
export function multisetAdd(values: OrderedMap<unknown, number>, value: unknown): void {
  const count = values.get(value) ?? 0;
  values.set(value, count + 1);
}

/** Removes one occurrence of `value`, which must be present. */
export function multisetRemove(values: OrderedMap<unknown, number>, value: unknown): void {
  const count = values.get(value);
  assert(count !== undefined && count > 0, "removed a value the multiset does not hold");
  if (count === 1) values.del(value);
  else values.set(value, count - 1);
}
