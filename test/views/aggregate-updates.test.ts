/**
 * Goal: an aggregate view follows updates that stay in their group, move it, or both, within
 * one transaction and through a rolled-back savepoint; and an update whose exact (integer)
 * sum moves is written without comparing rows, while one that leaves the view's row as it was
 * (a 0 taken out for none, a sum that did not move) records no change of the view at all.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { assertViewMatches, canonicalRow } from "./support.ts";

const byCustomer =
  "from shop::orders aggregate { n: math::count(total), total: math::sum(total) } by { customer }";
const sumOnly = "from shop::orders aggregate { total: math::sum(total) } by { customer }";

async function shop(): Promise<Database> {
  const db = await open();
  db.createNamespace("shop");
  db.createTable("shop::orders", {
    columns: { id: "int8", customer: "utf8", total: "Option(int8)" },
    primaryKey: "id",
  });
  return db;
}

/** The view changes of the last commit, as [kind, before, after] text. */
function viewChanges(db: Database, view: string): string[][] {
  const changes = db.lastCommit?.changes ?? [];
  return changes
    .filter((change) => change.object === view)
    .map((change) => [
      change.kind,
      change.before === undefined ? "-" : canonicalRow(change.before as Record<string, unknown>),
      change.after === undefined ? "-" : canonicalRow(change.after as Record<string, unknown>),
    ]);
}

test("updates in, across and out of groups, with a savepoint rolled back", async () => {
  const db = await shop();
  const orders = db.table("shop::orders");
  for (let id = 0; id < 6; id++) {
    orders.insert({ id, customer: id % 2 === 0 ? "ada" : "bob", total: id * 10 });
  }
  db.createView("shop::v", { query: byCustomer });
  const check = (context: string): void => assertViewMatches(db, "shop::v", byCustomer, context);
  db.transact(() => {
    orders.update(0, { total: 7 }); // only the summed column
    check("total only");
    orders.update(1, { customer: "ada" }); // only the group
    check("group only");
    orders.update(2, { customer: "cy", total: 3 }); // both
    check("both");
    orders.update(3, { total: null }); // count and sum move
    check("to none");
    assert.throws(() =>
      db.transact(() => {
        orders.update(4, { total: 41 });
        orders.update(0, { total: 8 });
        orders.update(5, { customer: "cy", total: 1 });
        check("in the savepoint");
        throw new Error("roll back to the savepoint");
      }),
    );
    check("after the savepoint");
    orders.update(4, { total: 42 });
    orders.update(4, { total: 43 }); // the same row twice in one transaction
    check("twice");
  });
  check("committed");
  // Every recorded change of the view changes its row.
  for (const [kind, before, after] of viewChanges(db, "shop::v")) {
    if (kind === "update") assert.notEqual(before, after);
  }
  await db.close();
});

test("an integer sum that moves is written; one that does not records no change", async () => {
  const db = await shop();
  const orders = db.table("shop::orders");
  orders.insert({ id: 1, customer: "ada", total: 0 });
  orders.insert({ id: 2, customer: "ada", total: 3 });
  db.createView("shop::s", { query: sumOnly });
  orders.update(2, { total: 4 });
  assert.deepEqual(viewChanges(db, "shop::s"), [
    [
      "update",
      canonicalRow({ customer: "ada", total: 3 }),
      canonicalRow({ customer: "ada", total: 4 }),
    ],
  ]);
  // 0 out, none in: the sum's value changed, its total did not.
  orders.update(1, { total: null });
  assert.deepEqual(viewChanges(db, "shop::s"), []);
  assert.deepEqual(db.view("shop::s").get("ada"), { customer: "ada", total: 4 });
  // none out, 0 in: the same the other way.
  orders.update(1, { total: 0 });
  assert.deepEqual(viewChanges(db, "shop::s"), []);
  assertViewMatches(db, "shop::s", sumOnly);
  await db.close();
});

test("an update within a group writes a new row; rows it replaced keep their values", async () => {
  const db = await shop();
  const orders = db.table("shop::orders");
  orders.insert({ id: 1, customer: "ada", total: 5 });
  orders.insert({ id: 2, customer: "ada", total: 7 });
  // An expression column over calls is evaluated again; lone calls are read when they moved.
  const query =
    "from shop::orders aggregate { n: math::count(id), total: math::sum(total), " +
    "twice: math::sum(total) * 2 } by { customer }";
  db.createView("shop::h", { query });
  const first = db.view("shop::h").get("ada");
  orders.update(1, { total: 6 });
  const [change] = db.lastCommit!.changes.filter((c) => c.object === "shop::h");
  orders.update(2, { total: 9 });
  // The row a change named as its after is not the row a later change writes.
  assert.deepEqual(first, { customer: "ada", n: 2, total: 12, twice: 24 });
  assert.deepEqual(change!.before, { customer: "ada", n: 2, total: 12, twice: 24 });
  assert.deepEqual(change!.after, { customer: "ada", n: 2, total: 13, twice: 26 });
  const row = db.view("shop::h").get("ada")!;
  assert.deepEqual(Object.keys(row), ["customer", "n", "total", "twice"]);
  assert.deepEqual(row, { customer: "ada", n: 2, total: 15, twice: 30 });
  assertViewMatches(db, "shop::h", query);
  await db.close();
});
