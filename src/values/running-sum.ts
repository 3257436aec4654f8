/**
 * @module The total behind `math::sum` and `math::avg`, shared by the query's aggregate and
 * the views' retractable accumulator so that a view and its query add up alike. It starts at
 * the first value (so durations and decimals add up as themselves) and follows RQL arithmetic:
 * integers exact, none skipped. A float total (`double` mode) also keeps the rounding error of
 * every addition (Neumaier's compensated sum): adding 3.4e38 to 0.5 and taking it out again
 * gives back 0.5, where a plain running total would give 0.
 */
import { assert } from "../lib/assert.ts";
import { arith, firstTerm } from "./arith.ts";
import type { ArithMode } from "./arith.ts";

export class RunningSum {
  /** How many values the total holds (none is never counted). */
  count = 0;
  private sum: unknown = null;
  /** In `double` mode: what the float additions so far rounded away. */
  private error = 0;

  /** `mode`: `double` when the values' static type is a float. */
  constructor(private readonly mode: ArithMode) {}

  add(value: unknown): void {
    if (value === null || value === undefined) return;
    if (this.count === 0) {
      this.sum = firstTerm(value);
      this.error = 0;
    } else if (this.compensates(value)) {
      this.addFloat(value);
    } else {
      this.sum = arith("+", this.sum, value, this.mode);
    }
    this.count++;
  }

  /** Takes out a value added before. */
  remove(value: unknown): void {
    if (value === null || value === undefined) return;
    assert(this.count > 0, "sum retracted below zero values");
    this.count--;
    if (this.count === 0) {
      // The last value out resets the total: no rounding outlives the values.
      this.sum = null;
      this.error = 0;
    } else if (this.compensates(value)) {
      this.addFloat(-value);
    } else {
      this.sum = arith("-", this.sum, value, this.mode);
    }
  }

  /** The sum, or none when no value is held. */
  total(): unknown {
    if (this.count === 0) return null;
    if (this.error === 0 || typeof this.sum !== "number") return this.sum;
    return arith("+", this.sum, this.error, "double");
  }

  /** The mean, or none when no value is held. */
  average(): unknown {
    return this.count === 0 ? null : arith("/", this.total(), this.count, "float");
  }

  private compensates(value: unknown): value is number {
    return this.mode === "double" && typeof value === "number" && typeof this.sum === "number";
  }

  private addFloat(value: number): void {
    const sum = this.sum as number;
    const next = arith("+", sum, value, "double") as number; // fails on overflow
    // The exact rounding error of `sum + value` (Neumaier's branch on the larger magnitude).
    this.error += Math.abs(sum) >= Math.abs(value) ? sum - next + value : value - next + sum;
    this.sum = next;
  }
}
