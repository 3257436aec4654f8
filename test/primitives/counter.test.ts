// Goal: counters are exact 64-bit signed values, single or one per key (`by: { page: "utf8" }`).
// Adds may be negative; the value is a number while safe and a bigint beyond; an add that would
// leave the int8 range fails at the exact boundary without changing anything; reset returns a
// key to 0 and forgets it; every write is one `set` change with the value before and after.
// Method: black box through the embedded API; boundaries are driven with bigint amounts and
// checked on both sides; refusals are checked for code, object, column and value.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Change, CounterHandle, Database } from "../../src/index.ts";
import { throwsDb } from "../support/assertions.ts";

function assertChange(change: Change | undefined, expected: Change): void {
  assert.ok(change !== undefined, "a change was recorded");
  assert.deepEqual(Object.keys(change).sort(), ["after", "before", "key", "kind", "object"]);
  assert.deepEqual({ ...change }, { ...expected });
}

const int8Max = 2n ** 63n - 1n;
const int8Min = -(2n ** 63n);

async function single(): Promise<{ db: Database; hits: CounterHandle }> {
  const db = await open();
  return { db, hits: db.createCounter("hits") };
}

async function keyed(): Promise<{ db: Database; views: CounterHandle }> {
  const db = await open();
  return { db, views: db.createCounter("views", { by: { page: "utf8" } }) };
}

describe("single counters", () => {
  test("start at 0; add returns the new value; negative and zero adds work", async () => {
    const { hits } = await single();
    assert.equal(hits.get(), 0);
    assert.equal(hits.add(5), 5);
    assert.equal(hits.add(-7), -2);
    assert.equal(hits.add(0), -2);
    assert.equal(hits.add(3n), 1, "a bigint amount gives a number while safe");
    assert.equal(hits.get(), 1);
  });

  test("values beyond 2^53 are exact bigints and return to numbers when safe", async () => {
    const { hits } = await single();
    hits.add(Number.MAX_SAFE_INTEGER);
    assert.equal(hits.add(1), 2n ** 53n);
    assert.equal(hits.add(Number.MAX_SAFE_INTEGER), 2n ** 54n - 1n);
    assert.equal(hits.add(-(2n ** 54n)), -1);
    assert.equal(typeof hits.get(), "number");
  });

  test("the int8 maximum is reachable; one more is OUT_OF_RANGE and changes nothing", async () => {
    const { db, hits } = await single();
    assert.equal(hits.add(int8Max - 1n), int8Max - 1n);
    assert.equal(hits.add(1), int8Max);
    const seq = db.seq;
    throwsDb(() => hits.add(1), {
      code: "OUT_OF_RANGE",
      object: "default::hits",
      value: "9223372036854775808",
      message: /^default::hits: counter would leave the int8 range \(9223372036854775808\)$/,
    });
    assert.equal(hits.get(), int8Max);
    assert.equal(db.seq, seq);
    assert.equal(hits.add(-1), int8Max - 1n);
  });

  test("the int8 minimum is reachable; one less is OUT_OF_RANGE", async () => {
    const { hits } = await single();
    assert.equal(hits.add(int8Min), int8Min);
    throwsDb(() => hits.add(-1), {
      code: "OUT_OF_RANGE",
      object: "default::hits",
      value: "-9223372036854775809",
    });
    assert.equal(hits.get(), int8Min);
    assert.equal(hits.add(int8Max), -1);
  });

  test("amounts outside int8 or not integers are refused as the amount column", async () => {
    const { db, hits } = await single();
    const seq = db.seq;
    throwsDb(() => hits.add(int8Max + 1n), {
      code: "OUT_OF_RANGE",
      object: "default::hits",
      column: "amount",
      value: "9223372036854775808",
    });
    throwsDb(() => hits.add(int8Min - 1n), {
      code: "OUT_OF_RANGE",
      column: "amount",
      value: "-9223372036854775809",
    });
    throwsDb(() => hits.add(1.5), { code: "TYPE_MISMATCH", column: "amount", value: "1.5" });
    throwsDb(() => hits.add(Number.NaN), { code: "TYPE_MISMATCH", column: "amount" });
    throwsDb(() => hits.add(2 ** 53), { code: "TYPE_MISMATCH", column: "amount" });
    throwsDb(() => hits.add("ten" as never), {
      code: "TYPE_MISMATCH",
      column: "amount",
      value: '"ten"',
    });
    throwsDb(() => hits.add(null as never), { code: "TYPE_MISMATCH", column: "amount" });
    assert.equal(db.seq, seq);
    assert.equal(hits.get(), 0);
  });

  test("a key on a single counter is INVALID_ARGUMENT", async () => {
    const { hits } = await single();
    throwsDb(() => hits.add(1, "home"), {
      code: "INVALID_ARGUMENT",
      object: "default::hits",
      message: /is not keyed; got key "home"/,
    });
    throwsDb(() => hits.get("home"), { code: "INVALID_ARGUMENT" });
  });

  test("reset returns the value to 0; resetting an untouched counter commits nothing", async () => {
    const { db, hits } = await single();
    hits.add(9);
    hits.reset();
    assert.equal(hits.get(), 0);
    assertChange(db.lastCommit?.changes[0], {
      object: "default::hits",
      kind: "set",
      key: null,
      before: 9,
      after: undefined,
    });
    const seq = db.seq;
    hits.reset();
    assert.equal(db.seq, seq);
    assert.equal(hits.add(2), 2);
  });

  test("add records a set change: before is undefined for a value never written", async () => {
    const { db, hits } = await single();
    hits.add(2);
    assertChange(db.lastCommit?.changes[0], {
      object: "default::hits",
      kind: "set",
      key: null,
      before: undefined,
      after: 2,
    });
    hits.add(int8Max - 2n);
    assertChange(db.lastCommit?.changes[0], {
      object: "default::hits",
      kind: "set",
      key: null,
      before: 2,
      after: int8Max,
    });
  });

  test("rollback restores the value, the reset and the absence of a value", async () => {
    const { db, hits } = await single();
    hits.add(4);
    assert.throws(() =>
      db.transact(() => {
        hits.add(10);
        hits.reset();
        hits.add(int8Max);
        throw new Error("undo");
      }),
    );
    assert.equal(hits.get(), 4);
    hits.reset();
    assert.throws(() =>
      db.transact(() => {
        hits.add(1);
        throw new Error("undo");
      }),
    );
    hits.add(1);
    assert.equal(db.lastCommit?.changes[0]?.before, undefined, "still never written");
  });
});

describe("keyed counters", () => {
  test("each key counts on its own; keys are given as a value or a record", async () => {
    const { views } = await keyed();
    assert.equal(views.add(1, "home"), 1);
    assert.equal(views.add(2, { page: "home" }), 3);
    assert.equal(views.add(-1, "about"), -1);
    assert.equal(views.get("home"), 3);
    assert.equal(views.get({ page: "about" }), -1);
    assert.equal(views.get("never"), 0);
    assert.deepEqual(
      views.entries().sort((a, b) => String(a.key).localeCompare(String(b.key))),
      [
        { key: "about", value: -1 },
        { key: "home", value: 3 },
      ],
    );
  });

  test("reset forgets one key", async () => {
    const { db, views } = await keyed();
    views.add(5, "home");
    views.add(1, "about");
    views.reset("home");
    assert.equal(views.get("home"), 0);
    assert.deepEqual(views.entries(), [{ key: "about", value: 1 }]);
    assertChange(db.lastCommit?.changes[0], {
      object: "default::views",
      kind: "set",
      key: "home",
      before: 5,
      after: undefined,
    });
  });

  test("the int8 boundary holds per key", async () => {
    const { views } = await keyed();
    views.add(int8Max, "a");
    throwsDb(() => views.add(1, "a"), {
      code: "OUT_OF_RANGE",
      object: "default::views",
      value: "9223372036854775808",
    });
    assert.equal(views.add(1, "b"), 1);
  });

  test("a missing, mistyped or unknown key is refused naming the key column", async () => {
    const { db, views } = await keyed();
    throwsDb(() => views.add(1), {
      code: "INVALID_ARGUMENT",
      object: "default::views",
      message: /is keyed by page; pass a key/,
    });
    throwsDb(() => views.add(1, null), { code: "INVALID_ARGUMENT" });
    throwsDb(() => views.add(1, 5), {
      code: "TYPE_MISMATCH",
      object: "default::views",
      column: "page",
      value: "5",
    });
    throwsDb(() => views.add(1, { path: "/" }), {
      code: "UNKNOWN_COLUMN",
      object: "default::views",
      column: "path",
    });
    throwsDb(() => views.add(1, {}), { code: "MISSING_COLUMN", column: "page" });
    assert.equal(db.seq, 1, "only the create committed");
  });

  test("several key columns make list keys", async () => {
    const db = await open();
    const daily = db.createCounter("daily", { by: { page: "utf8", day: "date" } });
    daily.add(2, { page: "home", day: "2024-01-01" });
    daily.add(3, { page: "home", day: "2024-01-01" });
    daily.add(1, { page: "home", day: "2024-01-02" });
    assert.equal(daily.get({ page: "home", day: "2024-01-01" }), 5);
    assertChange(db.lastCommit?.changes[0], {
      object: "default::daily",
      kind: "set",
      key: ["home", "2024-01-02"],
      before: undefined,
      after: 1,
    });
    assert.equal(daily.entries().length, 2);
    throwsDb(() => daily.add(1, { page: "home", day: "2024-02-30" }), {
      code: "TYPE_MISMATCH",
      column: "day",
    });
  });

  test("a list key, as entries() gives it, is accepted by get, add and reset", async () => {
    const db = await open();
    const daily = db.createCounter("daily", { by: { page: "utf8", day: "date" } });
    daily.add(2, { page: "home", day: "2024-01-01" });
    daily.add(1, ["about", "2024-01-02"]);
    for (const { key, value } of daily.entries()) assert.equal(daily.get(key), value);
    assert.equal(daily.add(3, ["home", "2024-01-01"]), 5);
    for (const { key } of daily.entries()) daily.reset(key);
    assert.deepEqual(daily.entries(), []);
    throwsDb(() => daily.add(1, ["home"]), {
      code: "TYPE_MISMATCH",
      object: "default::daily",
      message: /key is \(page, day\); pass a list of 2 values/,
    });
    throwsDb(() => daily.add(1, ["home", "2024-02-30"]), { code: "TYPE_MISMATCH", column: "day" });
  });

  test("rollback removes keys created inside the transaction", async () => {
    const { db, views } = await keyed();
    views.add(1, "home");
    assert.throws(() =>
      db.transact(() => {
        views.add(1, "new");
        views.add(1, "home");
        views.reset("home");
        throw new Error("undo");
      }),
    );
    assert.deepEqual(views.entries(), [{ key: "home", value: 1 }]);
  });
});

describe("objects", () => {
  test("unknown counters and other kinds are refused by name", async () => {
    const db = await open();
    db.createHistogram("latency");
    throwsDb(() => db.counter("nope"), { code: "UNKNOWN_OBJECT", object: "nope" });
    throwsDb(() => db.counter("latency"), {
      code: "WRONG_OBJECT_KIND",
      object: "default::latency",
      message: /is a histogram, not a counter/,
    });
  });

  test("a bad key schema is refused at creation", async () => {
    const db = await open();
    throwsDb(() => db.createCounter("c", { by: { page: "url" } }), {
      code: "INVALID_SCHEMA",
      object: "default::c",
      column: "page",
    });
    throwsDb(() => db.createCounter("c", { by: {} }), { code: "INVALID_SCHEMA" });
  });

  test("a key column named value, the name of the counted column, is refused", async () => {
    // Its rows would carry two `value` columns: `from c` lost the key, as the count won.
    const db = await open();
    throwsDb(() => db.createCounter("c", { by: { value: "utf8" } }), {
      code: "INVALID_SCHEMA",
      object: "default::c",
      column: "value",
      message: /key column value .* counter's value column/,
    });
    await assert.rejects(db.admin("create counter default::c2 by { page: utf8, value: int4 }"), {
      code: "INVALID_SCHEMA",
    });
    assert.deepEqual(db.system("objects"), []);
  });
});

describe("adding zero", () => {
  // As a reset of an absent key and a merge of an empty histogram: no change, no commit.
  test("add(0) changes nothing and commits nothing, on a new key or an existing one", async () => {
    const { db, views } = await keyed();
    const seq = db.seq;
    assert.equal(views.add(0, "home"), 0);
    assert.equal(views.add(0n, "home"), 0);
    assert.deepEqual(views.entries(), [], "no visible 0 row for a key never counted");
    assert.equal(db.seq, seq, "no commit, no seq burned");
    views.add(4, "home");
    assert.equal(views.add(0, "home"), 4);
    assert.equal(db.seq, seq + 1);
    const { frames } = await db.command("counter default::views add 0 by { page: 'home' }");
    assert.deepEqual(frames, [[{ value: 4 }]]);
    assert.equal(db.seq, seq + 1);
    assert.deepEqual((await db.query("from default::views")).frames, [
      [{ page: "home", value: 4 }],
    ]);
  });

  test("add(0) still checks the key and the amount", async () => {
    const { views } = await keyed();
    const object = "default::views";
    throwsDb(() => views.add(0), { code: "INVALID_ARGUMENT", object });
    throwsDb(() => views.add(0, 5), { code: "TYPE_MISMATCH", object, column: "page" });
    throwsDb(() => views.add(0.5, "home"), { code: "TYPE_MISMATCH", object, column: "amount" });
  });
});
