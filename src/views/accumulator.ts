/**
 * @module Retractable accumulators of the aggregate step: each takes a value in (`add`) and
 * back out (`remove`), so a group's result stays correct under updates and deletes without
 * rescanning the group. count, sum and avg keep running totals; min and max keep an ordered
 * multiset of values; first and last keep the group's values ordered by input key. Removing
 * what was added restores the state (exactly, except the last bits of a float sum; the sum
 * resets to 0 whenever its group empties, so that drift never outlives the rows).
 */
import { assert } from "../lib/assert.ts";
import { createOrderedMap } from "../lib/ordered-map.ts";
import type { OrderedMap } from "../lib/ordered-map.ts";
import { arith, compareValues } from "../values/index.ts";

export type AccumulatorKind = "count" | "sum" | "avg" | "min" | "max" | "first" | "last";

/** One aggregate function's state within one group. */
export interface Accumulator {
  /** `order` is the row's position in input order (its key): first and last use it. */
  add(value: unknown, order: unknown): void;
  remove(value: unknown, order: unknown): void;
  result(): unknown;
}

export function createAccumulator(kind: AccumulatorKind): Accumulator {
  switch (kind) {
    case "count":
      return new CountAccumulator();
    case "sum":
      return new SumAccumulator(false);
    case "avg":
      return new SumAccumulator(true);
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

/** `math::sum(x)` / `math::avg(x)`: a running total with RQL arithmetic (exact for integers). */
class SumAccumulator implements Accumulator {
  private sum: unknown = 0;
  private count = 0;

  constructor(private readonly average: boolean) {}

  add(value: unknown): void {
    if (isNone(value)) return;
    this.step(arith("+", this.sum, value), this.count + 1);
  }

  remove(value: unknown): void {
    if (isNone(value)) return;
    assert(this.count > 0, "sum retracted below zero rows");
    // The last value out resets the total, so float drift never outlives the group's rows.
    const sum = this.count === 1 ? 0 : arith("-", this.sum, value);
    this.step(sum, this.count - 1);
  }

  result(): unknown {
    if (this.count === 0) return null;
    return this.average ? arith("/", this.sum, this.count, "float") : this.sum;
  }

  private step(sum: unknown, count: number): void {
    this.sum = sum;
    this.count = count;
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
