// Goal: map keys (values/key.ts) give equal values equal keys, whichever kind holds them, and
// different values different keys: joins, group-bys, distinct and primary keys index by them.
// Method: pairs of equal and unequal values through mapKeyOf and mapKeyOfTuple, then views
// joining columns of different kinds, against their queries.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Decimal, Duration, mapKeyOf, mapKeyOfTuple, sameMapKey } from "../../src/values/index.ts";
import { open } from "../../src/index.ts";

const same = (a: unknown, b: unknown): boolean =>
  sameMapKey(mapKeyOf(a), mapKeyOf(b)) && mapKeyOfTuple([a, 1]) === mapKeyOfTuple([b, 1]);

test("equal numbers key alike as number, bigint or decimal; unequal ones apart", () => {
  assert.ok(same(5, 5n));
  assert.ok(same(5n, Decimal.parse("5.00")));
  assert.ok(same(-0, 0));
  assert.ok(same(2n ** 80n, Decimal.parse("1208925819614629174706176")));
  assert.ok(same(Number.MAX_SAFE_INTEGER, BigInt(Number.MAX_SAFE_INTEGER)));
  assert.ok(!same(5, 6n));
  assert.ok(!same(2n ** 53n + 1n, 2 ** 53)); // the number 2^53 is not the bigint 2^53 + 1
  assert.ok(!same(Decimal.parse("5.5"), 5n));
  assert.ok(same(2n ** 60n, 2 ** 60)); // a number holds 2^60 exactly
  assert.ok(same(Decimal.parse("1.50"), 1.5));
  assert.ok(same(Decimal.parse("0.1"), 0.1)); // as == compares them: 0.1's decimal spelling
  assert.ok(!same(Decimal.parse("0.10000000000000001"), 0.1));
  assert.ok(same(Decimal.parse("0.0000001"), 1e-7)); // the number is spelled with an exponent
  assert.ok(!same(Decimal.parse("123456789.123456789"), Number("123456789.123456789")));
  assert.ok(!same(Decimal.parse("1.5"), Decimal.parse("1.25")));
  assert.ok(!same("5", 5));
  assert.ok(!same(null, 0));
});

test("views joining int16 to int8 and decimal to float8 columns match their queries", async () => {
  const db = await open();
  await db.admin(`create namespace t;
    create table t::parts { id: int4, kind: int16, size: decimal } with { primary_key: { id } };
    create table t::kinds { k: int8, name: utf8 } with { primary_key: { k } };
    create table t::sizes { id: int4, s: float8, label: utf8 } with { primary_key: { id } }`);
  await db.command(`insert t::parts [{ id: 1, kind: 5, size: 1.50 }, { id: 2, kind: 6, size: 2 }];
    insert t::kinds [{ k: 5, name: "five" }, { k: 6, name: "six" }];
    insert t::sizes [{ id: 1, s: 1.5, label: "M" }, { id: 2, s: 2.0, label: "L" }]`);
  const byKind =
    "from t::parts inner join { from t::kinds } as k using (kind, k.k) map { id, k_name }";
  const bySize =
    "from t::parts inner join { from t::sizes } as s using (size, s.s) map { id, s_label }";
  const kinds = db.createView("t::named", { query: byKind });
  const sizes = db.createView("t::sized", { query: bySize });
  const named = [
    { id: 1, k_name: "five" },
    { id: 2, k_name: "six" },
  ];
  const sized = [
    { id: 1, s_label: "M" },
    { id: 2, s_label: "L" },
  ];
  assert.deepEqual(db.execute(byKind).frames[0], named);
  assert.deepEqual(kinds.scan(), named);
  assert.deepEqual(db.execute(bySize).frames[0], sized);
  assert.deepEqual(sizes.scan(), sized);
  await db.command('update t::kinds { name: "SIX" } filter { k == 6 }');
  assert.deepEqual(kinds.scan(), [named[0], { id: 2, k_name: "SIX" }]);
  await db.close();
});

/** Values whose map keys are encoded text (not their own key), nested a little. */
const encodedValues = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.integer({ min: -1e6, max: 1e6 }).map((ms) => new Date(ms)),
    fc.integer({ min: 0, max: 1e6 }).map((ms) => new Duration(ms)),
    fc.uint8Array({ maxLength: 4 }),
    fc.string({ unit: "binary", maxLength: 4 }),
    fc.integer(),
    fc.constant(null),
  ),
  value: fc.oneof(
    { depthSize: "small" },
    tie("leaf"),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 3 }), tie("value"), { maxKeys: 3 }),
  ),
})).value;

test("no text keys like a date, list, document or tuple whose encoding it spells", () => {
  // A counter or group keyed by an any column met text spelling another value's key:
  // "\u0001D5" counted into new Date(5)'s entry.
  fc.assert(
    fc.property(encodedValues, fc.array(fc.integer(), { minLength: 2, maxLength: 3 }), (v, t) => {
      const encoded = [mapKeyOfTuple(t), ...(typeof v === "string" ? [] : [mapKeyOf(v)])];
      for (const key of encoded) {
        if (typeof key === "string") assert.notEqual(mapKeyOf(key), key);
      }
      assert.notEqual(mapKeyOf(mapKeyOf(mapKeyOfTuple(t))), mapKeyOf(mapKeyOfTuple(t)));
    }),
  );
  assert.equal(mapKeyOf("plain"), "plain", "ordinary text stays its own key");
  assert.equal(mapKeyOf(""), "");
});

test("a counter keyed by an any column counts text apart from the value it spells", async () => {
  const db = await open();
  const c = db.createCounter("c", { by: { k: "any" } });
  c.add(1, new Date(5));
  c.add(10, "\u0001D5");
  assert.equal(c.get(new Date(5)), 1);
  assert.equal(c.get("\u0001D5"), 10);
  // A text primary key so spelled is still found by get (the table's fast path for text).
  const t = db.createTable("t", { columns: { k: "utf8", v: "int8" }, primaryKey: "k" });
  t.insert({ k: "\u0003x", v: 1 });
  t.insert({ k: "\u0001D5", v: 2 });
  assert.deepEqual([t.get("\u0003x")?.v, t.get("\u0001D5")?.v], [1, 2]);
});
