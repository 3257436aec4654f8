/**
 * @module Histograms: record values and read count, min, max, mean and percentiles at a
 * configured precision (HDR-style buckets, histogram-buckets.ts). A record is a small change
 * (`record`, with the min/max it displaced so rollback is exact); reset and merge carry whole
 * bucket states.
 */
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { youngNumberPair } from "../lib/young-array.ts";
import { ChangeRecord } from "../engine/index.ts";
import type {
  Change,
  ColumnDescription,
  Engine,
  ObjectDefinition,
  SnapshotSource,
  StoredObject,
  Transaction,
} from "../engine/index.ts";
import { Handle } from "./handle.ts";
import { HistogramBuckets, validateHistogramConfig } from "./histogram-buckets.ts";
import type { HistogramConfig } from "./histogram-buckets.ts";

/** The stored definition of a histogram. */
export interface HistogramDefinition extends ObjectDefinition, HistogramConfig {
  readonly kind: "histogram";
}

export interface HistogramOptions {
  /** Smallest value told apart from zero (default 1). */
  min?: number;
  /** Largest recordable value (default 3,600,000,000: an hour in microseconds). */
  max?: number;
  /** Significant decimal digits kept (default 3: 0.1% error). */
  digits?: number;
}

/** A serialisable image of a histogram's buckets (reset and merge changes carry these). */
export interface HistogramImage {
  readonly entries: Array<[number, number]>;
  readonly count: number;
  readonly sum: number;
  readonly minValue: number | null;
  readonly maxValue: number | null;
}

/** What `summary()` returns. */
export interface HistogramReport {
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  p999: number | null;
}

/** The columns of a histogram's row (`from h`): a count, then statistics none when empty. */
const histogramColumns: readonly ColumnDescription[] = [
  { name: "count", type: "int8" },
  ...["min", "max", "mean", "p50", "p90", "p99", "p999"].map((name) => ({
    name,
    type: "Option(float8)",
  })),
];

/** Normalises `createHistogram` options into a definition (validating them). */
export function histogramDefinition(
  name: string,
  options: HistogramOptions = {},
): HistogramDefinition {
  const config = validateHistogramConfig(
    { min: options.min ?? 1, max: options.max ?? 3_600_000_000, digits: options.digits ?? 3 },
    name,
  );
  return { kind: "histogram", name, min: config.min, max: config.max, digits: config.digits };
}

/** A histogram's state. */
export class Histogram implements StoredObject {
  readonly kind = "histogram" as const;
  readonly name: string;
  readonly definition: HistogramDefinition;
  private buckets: HistogramBuckets;

  constructor(definition: HistogramDefinition) {
    this.name = definition.name;
    this.definition = definition;
    const config = validateHistogramConfig(
      { min: definition.min, max: definition.max, digits: definition.digits },
      definition.name,
    );
    this.buckets = new HistogramBuckets(config);
  }

  /** A histogram's one row: the fields of its {@link HistogramReport}. */
  describeColumns(): readonly ColumnDescription[] {
    return histogramColumns;
  }

  get count(): number {
    return this.buckets.count;
  }

  percentile(p: number): number | null {
    if (typeof p !== "number" || !(p >= 0 && p <= 100)) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `${this.name}: percentile must be in [0, 100], got ${p}`,
        {
          object: this.name,
        },
      );
    }
    return this.buckets.percentile(p);
  }

  summary(): HistogramReport {
    const base = this.buckets.summary();
    const b = this.buckets;
    return {
      count: base.count,
      min: base.min,
      max: base.max,
      mean: base.mean,
      p50: b.percentile(50),
      p90: b.percentile(90),
      p99: b.percentile(99),
      p999: b.percentile(99.9),
    };
  }

  /** A serialisable copy of the current buckets. */
  image(): HistogramImage {
    const b = this.buckets;
    const empty = b.count === 0;
    return {
      entries: b.toEntries(),
      count: b.count,
      sum: b.sum,
      minValue: empty ? null : b.minValue,
      maxValue: empty ? null : b.maxValue,
    };
  }

  record(tx: Transaction, value: unknown, count: unknown = 1): void {
    tx.assertWritable(this.name);
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new DbError(
        "TYPE_MISMATCH",
        `${this.name}: record takes a finite number >= 0, got ${String(value)}`,
        {
          object: this.name,
          value: String(value),
        },
      );
    }
    if (value > this.definition.max) {
      // Checked here, not only in the buckets, so the error names this histogram.
      throw new DbError(
        "OUT_OF_RANGE",
        `${this.name}: value ${value} is above the histogram's max ${this.definition.max}`,
        { object: this.name, value: String(value) },
      );
    }
    if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 1) {
      throw new DbError("INVALID_ARGUMENT", `${this.name}: count must be a positive integer`, {
        object: this.name,
      });
    }
    this.checkCountFits(count);
    const b = this.buckets;
    const minBefore = b.minValue;
    const maxBefore = b.maxValue;
    const sumBefore = b.sum;
    b.record(value, count);
    // Subtracting back restores the sum only while it is a safe integer: after a fraction or
    // past 2^53 it rounds (a mean outside [min, max]), so the old sum is kept instead.
    if (!Number.isSafeInteger(b.sum)) tx.onRollback(() => (this.buckets.sum = sumBefore));
    // `before` holds the displaced min/max only when they moved: most records move neither.
    const moved = b.minValue !== minBefore || b.maxValue !== maxBefore;
    // An empty histogram's min/max are ±Infinity, which JSON (and the log) cannot carry.
    // Rare (only when min or max moves): a literal is fine here.
    const before = moved ? [finiteOrNull(minBefore), finiteOrNull(maxBefore)] : null;
    // The pair by a builtin's copy, not a literal: the change feed keeps it (lib/young-array.ts).
    tx.record(
      this,
      new ChangeRecord(this.name, "record", null, before, youngNumberPair(value, count)),
    );
  }

  reset(tx: Transaction): void {
    tx.assertWritable(this.name);
    if (this.buckets.count === 0) return;
    const before = this.image();
    this.buckets.reset();
    tx.record(this, new ChangeRecord(this.name, "reset", null, before, undefined));
  }

  /** Adds another histogram's values into this one (configs must match). */
  merge(tx: Transaction, other: Histogram): void {
    tx.assertWritable(this.name);
    if (other === this) {
      throw new DbError("INVALID_ARGUMENT", `${this.name}: cannot merge a histogram into itself`, {
        object: this.name,
      });
    }
    const [a, b] = [this.definition, other.definition];
    if (a.min !== b.min || a.max !== b.max || a.digits !== b.digits) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `${this.name}: cannot merge ${other.name}, which has different configs: ` +
          `{min ${a.min}, max ${a.max}, digits ${a.digits}} and ` +
          `{min ${b.min}, max ${b.max}, digits ${b.digits}}`,
        { object: this.name, value: other.name },
      );
    }
    // Merging nothing changes nothing: no change, so no commit (as a reset of an empty one).
    if (other.count === 0) return;
    this.checkCountFits(other.count);
    const before = this.image();
    this.buckets.merge(other.buckets);
    tx.record(this, new ChangeRecord(this.name, "merge", null, before, other.image()));
  }

  snapshot(): SnapshotSource {
    // Buckets are small (a few hundred KB at most): captured whole, at once.
    return { meta: this.image(), readChunk: () => [], mapKeyOfChange: () => undefined };
  }

  restore(meta: unknown): void {
    assert(this.buckets.count === 0, "restore into a histogram that has values");
    this.buckets = this.fromImage(meta as HistogramImage);
  }

  applyChange(change: Change): void {
    switch (change.kind) {
      case "record": {
        const [value, count] = change.after as [number, number];
        this.buckets.record(value, count);
        return;
      }
      case "reset":
        this.buckets.reset();
        return;
      case "merge":
        this.buckets.merge(this.fromImage(change.after as HistogramImage));
        return;
      default:
        assert(false, `unknown histogram change ${change.kind}`);
    }
  }

  revertChange(change: Change): void {
    switch (change.kind) {
      case "record": {
        const [value, count] = change.after as [number, number];
        const b = this.buckets;
        const moved = change.before as [number | null, number | null] | null;
        const minBefore = moved === null ? b.minValue : (moved[0] ?? Infinity);
        const maxBefore = moved === null ? b.maxValue : (moved[1] ?? -Infinity);
        b.unrecord(value, count, minBefore, maxBefore);
        return;
      }
      case "reset":
      case "merge":
        this.buckets = this.fromImage(change.before as HistogramImage);
        return;
      default:
        assert(false, `unknown histogram change ${change.kind}`);
    }
  }

  /**
   * Counts are exact only while safe integers; past that, a bucket's count in a snapshot is
   * one the snapshot reader must refuse as damage, so the database would not open again.
   */
  private checkCountFits(added: number): void {
    if (added <= Number.MAX_SAFE_INTEGER - this.buckets.count) return;
    throw new DbError(
      "LIMIT_EXCEEDED",
      `${this.name}: count would pass ${Number.MAX_SAFE_INTEGER} (it is ${this.buckets.count})`,
      { object: this.name, value: String(added) },
    );
  }

  private fromImage(image: HistogramImage): HistogramBuckets {
    return HistogramBuckets.fromEntries(this.buckets.config, image.entries, {
      count: image.count,
      sum: image.sum,
      minValue: image.minValue ?? Infinity,
      maxValue: image.maxValue ?? -Infinity,
    });
  }
}

/** A handle on a histogram: `db.histogram("shop::latency").record(42)`. */
export class HistogramHandle extends Handle<Histogram> {
  constructor(engine: Engine, name: string) {
    super(engine, name, "histogram");
  }

  get count(): number {
    return this.object().count;
  }

  percentile(p: number): number | null {
    return this.object().percentile(p);
  }

  summary(): HistogramReport {
    return this.object().summary();
  }

  record(value: number, count = 1): void {
    const tx = this.tx;
    if (tx !== undefined) this.object().record(tx, value, count);
    else this.write((tx, histogram) => histogram.record(tx, value, count));
  }

  reset(): void {
    this.write((tx, histogram) => histogram.reset(tx));
  }

  /** Adds the values of histogram `other` (by name) into this one. */
  mergeFrom(other: string): void {
    this.write((tx, histogram) => {
      const source = this.engine.catalog.require(other, "histogram");
      assert(source instanceof Histogram, "histogram factory built another class");
      histogram.merge(tx, source);
    });
  }
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
