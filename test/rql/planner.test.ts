// Goal: the planner finds rows through primary keys and secondary indexes for equality, `in`,
// ranges and join keys, re-plans only when the schema changes, and never changes an answer.
// Method: (1) `db.explain` names the access path chosen for each filter shape (asserted as
// text, never timed). (2) fast-check: for random rows and random filters of every indexable
// shape, with literal or parameter values (some of the wrong type), the planned query returns
// exactly what the same filter returns through a full scan (`(P) or false` defeats the
// planner), in the same order.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";

async function setup(): Promise<Database> {
  const db = await open();
  await db.admin(`create namespace p;
    create table p::t { id: int8, g: int8, s: utf8, v: Option(float8) }
      with { primary_key: { id } };
    create index p::t_by_g on p::t { g };
    create unique index p::t_by_s on p::t { s };
    create table p::pair { a: int8, b: utf8, n: int8 } with { primary_key: { a, b } };`);
  return db;
}

describe("explain names the access path", () => {
  const cases: Array<[string, string[]]> = [
    ["from p::t", ["p::t: full scan"]],
    ["from p::t filter { id == 3 }", ["p::t: primary key lookup (id)"]],
    ["from p::t filter { 3 == id and v > 1.0 }", ["p::t: primary key lookup (id)"]],
    ["from p::t filter id == $id | map { v }", ["p::t: primary key lookup (id)"]],
    ["from p::t filter { id in [1, 2, $x] }", ["p::t: primary key lookup of a list (id)"]],
    ["from p::t filter { id > 3 and id <= 9 }", ["p::t: primary key range (id)"]],
    ["from p::t filter { id between 3 and 9 }", ["p::t: primary key range (id)"]],
    ["from p::t filter { g == 4 }", ["p::t: index t_by_g lookup (g)"]],
    ['from p::t filter { g == 4 and s == "x" }', ["p::t: index t_by_s lookup (s)"]],
    ["from p::t filter { g in [1, 2] }", ["p::t: index t_by_g lookup of a list (g)"]],
    ["from p::t filter { g >= 2 }", ["p::t: index t_by_g range (g)"]],
    ["from p::t filter { g == v }", ["p::t: full scan"]],
    ["from p::t filter { id == 1 or id == 2 }", ["p::t: full scan"]],
    ['from p::pair filter { b == "x" and a == 1 }', ["p::pair: primary key lookup (a, b)"]],
    [
      "from p::pair inner join { from p::t } as t using (n, t.id)",
      ["p::pair: full scan", "join: p::t primary key lookup (id)"],
    ],
    [
      "from p::pair inner join { from p::t } as t using (n, t.g)",
      ["p::pair: full scan", "join: p::t index t_by_g lookup (g)"],
    ],
    [
      "from p::pair inner join { from p::t filter v > 1.0 } as t using (n, t.g)",
      ["p::pair: full scan", "p::t: full scan", "join: hash on (g)"],
    ],
    ['update p::t { v: 1.0 } filter { s == "a" }', ["p::t: index t_by_s lookup (s)"]],
    ["delete p::t filter { id in [1] }", ["p::t: primary key lookup of a list (id)"]],
  ];
  for (const [rql, plan] of cases) {
    test(rql, async () => {
      const db = await setup();
      assert.deepEqual(db.explain(rql), plan);
    });
  }

  test("a new index changes the plan of a cached statement", async () => {
    const db = await setup();
    const rql = "from p::t filter { v == 1.5 }";
    assert.deepEqual(db.explain(rql), ["p::t: full scan"]);
    await db.admin("create index p::t_by_v on p::t { v }");
    assert.deepEqual(db.explain(rql), ["p::t: index t_by_v lookup (v)"]);
    await db.admin("drop index p::t_by_v");
    assert.deepEqual(db.explain(rql), ["p::t: full scan"]);
  });
});

const rowArbitrary = fc.record({
  g: fc.integer({ min: 0, max: 5 }),
  v: fc.option(fc.constantFrom(0.5, 1.5, 2.5), { nil: null }),
});

const valueArbitrary = fc.oneof(
  fc.integer({ min: -2, max: 25 }),
  fc.constantFrom("3", 2.5, null, 10n),
);

type Filter = { text: string; params: Record<string, unknown> };

const filterArbitrary: fc.Arbitrary<Filter> = fc.oneof(
  fc.record({ c: fc.constantFrom("id", "g"), x: valueArbitrary }).map(({ c, x }) => ({
    text: `${c} == $x`,
    params: { x },
  })),
  fc
    .record({ c: fc.constantFrom("id", "g"), xs: fc.array(valueArbitrary, { maxLength: 4 }) })
    .map(({ c, xs }) => ({ text: `${c} in $xs`, params: { xs } })),
  fc
    .record({
      c: fc.constantFrom("id", "g"),
      lo: fc.integer({ min: -1, max: 20 }),
      hi: fc.integer({ min: -1, max: 20 }),
      op: fc.constantFrom(["> ", "< "], [">=", "<="], [">", "<="]),
    })
    .map(({ c, lo, hi, op }) => ({
      text: `${c} ${op[0]} ${lo} and ${c} ${op[1]} ${hi}`,
      params: {},
    })),
  fc
    .record({ c: fc.constantFrom("id", "g"), lo: fc.nat(20), n: fc.nat(5) })
    .map(({ c, lo, n }) => ({
      text: `${c} between $lo and ${lo + n} and v != 1.5`,
      params: { lo },
    })),
  fc.nat(20).map((i) => ({ text: `s == $s`, params: { s: `s${i}` } })),
);

test("planned reads return exactly what a full scan returns", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(rowArbitrary, { maxLength: 20 }),
      fc.array(fc.nat(19), { maxLength: 20 }),
      filterArbitrary,
      async (rows, ids, filter) => {
        const db = await setup();
        const unique = [...new Set(ids)];
        const inserted = unique.map((id, i) => ({
          id,
          s: `s${id}`,
          ...rows[i % Math.max(rows.length, 1)],
        }));
        const records = inserted.map((r) => ({ id: r.id, s: r.s, g: r.g ?? 0, v: r.v ?? null }));
        if (records.length > 0) await db.command("insert p::t $rows", { rows: records });
        const planned = await db.query(`from p::t filter { ${filter.text} }`, filter.params);
        const scanned = await db.query(
          `from p::t filter { (${filter.text}) or false }`,
          filter.params,
        );
        assert.deepEqual(planned, scanned, filter.text);
      },
    ),
    { numRuns: 300 },
  );
});

test("updates and deletes through an index touch exactly the scanned rows", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 15 }),
      fc.nat(4),
      async (gs, g) => {
        const db = await setup();
        const records = gs.map((value, id) => ({ id, g: value, s: `s${id}`, v: null }));
        if (records.length > 0) await db.command("insert p::t $rows", { rows: records });
        const expected = records.filter((r) => r.g === g).map((r) => ({ id: r.id }));
        const updated = await db.command(
          "update p::t { v: 2.5 } filter { g == $g } returning { id }",
          { g },
        );
        assert.deepEqual(updated.frames, [expected]);
        const deleted = await db.command(
          "delete p::t filter { g == $g and v == 2.5 } returning { id }",
          { g },
        );
        assert.deepEqual(deleted.frames, [expected]);
        const left = (await db.query("from p::t map { id }")).frames[0]!;
        assert.equal(left.length, records.length - expected.length);
      },
    ),
    { numRuns: 100 },
  );
});

test("parameters given as text, as JSON carries them, find wide keys and datetimes", async () => {
  const db = await open();
  await db.admin(`create namespace w;
    create table w::e { id: int8, at: datetime } with { primary_key: { id } };
    create index w::e_by_at on w::e { at };
    insert w::e [{ id: 9007199254740993, at: "2024-01-01T00:00:00Z" }, { id: 1, at: 0 }]`);
  const wide = { id: "9007199254740993" };
  const found = await db.query("from w::e filter { id == $id } map { id }", wide);
  assert.deepEqual(found.frames, [[{ id: 2n ** 53n + 1n }]]);
  const since = { since: "2023-01-01T00:00:00Z" };
  const recent = await db.query("from w::e filter { at > $since } map { id }", since);
  assert.deepEqual(recent.frames, [[{ id: 2n ** 53n + 1n }]]);
  assert.deepEqual(db.explain("from w::e filter { at > $since }"), [
    "w::e: index e_by_at range (at)",
  ]);
  const deleted = await db.command("delete w::e filter { id in $ids }", { ids: ["1"] });
  assert.deepEqual(deleted.frames, [[{ namespace: "w", table: "e", deleted: 1 }]]);
  await assert.rejects(db.query("from w::e filter { at > $since }", { since: "soon" }), {
    code: "TYPE_MISMATCH",
    message: /parameter \$since/,
  });
  await db.close();
});

test("ranges over float, decimal and int16 indexes agree with a scan at any bound", async () => {
  // A bound the column's type cannot hold exactly was rounded into it and kept exclusive:
  // `f < 9007199254740993` became `f < 9007199254740992.0` and missed the row holding
  // 2^53, which is less; and a decimal literal was looked up as a double, so
  // `d == 12345678901234567890.12` found nothing through the index. Values and bounds sit
  // on both sides of such roundings.
  const db = await open();
  await db.admin(`create namespace r;
    create table r::t { id: int8, f: float8, q: float4, d: decimal, w: int16 }
      with { primary_key: { id } };
    create index r::t_f on r::t { f };
    create index r::t_q on r::t { q };
    create index r::t_d on r::t { d };
    create index r::t_w on r::t { w }`);
  const near = [2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 0.1, 0.5, 16777216, 16777218];
  const rows = near.map((x, id) => ({ id, f: x, q: x, d: String(x), w: String(Math.floor(x)) }));
  await db.command("insert r::t $rows", { rows });
  // A decimal literal with more digits than a double holds, stored and sought exactly.
  await db.command("insert r::t [{ id: 99, f: 0, q: 0, d: 12345678901234567890.12, w: 0 }]");
  const bounds = [
    "12345678901234567890.12",
    "12345678901234567890.11",
    "-12345678901234567890.12",
    "9007199254740993",
    "9007199254740991",
    "9007199254740992.0",
    "16777217",
    "0.1",
    "0.30000000000000004",
    "3",
  ];
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom("f", "q", "d", "w"),
      fc.constantFrom("<", "<=", ">", ">=", "==", "in"),
      fc.constantFrom(...bounds),
      async (column, op, bound) => {
        const filter = op === "in" ? `${column} in [1, ${bound}]` : `${column} ${op} ${bound}`;
        const planned = await db.query(`from r::t filter { ${filter} } map { id }`);
        const scanned = await db.query(`from r::t filter { (${filter}) or false } map { id }`);
        assert.deepEqual(planned, scanned, filter);
      },
    ),
    { numRuns: 200 },
  );
  const exact = await db.query("from r::t filter { d == 12345678901234567890.12 } map { id }");
  assert.deepEqual(exact.frames, [[{ id: 99 }]]);
});
