/**
 * @module Log-linear (HDR-style) histogram buckets: fixed memory, O(1) allocation-free recording
 * and percentiles whose relative error is bounded by a configured number of decimal digits.
 *
 * Layout. Values are floored to integers and grouped by power-of-two magnitude; every magnitude
 * is split into linear sub-buckets. Bucket 0 holds `subBucketCount` sub-buckets of width
 * 2^unit covering [0, subBucketCount * 2^unit); bucket b >= 1 holds the upper half of that range
 * scaled by 2^b, i.e. `subBucketHalfCount` sub-buckets of width 2^(b + unit). A value v in
 * bucket b >= 1 is at least subBucketHalfCount * 2^(b + unit), so its sub-bucket width is at
 * most v / subBucketHalfCount <= v * 10^-digits. `unit` is the largest power of two with
 * subBucketHalfCount * 2^unit <= min, so the same bound holds in bucket 0 for every v >= min
 * (when unit = 0 bucket 0 is exact). The flat counts index of (b, s) is b * half + s.
 *
 * Note that `config.min` is therefore the smallest value tracked at full relative precision
 * (it also coarsens the unit to save memory when it is large); smaller values are clamped to it.
 */
import { assert } from "../lib/assert.ts";
import { DbError, describeValue } from "../lib/errors.ts";
import { histogramDigitsMax, histogramValueMax } from "../lib/limits.ts";

/** Range and precision of a histogram. All integers; see {@link validateHistogramConfig}. */
export interface HistogramConfig {
  /** Smallest value tracked at full precision (>= 1); smaller values are clamped to it. */
  min: number;
  /** Largest recordable value (> min, <= histogramValueMax); larger values are rejected. */
  max: number;
  /** Significant decimal digits of precision, 1..histogramDigitsMax. */
  digits: number;
}

/** Exact statistics of the recorded values; min/max/mean are null when nothing is recorded. */
export interface HistogramSummary {
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  sum: number;
}

/** Exact running statistics stored next to the buckets (a snapshot carries them verbatim). */
export interface HistogramStats {
  count: number;
  sum: number;
  minValue: number;
  maxValue: number;
}

/** 2^32: values at or above it do not fit Math.clz32, so their high word is examined instead. */
const uint32Range = 2 ** 32;
/** Table size for shifts: a shift never exceeds floor(log2(histogramValueMax)) = 52. */
const shiftMax = 64;
/** 2^-k for k in [0, shiftMax): dividing by a power of two is an exact multiplication. */
const inversePowersOfTwo = Float64Array.from({ length: shiftMax }, (_, k) => 2 ** -k);

/** floor(log2(v)) for an integer 0 <= v < 2^53; -1 for 0. Exact, unlike Math.log2 near 2^k. */
function floorLog2(v: number): number {
  // clz32 truncates its argument to uint32, so v / 2^32 is floored for free.
  return v < uint32Range ? 31 - Math.clz32(v) : 63 - Math.clz32(v / uint32Range);
}

/**
 * The rank (1-based position in ascending order) whose value is percentile `p` of `count`
 * values: ceil(p / 100 * count), at least 1. Shared with tests so both sides use one rule.
 */
export function percentileRank(p: number, count: number): number {
  return Math.min(count, Math.max(1, Math.ceil((p * count) / 100)));
}

/** Validates a user-supplied histogram configuration; returns a fresh, clean copy. */
export function validateHistogramConfig(config: unknown, object: string): HistogramConfig {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `${object}: histogram config must be an object with min, max and digits, ` +
        `got ${describeValue(config)}`,
      { object, value: config },
    );
  }
  const fields = config as Record<string, unknown>;
  const min = integerField(fields, "min", 1, histogramValueMax - 1, object);
  const max = integerField(fields, "max", min + 1, histogramValueMax, object);
  const digits = integerField(fields, "digits", 1, histogramDigitsMax, object);
  return { min, max, digits };
}

/** Reads one integer field in [low, high] or throws a DbError naming object and field. */
function integerField(
  fields: Record<string, unknown>,
  field: string,
  low: number,
  high: number,
  object: string,
): number {
  const value = fields[field];
  if (typeof value === "number" && Number.isInteger(value) && value >= low && value <= high) {
    return value;
  }
  throw new DbError(
    "INVALID_ARGUMENT",
    `${object}: histogram ${field} must be an integer between ${low} and ${high}, ` +
      `got ${describeValue(value)}`,
    { object, field, value },
  );
}

/** The recorded distribution: bucket counts plus exact count, sum, min and max. */
export class HistogramBuckets {
  readonly config: HistogramConfig;
  /** Number of recorded values. */
  count = 0;
  /** Sum of recorded values (float; exact while it stays a safe integer). */
  sum = 0;
  /** Smallest recorded value; Infinity when empty. */
  minValue = Infinity;
  /** Largest recorded value; -Infinity when empty. */
  maxValue = -Infinity;

  /** log2 of the sub-bucket width in bucket 0. */
  private readonly unit: number;
  /** log2(subBucketHalfCount): the number of sub-buckets per bucket b >= 1. */
  private readonly halfMagnitude: number;
  private readonly halfCount: number;
  /** Cached config bounds: record() reads them on every call. */
  private readonly min: number;
  private readonly max: number;
  /** Count per flat index. Float64 holds integer counts exactly up to 2^53. */
  private readonly counts: Float64Array;
  /**
   * Sum of counts per block of halfCount flat indexes, so percentile() skips empty stretches
   * instead of scanning millions of entries (digits 5 over 2^53 needs ~4.8M counts).
   */
  private readonly blockCounts: Float64Array;

  constructor(config: HistogramConfig) {
    const { min, max, digits } = config;
    assert(Number.isInteger(min) && Number.isInteger(max) && min >= 1, "histogram min");
    assert(min < max && max <= histogramValueMax, "histogram max");
    assert(Number.isInteger(digits) && digits >= 1 && digits <= histogramDigitsMax, "digits");
    this.config = { min, max, digits };
    this.min = min;
    this.max = max;
    // Twice 10^digits sub-buckets per magnitude leaves at least 10^digits in the upper half,
    // which is the half every bucket past the first uses: that is the precision guarantee.
    const subBucketCount = 2 ** Math.ceil(Math.log2(2 * 10 ** digits));
    this.halfCount = subBucketCount / 2;
    this.halfMagnitude = Math.log2(this.halfCount);
    this.unit = Math.max(0, floorLog2(Math.floor(min / this.halfCount)));
    const length = this.indexOf(max) + 1;
    this.counts = new Float64Array(length);
    this.blockCounts = new Float64Array(Math.ceil(length / this.halfCount));
  }

  /** Flat counts index of an integer value in [0, max]. No clamping, no allocation. */
  private indexOf(value: number): number {
    const bucket = Math.max(0, floorLog2(value) - this.unit - this.halfMagnitude);
    const subBucket = Math.floor(value * inversePowersOfTwo[bucket + this.unit]!);
    return bucket * this.halfCount + subBucket;
  }

  /** Flat index of a recordable value: floored, and clamped up to config.min. */
  private indexOfClamped(value: number): number {
    return this.indexOf(value < this.min ? this.min : Math.floor(value));
  }

  /** log2 of the width of the sub-bucket at a flat index. */
  private shiftOf(index: number): number {
    // Flat indexes [0, 2 * half) are bucket 0; each later block of `half` is one more bucket.
    return Math.max(0, Math.floor(index / this.halfCount) - 1) + this.unit;
  }

  /** Smallest value that lands in the sub-bucket at a flat index. */
  private lowValueAt(index: number): number {
    const bucket = this.shiftOf(index) - this.unit;
    return (index - bucket * this.halfCount) * 2 ** (bucket + this.unit);
  }

  /** Largest integer value that lands in the sub-bucket at a flat index. */
  private highValueAt(index: number): number {
    return this.lowValueAt(index) + 2 ** this.shiftOf(index) - 1;
  }

  /**
   * Records `count` occurrences of value. Value must be a finite number >= 0; values below
   * config.min are clamped into the lowest bucket, values above config.max throw DbError
   * OUT_OF_RANGE (message names value and range). Non-integers are allowed and bucketed by
   * floor. Hot path: no allocation, a handful of arithmetic operations.
   */
  record(value: number, count = 1): void {
    // One comparison pair rejects NaN, negatives, Infinity and values over max alike.
    if (!(value >= 0 && value <= this.max)) this.rejectValue(value);
    if (count !== 1) this.checkCount(count);
    const index = this.indexOfClamped(value);
    this.counts[index]! += count;
    this.blockCounts[index >>> this.halfMagnitude]! += count;
    this.count += count;
    this.sum += value * count;
    if (value < this.minValue) this.minValue = value;
    if (value > this.maxValue) this.maxValue = value;
  }

  /** Cold path of record(): says why a value cannot be recorded. */
  private rejectValue(value: number): never {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `histogram value must be a finite number, got ${describeValue(value)}`,
        { value },
      );
    }
    throw new DbError(
      "OUT_OF_RANGE",
      `histogram value ${value} is outside the recordable range [0, ${this.max}]`,
      { value, min: this.min, max: this.max },
    );
  }

  /** Cold path of record(): a repeat count must be a positive safe integer. */
  private checkCount(count: number): void {
    if (Number.isSafeInteger(count) && count >= 1) return;
    throw new DbError(
      "INVALID_ARGUMENT",
      `histogram count must be a positive integer, got ${describeValue(count)}`,
      { value: count },
    );
  }

  /**
   * Exact inverse of record(value, count) given the min/max before that record; used to roll
   * back a transaction. The sum is restored exactly while it stays a safe integer (and always
   * when the histogram becomes empty); otherwise to within float rounding.
   */
  unrecord(value: number, count: number, minBefore: number, maxBefore: number): void {
    assert(value >= 0 && value <= this.max, "unrecord of a value record() would reject");
    const index = this.indexOfClamped(value);
    assert(this.counts[index]! >= count && count >= 1, "unrecord of a value never recorded");
    this.counts[index]! -= count;
    this.blockCounts[index >>> this.halfMagnitude]! -= count;
    this.count -= count;
    // Float subtraction need not undo float addition; an empty histogram must sum to 0 exactly.
    this.sum = this.count === 0 ? 0 : this.sum - value * count;
    this.minValue = minBefore;
    this.maxValue = maxBefore;
  }

  /**
   * Value at percentile p (0..100), or null when empty: the highest value equivalent to the
   * bucket holding rank ceil(p / 100 * count), clamped to [minValue, maxValue]. p = 0 and
   * p = 100 give the exact min and max.
   */
  percentile(p: number): number | null {
    if (typeof p !== "number" || !(p >= 0 && p <= 100)) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `histogram percentile must be a number between 0 and 100, got ${describeValue(p)}`,
        { value: p },
      );
    }
    if (this.count === 0) return null;
    if (p === 0) return this.minValue;
    if (p === 100) return this.maxValue;
    const index = this.indexOfRank(percentileRank(p, this.count));
    return Math.min(this.maxValue, Math.max(this.minValue, this.highValueAt(index)));
  }

  /** Flat index of the sub-bucket holding the rank-th smallest value (1 <= rank <= count). */
  private indexOfRank(rank: number): number {
    let seen = 0;
    let block = this.indexOfClamped(this.minValue) >>> this.halfMagnitude;
    // Skip whole blocks first: block totals are exact integers, so the comparison is exact.
    while (seen + this.blockCounts[block]! < rank) seen += this.blockCounts[block++]!;
    let index = block * this.halfCount;
    for (;;) {
      seen += this.counts[index]!;
      if (seen >= rank) return index;
      index++;
      assert(index < this.counts.length, "histogram counts disagree with count");
    }
  }

  /** Exact statistics of the recorded values. */
  summary(): HistogramSummary {
    const empty = this.count === 0;
    return {
      count: this.count,
      min: empty ? null : this.minValue,
      max: empty ? null : this.maxValue,
      mean: empty ? null : this.sum / this.count,
      sum: this.sum,
    };
  }

  /** Forgets every recorded value. */
  reset(): void {
    this.counts.fill(0);
    this.blockCounts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.minValue = Infinity;
    this.maxValue = -Infinity;
  }

  /** Adds every value recorded in `other`, which must have an equal config. */
  merge(other: HistogramBuckets): void {
    const a = this.config;
    const b = other.config;
    if (a.min !== b.min || a.max !== b.max || a.digits !== b.digits) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `cannot merge histograms with different configs: ` +
          `{min ${a.min}, max ${a.max}, digits ${a.digits}} and ` +
          `{min ${b.min}, max ${b.max}, digits ${b.digits}}`,
      );
    }
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    for (let i = 0; i < this.blockCounts.length; i++) {
      this.blockCounts[i]! += other.blockCounts[i]!;
    }
    this.count += other.count;
    this.sum += other.sum;
    this.minValue = Math.min(this.minValue, other.minValue);
    this.maxValue = Math.max(this.maxValue, other.maxValue);
  }

  /** An independent copy. */
  clone(): HistogramBuckets {
    const copy = new HistogramBuckets(this.config);
    copy.counts.set(this.counts);
    copy.blockCounts.set(this.blockCounts);
    copy.count = this.count;
    copy.sum = this.sum;
    copy.minValue = this.minValue;
    copy.maxValue = this.maxValue;
    return copy;
  }

  /**
   * Non-zero buckets as [bucketLowValue, count] pairs, ascending: compact serialisation for
   * snapshots. Walks only non-empty blocks.
   */
  toEntries(): Array<[number, number]> {
    const entries: Array<[number, number]> = [];
    for (let block = 0; block < this.blockCounts.length; block++) {
      if (this.blockCounts[block] === 0) continue;
      const end = Math.min(this.counts.length, (block + 1) * this.halfCount);
      for (let i = block * this.halfCount; i < end; i++) {
        const n = this.counts[i]!;
        if (n !== 0) entries.push([this.lowValueAt(i), n]);
      }
    }
    return entries;
  }

  /**
   * Rebuilds a histogram from {@link toEntries} output and its exact statistics. Throws DbError
   * CORRUPT when the entries are not bucket boundaries in ascending order or disagree with the
   * statistics. An empty histogram's min/max are ignored (JSON cannot carry ±Infinity).
   */
  static fromEntries(
    config: HistogramConfig,
    entries: Array<[number, number]>,
    stats: HistogramStats,
  ): HistogramBuckets {
    const h = new HistogramBuckets(config);
    let total = 0;
    let previous = -1;
    for (const [low, n] of entries) {
      const index = Number.isInteger(low) && low >= 0 && low <= h.max ? h.indexOf(low) : -1;
      if (index <= previous || h.lowValueAt(index) !== low || !Number.isSafeInteger(n) || n < 1) {
        throw corrupt(`bad histogram entry [${low}, ${n}]`);
      }
      h.counts[index] = n;
      h.blockCounts[index >>> h.halfMagnitude]! += n;
      total += n;
      previous = index;
    }
    if (total !== stats.count)
      throw corrupt(`histogram entries hold ${total} values, not ${stats.count}`);
    if (total === 0) return h;
    const { minValue, maxValue } = stats;
    const first = entries[0]![0];
    const last = entries[entries.length - 1]![0];
    const consistent =
      minValue >= 0 &&
      minValue <= maxValue &&
      maxValue <= h.max &&
      h.indexOfClamped(minValue) === h.indexOf(first) &&
      h.indexOfClamped(maxValue) === h.indexOf(last) &&
      Number.isFinite(stats.sum);
    if (!consistent) throw corrupt(`histogram statistics disagree with its entries`);
    h.count = total;
    h.sum = stats.sum;
    h.minValue = minValue;
    h.maxValue = maxValue;
    return h;
  }
}

/** A snapshot that does not describe a histogram this code could have written. */
function corrupt(message: string): DbError {
  return new DbError("CORRUPT", message);
}
