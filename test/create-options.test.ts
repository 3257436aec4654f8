/**
 * Goal: the embedded create* calls refuse options they would not honour instead of ignoring
 * them: a misspelt key (`primarykey`, `partition`, `mod`) would otherwise create an object
 * that silently lacks what was asked (a table with no primary key, one buffer for all
 * partitions, a transactional view), and a key list of the wrong JavaScript type failed with a
 * bare TypeError ("pk is not iterable") naming nothing.
 * Method: each create* with each mistake; the error is a DbError naming the object, the key
 * and what it accepts, and nothing was created.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../src/index.ts";
import type { Database } from "../src/index.ts";
import { throwsDb } from "./support/assertions.ts";

async function fresh(): Promise<Database> {
  const db = await open();
  db.createNamespace("a");
  return db;
}

test("a misspelt create option is refused, naming it and the options there are", async () => {
  const db = await fresh();
  const cases: Array<[() => unknown, RegExp]> = [
    [
      () => db.createTable("a::t", { columns: { id: "int8" }, primarykey: "id" } as never),
      /a::t: unknown table option primarykey; the options are columns, primaryKey, indexes/,
    ],
    [
      () =>
        db.createRingBuffer("a::r", {
          columns: { id: "int8" },
          capacity: 3,
          partition: "id",
        } as never),
      /unknown ring buffer option partition; the options are columns, capacity, partitionBy/,
    ],
    [
      () => db.createSeries("a::s", { columns: { t: "int8" }, key: "t", retain: 5 } as never),
      /unknown series option retain; the options are columns, key/,
    ],
    [
      () => db.createCounter("a::c", { key: ["x"] } as never),
      /unknown counter option key; the options are by/,
    ],
    [() => db.createHistogram("a::h", { maximum: 5 } as never), /unknown histogram option maximum/],
    [
      () => db.createQueue("a::q", { visibilityMs: 5 } as never),
      /unknown queue option visibilityMs/,
    ],
    [
      () => db.createView("a::v", { query: "from a::x", mod: "deferred" } as never),
      /unknown view option mod/,
    ],
    [
      () => db.createCounter("a::c2", {}, { ifNotExist: true } as never),
      /unknown create option ifNotExist/,
    ],
    [
      () => db.createNamespace("b", { ifNotExist: true } as never),
      /unknown create option ifNotExist/,
    ],
  ];
  for (const [create, message] of cases) throwsDb(create, { code: "INVALID_ARGUMENT", message });
  assert.deepEqual(
    db
      .system("objects")
      .filter((row) => row.namespace === "a")
      .map((row) => row.name),
    [],
  );
  assert.equal(
    db.system("namespaces").some((row) => row.name === "b"),
    false,
  );
  await db.close();
});

test("options that are no object are refused", async () => {
  const db = await fresh();
  throwsDb(() => db.createTable("a::t", "id" as never), {
    code: "INVALID_ARGUMENT",
    message: /a::t: table options must be an object, got "id"/,
  });
  throwsDb(() => db.createCounter("a::c", null as never), {
    code: "INVALID_ARGUMENT",
    message: /counter options must be an object/,
  });
  await db.close();
});

test("key lists of the wrong type are INVALID_SCHEMA naming the object, no TypeError", async () => {
  const db = await fresh();
  const columns = { id: "int8" };
  const cases: Array<[() => unknown, RegExp]> = [
    [
      () => db.createTable("a::t", { columns, primaryKey: 5 as never }),
      /a::t: primaryKey must be a column name or a list of column names, got 5/,
    ],
    [() => db.createTable("a::t", { columns, primaryKey: [] }), /primaryKey must be a column name/],
    [() => db.createTable("a::t", { columns, primaryKey: ["id", 1] as never }), /got \["id", ?1\]/],
    [
      () => db.createRingBuffer("a::r", { columns, capacity: 3, partitionBy: {} as never }),
      /a::r: partitionBy must be a column name or a list of column names/,
    ],
    [
      () => db.createTable("a::t", { columns, indexes: 5 as never }),
      /a::t: indexes must be a list of index definitions, got 5/,
    ],
    [
      () => db.createTable("a::t", { columns, indexes: ["by_id"] as never }),
      /a::t: index 1 must be an object such as \{ name, columns \}, got "by_id"/,
    ],
  ];
  for (const [create, message] of cases) throwsDb(create, { code: "INVALID_SCHEMA", message });
  // The forms that are right still work.
  db.createTable("a::t", {
    columns,
    primaryKey: ["id"],
    indexes: [{ name: "i", columns: ["id"] }],
  });
  db.createRingBuffer("a::r", { columns, capacity: 3, partitionBy: "id" });
  await db.close();
});
