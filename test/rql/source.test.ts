// Goal: every source's default row order is a value order, never a spelling's: a keyed
// counter lists its keys as a table with those keys as primary key lists its rows
// (ints numerically, 5 before 10, wide ints and dates too).
// Method: fast-check draws sets of keys (int8 across the whole range, composite text and
// int keys, dates), adds to a keyed counter under each and inserts the same keys into a
// table keyed on them; `from counter` must list the keys in the table's order.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { open } from "../../src/index.ts";

const int8Key = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const propertyRunsMax = 25;

test("a keyed counter lists int keys in numeric order, as a table's primary key", async () => {
  const db = await open();
  await db.admin("create namespace s");
  let round = 0;
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(int8Key, { minLength: 1, maxLength: 12 }), async (keys) => {
      round++;
      await db.admin(`create counter s::c${round} by { k: int8 };
        create table s::t${round} { k: int8 } with { primary_key: { k } }`);
      for (const k of keys) {
        await db.command(`counter s::c${round} add 1 by { k: $k }`, { k });
        await db.command(`insert s::t${round} [{ k: $k }]`, { k });
      }
      const counted = await db.query(`from s::c${round} map { k }`);
      const stored = await db.query(`from s::t${round} map { k }`);
      assert.deepEqual(counted.frames[0], stored.frames[0]);
    }),
    { numRuns: propertyRunsMax },
  );
  await db.close();
});

test("a counter keyed on several columns and on dates lists them as a table does", async () => {
  const db = await open();
  await db.admin(`create namespace s;
    create counter s::c by { a: utf8, b: int4, d: date };
    create table s::t { a: utf8, b: int4, d: date } with { primary_key: { a, b, d } }`);
  const keys = [
    ["x", 10, "2024-01-02"],
    ["x", 5, "2024-01-02"],
    ["x", 9, "2023-12-31"],
    ["x", 9, "2023-02-01"],
    ["w", 100, "2024-01-01"],
  ];
  for (const [a, b, d] of keys) {
    await db.command("counter s::c add 1 by { a: $a, b: $b, d: $d }", { a, b, d });
    await db.command("insert s::t [{ a: $a, b: $b, d: $d }]", { a, b, d });
  }
  const counted = await db.query("from s::c map { a, b, d }");
  const stored = await db.query("from s::t map { a, b, d }");
  assert.deepEqual(counted.frames[0], stored.frames[0]);
  await db.close();
});

test("system tables list namespaces and objects in the order sort gives", async () => {
  // system::namespaces was in the locale's order (a before B) and system::objects in the
  // order of "ns::name" as one text (a1::x before a::x), neither the order of their values.
  const db = await open();
  await db.admin(`create namespace a; create namespace a1; create namespace B;
    create table a1::x { id: int4 }; create table a::x { id: int4 };
    create table a::x1 { id: int4 }; create table B::y { id: int4 }; create counter a::c`);
  for (const [table, keys] of [
    ["system::namespaces", "name"],
    ["system::objects", "namespace, name"],
    ["system::columns", "object, position"],
  ]) {
    const listed = await db.query(`from ${table}`);
    assert.deepEqual(listed, await db.query(`from ${table} sort { ${keys} }`), table);
  }
  await db.close();
});
