// Goal: mistakes a query compiler can see before reading a row are reported before any row is
// read, with a stable code and the position of the offending text, instead of giving a quiet
// wrong answer or an error whose wording and presence depend on the data.
// Method: black box through the embedded API on an in-memory database; each case checks the
// error code, the position details and that a correct neighbour of the query still works.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { dbErrorOf } from "../support/assertions.ts";

async function setup(): Promise<Database> {
  const db = await open();
  await db.admin(`create namespace s;
    create table s::orders { id: int8, customer: utf8, total: int8 } with { primary_key: { id } };
    create table s::people { name: utf8, tier: utf8 } with { primary_key: { name } }`);
  await db.command(`insert s::orders [(1, "ada", 10), (2, "bob", 20)];
    insert s::people [{ name: "ada", tier: "gold" }]`);
  return db;
}

describe("join conditions name columns that exist", () => {
  test("an unknown left column is UNKNOWN_COLUMN, not an empty result", async () => {
    const db = await setup();
    const rql = "from s::orders\n  inner join { from s::people } as p using (custmer, p.name)";
    const caught = await dbErrorOf(db.query(rql));
    assert.equal(caught.code, "UNKNOWN_COLUMN", caught.message);
    assert.equal(caught.details.column, "custmer");
    assert.equal(caught.details.line, 2);
    assert.match(caught.message, /^line 2, column \d+: join: unknown column "custmer"/);
  });

  test("an unknown right column is UNKNOWN_COLUMN, not a row of none", async () => {
    const db = await setup();
    const rql = "from s::orders left join { from s::people } as p using (customer, p.nme)";
    const caught = await dbErrorOf(db.query(rql));
    assert.equal(caught.code, "UNKNOWN_COLUMN", caught.message);
    assert.equal(caught.details.column, "p.nme");
    assert.equal(caught.details.line, 1);
  });

  test("known columns still join", async () => {
    const db = await setup();
    const rql =
      "from s::orders left join { from s::people } as p using (customer, p.name)\n" +
      "  map { id, p_tier }";
    const { frames } = await db.query(rql);
    assert.deepEqual(frames, [
      [
        { id: 1, p_tier: "gold" },
        { id: 2, p_tier: null },
      ],
    ]);
  });
});

describe("aggregate calls are checked when compiled", () => {
  test("math::sum and math::avg of text are TYPE_MISMATCH at their position", async () => {
    const db = await setup();
    for (const fn of ["sum", "avg"]) {
      const rql = `from s::orders\n  aggregate { x: math::${fn}(customer) }`;
      const caught = await dbErrorOf(db.query(rql));
      assert.equal(caught.code, "TYPE_MISMATCH", caught.message);
      assert.equal(caught.details.line, 2, caught.message);
      assert.equal(caught.details.fragment, `math::${fn}(customer)`);
    }
  });

  test("a sum of datetimes fails alike for one row and for two", async () => {
    const db = await setup();
    await db.admin(
      "create table s::events { id: int8, at: datetime } with { primary_key: { id } }",
    );
    await db.command('insert s::events [(1, "2024-01-01T00:00:00Z")]');
    const caught = await dbErrorOf(db.query("from s::events aggregate { x: math::sum(at) }"));
    assert.equal(caught.code, "TYPE_MISMATCH", caught.message);
  });

  test("a wrong argument count is INVALID_ARGUMENT, in a query and in a view", async () => {
    const db = await setup();
    const query = await dbErrorOf(
      db.query("from s::orders aggregate { n: math::count(id, total) }"),
    );
    assert.equal(query.code, "INVALID_ARGUMENT", query.message);
    assert.equal(query.details.fragment, "math::count(id, total)");
    const view = await dbErrorOf(
      db.admin(`create view s::totals { customer: utf8, s: int8 } as {
        from s::orders aggregate { s: math::sum() } by { customer } }`),
    );
    assert.equal(view.code, "INVALID_ARGUMENT", view.message);
    assert.equal(view.details.fragment, "math::sum()", view.message);
  });

  test("numbers and durations still add up", async () => {
    const db = await setup();
    const { frames } = await db.query(
      "from s::orders aggregate { n: math::count(), s: math::sum(total), d: math::sum(1h) }",
    );
    assert.equal(frames[0]![0]!.n, 2);
    assert.equal(frames[0]![0]!.s, 30);
    assert.equal(String(frames[0]![0]!.d), "2h");
  });
});

describe("aggregate results keep their type", () => {
  test("integer / after an integer sum truncates in a query as in a view", async () => {
    const db = await setup();
    await db.admin(`create view s::ratio { r: int8, q: int8 } as {
      from s::orders aggregate { s: math::sum(total), q: 50 / math::max(total) }
      map { r: 50 / s, q }
    }`);
    const rql = `from s::orders
      aggregate { s: math::sum(total), q: 50 / math::max(total) } map { r: 50 / s, q }`;
    const query = await db.query(rql);
    const view = await db.query("from s::ratio");
    assert.deepEqual(query.frames, [[{ r: 1, q: 2 }]]);
    assert.deepEqual(view.frames, query.frames);
  });

  test("a mean and a float sum still divide as floats", async () => {
    const db = await setup();
    const rql =
      "from s::orders aggregate { a: math::avg(total), f: math::sum(1.5) }\n" +
      "  map { x: a / 4, y: f / 2 }";
    const { frames } = await db.query(rql);
    assert.deepEqual(frames, [[{ x: 3.75, y: 1.5 }]]);
  });
});

describe("schema options point at themselves", () => {
  test("an unknown option names its own line and column", async () => {
    const db = await setup();
    const caught = await dbErrorOf(
      db.admin("create table s::x { id: int8 } with {\n  primary_key: { id },\n  bogus: 1\n}"),
    );
    assert.equal(caught.code, "INVALID_ARGUMENT", caught.message);
    assert.equal(caught.details.line, 3, caught.message);
    assert.equal(caught.details.col, 3, caught.message);
    assert.equal(caught.details.fragment, "bogus");
    assert.match(caught.message, /^line 3, column 3: unknown option "bogus"/);
  });

  test("an option of the wrong kind carries its position in the details", async () => {
    const db = await setup();
    const caught = await dbErrorOf(
      db.admin('create ringbuffer s::r { id: int8 } with {\n  capacity: "many"\n}'),
    );
    assert.equal(caught.code, "INVALID_ARGUMENT", caught.message);
    assert.equal(caught.details.line, 2, caught.message);
    assert.equal(caught.details.fragment, "capacity");
  });
});

describe("function arguments of a kind the function never takes", () => {
  const cases: Array<[string, string]> = [
    ["text::upper(total)", "text::upper(total)"],
    ['text::substring(customer, "1")', 'text::substring(customer, "1")'],
    ["text::length(5)", "text::length(5)"],
    ["math::sqrt(customer)", "math::sqrt(customer)"],
    ['math::round(total, "2")', 'math::round(total, "2")'],
  ];
  for (const [call, fragment] of cases) {
    test(`${call} is TYPE_MISMATCH at its position`, async () => {
      const db = await setup();
      const caught = await dbErrorOf(db.query(`from s::orders\n  map { x: ${call} }`));
      assert.equal(caught.code, "TYPE_MISMATCH", caught.message);
      assert.equal(caught.details.line, 2, caught.message);
      assert.equal(caught.details.col, 12, caught.message);
      assert.equal(caught.details.fragment, fragment);
    });
  }

  test("arguments of the right kind, or of no known kind, still run", async () => {
    const db = await setup();
    const { frames } = await db.query(
      "from s::orders filter { id == 1 } map { a: text::upper(customer), b: math::sqrt(total),\n" +
        '  c: text::length($t), d: text::upper(json::serialize("x")) }',
      { t: "abc" },
    );
    assert.deepEqual(frames, [[{ a: "ADA", b: Math.sqrt(10), c: 3, d: '"X"' }]]);
  });
});

describe("join output columns never overwrite each other", () => {
  test("a prefixed right column that is already a left column is refused", async () => {
    const db = await setup();
    await db.admin("create table s::tags { id: int8, p_name: utf8 } with { primary_key: { id } }");
    await db.command('insert s::tags [(1, "kept")]');
    const rql = "from s::tags\n  inner join { from s::people } as p using (p_name, p.name)";
    const caught = await dbErrorOf(db.query(rql));
    assert.equal(caught.code, "INVALID_ARGUMENT", caught.message);
    assert.equal(caught.details.column, "p_name");
    assert.equal(caught.details.line, 2, caught.message);
  });

  test("joining twice under one alias is refused", async () => {
    const db = await setup();
    const rql =
      "from s::orders inner join { from s::people } as p using (customer, p.name)\n" +
      "  inner join { from s::people } as p using (customer, p.name)";
    const caught = await dbErrorOf(db.query(rql));
    assert.equal(caught.code, "INVALID_ARGUMENT", caught.message);
    assert.equal(caught.details.line, 2, caught.message);
  });
});
