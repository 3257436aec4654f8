// Goal: the one total order and equality over values (src/values/compare.ts and key.ts) is
// what primary keys, ordered scans, ordered and hash indexes and uniqueness observe: numbers
// by value across number/bigint/Decimal representations, text by UTF-16 code units, bytes
// bytewise with a prefix first, dates and durations by time, tuples element by element,
// documents by their sorted member names and then their values, none first, and one family
// after another (none < bool < number < text < datetime < duration < blob < list < document).
// Method: black box through the embedded API. Insert values in a scrambled order into keyed
// tables and indexes, then compare scan / range order and point lookups with the expected.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { open, DbError, Decimal, Duration } from "../../src/index.ts";
import { compareValues } from "../../src/values/index.ts";

const db = await open();
let tableCount = 0;

/** A table keyed by one column of `type`, holding `values` inserted in the given order. */
function keyed(type: string, values: readonly unknown[]) {
  const table = db.createTable(`k${++tableCount}`, {
    columns: { k: type, i: "int4" },
    primaryKey: "k",
  });
  values.forEach((k, i) => table.insert({ k, i }));
  return table;
}

/** Insertion indexes of the rows, in scan order. */
function scanOrder(table: ReturnType<typeof keyed>, reverse = false): unknown[] {
  return table.scan({ reverse }).map((row) => row.i);
}

describe("primary key order per type", () => {
  test("utf8 sorts by UTF-16 code unit, a prefix first, not by locale", () => {
    const values = ["b", "a", "ab", "B", "", "é", "z", "\u{1F600}", "\uFFFF"];
    const table = keyed("utf8", values);
    assert.deepEqual(
      table.scan().map((row) => row.k),
      ["", "B", "a", "ab", "b", "z", "é", "\u{1F600}", "\uFFFF"],
    );
  });

  test("float8 sorts numerically and treats -0 and 0 as one key", () => {
    const table = keyed("float8", [2, -1.5, 0.25, -100, 1e300, -1e-300, 0]);
    assert.deepEqual(
      table.scan().map((row) => row.k),
      [-100, -1.5, -1e-300, 0, 0.25, 2, 1e300],
    );
    assert.throws(
      () => table.insert({ k: -0, i: 99 }),
      (error: unknown) => error instanceof DbError && error.code === "CONSTRAINT_VIOLATION",
    );
    assert.equal(table.get(-0)?.i, 6);
  });

  test("int8 orders numbers and bigints together exactly, at the extremes too", () => {
    const values = [5, -(2n ** 63n), 2n ** 53n + 1n, 2n ** 53n, -3, 2n ** 63n - 1n, 0];
    const table = keyed("int8", values);
    assert.deepEqual(
      table.scan().map((row) => row.k),
      [-(2n ** 63n), -3, 0, 5, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n],
    );
    assert.equal(table.get(2n ** 53n + 1n)?.i, 2);
    assert.equal(table.get(5n)?.i, 0, "a bigint finds the number it equals");
    assert.equal(table.get("5")?.i, 0, "integer text finds it too");
  });

  test("uint16 keys are bigints ordered by value", () => {
    const table = keyed("uint16", [10n, 2n ** 128n - 1n, 0, 9]);
    assert.deepEqual(
      table.scan().map((row) => row.k),
      [0n, 9n, 10n, 2n ** 128n - 1n],
    );
    assert.equal(table.get(9)?.i, 3);
  });

  test("decimal keys compare by value, whatever the scale", () => {
    const table = keyed("decimal", ["1.10", "1.09", "-0.5", "10", "1.1000001"]);
    assert.deepEqual(
      table.scan().map((row) => String(row.k)),
      ["-0.5", "1.09", "1.1", "1.1000001", "10"],
    );
    assert.equal(table.get(Decimal.parse("1.1"))?.i, 0);
    assert.equal(table.get(1.1)?.i, 0);
  });

  test("bool sorts false before true", () => {
    const table = keyed("bool", [true, false]);
    assert.deepEqual(scanOrder(table), [1, 0]);
  });

  test("datetime sorts by instant and finds keys from ms, text or an equal Date", () => {
    const instants = [Date.UTC(2024, 5, 1), Date.UTC(1969, 0, 1), Date.UTC(2024, 0, 1)];
    const table = keyed("datetime", instants);
    assert.deepEqual(scanOrder(table), [1, 2, 0]);
    assert.equal(table.get("2024-01-01T00:00:00Z")?.i, 2);
    assert.equal(table.get(new Date(Date.UTC(2024, 5, 1)))?.i, 0);
    assert.equal(table.get(Date.UTC(1969, 0, 1))?.i, 1);
  });

  test("date and time text sort chronologically", () => {
    const dates = keyed("date", ["2024-10-01", "2024-09-30", "1999-12-31"]);
    assert.deepEqual(scanOrder(dates), [2, 1, 0]);
    const times = keyed("time", ["10:00:00", "09:59:59.5", "09:59:59"]);
    assert.deepEqual(scanOrder(times), [2, 1, 0]);
  });

  test("duration sorts by length; equal lengths spelled differently are one key", () => {
    const table = keyed("duration", ["1h", "90s", "-1s", "0s", "1d"]);
    assert.deepEqual(scanOrder(table), [2, 3, 1, 0, 4]);
    assert.equal(table.get("1m30s")?.i, 1);
    assert.equal(table.get(new Duration(3_600_000))?.i, 0);
  });

  test("blob sorts bytewise, a prefix before its extensions", () => {
    const table = keyed("blob", ["0x02", "0x0100", "0x01", "0x", "0xff", "0x0101"]);
    assert.deepEqual(scanOrder(table), [3, 2, 1, 5, 0, 4]);
    assert.equal(table.get(new Uint8Array([1, 0]))?.i, 1);
    assert.equal(table.get("0xFF")?.i, 4);
  });

  test("uuid keys are found whatever the case of the text", () => {
    const id = "01890a5d-ac96-774b-bcce-b302099a8057";
    const table = keyed("uuid7", [id]);
    assert.equal(table.get(id.toUpperCase())?.i, 0);
  });

  test("composite keys sort column by column; reverse is the exact mirror", () => {
    const table = db.createTable("composite", {
      columns: { a: "utf8", b: "int4", i: "int4" },
      primaryKey: ["a", "b"],
    });
    const keys: Array<[string, number]> = [
      ["b", 1],
      ["a", 10],
      ["a", 2],
      ["b", -1],
      ["ab", 0],
    ];
    keys.forEach(([a, b], i) => table.insert({ a, b, i }));
    assert.deepEqual(
      table.scan().map((row) => `${String(row.a)}${String(row.b)}`),
      ["a2", "a10", "ab0", "b-1", "b1"],
    );
    assert.deepEqual(
      table.scan({ reverse: true }).map((row) => row.i),
      table
        .scan()
        .map((row) => row.i)
        .reverse(),
    );
    assert.equal(table.get(["a", 10])?.i, 1);
    assert.equal(table.get(["a", "10"])?.i, 1, "each key part is coerced to its column");
  });
});

describe("ordered indexes", () => {
  test("none sorts first in an Option column; several nones never clash in a unique index", () => {
    const table = db.createTable("scores", {
      columns: { id: "int4", score: "Option(float8)" },
      primaryKey: "id",
      indexes: [{ name: "by_score", columns: ["score"], unique: true, ordered: true }],
    });
    table.insertMany([
      { id: 1, score: 5 },
      { id: 2, score: null },
      { id: 3, score: -1 },
      { id: 4 },
    ]);
    assert.deepEqual(
      table.range("by_score").map((row) => row.id),
      [2, 4, 3, 1],
    );
    assert.deepEqual(
      table.range("by_score", { lower: -100 }).map((row) => row.id),
      [3, 1],
      "a bound excludes none",
    );
    assert.deepEqual(
      table.lookup("by_score", null).map((row) => row.id),
      [2, 4],
    );
  });

  test("json documents order element by element and by sorted member names", () => {
    const table = db.createTable("docs", {
      columns: { id: "int4", doc: "json" },
      primaryKey: "id",
      indexes: [{ name: "by_doc", columns: ["doc"], ordered: true }],
    });
    const docs: unknown[] = [
      [1, 2],
      [1],
      [0, 9, 9],
      { b: 1 },
      { a: 2 },
      { a: 1, b: 1 },
      { a: 1 },
      "text",
      3,
      null,
      true,
    ];
    docs.forEach((doc, id) => table.insert({ id, doc }));
    assert.deepEqual(
      table.range("by_doc").map((row) => row.id),
      // Member-name lists compare first ([a] < [a, b] < [b]), then the values.
      [9, 10, 8, 7, 2, 1, 0, 6, 4, 5, 3],
    );
    assert.deepEqual(
      table.lookup("by_doc", { b: 1, a: 1 }).map((row) => row.id),
      [5],
      "member order does not matter for equality",
    );
  });

  test("an `any` column cannot be a key; the family order holds in compareValues", () => {
    // 5, 5n and decimal 5 compare equal but would key differently, so keys need a real type.
    assert.throws(
      () =>
        db.createTable("mixed", {
          columns: { id: "int4", v: "Option(any)" },
          primaryKey: "id",
          indexes: [{ name: "by_v", columns: ["v"], ordered: true }],
        }),
      (error: unknown) =>
        error instanceof DbError && error.code === "INVALID_SCHEMA" && error.details.column === "v",
    );
    const values: unknown[] = [
      { k: 1 },
      [1],
      new Uint8Array([0]),
      new Duration(5),
      new Date(0),
      "a",
      7,
      true,
      null,
    ];
    const sorted = [...values].sort(compareValues);
    assert.deepEqual(sorted, [...values].reverse());
  });
});
