// Goal: tables keep typed rows under a primary key with auto_increment, scan in key order
// within bounds, keep hash and ordered secondary indexes exact through insert, update, set,
// delete and rollback, enforce primary key and unique constraints all-or-nothing, refuse to
// change a primary key, and record every write as one `{object, kind, key, before, after}`
// change.
// Method: black box through the embedded API on fresh in-memory databases; every refusal is
// checked for its code, the object, column and value it names, and for leaving state as it was.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { open, DbError } from "../../src/index.ts";
import type { Database, TableHandle } from "../../src/index.ts";
import { assertChange, throwsDb } from "../support/assertions.ts";
import type { Expected } from "../support/assertions.ts";
import { cityTableEngine } from "../support/table-engine.ts";

interface User {
  id: number;
  email: string;
  age: number | null;
  city: string | null;
}

/** A fresh database with `app::users`: auto-increment id, unique email, ordered age, city. */
async function users(): Promise<{ db: Database; table: TableHandle<User> }> {
  const db = await open();
  db.createNamespace("app");
  const table = db.createTable<User>("app::users", {
    columns: {
      id: { type: "int4", autoIncrement: true },
      email: "utf8",
      age: "Option(int2)",
      city: "Option(utf8)",
    },
    primaryKey: "id",
    indexes: [
      { name: "by_email", columns: ["email"], unique: true },
      { name: "by_age", columns: ["age"], ordered: true },
      { name: "by_city", columns: ["city"] },
    ],
  });
  return { db, table };
}

const ids = (rows: readonly { id?: unknown }[]): unknown[] => rows.map((row) => row.id);

const pkB = "with { primary_key: { b } }";

describe("insert, keys and auto_increment", () => {
  test("insert returns the stored row; get and has find it by key", async () => {
    const { table } = await users();
    const row = table.insert({ email: "ada@x", age: 36 });
    assert.deepEqual(row, { id: 1, email: "ada@x", age: 36, city: null });
    assert.deepEqual(table.get(1), row);
    assert.equal(table.has(1), true);
    assert.equal(table.has(2), false);
    assert.equal(table.get(2), undefined);
    assert.equal(table.size, 1);
  });

  test("auto_increment counts up and moves past explicit values", async () => {
    const { table } = await users();
    assert.equal(table.insert({ email: "a" }).id, 1);
    assert.equal(table.insert({ email: "b" }).id, 2);
    assert.equal(table.insert({ id: 10, email: "c" }).id, 10);
    assert.equal(table.insert({ email: "d" }).id, 11);
    assert.equal(table.insert({ id: 5, email: "e" }).id, 5);
    assert.equal(table.insert({ email: "f" }).id, 12);
    assert.deepEqual(ids(table.insertMany([{ email: "g" }, { email: "h" }])), [13, 14]);
  });

  test("a rolled-back insert gives its auto_increment value back", async () => {
    const { db, table } = await users();
    table.insert({ email: "a" });
    assert.throws(() =>
      db.transact(() => {
        table.insert({ email: "b" });
        table.insert({ id: 50, email: "c" });
        throw new Error("undo");
      }),
    );
    assert.equal(table.insert({ email: "d" }).id, 2);
  });

  test("auto_increment beyond its column's range is OUT_OF_RANGE", async () => {
    const db = await open();
    const tiny = db.createTable("tiny", {
      columns: { id: { type: "int1", autoIncrement: true }, v: "Option(utf8)" },
      primaryKey: "id",
    });
    tiny.insert({ id: 127 });
    throwsDb(() => tiny.insert({}), {
      code: "OUT_OF_RANGE",
      object: "default::tiny",
      column: "id",
      value: "128",
    });
    assert.equal(tiny.size, 1);
  });

  test("a duplicate primary key is CONSTRAINT_VIOLATION naming key and column", async () => {
    const { db, table } = await users();
    table.insert({ id: 1, email: "a" });
    const seq = db.seq;
    throwsDb(() => table.insert({ id: 1, email: "b" }), {
      code: "CONSTRAINT_VIOLATION",
      object: "app::users",
      column: "id",
      value: "1",
      message: /^app::users: primary key 1 already exists$/,
    });
    assert.deepEqual(table.lookup("by_email", "b"), [], "the refused row left no index entry");
    assert.equal(db.seq, seq);
  });

  test("composite primary keys: get by list, duplicates refused, wrong arity refused", async () => {
    const db = await open();
    const stock = db.createTable("stock", {
      columns: { shop: "utf8", sku: "int4", qty: "int4" },
      primaryKey: ["shop", "sku"],
    });
    stock.insert({ shop: "x", sku: 1, qty: 5 });
    assert.equal(stock.get(["x", 1])?.qty, 5);
    assert.equal(stock.get(["x", 2]), undefined);
    throwsDb(() => stock.insert({ shop: "x", sku: 1, qty: 7 }), {
      code: "CONSTRAINT_VIOLATION",
      object: "default::stock",
      column: "shop, sku",
      value: '["x",1]',
    });
    throwsDb(() => stock.get("x"), {
      code: "TYPE_MISMATCH",
      object: "default::stock",
      message: /the key is \(shop, sku\); pass a list of 2 values/,
    });
    throwsDb(() => stock.get(["x", 1, 2]), { code: "TYPE_MISMATCH" });
    throwsDb(() => stock.get(["x", "one"]), {
      code: "TYPE_MISMATCH",
      column: "sku",
      value: '"one"',
    });
  });

  test("a key of the wrong type is TYPE_MISMATCH naming the key column", async () => {
    const { table } = await users();
    throwsDb(() => table.get("abc"), {
      code: "TYPE_MISMATCH",
      object: "app::users",
      column: "id",
      value: '"abc"',
    });
    throwsDb(() => table.del(1.5), { code: "TYPE_MISMATCH", column: "id" });
  });

  test("definitions: unknown or repeated key columns and bad indexes are refused", async () => {
    const db = await open();
    throwsDb(() => db.createTable("t1", { columns: { a: "int4" }, primaryKey: "b" }), {
      code: "UNKNOWN_COLUMN",
      object: "default::t1",
      column: "b",
    });
    throwsDb(() => db.createTable("t2", { columns: { a: "int4" }, primaryKey: ["a", "a"] }), {
      code: "INVALID_SCHEMA",
      object: "default::t2",
      message: /repeats a column/,
    });
    const columns = { a: "int4" };
    throwsDb(() => db.createTable("t3", { columns, indexes: [{ name: "i", columns: ["zz"] }] }), {
      code: "UNKNOWN_COLUMN",
      object: "default::t3",
      column: "zz",
    });
    throwsDb(() => db.createTable("t4", { columns, indexes: [{ name: "i", columns: [] }] }), {
      code: "INVALID_SCHEMA",
      message: /index i needs column names/,
    });
    const twice = [
      { name: "i", columns: ["a"] },
      { name: "i", columns: ["a"] },
    ];
    throwsDb(() => db.createTable("t5", { columns, indexes: twice }), {
      code: "INVALID_SCHEMA",
      message: /index i appears twice/,
    });
    assert.deepEqual(db.system("objects"), [], "no refused definition created anything");
  });

  test("a primary key column that may be none is INVALID_SCHEMA naming it", async () => {
    const db = await open();
    const columns = { a: "int4", b: "Option(utf8)" };
    throwsDb(() => db.createTable("t1", { columns, primaryKey: "b" }), {
      code: "INVALID_SCHEMA",
      object: "default::t1",
      column: "b",
      message: /primary key column b is Option\(utf8\)/,
    });
    throwsDb(() => db.createTable("t2", { columns, primaryKey: ["a", "b"] }), {
      code: "INVALID_SCHEMA",
      column: "b",
    });
    await assert.rejects(db.admin("create table default::t3 { b: Option(int4) } " + pkB), {
      code: "INVALID_SCHEMA",
    });
    await db.admin("create table default::t4 { a: int4, b: Option(int4) }");
    await assert.rejects(db.admin("create primary key on default::t4 { b }"), {
      code: "INVALID_SCHEMA",
    });
    assert.deepEqual(
      db.system("objects").map((o) => o.name),
      ["t4"],
    );
    const t4 = db.table("default::t4");
    t4.insert({ a: 1, b: null });
    t4.insert({ a: 2, b: null });
    assert.equal(t4.size, 2, "t4 is still the table without a key");
  });
});

describe("tables without a primary key", () => {
  test("rows keep insertion order, may repeat, and are addressed by row id", async () => {
    const db = await open();
    const log = db.createTable("log", { columns: { msg: "utf8", n: "int4" } });
    log.insert({ msg: "b", n: 1 });
    log.insert({ msg: "a", n: 2 });
    log.insert({ msg: "b", n: 1 });
    assert.deepEqual(
      log.scan().map((row) => row.n),
      [1, 2, 1],
    );
    assertChange(db.lastCommit?.changes[0], {
      object: "default::log",
      kind: "insert",
      key: 3,
      before: undefined,
      after: { msg: "b", n: 1 },
    });
    assert.deepEqual(log.update(2, { n: 20 }), { msg: "a", n: 20 });
    assertChange(db.lastCommit?.changes[0], {
      object: "default::log",
      kind: "update",
      key: 2,
      before: { msg: "a", n: 2 },
      after: { msg: "a", n: 20 },
    });
    assert.equal(log.del(1), true);
    assert.equal(db.lastCommit?.changes[0]?.key, 1);
    assert.deepEqual(
      log.scan().map((row) => row.n),
      [20, 1],
    );
  });

  test("rolling back an update or delete restores the row", async () => {
    const db = await open();
    const log = db.createTable("log", { columns: { n: "int4" } });
    log.insertMany([{ n: 1 }, { n: 2 }]);
    assert.throws(
      () =>
        db.transact(() => {
          log.update(1, { n: 10 });
          log.del(2);
          throw new Error("undo");
        }),
      /undo/,
    );
    assert.deepEqual(log.scan(), [{ n: 1 }, { n: 2 }]);
  });

  test("an updated row replaces the stored one for every read and the next write", async () => {
    // Such rows are replaced, not written in place: by row id (an array element), by scan
    // (the map) and by identity (RQL's delete) each must find the new row, not the one before.
    const db = await open();
    const log = db.createTable("log", { columns: { n: "int4" } });
    log.insertMany([{ n: 1 }, { n: 2 }]);
    log.update(2, { n: 20 });
    log.update(2, { n: 200 });
    assert.deepEqual(log.get(2), { n: 200 });
    assert.deepEqual(log.scan(), [{ n: 1 }, { n: 200 }]);
    const result = await db.command("delete default::log filter { n == 200 }");
    assert.equal(result.frames[0]?.[0]?.["deleted"], 1);
    assert.deepEqual(log.scan(), [{ n: 1 }]);
    assert.equal(log.get(2), undefined);
  });
});

describe("scan", () => {
  async function numbers(): Promise<TableHandle<{ k: number }>> {
    const db = await open();
    const table = db.createTable<{ k: number }>("nums", {
      columns: { k: "int4" },
      primaryKey: "k",
    });
    for (const k of [5, 1, 9, 3, 7]) table.insert({ k });
    return table;
  }
  const keys = (rows: readonly { k: number }[]): number[] => rows.map((row) => row.k);

  test("rows come in primary key order, whatever the insertion order", async () => {
    const table = await numbers();
    assert.deepEqual(keys(table.scan()), [1, 3, 5, 7, 9]);
    assert.deepEqual(keys(table.scan({ reverse: true })), [9, 7, 5, 3, 1]);
  });

  test("bounds are inclusive unless marked exclusive, in both directions", async () => {
    const table = await numbers();
    assert.deepEqual(keys(table.scan({ lower: 3, upper: 7 })), [3, 5, 7]);
    assert.deepEqual(
      keys(table.scan({ lower: 3, lowerExclusive: true, upper: 7, upperExclusive: true })),
      [5],
    );
    assert.deepEqual(keys(table.scan({ lower: 4 })), [5, 7, 9]);
    assert.deepEqual(keys(table.scan({ upper: 4, reverse: true })), [3, 1]);
    assert.deepEqual(keys(table.scan({ lower: 8, upper: 2 })), []);
  });

  test("limit counts from the start of the direction; 0 gives nothing", async () => {
    const table = await numbers();
    assert.deepEqual(keys(table.scan({ limit: 2 })), [1, 3]);
    assert.deepEqual(keys(table.scan({ reverse: true, limit: 2 })), [9, 7]);
    assert.deepEqual(keys(table.scan({ lower: 2, limit: 1 })), [3]);
    assert.deepEqual(keys(table.scan({ limit: 0 })), []);
    assert.deepEqual(keys(table.scan({ limit: 100 })), [1, 3, 5, 7, 9]);
    // NaN gave every row and 1.5 two: the loop compared whatever it was given.
    for (const limit of [Number.NaN, 1.5, -1]) {
      throwsDb(() => table.scan({ limit }), {
        code: "INVALID_ARGUMENT",
        message: /limit must be a whole number >= 0/,
      });
    }
  });

  test("bounds are coerced to the key column; a bad bound names it", async () => {
    const table = await numbers();
    assert.deepEqual(keys(table.scan({ lower: "7" })), [7, 9]);
    throwsDb(() => table.scan({ lower: "seven" }), {
      code: "TYPE_MISMATCH",
      object: "default::nums",
      column: "k",
      value: '"seven"',
    });
  });

  test("composite key bounds are coerced per column, prefixes included", async () => {
    const db = await open();
    const columns = { a: "int8", at: "datetime", v: "utf8" };
    const table = db.createTable("pairs", { columns, primaryKey: ["a", "at"] });
    const t0 = Date.UTC(2026, 0, 1);
    for (const [a, ms, v] of [
      [1, t0, "p"],
      [2, t0, "q"],
      [2, t0 + 1000, "r"],
    ] as const) {
      table.insert({ a, at: new Date(ms), v });
    }
    const vs = (rows: Array<Record<string, unknown>>): unknown[] => rows.map((row) => row["v"]);
    assert.deepEqual(vs(table.scan({ lower: ["2", t0 + 1] })), ["r"], "text and Unix ms");
    assert.deepEqual(vs(table.scan({ lower: [2] })), ["q", "r"], "a prefix");
    assert.deepEqual(vs(table.scan({ upper: ["1", new Date(t0)] })), ["p"]);
    throwsDb(() => table.scan({ lower: ["two"] }), { code: "TYPE_MISMATCH", column: "a" });
    throwsDb(() => table.scan({ lower: 2 }), { code: "TYPE_MISMATCH", object: "default::pairs" });
  });
});

describe("secondary indexes", () => {
  async function filled(): Promise<{ db: Database; table: TableHandle<User> }> {
    const made = await users();
    made.table.insertMany([
      { email: "a", age: 30, city: "oslo" },
      { email: "b", age: 20, city: "rome" },
      { email: "c", age: 30, city: "oslo" },
      { email: "d", age: null, city: null },
    ]);
    return made;
  }

  test("hash lookup finds every row with the value, none included", async () => {
    const { table } = await filled();
    assert.deepEqual(ids(table.lookup("by_city", "oslo")), [1, 3]);
    assert.deepEqual(ids(table.lookup("by_city", null)), [4]);
    assert.deepEqual(table.lookup("by_city", "paris"), []);
    assert.deepEqual(ids(table.lookup("by_email", "b")), [2]);
    assert.deepEqual(ids(table.lookup("by_age", "30")), [1, 3], "the value is coerced");
  });

  test("ordered range honours bounds, direction and limit", async () => {
    const { table } = await filled();
    assert.deepEqual(ids(table.range("by_age")), [4, 2, 1, 3]);
    assert.deepEqual(ids(table.range("by_age", { lower: 25 })), [1, 3]);
    assert.deepEqual(ids(table.range("by_age", { upper: 30, upperExclusive: true })), [2]);
    // Rows 1 and 3 tie on age 30; their order among themselves is not specified.
    const newest = ids(table.range("by_age", { reverse: true, limit: 2 }));
    assert.deepEqual(newest.map(Number).sort(), [1, 3]);
    assert.deepEqual(ids(table.range("by_age", { reverse: true })).slice(2), [2, 4]);
    assert.deepEqual(table.range("by_age", { limit: 0 }), []);
  });

  test("a range with only an upper bound leaves out none keys, as a lower bound does", async () => {
    const { table } = await filled();
    assert.deepEqual(
      ids(table.range("by_age", { upper: 30 }))
        .map(Number)
        .sort(),
      [1, 2, 3],
    );
    assert.deepEqual(ids(table.range("by_age", { upper: 25, reverse: true })), [2]);
    assert.deepEqual(ids(table.range("by_age", { upper: 25, limit: 1 })), [2]);
    assert.deepEqual(table.range("by_age", { upper: null }), [], "nothing compares with none");
    assert.deepEqual(ids(table.range("by_age")), [4, 2, 1, 3], "an unbounded scan keeps none");
  });

  test("a composite ordered index's upper-bound range leaves out a leading none", async () => {
    const db = await open();
    const t = db.createTable("default::p", {
      columns: { id: "int4", a: "Option(int4)", b: "Option(int4)" },
      primaryKey: "id",
      indexes: [{ name: "by_ab", columns: ["a", "b"], ordered: true }],
    });
    t.insert({ id: 1, a: null, b: 1 });
    t.insert({ id: 2, a: 1, b: null });
    t.insert({ id: 3, a: 2, b: 5 });
    t.insert({ id: 4, a: 9, b: 9 });
    const rangeIds = (o: object): unknown[] => t.range("by_ab", o).map((row) => row.id);
    assert.deepEqual(rangeIds({ upper: [5, 0] }), [2, 3]);
    assert.deepEqual(rangeIds({ upper: [5, 0], reverse: true }), [3, 2]);
    assert.deepEqual(rangeIds({ lower: [1, 0] }), [3, 4]);
    assert.deepEqual(rangeIds({}), [1, 2, 3, 4]);
  });

  test("a hash index has no range; an unknown index is named", async () => {
    const { table } = await filled();
    throwsDb(() => table.range("by_city"), {
      code: "INVALID_ARGUMENT",
      object: "app::users",
      message: /index by_city is not ordered/,
    });
    throwsDb(() => table.lookup("by_zip", 1), {
      code: "UNKNOWN_OBJECT",
      object: "app::users",
      message: /has no index "by_zip"/,
    });
    throwsDb(() => table.lookup("by_age", "old"), {
      code: "TYPE_MISMATCH",
      column: "age",
      value: '"old"',
    });
  });

  test("updating an indexed column moves the row in every index", async () => {
    const { table } = await filled();
    table.update(1, { age: 10, city: "rome", email: "a2" });
    assert.deepEqual(ids(table.lookup("by_city", "oslo")), [3]);
    assert.deepEqual(ids(table.lookup("by_city", "rome")), [2, 1]);
    assert.deepEqual(ids(table.range("by_age")), [4, 1, 2, 3]);
    assert.deepEqual(table.lookup("by_email", "a"), []);
    assert.deepEqual(ids(table.lookup("by_email", "a2")), [1]);
    table.insert({ email: "a" });
    assert.deepEqual(ids(table.lookup("by_email", "a")), [5], "the old unique value is free");
  });

  test("deleting a row removes it from every index", async () => {
    const { table } = await filled();
    assert.equal(table.del(3), true);
    assert.deepEqual(ids(table.lookup("by_city", "oslo")), [1]);
    assert.deepEqual(ids(table.range("by_age")), [4, 2, 1]);
    assert.deepEqual(table.lookup("by_email", "c"), []);
    assert.equal(table.del(3), false, "del is idempotent");
  });

  test("unique violations on insert, update and set name index, column and value", async () => {
    const { db, table } = await filled();
    const seq = db.seq;
    const expected: Expected = {
      code: "CONSTRAINT_VIOLATION",
      object: "app::users",
      column: "email",
      value: '"a"',
      message: /unique index by_email already holds email = "a"/,
    };
    throwsDb(() => table.insert({ email: "a" }), expected);
    throwsDb(() => table.update(2, { email: "a" }), expected);
    throwsDb(() => table.set({ id: 2, email: "a" }), expected);
    throwsDb(() => table.set({ id: 99, email: "a" }), expected);
    assert.equal(db.seq, seq, "nothing committed");
    assert.equal(table.get(2)?.email, "b");
    assert.equal(table.has(99), false);
    assert.deepEqual(ids(table.lookup("by_email", "a")), [1]);
  });

  test("several nones never violate a unique index", async () => {
    const db = await open();
    const table = db.createTable("opt", {
      columns: { id: "int4", code: "Option(utf8)" },
      primaryKey: "id",
      indexes: [{ name: "by_code", columns: ["code"], unique: true }],
    });
    table.insertMany([{ id: 1 }, { id: 2, code: null }, { id: 3, code: "x" }]);
    assert.deepEqual(ids(table.lookup("by_code", null)), [1, 2]);
  });

  test("a failed multi-row insert applies nothing", async () => {
    const { db, table } = await filled();
    const seq = db.seq;
    const before = table.scan();
    throwsDb(() => table.insertMany([{ email: "new1" }, { email: "a" }]), {
      code: "CONSTRAINT_VIOLATION",
      value: '"a"',
      message: /\(row 2\)|by_email/,
    });
    throwsDb(() => table.insertMany([{ email: "x" }, { email: "y" }, { email: "x" }]), {
      code: "CONSTRAINT_VIOLATION",
      value: '"x"',
    });
    assert.equal(db.seq, seq);
    assert.deepEqual(table.scan(), before);
    assert.deepEqual(table.lookup("by_email", "new1"), []);
    assert.deepEqual(table.lookup("by_email", "x"), []);
    assert.equal(table.insert({ email: "next" }).id, 5, "no ids were consumed");
  });

  test("a unique index violation in a multi-row insert names the row", async () => {
    const { table } = await filled();
    assert.throws(
      () => table.insertMany([{ email: "x" }, { email: "y" }, { email: "x" }]),
      (error: unknown) => {
        assert.ok(error instanceof DbError);
        assert.match(error.message, /unique index by_email already holds email = "x" \(row 3\)$/);
        assert.equal(error.details.row, 3);
        return true;
      },
    );
    assert.throws(
      () =>
        table.insertMany([
          { id: 9, email: "p" },
          { id: 9, email: "q" },
        ]),
      {
        code: "CONSTRAINT_VIOLATION",
        message: /primary key 9 already exists \(row 2\)$/,
        details: { object: "app::users", column: "id", value: "9", row: 2 },
      },
    );
  });

  test("a failed multi-row insert applies nothing inside a transaction that goes on", async () => {
    const { db, table } = await filled();
    const seq = db.seq;
    db.transact(() => {
      assert.throws(() => table.insertMany([{ email: "new1" }, { email: "a" }]), DbError);
      table.insert({ email: "kept" });
    });
    assert.equal(db.seq, seq + 1);
    assert.deepEqual(table.lookup("by_email", "new1"), []);
    assert.deepEqual(
      db.lastCommit?.changes.map((change) => change.kind),
      ["insert"],
    );
    assert.equal(table.size, 5);
  });

  test("unique values can be swapped inside one transaction", async () => {
    const { table, db } = await filled();
    db.transact(() => {
      table.update(1, { email: "tmp" });
      table.update(2, { email: "a" });
      table.update(1, { email: "b" });
    });
    assert.deepEqual(ids(table.lookup("by_email", "a")), [2]);
    assert.deepEqual(ids(table.lookup("by_email", "b")), [1]);
    assert.deepEqual(table.lookup("by_email", "tmp"), []);
  });

  test("rollback restores every index exactly", async () => {
    const { db, table } = await filled();
    // Rows that tie on an index key come in no specified order, so ties compare as sets.
    const sorted = (rows: readonly User[]): number[] => ids(rows).map(Number).sort();
    const snapshot = (): unknown => [
      sorted(table.lookup("by_city", "oslo")),
      sorted(table.range("by_age", { upper: 29 })),
      sorted(table.range("by_age", { lower: 30, upper: 30 })),
      sorted(table.range("by_age", { lower: 31 })),
      ids(table.lookup("by_email", "a")),
      ids(table.lookup("by_email", "z")),
      table.scan(),
    ];
    const before = snapshot();
    assert.throws(() =>
      db.transact(() => {
        table.update(1, { city: "rome", age: 99, email: "z" });
        table.del(3);
        table.insert({ email: "a2", age: 1, city: "oslo" });
        table.set({ id: 2, email: "b", age: 50 });
        throw new Error("undo");
      }),
    );
    assert.deepEqual(snapshot(), before);
  });

  test("composite indexes take a list of values", async () => {
    const db = await open();
    const table = db.createTable("visits", {
      columns: { id: "int4", city: "utf8", day: "date" },
      primaryKey: "id",
      indexes: [{ name: "by_city_day", columns: ["city", "day"], ordered: true }],
    });
    table.insertMany([
      { id: 1, city: "oslo", day: "2024-01-02" },
      { id: 2, city: "oslo", day: "2024-01-01" },
      { id: 3, city: "bern", day: "2024-01-03" },
    ]);
    assert.deepEqual(ids(table.lookup("by_city_day", ["oslo", "2024-01-01"])), [2]);
    assert.deepEqual(ids(table.range("by_city_day")), [3, 2, 1]);
    throwsDb(() => table.lookup("by_city_day", "oslo"), {
      code: "TYPE_MISMATCH",
      object: "default::visits",
      message: /index by_city_day takes a list of 2 values/,
    });
  });
});

describe("update, set and del", () => {
  test("update patches only the given columns and returns the new row", async () => {
    const { table } = await users();
    table.insert({ email: "a", age: 30, city: "oslo" });
    assert.deepEqual(table.update(1, { age: 31 }), { id: 1, email: "a", age: 31, city: "oslo" });
    assert.deepEqual(table.update(1, { city: null }), { id: 1, email: "a", age: 31, city: null });
  });

  test("update of a missing key is NOT_FOUND naming the key", async () => {
    const { table } = await users();
    throwsDb(() => table.update(7, { age: 1 }), {
      code: "NOT_FOUND",
      object: "app::users",
      value: "7",
      message: /no row with key 7/,
    });
  });

  test("a primary key cannot change; repeating its value is allowed", async () => {
    const { db, table } = await users();
    table.insert({ email: "a" });
    const seq = db.seq;
    throwsDb(() => table.update(1, { id: 2 }), {
      code: "INVALID_ARGUMENT",
      object: "app::users",
      column: "id",
      message: /cannot change primary key column id/,
    });
    assert.equal(db.seq, seq);
    assert.ok(table.has(1));
    assert.ok(!table.has(2));
    assert.equal(table.update(1, { id: 1, age: 5 }).age, 5);
  });

  test("a bad patch is refused by column: unknown, wrong type, not an object", async () => {
    const { table } = await users();
    table.insert({ email: "a" });
    throwsDb(() => table.update(1, { zip: 1 } as never), {
      code: "UNKNOWN_COLUMN",
      object: "app::users",
      column: "zip",
    });
    throwsDb(() => table.update(1, { age: 40000 }), {
      code: "OUT_OF_RANGE",
      column: "age",
      value: "40000",
    });
    throwsDb(() => table.update(1, { email: null } as never), {
      code: "TYPE_MISMATCH",
      column: "email",
      value: "none",
    });
    throwsDb(() => table.update(1, 5 as never), {
      code: "TYPE_MISMATCH",
      message: /a patch must be an object/,
    });
    assert.deepEqual(table.get(1), { id: 1, email: "a", age: null, city: null });
  });

  test("set inserts a new key and replaces an existing row whole", async () => {
    const { db, table } = await users();
    const first = table.set({ id: 3, email: "a", age: 1, city: "oslo" });
    assert.equal(db.lastCommit?.changes[0]?.kind, "insert");
    const second = table.set({ id: 3, email: "b" });
    assert.deepEqual(second, { id: 3, email: "b", age: null, city: null });
    assertChange(db.lastCommit?.changes[0], {
      object: "app::users",
      kind: "update",
      key: 3,
      before: first,
      after: second,
    });
    assert.equal(table.set({ email: "c" }).id, 4, "set without the key allocates one");
    assert.deepEqual(ids(table.lookup("by_city", "oslo")), []);
  });

  test("del returns whether a row existed; deleting nothing commits nothing", async () => {
    const { db, table } = await users();
    table.insert({ email: "a" });
    assert.equal(table.del(1), true);
    const seq = db.seq;
    assert.equal(table.del(1), false);
    assert.equal(db.seq, seq);
    assert.equal(table.size, 0);
  });

  test("rows are snapshots: later writes and the caller's objects never change them", async () => {
    const { table } = await users();
    const input = { email: "a", age: 1 };
    const stored = table.insert(input);
    input.age = 2;
    assert.notEqual(stored, input);
    assert.equal(table.get(1)?.age, 1);
    const read = table.get(1)!;
    table.update(1, { age: 3 });
    assert.equal(read.age, 1, "a row read before an update keeps its values");
    assert.equal(table.get(1)?.age, 3);
  });
});

describe("stored rows are written in place; every row handed out is a snapshot", () => {
  // A table with a primary key keeps its own copy of each row and overwrites it on update;
  // reads, scans, lookups, changes and snapshots get copies. None may ever change afterwards.
  test("rows read, scanned or looked up keep their values through later updates", async () => {
    const { table } = await users();
    table.insert({ email: "a", age: 1, city: "x" });
    const read = table.get(1)!;
    const [scanned] = table.scan();
    const [found] = table.lookup("by_city", "x");
    const [ranged] = table.range("by_age");
    assert.deepEqual(table.get(1), read, "reads between writes give equal snapshots");
    table.update(1, { age: 2, city: "y" });
    for (const row of [read, scanned, found, ranged]) {
      assert.deepEqual(row, { id: 1, email: "a", age: 1, city: "x" });
    }
    assert.deepEqual(table.get(1), { id: 1, email: "a", age: 2, city: "y" });
    assert.notEqual(table.get(1), read);
  });

  test("each read is a snapshot of its own; later writes change none of them", async () => {
    const db = await open();
    db.createNamespace("app");
    const table = db.createTable<{ id: number; n: number }>("app::t", {
      columns: { id: "int8", n: "int8" },
      primaryKey: "id",
    });
    table.insert({ id: 0, n: 0 });
    const first = table.get(0)!;
    const again = table.get(0)!;
    assert.notEqual(again, first, "reads are copies, made per read (none is kept)");
    assert.deepEqual(again, first);
    table.update(0, { n: -1 });
    assert.deepEqual(first, { id: 0, n: 0 });
    assert.deepEqual(again, { id: 0, n: 0 });
    assert.deepEqual(table.get(0), { id: 0, n: -1 });
  });

  test("a change's before and after never change, through updates and rollbacks", async () => {
    const { db, table } = await users();
    table.insert({ email: "a", age: 1 });
    table.update(1, { age: 2 });
    const change = db.lastCommit!.changes[0]!;
    assert.throws(() =>
      db.transact(() => {
        table.update(1, { age: 3 });
        table.update(1, { email: "b" });
        throw new Error("roll back");
      }),
    );
    table.update(1, { age: 4 });
    assert.deepEqual(change.before, { id: 1, email: "a", age: 1, city: null });
    assert.deepEqual(change.after, { id: 1, email: "a", age: 2, city: null });
    assert.deepEqual(db.lastCommit!.changes[0]!.before, change.after);
  });

  test("a rolled-back update restores the stored row and every index", async () => {
    const { db, table } = await users();
    table.insert({ email: "a", age: 1, city: "x" });
    assert.throws(() =>
      db.transact(() => {
        const inside = table.get(1)!;
        table.update(1, { age: 2, city: "y" });
        assert.equal(inside.age, 1);
        assert.equal(table.get(1)?.age, 2);
        throw new Error("roll back");
      }),
    );
    assert.deepEqual(table.get(1), { id: 1, email: "a", age: 1, city: "x" });
    assert.deepEqual(ids(table.lookup("by_city", "x")), [1]);
    assert.deepEqual(ids(table.lookup("by_city", "y")), []);
  });

  test("an update writes every column it changes, in narrow and in wide tables", async () => {
    const db = await open();
    // 31 columns: too wide for changed-column bits, so the stored row is written whole.
    for (const width of [3, 31]) {
      const columns: Record<string, string> = { id: "int4" };
      for (let i = 1; i < width; i++) columns[`c${i}`] = "int4";
      const table = db.createTable(`wide${width}`, { columns, primaryKey: "id" });
      const row: Record<string, number> = { id: 1 };
      for (let i = 1; i < width; i++) row[`c${i}`] = i;
      table.insert(row);
      table.update(1, { c1: 100, [`c${width - 1}`]: 200 });
      const expected = { ...row, c1: 100, [`c${width - 1}`]: 200 };
      assert.deepEqual(table.get(1), expected, `width ${width}`);
      table.update(1, { c1: 100, c2: 7 });
      assert.deepEqual(table.get(1), { ...expected, c2: 7 }, `width ${width}`);
    }
  });

  /** An engine with `app::t` (id, city; an index by city), as recovery and replicas use it. */
  const tableEngine = (): ReturnType<typeof cityTableEngine> => cityTableEngine({ unique: false });

  test("a snapshot's rows keep the values they had when read", () => {
    const { engine, table } = tableEngine();
    engine.transact((tx) => table.insert(tx, { id: 1, city: "x" }));
    const [entry] = table.snapshot().readChunk(10);
    engine.transact((tx) => table.update(tx, 1, { city: "y" }));
    assert.deepEqual(entry?.[2], { id: 1, city: "x" });
  });

  test("replayed updates move rows in every index (the stored row read first)", () => {
    const primary = tableEngine();
    const replica = tableEngine();
    primary.engine.transact((tx) => primary.table.insert(tx, { id: 1, city: "x" }));
    primary.engine.transact((tx) => primary.table.update(tx, 1, { city: "y" }));
    for (const seq of [2, 3]) replica.engine.applyCommit(primary.engine.retained.get(seq)!);
    assert.deepEqual(replica.table.get(1), { id: 1, city: "y" });
    assert.deepEqual(ids(replica.table.lookup("by_city", "y")), [1]);
    assert.deepEqual(ids(replica.table.lookup("by_city", "x")), []);
  });
});

describe("changes and objects", () => {
  test("insert, update and delete record the documented change", async () => {
    const { db, table } = await users();
    const row = table.insert({ email: "a" });
    assertChange(db.lastCommit?.changes[0], {
      object: "app::users",
      kind: "insert",
      key: 1,
      before: undefined,
      after: row,
    });
    const updated = table.update(1, { age: 2 });
    assertChange(db.lastCommit?.changes[0], {
      object: "app::users",
      kind: "update",
      key: 1,
      before: row,
      after: updated,
    });
    table.del(1);
    assertChange(db.lastCommit?.changes[0], {
      object: "app::users",
      kind: "delete",
      key: 1,
      before: updated,
      after: undefined,
    });
  });

  test("a composite key appears in changes as the list of its values", async () => {
    const db = await open();
    const table = db.createTable("pairs", {
      columns: { a: "utf8", b: "int8" },
      primaryKey: ["a", "b"],
    });
    table.insert({ a: "x", b: 2n ** 60n });
    assertChange(db.lastCommit?.changes[0], {
      object: "default::pairs",
      kind: "insert",
      key: ["x", 2n ** 60n],
      before: undefined,
      after: { a: "x", b: 2n ** 60n },
    });
  });

  test("writes in one transaction are one commit with changes in order", async () => {
    const { db, table } = await users();
    db.transact(() => {
      table.insert({ email: "a" });
      table.insert({ email: "b" });
      table.update(1, { age: 9 });
      table.del(2);
    });
    assert.deepEqual(
      db.lastCommit?.changes.map((change) => [change.kind, change.key]),
      [
        ["insert", 1],
        ["insert", 2],
        ["update", 1],
        ["delete", 2],
      ],
    );
  });

  test("unknown tables and other kinds are refused by name", async () => {
    const db = await open();
    db.createCounter("hits");
    throwsDb(() => db.table("nope"), {
      code: "UNKNOWN_OBJECT",
      object: "nope",
      message: /unknown object "nope"/,
    });
    throwsDb(() => db.table("hits"), {
      code: "WRONG_OBJECT_KIND",
      object: "default::hits",
      message: /is a counter, not a table/,
    });
  });
});

describe("whole-number keys (found by array index up to a bound, by hash past it)", () => {
  // Keys near 0 are found by index, keys far past the others by hash; a key of either kind
  // may become the other as rows come and go. A plain Map is the model: every key, present or
  // not, must read the same through get, update, del and scan, after commits and rollbacks.
  const keys = [5, 0, 1, 3, 200, 150, 300, 2, 70, 4, 6, -1, 1000, 7, 71, 69, 68, 1e9, 136, 160];

  interface Numbered {
    id: number;
    n: number;
  }

  async function numbered(): Promise<{ db: Database; table: TableHandle<Numbered> }> {
    const db = await open();
    const table = db.createTable<Numbered>("nums", {
      columns: { id: "int8", n: "int8" },
      primaryKey: "id",
    });
    return { db, table };
  }

  function check(table: TableHandle<Numbered>, model: Map<number, number>): void {
    for (const key of [...keys, 8, 9, 66, 67, 201, 250, 299, 301, 2 ** 40, -0]) {
      assert.equal(table.get(key)?.n, model.get(key), `key ${key}`);
    }
    const scanned = table.scan().map((row) => row.id);
    assert.deepEqual(
      scanned,
      [...model.keys()].sort((a, b) => a - b),
    );
  }

  test("inserts in any order, updates and deletes read back as a Map does", async () => {
    const { db, table } = await numbered();
    const model = new Map<number, number>();
    for (const [i, key] of keys.entries()) {
      table.insert({ id: key, n: i });
      model.set(key, i);
      check(table, model);
    }
    // Each key is the next of the ones found by index, until 300 (by hash so far) joins them.
    for (let key = 201; key < 300; key++) {
      table.insert({ id: key, n: key });
      model.set(key, key);
    }
    check(table, model);
    for (const key of [0, 70, 5, 1e9, 3]) {
      assert.equal(table.del(key), true);
      model.delete(key);
      check(table, model);
    }
    for (const key of [3, 0, 8, 9, 66, 67, 301]) {
      table.insert({ id: key, n: key + 1 });
      model.set(key, key + 1);
      check(table, model);
    }
    db.transact(() => {
      for (const key of model.keys()) table.update(key, { n: 2 * key + 1 });
    });
    for (const key of model.keys()) model.set(key, 2 * key + 1);
    check(table, model);
  });

  test("rolled-back inserts and deletes leave every key as it was", async () => {
    const { db, table } = await numbered();
    const model = new Map<number, number>();
    for (const key of [1, 2, 4]) {
      table.insert({ id: key, n: key });
      model.set(key, key);
    }
    assert.throws(() =>
      db.transact(() => {
        for (const key of [0, 3, 5, 60, 130, 2 ** 40]) table.insert({ id: key, n: 9 });
        table.del(2);
        table.update(4, { n: 44 });
        throw new Error("undo");
      }),
    );
    check(table, model);
    for (const key of [0, 3, 5]) {
      table.insert({ id: key, n: key });
      model.set(key, key);
    }
    check(table, model);
  });
});
