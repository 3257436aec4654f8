// Goal: show that HistogramBuckets keeps its precision promise and its bookkeeping exact.
// Method: property tests (fast-check) against an exact model, a sorted copy of the recorded
// values. The percentile bound tested is the one the layout proves, which is tighter than the
// 2 * 10^-digits asked for: the reported value r and the exact percentile x (same rank rule,
// shared via percentileRank) lie in the same sub-bucket, whose width w is at most
// x / subBucketHalfCount for x >= min, and subBucketHalfCount >= 10^digits; r is an integer
// bucket bound clamped to [min, max] of the data, so |r - x| <= w - 1 < x * 10^-digits.
// Example tests cover validation errors, clamping, flooring and the snapshot format.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DbError } from "../../src/lib/errors.ts";
import {
  HistogramBuckets,
  percentileRank,
  validateHistogramConfig,
} from "../../src/primitives/histogram-buckets.ts";
import type { HistogramConfig } from "../../src/primitives/histogram-buckets.ts";

const percentiles = [0, 1, 25, 50, 75, 90, 99, 99.9, 100];

/** Exact percentile of ascending `sorted` under the histogram's rank rule. */
function exactPercentile(sorted: number[], p: number): number {
  return sorted[percentileRank(p, sorted.length) - 1]!;
}

/** Integers spread evenly over orders of magnitude, so small and huge values both appear. */
function logUniformInt(low: number, high: number): fc.Arbitrary<number> {
  return fc
    .double({ min: Math.log(low), max: Math.log(high), noNaN: true })
    .map((x) => Math.min(high, Math.max(low, Math.round(Math.exp(x)))));
}

/** Uniform and log-uniform integers in [low, high]. */
function valueIn(low: number, high: number): fc.Arbitrary<number> {
  return fc.oneof(fc.integer({ min: low, max: high }), logUniformInt(Math.max(1, low), high));
}

/** A config over [?, high] with random digits and a min that is usually 1 but may be large. */
function configUpTo(high: number): fc.Arbitrary<HistogramConfig> {
  return fc.record({
    min: fc.oneof(fc.constant(1), logUniformInt(1, 1_000_000)),
    max: fc.constant(high),
    digits: fc.integer({ min: 1, max: 5 }),
  });
}

/** A config plus 1..300 values within [min, max]. */
function configAndValues(high: number): fc.Arbitrary<[HistogramConfig, number[]]> {
  return configUpTo(high).chain((config) =>
    fc.tuple(
      fc.constant(config),
      fc.array(valueIn(config.min, config.max), { minLength: 1, maxLength: 300 }),
    ),
  );
}

function recordAll(h: HistogramBuckets, values: number[]): void {
  for (const v of values) h.record(v);
}

/** Everything a snapshot holds, for equality checks. */
function state(h: HistogramBuckets): unknown {
  return {
    entries: h.toEntries(),
    count: h.count,
    sum: h.sum,
    minValue: h.minValue,
    maxValue: h.maxValue,
  };
}

function isDbError(code: string, ...fragments: string[]): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof DbError, `expected DbError, got ${String(e)}`);
    assert.equal(e.code, code);
    for (const f of fragments) assert.ok(e.message.includes(f), `${e.message} lacks ${f}`);
    return true;
  };
}

function checkPercentiles(config: HistogramConfig, values: number[]): void {
  const h = new HistogramBuckets(config);
  recordAll(h, values);
  const sorted = [...values].sort((a, b) => a - b);
  const bound = 10 ** -config.digits;
  for (const p of percentiles) {
    const got = h.percentile(p);
    const want = exactPercentile(sorted, p);
    assert.ok(got !== null);
    const error = Math.abs(got - want) / want;
    assert.ok(error < bound, `p${p}: got ${got}, want ${want}, error ${error} >= ${bound}`);
  }
  assert.equal(h.percentile(0), sorted[0]);
  assert.equal(h.percentile(100), sorted[sorted.length - 1]);
  assert.equal(h.count, values.length);
  assert.equal(h.minValue, sorted[0]);
  assert.equal(h.maxValue, sorted[sorted.length - 1]);
  // Integer sums below 2^53 are exact in floating point, whatever the order of addition.
  assert.equal(
    h.sum,
    values.reduce((a, b) => a + b, 0),
  );
}

describe("percentileRank", () => {
  it("is ceil(p / 100 * count), at least 1 and at most count", () => {
    assert.equal(percentileRank(0, 10), 1);
    assert.equal(percentileRank(50, 4), 2);
    assert.equal(percentileRank(50, 5), 3);
    assert.equal(percentileRank(99.9, 1000), 999);
    assert.equal(percentileRank(99.9, 1001), 1000);
    assert.equal(percentileRank(100, 7), 7);
  });
});

describe("HistogramBuckets percentiles", () => {
  it("are within 10^-digits relative error for values in [1, 10^7]", () => {
    fc.assert(
      fc.property(configAndValues(10_000_000), ([config, values]) => {
        checkPercentiles(config, values);
      }),
      { numRuns: 200 },
    );
  });

  it("are within 10^-digits relative error for values in [1, 10^12]", () => {
    fc.assert(
      fc.property(configAndValues(1_000_000_000_000), ([config, values]) => {
        checkPercentiles(config, values);
      }),
      { numRuns: 200 },
    );
  });

  it("bucket any value up to 2^53 - 1 within 10^-digits of its bucket's low bound", () => {
    const histograms = [1, 2, 3, 4, 5].map(
      (digits) => new HistogramBuckets({ min: 1, max: Number.MAX_SAFE_INTEGER, digits }),
    );
    const nearPowers = fc
      .tuple(fc.integer({ min: 0, max: 52 }), fc.integer({ min: -2, max: 2 }))
      .map(([k, d]) => Math.min(Number.MAX_SAFE_INTEGER, Math.max(1, 2 ** k + d)));
    const anyValue = fc.oneof(nearPowers, valueIn(1, Number.MAX_SAFE_INTEGER));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), anyValue, anyValue, (d, a, b) => {
        const h = histograms[d]!;
        h.reset();
        h.record(a);
        const [[low, n]] = h.toEntries() as [[number, number]];
        assert.equal(n, 1);
        assert.ok(low <= a && a - low < a * 10 ** -(d + 1), `${a} in bucket from ${low}`);
        // Buckets are ordered like the values they hold.
        h.record(b);
        const entries = h.toEntries();
        const lows = entries.map(([l]) => l);
        if (a === b) assert.deepEqual(entries, [[low, 2]]);
        else if (lows.length === 2) assert.ok(lows[0]! < lows[1]!);
        const highLow = Math.max(...lows);
        assert.ok(highLow <= Math.max(a, b));
      }),
      { numRuns: 500 },
    );
  });

  it("return exact min and max at p = 0 and p = 100, and null when empty", () => {
    const h = new HistogramBuckets({ min: 1, max: 1_000_000, digits: 2 });
    assert.equal(h.percentile(50), null);
    assert.deepEqual(h.summary(), { count: 0, min: null, max: null, mean: null, sum: 0 });
    recordAll(h, [123_457, 10, 999_999]);
    assert.equal(h.percentile(0), 10);
    assert.equal(h.percentile(100), 999_999);
    assert.deepEqual(h.summary(), {
      count: 3,
      min: 10,
      max: 999_999,
      mean: 1_123_466 / 3,
      sum: 1_123_466,
    });
  });
});

describe("HistogramBuckets recording", () => {
  it("clamps values below min into the lowest bucket and keeps exact min", () => {
    const h = new HistogramBuckets({ min: 1000, max: 1_000_000, digits: 1 });
    h.record(0);
    h.record(3);
    h.record(1000);
    const entries = h.toEntries();
    assert.equal(entries.length, 1);
    assert.equal(entries[0]![1], 3);
    assert.ok(entries[0]![0] <= 1000);
    assert.equal(h.minValue, 0);
    // Below min there is no resolution: the bucket's highest value stands for all three.
    assert.equal(h.percentile(1), 1000);
    assert.equal(h.percentile(0), 0);
  });

  it("buckets non-integers by floor and keeps their exact sum", () => {
    const h = new HistogramBuckets({ min: 1, max: 100, digits: 2 });
    h.record(5.75);
    h.record(5.25, 2);
    assert.deepEqual(h.toEntries(), [[5, 3]]);
    assert.equal(h.sum, 16.25);
    // The bucket's highest integer, 5, is clamped up into [min, max] of the data.
    assert.equal(h.percentile(50), 5.25);
    assert.equal(h.percentile(100), 5.75);
  });

  it("accepts max itself and rejects values over max, negative or not finite", () => {
    const h = new HistogramBuckets({ min: 1, max: 1000, digits: 3 });
    h.record(1000);
    assert.throws(() => h.record(1000.5), isDbError("OUT_OF_RANGE", "1000.5", "1000]"));
    assert.throws(() => h.record(1e9), isDbError("OUT_OF_RANGE", "1000000000", "[0, 1000]"));
    assert.throws(() => h.record(-1), isDbError("OUT_OF_RANGE", "-1"));
    assert.throws(() => h.record(Number.NaN), isDbError("INVALID_ARGUMENT", "finite"));
    assert.throws(() => h.record(Infinity), isDbError("INVALID_ARGUMENT", "finite"));
    assert.throws(() => h.record(5, 0), isDbError("INVALID_ARGUMENT", "count"));
    assert.throws(() => h.record(5, 1.5), isDbError("INVALID_ARGUMENT", "count"));
    assert.throws(() => h.percentile(101), isDbError("INVALID_ARGUMENT", "percentile"));
    assert.throws(() => h.percentile(Number.NaN), isDbError("INVALID_ARGUMENT", "percentile"));
    assert.equal(h.count, 1);
  });

  it("unrecord undoes record exactly, step by step, for random sequences", () => {
    const op = fc.tuple(logUniformInt(1, 1e12), fc.integer({ min: 1, max: 1000 }));
    const program = configUpTo(1e12).chain((config) =>
      fc.tuple(
        fc.constant(config),
        fc.array(fc.oneof(valueIn(0, config.max), fc.constant(0)), { maxLength: 50 }),
        fc.array(op, { minLength: 1, maxLength: 50 }),
      ),
    );
    fc.assert(
      fc.property(program, ([config, base, ops]) => {
        const h = new HistogramBuckets(config);
        recordAll(h, base);
        const before: unknown[] = [];
        const undo: Array<[number, number, number, number]> = [];
        for (const [value, count] of ops) {
          before.push(state(h));
          undo.push([value, count, h.minValue, h.maxValue]);
          h.record(value, count);
        }
        while (undo.length > 0) {
          const [value, count, minBefore, maxBefore] = undo.pop()!;
          h.unrecord(value, count, minBefore, maxBefore);
          assert.deepEqual(state(h), before.pop());
        }
      }),
      { numRuns: 100 },
    );
  });

  it("unrecord of everything leaves an empty histogram, even with fractional values", () => {
    const h = new HistogramBuckets({ min: 1, max: 100, digits: 1 });
    h.record(0.1);
    h.record(0.2);
    h.unrecord(0.2, 1, 0.1, 0.1);
    h.unrecord(0.1, 1, Infinity, -Infinity);
    assert.deepEqual(state(h), state(new HistogramBuckets(h.config)));
  });
});

describe("HistogramBuckets merge, clone, reset and entries", () => {
  it("merge equals recording both streams into one histogram", () => {
    const streams = configUpTo(1e12).chain((config) =>
      fc.tuple(
        fc.constant(config),
        fc.array(valueIn(0, config.max), { maxLength: 200 }),
        fc.array(valueIn(0, config.max), { maxLength: 200 }),
      ),
    );
    fc.assert(
      fc.property(streams, ([config, a, b]) => {
        const left = new HistogramBuckets(config);
        const right = new HistogramBuckets(config);
        const both = new HistogramBuckets(config);
        recordAll(left, a);
        recordAll(right, b);
        recordAll(both, [...a, ...b]);
        left.merge(right);
        assert.deepEqual(state(left), state(both));
        for (const p of percentiles) assert.equal(left.percentile(p), both.percentile(p));
      }),
      { numRuns: 100 },
    );
  });

  it("merge rejects a different config", () => {
    const h = new HistogramBuckets({ min: 1, max: 1000, digits: 2 });
    const other = new HistogramBuckets({ min: 1, max: 1000, digits: 3 });
    assert.throws(() => h.merge(other), isDbError("INVALID_ARGUMENT", "digits 2", "digits 3"));
  });

  it("clone is independent and reset empties", () => {
    const h = new HistogramBuckets({ min: 1, max: 1000, digits: 2 });
    recordAll(h, [1, 2, 999]);
    const copy = h.clone();
    assert.deepEqual(state(copy), state(h));
    h.record(500);
    assert.equal(copy.count, 3);
    h.reset();
    assert.deepEqual(state(h), state(new HistogramBuckets(h.config)));
    assert.equal(h.percentile(50), null);
  });

  it("fromEntries(toEntries) round-trips", () => {
    fc.assert(
      fc.property(configAndValues(1e12), ([config, values]) => {
        const h = new HistogramBuckets(config);
        recordAll(h, values);
        const stats = { count: h.count, sum: h.sum, minValue: h.minValue, maxValue: h.maxValue };
        const copy = HistogramBuckets.fromEntries(config, h.toEntries(), stats);
        assert.deepEqual(state(copy), state(h));
        for (const p of percentiles) assert.equal(copy.percentile(p), h.percentile(p));
      }),
      { numRuns: 100 },
    );
  });

  it("fromEntries rejects entries that no histogram could have written", () => {
    const config = { min: 1, max: 1_000_000, digits: 1 };
    const stats = { count: 2, sum: 2000, minValue: 1000, maxValue: 1000 };
    const h = new HistogramBuckets(config);
    h.record(1000, 2);
    const entries = h.toEntries();
    assert.doesNotThrow(() => HistogramBuckets.fromEntries(config, entries, stats));
    const low = entries[0]![0];
    const bad: Array<Array<[number, number]>> = [
      [[low + 1, 2]], // not a bucket boundary
      [[low, 1]], // count disagrees with stats
      [[low, 1.5]], // fractional count
      [
        [low, 1],
        [low, 1],
      ], // not ascending
      [[2_000_000, 2]], // over max
    ];
    for (const e of bad) {
      assert.throws(() => HistogramBuckets.fromEntries(config, e, stats), isDbError("CORRUPT"));
    }
    const wrongMin = { ...stats, minValue: 5 };
    assert.throws(
      () => HistogramBuckets.fromEntries(config, entries, wrongMin),
      isDbError("CORRUPT"),
    );
    const empty = HistogramBuckets.fromEntries(config, [], {
      count: 0,
      sum: 0,
      minValue: Number.NaN,
      maxValue: Number.NaN,
    });
    assert.deepEqual(state(empty), state(new HistogramBuckets(config)));
  });
});

describe("validateHistogramConfig", () => {
  it("returns a clean copy of a valid config", () => {
    const config = { min: 1, max: Number.MAX_SAFE_INTEGER, digits: 5, extra: true };
    assert.deepEqual(validateHistogramConfig(config, "latency"), {
      min: 1,
      max: Number.MAX_SAFE_INTEGER,
      digits: 5,
    });
  });

  it("rejects bad configs naming the object and the field", () => {
    const cases: Array<[unknown, string]> = [
      [{ min: 1, max: 100, digits: 0 }, "digits"],
      [{ min: 1, max: 100, digits: 6 }, "digits"],
      [{ min: 1, max: 100, digits: 2.5 }, "digits"],
      [{ min: 1, max: 100 }, "digits"],
      [{ min: 100, max: 100, digits: 2 }, "max"],
      [{ min: 101, max: 100, digits: 2 }, "max"],
      [{ min: 0, max: 100, digits: 2 }, "min"],
      [{ min: 1.5, max: 100, digits: 2 }, "min"],
      [{ min: 1, max: 100.5, digits: 2 }, "max"],
      [{ min: "1", max: 100, digits: 2 }, "min"],
      [{ min: 1, max: Number.MAX_SAFE_INTEGER + 1, digits: 2 }, "max"],
      [null, "config"],
      [[1, 100, 2], "config"],
    ];
    for (const [config, field] of cases) {
      assert.throws(
        () => validateHistogramConfig(config, "latency"),
        isDbError("INVALID_ARGUMENT", "latency", field),
        JSON.stringify(config),
      );
    }
  });
});
