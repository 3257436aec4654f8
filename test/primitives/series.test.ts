// Goal: a series keeps rows ordered by a datetime, date or integer key column; rows sharing a
// key keep their insertion order; `range` reads `from <= key < to` forwards or backwards with a
// limit, `latest` reads the newest rows, `deleteRange` removes a window; every write is an
// `insert`/`delete` change keyed by `[key, tiebreak]`, and rollback restores rows exactly.
// Method: black box through the embedded API with a manual clock: rows are stamped with the
// transaction's time (`db.now`) while the clock is advanced, then read by time windows.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { open, createManualClock } from "../../src/index.ts";
import type { Change, ManualClock, SeriesHandle, Database } from "../../src/index.ts";
import { throwsDb } from "../support/assertions.ts";

function assertChange(change: Change | undefined, expected: Change): void {
  assert.ok(change !== undefined, "a change was recorded");
  assert.deepEqual(Object.keys(change).sort(), ["after", "before", "key", "kind", "object"]);
  assert.deepEqual({ ...change }, { ...expected });
}

interface Sample {
  at: Date;
  temp: number;
}

const start = 1_700_000_000_000;
const minute = 60_000;

/** A series of temperatures with one sample a minute, stamped by the manual clock. */
async function temps(count: number): Promise<{
  db: Database;
  clock: ManualClock;
  series: SeriesHandle<Sample>;
}> {
  const clock = createManualClock(start);
  const db = await open({ clock });
  const series = db.createSeries<Sample>("temps", {
    columns: { at: "datetime", temp: "float8" },
    key: "at",
  });
  for (let i = 0; i < count; i++) {
    db.transact((tx) => series.insert({ at: new Date(tx.now), temp: i }));
    clock.advance(minute);
  }
  return { db, clock, series };
}

const temperatures = (rows: readonly Sample[]): number[] => rows.map((row) => row.temp);

describe("reading by key", () => {
  test("range reads from (inclusive) to (exclusive) in key order", async () => {
    const { series } = await temps(6);
    assert.equal(series.size, 6);
    assert.deepEqual(temperatures(series.range()), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(
      temperatures(series.range({ from: start + minute, to: start + 3 * minute })),
      [1, 2],
    );
    assert.deepEqual(temperatures(series.range({ from: start + 4 * minute })), [4, 5]);
    assert.deepEqual(temperatures(series.range({ to: start + minute })), [0]);
    assert.deepEqual(series.range({ from: start + minute, to: start + minute }), []);
  });

  test("bounds may be Dates, Unix ms or ISO text", async () => {
    const { series } = await temps(3);
    const second = new Date(start + minute);
    assert.deepEqual(temperatures(series.range({ from: second })), [1, 2]);
    assert.deepEqual(temperatures(series.range({ from: second.toISOString() })), [1, 2]);
  });

  test("reverse reads newest first; limit cuts in the reading direction", async () => {
    const { series } = await temps(5);
    assert.deepEqual(temperatures(series.range({ reverse: true })), [4, 3, 2, 1, 0]);
    assert.deepEqual(temperatures(series.range({ reverse: true, limit: 2 })), [4, 3]);
    assert.deepEqual(temperatures(series.range({ limit: 2 })), [0, 1]);
    assert.deepEqual(
      temperatures(series.range({ from: start + minute, to: start + 4 * minute, reverse: true })),
      [3, 2, 1],
    );
    assert.deepEqual(series.range({ limit: 0 }), []);
  });

  test("a limit or count not a whole number >= 0 is refused naming the series", async () => {
    // NaN gave one row and 1.5 two: the loop compared whatever it was given.
    const { series } = await temps(5);
    for (const limit of [Number.NaN, 1.5, -1, "2"]) {
      throwsDb(() => series.range({ limit: limit as number }), {
        code: "INVALID_ARGUMENT",
        message: /limit must be a whole number >= 0/,
      });
    }
    throwsDb(() => series.latest(Number.NaN), {
      code: "INVALID_ARGUMENT",
      message: /count must be a whole number >= 0, got NaN/,
    });
    assert.equal(series.range({ limit: Infinity }).length, 5);
  });

  test("latest gives the newest rows, newest first", async () => {
    const { series } = await temps(4);
    assert.deepEqual(temperatures(series.latest(2)), [3, 2]);
    assert.deepEqual(temperatures(series.latest(10)), [3, 2, 1, 0]);
  });

  test("a window relative to the clock: the last two minutes", async () => {
    const { series, clock } = await temps(10);
    const now = clock.now();
    assert.deepEqual(temperatures(series.range({ from: now - 2 * minute, to: now })), [8, 9]);
  });

  test("rows sharing a key keep insertion order, in both directions of a range", async () => {
    const db = await open();
    const events = db.createSeries("events", { columns: { t: "int8", n: "int4" }, key: "t" });
    for (const [t, n] of [
      [2, 1],
      [1, 2],
      [2, 3],
      [2, 4],
      [3, 5],
    ]) {
      events.insert({ t, n });
    }
    const ns = (rows: readonly Record<string, unknown>[]): unknown[] => rows.map((r) => r.n);
    assert.deepEqual(ns(events.range()), [2, 1, 3, 4, 5]);
    assert.deepEqual(ns(events.range({ from: 2, to: 3 })), [1, 3, 4], "every row of the key");
    assert.deepEqual(ns(events.range({ reverse: true })), [5, 4, 3, 1, 2]);
  });

  test("date keys order by day", async () => {
    const db = await open();
    const daily = db.createSeries("daily", { columns: { day: "date", n: "int4" }, key: "day" });
    daily.insert({ day: "2024-03-01", n: 3 });
    daily.insert({ day: "2024-01-15", n: 1 });
    daily.insert({ day: "2024-02-29", n: 2 });
    assert.deepEqual(
      daily.range({ from: "2024-02-01" }).map((row) => row.n),
      [2, 3],
    );
  });
});

describe("writes, changes and rollback", () => {
  test("insert records an insert keyed by [key, tiebreak]", async () => {
    const { db, series } = await temps(1);
    const at = new Date(start + 5 * minute);
    const row = series.insert({ at, temp: 21.5 });
    assert.deepEqual(row, { at, temp: 21.5 });
    assertChange(db.lastCommit?.changes[0], {
      object: "default::temps",
      kind: "insert",
      key: [at, 2],
      before: undefined,
      after: row,
    });
  });

  test("deleteRange removes the window, returns the count and records deletes", async () => {
    const { db, series } = await temps(5);
    const seq = db.seq;
    assert.equal(series.deleteRange({ from: start + minute, to: start + 3 * minute }), 2);
    assert.equal(db.seq, seq + 1);
    assert.deepEqual(temperatures(series.range()), [0, 3, 4]);
    const changes = db.lastCommit?.changes ?? [];
    assert.equal(changes.length, 2);
    assertChange(changes[0], {
      object: "default::temps",
      kind: "delete",
      key: [new Date(start + minute), 2],
      before: { at: new Date(start + minute), temp: 1 },
      after: undefined,
    });
    assert.equal(series.deleteRange({ from: start + 100 * minute }), 0);
    assert.equal(series.deleteRange({}), 3, "no bounds deletes every row");
    assert.equal(series.size, 0);
  });

  test("rollback restores deleted rows and forgets inserted ones", async () => {
    const { db, series } = await temps(4);
    const before = series.range();
    assert.throws(() =>
      db.transact(() => {
        series.deleteRange({ to: start + 2 * minute });
        series.insert({ at: new Date(start), temp: 99 });
        throw new Error("undo");
      }),
    );
    assert.deepEqual(series.range(), before);
    const row = series.insert({ at: new Date(start), temp: 7 });
    assert.deepEqual(
      db.lastCommit?.changes[0]?.key,
      [row.at, 5],
      "tiebreak numbers rolled back too",
    );
    assert.deepEqual(temperatures(series.range({ to: start + 1 })), [0, 7]);
  });

  test("a deleteRange that a view fails midway, caught, deletes nothing", async () => {
    const db = await open();
    const series = db.createSeries("points", { columns: { t: "int8", v: "int8" }, key: "t" });
    // The running sum is 1, 2, 7, 6 as rows come and 5, then 0 (10 / 0) as t 2 and 3 go.
    const query = "from points aggregate { s: math::sum(v) } by {} map { r: 10 / s }";
    db.createView("tenths", { query });
    for (const [t, v] of [
      [1, 1],
      [2, 1],
      [3, 5],
      [4, -1],
    ])
      series.insert({ t, v });
    const before = series.range();
    db.transact(() => {
      throwsDb(() => series.deleteRange({ from: 2 }), { code: "DIVISION_BY_ZERO" });
      assert.deepEqual(series.range(), before, "no row deleted by the failed deleteRange");
    });
    assert.deepEqual(series.range(), before);
    assert.deepEqual(db.view("tenths").scan(), [{ r: 1 }], "10 / 6 in integers");
  });
});

describe("refusals", () => {
  test("the key column must be a non-optional datetime, date or integer", async () => {
    const db = await open();
    for (const type of ["utf8", "float8", "Option(datetime)", "decimal"]) {
      throwsDb(() => db.createSeries("s", { columns: { t: type }, key: "t" }), {
        code: "INVALID_SCHEMA",
        object: "default::s",
        column: "t",
        message: /must be a non-optional datetime, date or integer/,
      });
    }
    throwsDb(() => db.createSeries("s", { columns: { t: "int8" }, key: "when" }), {
      code: "UNKNOWN_COLUMN",
      object: "default::s",
      column: "when",
    });
    assert.deepEqual(db.system("objects"), []);
  });

  test("rows and bounds are typed and named on refusal", async () => {
    const { db, series } = await temps(1);
    const seq = db.seq;
    throwsDb(() => series.insert({ at: "soon" as never, temp: 1 }), {
      code: "TYPE_MISMATCH",
      object: "default::temps",
      column: "at",
      value: '"soon"',
    });
    throwsDb(() => series.insert({ temp: 1 } as never), {
      code: "MISSING_COLUMN",
      column: "at",
    });
    throwsDb(() => series.insert({ at: new Date(start), temp: Infinity }), {
      code: "OUT_OF_RANGE",
      column: "temp",
      value: "Infinity",
    });
    throwsDb(() => series.range({ from: "abc" }), {
      code: "TYPE_MISMATCH",
      object: "default::temps",
      column: "at",
    });
    throwsDb(() => series.deleteRange({ to: true }), { code: "TYPE_MISMATCH", column: "at" });
    assert.equal(db.seq, seq);
    assert.equal(series.size, 1);
  });

  test("unknown series and other kinds are refused by name", async () => {
    const db = await open();
    db.createCounter("c");
    throwsDb(() => db.series("nope"), { code: "UNKNOWN_OBJECT", object: "nope" });
    throwsDb(() => db.series("c"), {
      code: "WRONG_OBJECT_KIND",
      object: "default::c",
      message: /is a counter, not a series/,
    });
  });
});
