// Goal: RQL errors are actionable and atomic. Parse errors carry code RQL_PARSE with the line,
// column and offending fragment in both the message and the details; unknown objects are
// RQL_UNKNOWN_OBJECT; a script that fails anywhere (parse, compile or run time, in any
// statement) applies nothing; each entry point refuses the statements it does not allow
// before anything runs; tx.execute runs inside the caller's transaction as a savepoint.
// Method: black box through the embedded API, checking codes, details and that `db.seq` and
// the data are unchanged after every refusal.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { dbErrorOf } from "../support/assertions.ts";

async function setup(): Promise<Database> {
  const db = await open();
  await db.admin(`create namespace shop;
    create table shop::orders { id: int8, customer: utf8, total: float8 }
      with { primary_key: { id } };
    create counter shop::visits`);
  await db.command('insert shop::orders [(1, "ada", 10.0), (2, "bob", 20.0)]');
  return db;
}

describe("parse errors name line, column and fragment", () => {
  const cases: Array<[string, number, number, string]> = [
    ["from shop::orders\nfilter { total > }", 2, 18, "}"],
    ["from shop::orders\n  take 1 2", 2, 10, "2"],
    ["frm shop::orders", 1, 1, "frm"],
    ["from shop::orders map { total * 2 }", 1, 25, "total"],
    ["create table t { a: int8 } with", 1, 32, ""],
    ['insert t [(1, "a"]', 1, 18, "]"],
    ["from t sort { a: sideways }", 1, 18, "sideways"],
    // The aggregate named like a group column replaced the group's value in the output.
    ["from t aggregate { n: math::count(id),\n  g: math::count(id) } by { g }", 2, 3, "g"],
  ];
  for (const [rql, line, col, fragment] of cases) {
    test(JSON.stringify(rql), async () => {
      const db = await open();
      const caught = await dbErrorOf(db.admin(rql));
      assert.equal(caught.code, "RQL_PARSE", caught.message);
      assert.equal(caught.details.line, line, caught.message);
      assert.equal(caught.details.col, col, caught.message);
      assert.equal(caught.details.fragment, fragment, caught.message);
      assert.match(caught.message, new RegExp(`^line ${line}, column ${col}: `));
    });
  }

  test("type errors found at compile time also carry a position", async () => {
    const db = await setup();
    const caught = await dbErrorOf(db.query('from shop::orders filter { total > "x" }'));
    assert.equal(caught.code, "TYPE_MISMATCH");
    assert.equal(caught.details.line, 1);
    assert.equal(typeof caught.details.col, "number");
  });

  test("a value of the wrong type in insert or update names its line and column", async () => {
    // Insert and update errors named the column and row only: in a script writing the same
    // table twice, "row 1" did not say which statement, let alone where in it.
    const db = await setup();
    const cases: Array<[string, string, number, number, string]> = [
      [
        'insert shop::orders [(3, "cy", 1.0)];\ninsert shop::orders [\n  (4, 5, 1.0)]',
        "TYPE_MISMATCH",
        3,
        7,
        "5",
      ],
      [
        'insert shop::orders [(3, "cy", 1.0),\n  { id: 4, customer: "dy", total: "x" }]',
        "TYPE_MISMATCH",
        2,
        35,
        '"x"',
      ],
      [
        'insert shop::orders [(3, "cy", 1.0)];\n  insert shop::orders [(2, "b", 1.0)]',
        "CONSTRAINT_VIOLATION",
        2,
        25,
        "2",
      ],
      [
        'counter shop::visits add 1;\nupdate shop::orders { total: "x" }\n  filter { id == 1 }',
        "TYPE_MISMATCH",
        2,
        30,
        '"x"',
      ],
    ];
    for (const [rql, code, line, col, fragment] of cases) {
      const seq = db.seq;
      const caught = await dbErrorOf(db.command(rql));
      assert.equal(caught.code, code, caught.message);
      const where = [caught.details.line, caught.details.col, caught.details.fragment];
      assert.deepEqual(where, [line, col, fragment], `${rql}: ${caught.message}`);
      assert.match(caught.message, new RegExp(`^line ${line}, column ${col}: `));
      assert.equal(db.seq, seq, "no commit");
    }
  });

  test("take of no whole number names its position, in a query or a view", async () => {
    const db = await setup();
    const cases: Array<[string, Record<string, unknown>, number, number]> = [
      ["from shop::orders\n  take -1", {}, 2, 8],
      ["from shop::orders\n  sort { total }\n  take $n", { n: 1.5 }, 3, 8],
      [
        "create view shop::few { id: int8 } as {\n  from shop::orders take -2 map { id } }",
        {},
        2,
        26,
      ],
    ];
    for (const [rql, params, line, col] of cases) {
      const caught = await dbErrorOf(db.admin(rql, params));
      assert.equal(caught.code, "INVALID_ARGUMENT", caught.message);
      assert.deepEqual([caught.details.line, caught.details.col], [line, col], caught.message);
      assert.match(caught.message, /take needs a whole number >= 0/);
    }
  });

  test("unknown objects and columns", async () => {
    const db = await setup();
    const unknown = await dbErrorOf(db.query("from shop::nothing"));
    assert.equal(unknown.code, "RQL_UNKNOWN_OBJECT");
    assert.equal(unknown.details.object, "shop::nothing");
    assert.equal(unknown.details.col, 6);
    const column = await dbErrorOf(db.query("from shop::orders filter { nope == 1 }"));
    assert.equal(column.code, "UNKNOWN_COLUMN");
    assert.match(column.message, /nope/);
  });
});

describe("a failing script applies nothing", () => {
  const failing: Array<[string, string]> = [
    [
      'insert shop::orders [(3, "cy", 1.0)]; counter shop::visits add 1; from shop::nope',
      "RQL_UNKNOWN_OBJECT",
    ],
    [
      'insert shop::orders [(3, "cy", 1.0)]; ' +
        "update shop::orders { total: total / 0 } filter { true }",
      "DIVISION_BY_ZERO",
    ],
    [
      'delete shop::orders filter { true }; insert shop::orders [(1, "a", 1.0), (1, "b", 2.0)]',
      "CONSTRAINT_VIOLATION",
    ],
    ['insert shop::orders [(3, "cy", 1.0)]; insert shop::orders [(4, "dy"', "RQL_PARSE"],
    [
      'counter shop::visits add 5; update shop::orders { total: "x" } filter { id == 1 }',
      "TYPE_MISMATCH",
    ],
  ];
  for (const [rql, code] of failing) {
    test(code, async () => {
      const db = await setup();
      const before = await db.query("from shop::orders; from shop::visits");
      const seq = db.seq;
      const caught = await dbErrorOf(db.command(rql));
      assert.equal(caught.code, code, caught.message);
      assert.equal(db.seq, seq, "no commit");
      assert.deepEqual(await db.query("from shop::orders; from shop::visits"), before);
    });
  }

  test("a schema change rebuilding a table a view reads names the change and view", async () => {
    // `create index`, `create primary key`, `add column` and `drop index` rebuild the table
    // (a drop, then a create); the refusal must not speak of a drop nobody asked for.
    const db = await setup();
    await db.admin(`create index shop::orders_by_total on shop::orders { total };
      create view shop::by_customer { customer: utf8, n: int8 } as {
        from shop::orders aggregate { n: math::count(id) } by { customer }
      }`);
    const changes: Array<[string, string]> = [
      ["create index", "create index shop::orders_by_customer on shop::orders { customer }"],
      ["create primary key", "create primary key on shop::orders { id, customer }"],
      ["add column", "alter table shop::orders add column x: Option(int8)"],
      ["drop index", "drop index shop::orders_by_total"],
    ];
    for (const [change, rql] of changes) {
      const seq = db.seq;
      const caught = await dbErrorOf(db.admin(rql));
      assert.equal(caught.code, "OBJECT_IN_USE", caught.message);
      assert.match(caught.message, new RegExp(`^${change} rebuilds shop::orders`), change);
      assert.match(caught.message, /view shop::by_customer reads it; drop the view first/);
      assert.equal(caught.details.object, "shop::orders");
      assert.deepEqual(caught.details.views, ["shop::by_customer"]);
      assert.equal(db.seq, seq, "no commit");
    }
  });

  test("an update error names the row it was about", async () => {
    const db = await setup();
    const caught = await dbErrorOf(
      db.command('update shop::orders { total: "x" } filter { id == 2 }'),
    );
    assert.equal(caught.details.column, "total");
    assert.match(caught.message, /row with key 2/);
  });
});

describe("entry points", () => {
  test("query reads only; command writes data; admin changes schema", async () => {
    const db = await setup();
    const refusals: Array<[keyof Pick<Database, "query" | "command">, string]> = [
      ["query", 'insert shop::orders [(3, "cy", 1.0)]'],
      ["query", "counter shop::visits add 1"],
      ["query", "call shop::p(1)"],
      ["command", "create table shop::t { a: int8 }"],
      ["command", "drop table shop::orders"],
      ["command", "alter table shop::orders add column x: Option(int8)"],
    ];
    for (const [entry, rql] of refusals) {
      const seq = db.seq;
      const caught = await dbErrorOf(db[entry](`from shop::orders; ${rql}`));
      assert.equal(caught.code, "FORBIDDEN", `${entry}: ${rql}`);
      assert.equal(caught.details.line, 1);
      assert.equal(db.seq, seq);
    }
    assert.equal((await db.command('insert shop::orders [(3, "cy", 1.0)]')).frames.length, 1);
    await db.admin("create table shop::t { a: int8 }");
  });

  test("a refused statement later in the script stops the earlier ones too", async () => {
    const db = await setup();
    await dbErrorOf(db.command('insert shop::orders [(3, "cy", 1.0)]; drop table shop::orders'));
    assert.equal((await db.query("from shop::orders")).frames[0]!.length, 2);
  });
});

describe("tx.execute", () => {
  test("runs inside the caller's transaction and rolls back with it", async () => {
    const db = await setup();
    assert.throws(() =>
      db.transact((tx) => {
        tx.execute('insert shop::orders [(3, "cy", 1.0)]');
        assert.equal(tx.execute("from shop::orders").frames[0]!.length, 3, "sees its own write");
        tx.abort("changed my mind");
      }),
    );
    assert.equal((await db.query("from shop::orders")).frames[0]!.length, 2);
  });

  test("a failed execute is a savepoint: the transaction may go on", async () => {
    const db = await setup();
    db.transact((tx) => {
      tx.execute('insert shop::orders [(3, "cy", 1.0)]');
      assert.throws(() => tx.execute('insert shop::orders [(4, "dy", 1.0)]; from shop::nope'));
      tx.execute('insert shop::orders [(5, "ey", 1.0)]');
    });
    const ids = (await db.query("from shop::orders map { id }")).frames[0]!.map((r) => r.id);
    assert.deepEqual(ids, [1, 2, 3, 5]);
  });

  test("the commit's origin is the RQL text", async () => {
    const db = await setup();
    const rql = "counter shop::visits add 1";
    await db.command(rql);
    assert.deepEqual(db.lastCommit?.origin, { kind: "rql", detail: rql });
  });
});
