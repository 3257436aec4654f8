// Goal: a histogram reports an exact count, min, max and mean and percentiles within its
// precision; reset empties it; mergeFrom adds another histogram of the same configuration;
// rollback of a record restores min and max exactly (and of a reset or merge, everything);
// bad values, counts, percentiles and configurations are refused naming the histogram; every
// write is one `record` / `reset` / `merge` change of the documented shape.
// Method: black box through the embedded API. Recorded values are small integers, which the
// default 3 significant digits hold exactly, so percentiles can be compared with exact ranks.
// (test/primitives/histogram-buckets.test.ts covers the precision bound itself.)
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Change, Database, HistogramHandle } from "../../src/index.ts";
import { throwsDb } from "../support/assertions.ts";

function assertChangeShape(change: Change | undefined, kind: string): Change {
  assert.ok(change !== undefined, "a change was recorded");
  assert.deepEqual(Object.keys(change).sort(), ["after", "before", "key", "kind", "object"]);
  assert.equal(change.object, "default::latency");
  assert.equal(change.kind, kind);
  assert.equal(change.key, null);
  return change;
}

async function latency(max = 1000): Promise<{ db: Database; h: HistogramHandle }> {
  const db = await open();
  return { db, h: db.createHistogram("latency", { max }) };
}

const empty = {
  count: 0,
  min: null,
  max: null,
  mean: null,
  p50: null,
  p90: null,
  p99: null,
  p999: null,
};

describe("statistics", () => {
  test("an empty histogram reports count 0 and no statistics", async () => {
    const { h } = await latency();
    assert.deepEqual(h.summary(), empty);
    assert.equal(h.count, 0);
    assert.equal(h.percentile(50), null);
  });

  test("1..100 gives exact count, min, max, mean and percentiles", async () => {
    const { db, h } = await latency();
    db.transact(() => {
      for (let v = 100; v >= 1; v--) h.record(v);
    });
    assert.deepEqual(h.summary(), {
      count: 100,
      min: 1,
      max: 100,
      mean: 50.5,
      p50: 50,
      p90: 90,
      p99: 99,
      p999: 100,
    });
    assert.equal(h.percentile(0), 1);
    assert.equal(h.percentile(100), 100);
    assert.equal(h.percentile(25), 25);
    assert.equal(h.percentile(0.5), 1);
  });

  test("record with a count weighs the value", async () => {
    const { h } = await latency();
    h.record(10, 9);
    h.record(500);
    assert.equal(h.count, 10);
    assert.equal(h.percentile(90), 10);
    assert.equal(h.percentile(91), 500);
    assert.equal(h.summary().mean, 59);
  });

  test("values below min are counted at min precision; min and max stay exact", async () => {
    const { h } = await latency();
    h.record(0);
    h.record(0.25);
    h.record(999.5);
    assert.equal(h.summary().min, 0);
    assert.equal(h.summary().max, 999.5);
    assert.equal(h.percentile(100), 999.5);
  });

  test("the configured max is recordable", async () => {
    const { h } = await latency(1000);
    h.record(1000);
    assert.equal(h.summary().max, 1000);
  });

  test("reset empties the histogram; resetting an empty one commits nothing", async () => {
    const { db, h } = await latency();
    h.record(5);
    h.reset();
    assert.deepEqual(h.summary(), empty);
    const seq = db.seq;
    h.reset();
    assert.equal(db.seq, seq);
    h.record(7);
    assert.equal(h.summary().min, 7);
  });
});

describe("mergeFrom", () => {
  test("adds the other histogram's values and leaves the other as it was", async () => {
    const { db, h } = await latency();
    const other = db.createHistogram("other", { max: 1000 });
    h.record(10);
    h.record(20);
    other.record(1);
    other.record(1000);
    h.mergeFrom("other");
    assert.deepEqual(h.summary(), {
      count: 4,
      min: 1,
      max: 1000,
      mean: 257.75,
      p50: 10,
      p90: 1000,
      p99: 1000,
      p999: 1000,
    });
    assert.equal(other.count, 2);
    h.mergeFrom("other");
    assert.equal(h.count, 6);
  });

  test("merging an empty histogram keeps the statistics", async () => {
    const { db, h } = await latency();
    db.createHistogram("idle", { max: 1000 });
    h.record(3);
    h.mergeFrom("idle");
    const three = { count: 1, min: 3, max: 3, mean: 3, p50: 3, p90: 3, p99: 3, p999: 3 };
    assert.deepEqual(h.summary(), three);
  });

  test("merging an empty histogram changes nothing and makes no commit, as a reset", async () => {
    const { db, h } = await latency();
    db.createHistogram("idle", { max: 1000 });
    h.record(3);
    const seq = db.seq;
    h.mergeFrom("idle");
    assert.equal(db.seq, seq, "no commit, no seq burned");
    db.transact(() => {
      h.mergeFrom("idle");
      h.record(4);
    });
    assert.equal(db.seq, seq + 1);
    assert.deepEqual(
      db.lastCommit?.changes.map((c) => c.kind),
      ["record"],
    );
    // Refusals still come first: an empty histogram of another config is no more mergeable.
    db.createHistogram("wide", { max: 5000 });
    throwsDb(() => h.mergeFrom("wide"), { code: "INVALID_ARGUMENT" });
  });

  test("different configurations are refused naming both histograms", async () => {
    const { db, h } = await latency(1000);
    db.createHistogram("wide", { max: 5000 });
    db.createHistogram("coarse", { max: 1000, digits: 2 });
    h.record(1);
    const seq = db.seq;
    for (const other of ["wide", "coarse"]) {
      throwsDb(() => h.mergeFrom(other), {
        code: "INVALID_ARGUMENT",
        object: "default::latency",
        value: `default::${other}`,
        message: new RegExp(`default::latency.*default::${other}.*different configs`),
      });
    }
    assert.equal(db.seq, seq);
    assert.equal(h.count, 1);
  });

  test("itself, unknown objects and other kinds are refused", async () => {
    const { db, h } = await latency();
    db.createCounter("hits");
    throwsDb(() => h.mergeFrom("latency"), {
      code: "INVALID_ARGUMENT",
      object: "default::latency",
      message: /cannot merge a histogram into itself/,
    });
    throwsDb(() => h.mergeFrom("nope"), { code: "UNKNOWN_OBJECT", object: "nope" });
    throwsDb(() => h.mergeFrom("hits"), {
      code: "WRONG_OBJECT_KIND",
      object: "default::hits",
      message: /is a counter, not a histogram/,
    });
  });
});

describe("rollback", () => {
  test("rolling back records that moved min and max restores them exactly", async () => {
    const { db, h } = await latency();
    h.record(10);
    h.record(20);
    const before = h.summary();
    assert.throws(() =>
      db.transact(() => {
        h.record(5);
        h.record(3);
        h.record(500);
        h.record(15);
        h.record(999, 4);
        assert.equal(h.summary().min, 3, "the transaction sees its records");
        throw new Error("undo");
      }),
    );
    assert.deepEqual(h.summary(), before);
    assert.equal(h.percentile(0), 10);
    assert.equal(h.percentile(100), 20);
  });

  test("rolling back the first records leaves an empty histogram", async () => {
    const { db, h } = await latency();
    assert.throws(() =>
      db.transact(() => {
        h.record(5);
        h.record(1);
        throw new Error("undo");
      }),
    );
    assert.deepEqual(h.summary(), empty);
    h.record(8);
    assert.equal(h.summary().min, 8, "min was not left at a rolled-back value");
    assert.equal(h.summary().max, 8);
  });

  test("rolling back a reset or a merge restores every value", async () => {
    const { db, h } = await latency();
    const other = db.createHistogram("other", { max: 1000 });
    for (const v of [4, 8, 15, 16, 23, 42]) h.record(v);
    other.record(900);
    const before = h.summary();
    assert.throws(() =>
      db.transact(() => {
        h.reset();
        h.record(1);
        h.mergeFrom("other");
        h.record(2);
        throw new Error("undo");
      }),
    );
    assert.deepEqual(h.summary(), before);
    assert.equal(h.percentile(50), 15);
  });

  test("rolling back a record restores a sum that float arithmetic cannot", async () => {
    // Past 2^53 and after a fraction, adding then subtracting a value rounds the sum.
    const cases: Array<{ kept: [number, number]; undone: number }> = [
      { kept: [2 ** 52 + 1, 2], undone: 1 },
      { kept: [0.1, 1], undone: 3 },
    ];
    for (const { kept, undone } of cases) {
      const db = await open();
      const h = db.createHistogram("latency", { max: Number.MAX_SAFE_INTEGER });
      h.record(...kept);
      const before = h.summary();
      assert.throws(() =>
        db.transact(() => {
          h.record(undone);
          throw new Error("undo");
        }),
      );
      assert.deepEqual(
        h.summary(),
        before,
        `mean after undoing ${undone} over ${kept.join(" x ")}`,
      );
      assert.equal(h.summary().mean, kept[0]);
    }
  });
});

describe("refusals", () => {
  test("record takes a finite number >= 0 and names the histogram", async () => {
    const { db, h } = await latency();
    const seq = db.seq;
    for (const [bad, shown] of [
      [-1, "-1"],
      [Number.NaN, "NaN"],
      [Infinity, "Infinity"],
      ["5", "5"],
      [null, "null"],
    ] as const) {
      throwsDb(() => h.record(bad as number), {
        code: "TYPE_MISMATCH",
        object: "default::latency",
        value: shown,
        message: /record takes a finite number >= 0/,
      });
    }
    assert.equal(db.seq, seq);
    assert.equal(h.count, 0);
  });

  test("a value above max is OUT_OF_RANGE naming the histogram, value and max", async () => {
    const { db, h } = await latency(1000);
    h.record(7);
    const seq = db.seq;
    throwsDb(() => h.record(1001), {
      code: "OUT_OF_RANGE",
      object: "default::latency",
      value: "1001",
      message: /^default::latency: .*1001.*1000/,
    });
    throwsDb(() => h.record(1000.5), { code: "OUT_OF_RANGE", object: "default::latency" });
    assert.equal(db.seq, seq);
    assert.deepEqual([h.count, h.summary().max], [1, 7]);
  });

  test("count must be a positive safe integer", async () => {
    const { h } = await latency();
    for (const count of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      throwsDb(() => h.record(5, count), {
        code: "INVALID_ARGUMENT",
        object: "default::latency",
        message: /count must be a positive integer/,
      });
    }
    assert.equal(h.count, 0);
  });

  test("the total count stays a safe integer: a record or merge past it is refused", async () => {
    // Past 2^53 counts are no longer exact, and a snapshot holding one could not be read back.
    const { db, h } = await latency();
    const other = db.createHistogram("other", { max: 1000 });
    h.record(5, Number.MAX_SAFE_INTEGER);
    other.record(7);
    throwsDb(() => h.record(5), {
      code: "LIMIT_EXCEEDED",
      object: "default::latency",
      message: /count would pass 9007199254740991/,
    });
    throwsDb(() => h.mergeFrom("other"), {
      code: "LIMIT_EXCEEDED",
      object: "default::latency",
      message: /count would pass 9007199254740991/,
    });
    assert.equal(h.count, Number.MAX_SAFE_INTEGER);
    assert.equal(h.summary().max, 5);
  });

  test("percentiles must be in [0, 100]", async () => {
    const { h } = await latency();
    h.record(1);
    for (const p of [-1, 100.01, Number.NaN]) {
      throwsDb(() => h.percentile(p), {
        code: "INVALID_ARGUMENT",
        object: "default::latency",
        message: /percentile must be in \[0, 100\]/,
      });
    }
  });

  test("configurations: min >= 1, max > min, digits 1..5, all integers", async () => {
    const db = await open();
    const cases: Array<[Record<string, number>, RegExp]> = [
      [{ min: 0 }, /min must be an integer between 1/],
      [{ min: 1.5 }, /min must be an integer/],
      [{ min: 10, max: 10 }, /max must be an integer between 11/],
      [{ max: 2 ** 53 }, /max must be an integer between/],
      [{ digits: 0 }, /digits must be an integer between 1 and 5/],
      [{ digits: 6 }, /digits must be an integer between 1 and 5/],
    ];
    for (const [options, message] of cases) {
      throwsDb(() => db.createHistogram("h", options), {
        code: "INVALID_ARGUMENT",
        object: "h",
        message,
      });
    }
    assert.deepEqual(db.system("objects"), []);
    db.createHistogram("h", { min: 1, max: 2, digits: 5 }).record(2);
  });

  test("unknown histograms and other kinds are refused by name", async () => {
    const db = await open();
    db.createQueue("jobs");
    throwsDb(() => db.histogram("nope"), { code: "UNKNOWN_OBJECT", object: "nope" });
    throwsDb(() => db.histogram("jobs"), {
      code: "WRONG_OBJECT_KIND",
      object: "default::jobs",
      message: /is a queue, not a histogram/,
    });
  });
});

describe("changes", () => {
  test("record: after is [value, count]; before holds the displaced min and max", async () => {
    const { db, h } = await latency();
    h.record(10);
    const first = assertChangeShape(db.lastCommit?.changes[0], "record");
    assert.deepEqual(first.after, [10, 1]);
    // An empty histogram had no min/max: none, since the log cannot carry infinities.
    assert.deepEqual(first.before, [null, null]);
    h.record(20, 3);
    const moved = assertChangeShape(db.lastCommit?.changes[0], "record");
    assert.deepEqual(
      [moved.before, moved.after],
      [
        [10, 10],
        [20, 3],
      ],
    );
    h.record(15);
    const inside = assertChangeShape(db.lastCommit?.changes[0], "record");
    assert.deepEqual([inside.before, inside.after], [null, [15, 1]], "min and max did not move");
  });

  test("reset carries the image before; merge the images before and merged", async () => {
    const { db, h } = await latency();
    const other = db.createHistogram("other", { max: 1000 });
    other.record(30);
    h.record(10);
    h.mergeFrom("other");
    const merge = assertChangeShape(db.lastCommit?.changes[0], "merge");
    assert.deepEqual(merge.before, {
      entries: [[10, 1]],
      count: 1,
      sum: 10,
      minValue: 10,
      maxValue: 10,
    });
    assert.deepEqual(merge.after, {
      entries: [[30, 1]],
      count: 1,
      sum: 30,
      minValue: 30,
      maxValue: 30,
    });
    h.reset();
    const reset = assertChangeShape(db.lastCommit?.changes[0], "reset");
    assert.equal(reset.after, undefined);
    assert.deepEqual(reset.before, {
      entries: [
        [10, 1],
        [30, 1],
      ],
      count: 2,
      sum: 40,
      minValue: 10,
      maxValue: 30,
    });
  });
});
