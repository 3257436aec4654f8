// Goal: map keys (values/key.ts) give equal values equal keys, whichever kind holds them, and
// different values different keys: joins, group-bys, distinct and primary keys index by them.
// Method: pairs of equal and unequal values through mapKeyOf and mapKeyOfTuple, then a view
// joining an int16 column (values held as bigint) to an int8 one, against its query.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Decimal, mapKeyOf, mapKeyOfTuple, sameMapKey } from "../../src/values/index.ts";
import { open } from "../../src/index.ts";

const same = (a: unknown, b: unknown): boolean =>
  sameMapKey(mapKeyOf(a), mapKeyOf(b)) && mapKeyOfTuple([a, 1]) === mapKeyOfTuple([b, 1]);

test("equal integers key alike as number, bigint or integral decimal", () => {
  assert.ok(same(5, 5n));
  assert.ok(same(5n, Decimal.parse("5.00")));
  assert.ok(same(-0, 0));
  assert.ok(same(2n ** 80n, Decimal.parse("1208925819614629174706176")));
  assert.ok(same(Number.MAX_SAFE_INTEGER, BigInt(Number.MAX_SAFE_INTEGER)));
  assert.ok(!same(5, 6n));
  assert.ok(!same(2n ** 53n + 1n, 2 ** 53)); // the number 2^53 is not the bigint 2^53 + 1
  assert.ok(!same(Decimal.parse("5.5"), 5n));
  assert.ok(!same("5", 5));
  assert.ok(!same(null, 0));
});

test("a view joining an int16 column to an int8 one matches its query", async () => {
  const db = await open();
  await db.admin(`create namespace t;
    create table t::parts { id: int4, kind: int16 } with { primary_key: { id } };
    create table t::kinds { k: int8, name: utf8 } with { primary_key: { k } }`);
  await db.command(`insert t::parts [{ id: 1, kind: 5 }, { id: 2, kind: 6 }];
    insert t::kinds [{ k: 5, name: "five" }, { k: 6, name: "six" }]`);
  const query =
    "from t::parts inner join { from t::kinds } as k using (kind, k.k) map { id, k_name }";
  const view = db.createView("t::named", { query });
  const expected = [
    { id: 1, k_name: "five" },
    { id: 2, k_name: "six" },
  ];
  assert.deepEqual(db.execute(query).frames[0], expected);
  assert.deepEqual(view.scan(), expected);
  await db.command('update t::kinds { name: "SIX" } filter { k == 6 }');
  assert.deepEqual(view.scan(), [expected[0], { id: 2, k_name: "SIX" }]);
  await db.close();
});
