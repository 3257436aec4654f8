// Goal: every example of specs/rql.md runs through the embedded API and gives the result the
// spec documents: the pipeline query, each pipeline step, the expression rules, the data
// changes with their default result rows, every schema statement, and the Statebase
// extensions (counters, histograms, queues, time travel, key history, procedures).
// Method: black box through db.query/command/admin on a fresh in-memory database per test
// (a temporary data directory for time travel and history), comparing whole frames.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { dbErrorOf, rejectsWithCode as rejects } from "../support/assertions.ts";

const schema = `
create namespace shop;
create table shop::orders {
  id: int8 with { auto_increment }, customer: utf8, total: float8, status: Option(utf8)
} with { primary_key: { id } };`;

async function shop(): Promise<Database> {
  const db = await open();
  await db.admin(schema);
  await db.command(`insert shop::orders [
    { id: 1, customer: "ada", total: 150.0, status: "open" },
    { id: 2, customer: "bob", total: 80.0, status: "open" },
    { id: 3, customer: "cy", total: 300.0, status: "open" },
    { id: 4, customer: "ada", total: 500.0, status: "paid" },
    { id: 5, customer: "bob", total: 120.0, status: none }
  ]`);
  return db;
}

async function rows(db: Database, rql: string, params?: Record<string, unknown>) {
  const result = await db.command(rql, params);
  assert.equal(result.frames.length, 1, "one frame");
  return result.frames[0]!;
}

describe("queries: a pipeline read top to bottom", () => {
  test("the spec's pipeline: filter, map with a computed column, sort desc, take", async () => {
    const db = await shop();
    const frame = await rows(
      db,
      `from shop::orders
       filter { status == "open" and total > 100 }
       map { id, customer, total, with_tax: total * 1.2 }
       sort { total: desc }
       take 10`,
    );
    assert.deepEqual(frame, [
      { id: 3, customer: "cy", total: 300, with_tax: 360 },
      { id: 1, customer: "ada", total: 150, with_tax: 180 },
    ]);
  });

  test("keywords: any case, -- comments, | chaining, filter braces optional", async () => {
    const db = await shop();
    const frame = await rows(
      db,
      `FROM shop::orders -- all orders
       | FILTER total > 100 | Map { id } | TAKE 2`,
    );
    assert.deepEqual(frame, [{ id: 1 }, { id: 3 }]);
  });

  test("unsorted output follows the primary key; without one, insertion order", async () => {
    const db = await open();
    await db.admin(`create table k { id: int8, v: utf8 } with { primary_key: { id } };
                    create table n { v: utf8 }`);
    await db.command(`insert k [{id: 3, v: "c"}, {id: 1, v: "a"}, {id: 2, v: "b"}];
                      insert n [{v: "c"}, {v: "a"}, {v: "b"}]`);
    assert.deepEqual(await rows(db, "from k map { v }"), [{ v: "a" }, { v: "b" }, { v: "c" }]);
    assert.deepEqual(await rows(db, "from n"), [{ v: "c" }, { v: "a" }, { v: "b" }]);
  });

  test("from inline records", async () => {
    const db = await open();
    assert.deepEqual(await rows(db, "from [{a: 1}, {a: 2}]"), [{ a: 1 }, { a: 2 }]);
  });

  test("extend adds columns and refuses an existing name", async () => {
    const db = await shop();
    const frame = await rows(
      db,
      "from shop::orders filter id == 2 map { id, total } extend { double: total * 2 }",
    );
    assert.deepEqual(frame, [{ id: 2, total: 80, double: 160 }]);
    await rejects(
      db.query("from shop::orders extend { total: 1 }"),
      "INVALID_ARGUMENT",
      /already exists/,
    );
  });

  test("aggregate by groups; by {} and no by give one row", async () => {
    const db = await shop();
    const grouped = await rows(
      db,
      `from shop::orders aggregate { n: math::count(id), s: math::sum(total), a: math::avg(total),
         lo: math::min(total), hi: math::max(total), f: math::first(id), l: math::last(id) }
       by { customer } sort { customer }`,
    );
    assert.deepEqual(grouped, [
      { customer: "ada", n: 2, s: 650, a: 325, lo: 150, hi: 500, f: 1, l: 4 },
      { customer: "bob", n: 2, s: 200, a: 100, lo: 80, hi: 120, f: 2, l: 5 },
      { customer: "cy", n: 1, s: 300, a: 300, lo: 300, hi: 300, f: 3, l: 3 },
    ]);
    assert.deepEqual(await rows(db, "from shop::orders aggregate { n: math::count(id) } by {}"), [
      { n: 5 },
    ]);
    assert.deepEqual(await rows(db, "from shop::orders aggregate { n: math::count(id) }"), [
      { n: 5 },
    ]);
  });

  test("sort is ascending unless desc, by several keys", async () => {
    const db = await shop();
    const frame = await rows(db, "from shop::orders sort { customer, total: desc } map { id }");
    assert.deepEqual(frame, [{ id: 4 }, { id: 1 }, { id: 5 }, { id: 2 }, { id: 3 }]);
  });

  test("distinct on columns, and on all columns when empty", async () => {
    const db = await shop();
    assert.deepEqual(await rows(db, "from shop::orders distinct { customer } map { customer }"), [
      { customer: "ada" },
      { customer: "bob" },
      { customer: "cy" },
    ]);
    assert.deepEqual(
      await rows(db, "from [{a: 1, b: 1}, {a: 1, b: 1}, {a: 1, b: 2}] distinct {}"),
      [
        { a: 1, b: 1 },
        { a: 1, b: 2 },
      ],
    );
  });

  test("inner and left join prefix the right columns with the alias; left fills none", async () => {
    const db = await shop();
    await db.admin(
      "create table shop::customers { name: utf8, tier: utf8 } with { primary_key: { name } }",
    );
    await db.command(
      `insert shop::customers [{ name: "ada", tier: "gold" }, { name: "bob", tier: "basic" }]`,
    );
    const inner = await rows(
      db,
      "from shop::orders inner join { from shop::customers } as c using (customer, c.name) map " +
        "{ id, c_tier }",
    );
    assert.deepEqual(inner, [
      { id: 1, c_tier: "gold" },
      { id: 2, c_tier: "basic" },
      { id: 4, c_tier: "gold" },
      { id: 5, c_tier: "basic" },
    ]);
    const left = await rows(
      db,
      "from shop::orders filter id == 3 left join { from shop::customers } as c using " +
        "(customer, c.name)",
    );
    assert.deepEqual(left, [
      { id: 3, customer: "cy", total: 300, status: "open", c_name: null, c_tier: null },
    ]);
  });

  test("append is the union of rows", async () => {
    const db = await open();
    const frame = await rows(db, "from [{a: 1}] append { from [{a: 2}, {a: 3}] }");
    assert.deepEqual(frame, [{ a: 1 }, { a: 2 }, { a: 3 }]);
  });

  test("from a ring buffer, a series and system tables", async () => {
    const db = await open();
    await db.admin(`create ringbuffer recent { id: int8, page: utf8 } with { capacity: 2 };
      create series temps { at: int8, celsius: float8 } with { key: at }`);
    await db.command(`insert recent [(1, "a"), (2, "b"), (3, "c")];
      insert temps [{at: 20, celsius: 1.5}, {at: 10, celsius: 2.5}]`);
    assert.deepEqual(await rows(db, "from recent map { id }"), [{ id: 2 }, { id: 3 }]);
    assert.deepEqual(await rows(db, "from temps map { at }"), [{ at: 10 }, { at: 20 }]);
    const objects = await rows(db, 'from system::objects filter namespace == "default"');
    assert.deepEqual(objects, [
      { namespace: "default", name: "recent", kind: "ring_buffer" },
      { namespace: "default", name: "temps", kind: "series" },
    ]);
  });
});

describe("expressions", () => {
  test("arithmetic, text concatenation, comparisons, between, in, logic", async () => {
    const db = await open();
    await db.admin("create table n { x: int8 }");
    await db.command("insert n [(7)]");
    const frame = await rows(
      db,
      `from n map { div: x / 2, mod: x % 4, cat: "a" + 'b', cmp: x >= 7,
        btw: x between 1 and 10, inn: x in [1, 7], l: true and not false, x2: true xor true,
        sym: true && !false || false, f: 7.0 / 2 }`,
    );
    assert.deepEqual(frame, [
      {
        div: 3,
        mod: 3,
        cat: "ab",
        cmp: true,
        btw: true,
        inn: true,
        l: true,
        x2: false,
        sym: true,
        f: 3.5,
      },
    ]);
  });

  test("none: arithmetic gives none, comparisons drop the row, ??, is::none/some", async () => {
    const db = await shop();
    const frame = await rows(
      db,
      `from shop::orders filter id == 5 map { a: total + none, b: status ?? "new",
         c: is::none(status), d: is::some(status) }`,
    );
    assert.deepEqual(frame, [{ a: null, b: "new", c: true, d: false }]);
    assert.deepEqual(await rows(db, 'from shop::orders filter status != "open" map { id }'), [
      { id: 4 },
    ]);
  });

  test("overflow and division by zero fail the statement", async () => {
    const db = await open();
    await rejects(db.query("from [{x: 1}] map { y: x / 0 }"), "DIVISION_BY_ZERO");
    await db.admin("create table t { v: int1 }");
    await rejects(db.command("insert t [{ v: 100 + 100 }]"), "OUT_OF_RANGE");
  });

  test("field paths reach into records; functions of every namespace", async () => {
    const db = await open();
    const frame = await rows(
      db,
      `from [{ctx: {customer: {tier: "gold"}}, s: " Hi "}] map { tier: ctx.customer.tier,
         n: math::abs(-3), t: text::upper(text::trim(s)), j: json::serialize([1]) }`,
    );
    assert.deepEqual(frame, [{ tier: "gold", n: 3, t: "HI", j: "[1]" }]);
  });

  test("an unknown function is an error at parse time", async () => {
    const db = await open();
    await rejects(db.query("from [{a: 1}] map { b: math::nope(a) }"), "UNKNOWN_FUNCTION", /line 1/);
  });
});

describe("data changes", () => {
  test("the spec's four statements and their results", async () => {
    const db = await open();
    await db.admin(schema);
    const inserted = await db.command(
      `insert shop::orders [{ id: 1, customer: "ada", total: 10.0 },
        { id: 2, customer: "bob", total: 5.5 }];
       insert shop::orders [(3, "cy", 7.0)];`,
    );
    assert.deepEqual(inserted.frames, [
      [{ namespace: "shop", table: "orders", inserted: 2 }],
      [{ namespace: "shop", table: "orders", inserted: 1 }],
    ]);
    const updated = await db.command(
      `update shop::orders { total: total + 1, status: "paid" }
        filter { id == 1 } returning { id, total };`,
    );
    assert.deepEqual(updated.frames, [[{ id: 1, total: 11 }]]);
    const deleted = await db.command(`delete shop::orders filter { total < 6 } returning { id };`);
    assert.deepEqual(deleted.frames, [[{ id: 2 }]]);
    assert.deepEqual(await rows(db, "from shop::orders"), [
      { id: 1, customer: "ada", total: 11, status: "paid" },
      { id: 3, customer: "cy", total: 7, status: null },
    ]);
  });

  test("default result rows of update and delete; filter { true } touches every row", async () => {
    const db = await shop();
    assert.deepEqual(await rows(db, 'update shop::orders { status: "x" } filter { true }'), [
      { namespace: "shop", table: "orders", updated: 5 },
    ]);
    assert.deepEqual(await rows(db, "delete shop::orders filter { id > 3 }"), [
      { namespace: "shop", table: "orders", deleted: 2 },
    ]);
  });

  test("update and delete require a filter", async () => {
    const db = await shop();
    await rejects(db.command('update shop::orders { status: "x" }'), "RQL_PARSE", /needs a filter/);
    await rejects(db.command("delete shop::orders"), "RQL_PARSE", /needs a filter/);
  });

  test("wrong type, missing/unknown column, duplicate key: named, nothing applied", async () => {
    const db = await shop();
    const cases: Array<[string, string, RegExp]> = [
      ["insert shop::orders [{ id: 9, customer: 1, total: 1.0 }]", "TYPE_MISMATCH", /customer/],
      ["insert shop::orders [{ id: 9, total: 1.0 }]", "MISSING_COLUMN", /customer.*row 1/],
      [
        'insert shop::orders [{ id: 9, customer: "z", total: 1.0, nope: 1 }]',
        "UNKNOWN_COLUMN",
        /nope/,
      ],
      [
        'insert shop::orders [{ id: 8, customer: "z", total: 1.0 }, { id: 1, customer: "z", ' +
          "total: 1.0 }]",
        "CONSTRAINT_VIOLATION",
        /row 2/,
      ],
    ];
    for (const [rql, code, message] of cases) {
      const seq = db.seq;
      await rejects(db.command(rql), code, message);
      assert.equal(db.seq, seq, `${rql}: nothing committed`);
    }
    assert.equal((await rows(db, "from shop::orders")).length, 5);
  });
});

describe("schema", () => {
  test("every schema statement of the spec", async () => {
    const db = await open();
    await db.admin(schema);
    await db.admin(`create namespace if not exists shop;
      create index shop::orders_by_customer on shop::orders { customer };
      create unique index shop::orders_by_ref on shop::orders { id };
      alter table shop::orders add column note: Option(utf8);
      create ringbuffer shop::recent { id: int8, page: utf8 }
        with { capacity: 100, partition: { by: { page } } };
      create series shop::temps { at: datetime, celsius: float8 } with { key: at };`);
    await db.command(
      `insert shop::orders [{ customer: "ada", total: 1.0 }, { customer: "bob", total: 2.0 }]`,
    );
    assert.deepEqual(await rows(db, "from shop::orders map { id, note }"), [
      { id: 1, note: null },
      { id: 2, note: null },
    ]);
    const indexes = await rows(
      db,
      'from system::indexes filter object == "shop::orders" map { name }',
    );
    assert.deepEqual(indexes, [{ name: "orders_by_customer" }, { name: "orders_by_ref" }]);
    await db.admin(
      "drop table shop::orders; drop ringbuffer shop::recent; drop series shop::temps",
    );
    assert.deepEqual(await rows(db, 'from system::objects filter namespace == "shop"'), []);
  });

  test("create primary key on a table made without one", async () => {
    const db = await open();
    await db.admin("create table t { id: int8, v: utf8 }");
    await db.command('insert t [(2, "b"), (1, "a")]');
    await db.admin("create primary key on t { id }");
    assert.deepEqual(await rows(db, "from t"), [
      { id: 1, v: "a" },
      { id: 2, v: "b" },
    ]);
    assert.deepEqual(db.explain("from t filter id == 1"), ["default::t: primary key lookup (id)"]);
  });

  test("types: values out of a column's range are errors; wide integers are bigints", async () => {
    const db = await open();
    await db.admin("create table w { a: uint1, b: int16, c: uint8 }");
    await rejects(db.command("insert w [(256, 0, 0)]"), "OUT_OF_RANGE", /a/);
    await rejects(db.command("insert w [(-1, 0, 0)]"), "OUT_OF_RANGE");
    await db.command(
      "insert w [(255, 170141183460469231731687303715884105727, 18446744073709551615)]",
    );
    assert.deepEqual(await rows(db, "from w"), [{ a: 255, b: 2n ** 127n - 1n, c: 2n ** 64n - 1n }]);
  });

  test("a literal with a fraction keeps every digit in a decimal column", async () => {
    // It was read as a double first: 12345678901234567890.12 was stored as 12345678901234567000.
    const db = await open();
    await db.admin("create table m { id: int8, k: Option(decimal) } with { primary_key: { id } }");
    await db.command(
      "insert m [{ id: 1, k: 12345678901234567890.12 }, { id: 2, k: -0.10000000000000000001 }]; " +
        "insert m [(3, 1.5e-30)]; " +
        "update m { k: 98765432109876543210.98 } filter { id == 3 }",
    );
    const text = (await rows(db, "from m")).map((row) => String(row.k));
    assert.deepEqual(text, [
      "12345678901234567890.12",
      "-0.10000000000000000001",
      "98765432109876543210.98",
    ]);
  });

  test("create view ... as { pipeline } and reading it", async () => {
    const db = await shop();
    await db.admin(`create transactional view shop::open_by_customer
      { customer: utf8, n: int8, total: float8 } as {
      from shop::orders filter { status == "open" }
      aggregate { n: math::count(id), total: math::sum(total) } by { customer }
    }`);
    const frame = await rows(db, "from shop::open_by_customer sort { customer }");
    assert.deepEqual(frame, [
      { customer: "ada", n: 1, total: 150 },
      { customer: "bob", n: 1, total: 80 },
      { customer: "cy", n: 1, total: 300 },
    ]);
    await db.admin("drop view shop::open_by_customer");
    await rejects(db.query("from shop::open_by_customer"), "RQL_UNKNOWN_OBJECT");
  });
});

describe("Statebase extensions", () => {
  test("counters: single and keyed", async () => {
    const db = await open();
    await db.admin(
      "create namespace shop; create counter shop::visits; create counter shop::hits by { " +
        "page: utf8 }",
    );
    const added = await db.command(
      "counter shop::visits add 1; counter shop::visits add 1; from shop::visits",
    );
    assert.deepEqual(added.frames, [[{ value: 1 }], [{ value: 2 }], [{ value: 2 }]]);
    await db.command(
      'counter shop::hits add 3 by { page: "home" }; counter shop::hits add 1 by { page: "a" }',
    );
    assert.deepEqual(await rows(db, "from shop::hits"), [
      { page: "a", value: 1 },
      { page: "home", value: 3 },
    ]);
  });

  test("histograms: record and read the summary", async () => {
    const db = await open();
    await db.admin(
      "create namespace shop; create histogram shop::latency with { min: 1, max: 60000, " +
        "digits: 3 }",
    );
    await db.command("histogram shop::latency record 42; histogram shop::latency record 42");
    assert.deepEqual(await rows(db, "from shop::latency"), [
      { count: 2, min: 42, max: 42, mean: 42, p50: 42, p90: 42, p99: 42, p999: 42 },
    ]);
  });

  test("queues: claim, ack and nack", async () => {
    const db = await open();
    await db.admin(
      "create namespace shop; create queue shop::jobs { id: uuid7, task: utf8 } with { " +
        "visibility: 30s, attempts: 5 }",
    );
    await db.command('insert shop::jobs [{ task: "a" }, { task: "b" }]');
    const claimed = await rows(db, "queue shop::jobs claim 10");
    assert.deepEqual(
      claimed.map((m) => [m.task, m.state, m.attempts]),
      [
        ["a", "claimed", 1],
        ["b", "claimed", 1],
      ],
    );
    await db.command("queue shop::jobs ack $id", { id: claimed[0]!.id });
    await db.command("queue shop::jobs nack $id", { id: claimed[1]!.id });
    assert.deepEqual(
      (await rows(db, "from shop::jobs")).map((m) => [m.task, m.state]),
      [["b", "ready"]],
    );
  });

  test("time travel with as of, and system::history of one row", async () => {
    const path = await mkdtemp(join(tmpdir(), "statebase-rql-"));
    try {
      const db = await open({ path });
      await db.admin(schema);
      await db.command('insert shop::orders [{ id: 7, customer: "ada", total: 1.0 }]');
      const seq = db.seq;
      await db.command("update shop::orders { total: 2.0 } filter { id == 7 }");
      const past = await db.query(`from shop::orders as of ${seq} map { id, total }`);
      assert.deepEqual(past.frames, [[{ id: 7, total: 1 }]]);
      const history = await rows(
        db,
        'from system::history { object: "shop::orders", key: 7 } map { seq, kind }',
      );
      assert.deepEqual(history, [
        { seq, kind: "insert" },
        { seq: seq + 1, kind: "update" },
      ]);
      // The key as get() takes it: text for the int key found nothing, silently.
      const byText = 'from system::history { object: "shop::orders", key: "7" } map { seq, kind }';
      assert.deepEqual(await rows(db, byText), history);
      assert.throws(() => db.execute(`from shop::orders as of ${seq}`), /synchronous/);
      // Past the last commit: said at the as of, not as "at(): seq must be ...".
      const ahead = "from shop::orders\n  as of 99";
      await rejects(db.query(ahead), "INVALID_ARGUMENT", /^line 2, column 9: as of 99: the last/);
      // No commit seq at all: said at the as of too, not without a position.
      for (const [target, shown] of [
        ["-1", "-1"],
        ["1.5", "1.5"],
        ['"2"', '"2"'],
      ]) {
        const caught = await dbErrorOf(db.query(`from shop::orders\n  as of ${target}`));
        assert.equal(caught.code, "INVALID_ARGUMENT", caught.message);
        const expected = `^line 2, column 9: as of needs a commit seq, got ${shown}`;
        assert.match(caught.message, new RegExp(expected.replace(".", "\\.")));
        assert.deepEqual([caught.details.line, caught.details.col], [2, 9], caught.message);
      }
      // A key left out (or misspelt) found no row's history, silently.
      for (const args of ['{ object: "shop::orders" }', '{ object: "shop::orders", Key: 7 }']) {
        await rejects(db.query(`from system::history ${args}`), "INVALID_ARGUMENT", /key/);
      }
      await db.close();
    } finally {
      await rm(path, { recursive: true, force: true });
    }
  });

  test("state machine instances read as tables", async () => {
    const db = await open();
    db.machines.put("order", 1, {
      states: ["created", "paid"],
      initial: "created",
      transitions: [{ from: "created", event: "PAY", to: "paid" }],
    });
    db.machines.createInstance({ instance_id: "o1", machine: "order", version: 1 });
    db.machines.createInstance({ instance_id: "o2", machine: "order", version: 1 });
    db.machines.applyEvent({ instance_id: "o1", event: "PAY" });
    const paid = await rows(db, 'from machine::order filter { state == "paid" } map { id, state }');
    assert.deepEqual(paid, [{ id: "o1", state: "paid" }]);
  });

  test("procedures: create procedure and call", async () => {
    const db = await shop();
    await db.admin(
      'create procedure shop::pay { id: int8 } as { update shop::orders { status: "paid" } ' +
        "filter { id == $id } };",
    );
    await db.command("call shop::pay(2)");
    assert.deepEqual(await rows(db, "from shop::orders filter id == 2 map { status }"), [
      { status: "paid" },
    ]);
  });
});
