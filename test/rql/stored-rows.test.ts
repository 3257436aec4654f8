// Goal: RQL hands out copies only, whatever it reads internally. A query's output row written
// into never reaches the table, by any access path or step; an update or delete reads its rows
// as they were before it writes, and a frame produced before a later write keeps its values.
// Method: each query is run, every value of its frame's rows overwritten (and a column added),
// and the table read again by a fresh query and by the table handle; DML statements run over
// rows they also read, in one script and inside one transaction.
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";

const schema = `
create namespace s;
create table s::t { id: int8, k: utf8, v: int8, doc: Option(json) }
  with { primary_key: { id } };
create index s::t_by_k on s::t { k };
create index s::t_by_v on s::t { v };
create table s::u { k: utf8, note: utf8 } with { primary_key: { k } }`;

const data = `
insert s::t [
  { id: 1, k: "a", v: 10, doc: none }, { id: 2, k: "b", v: 20, doc: none },
  { id: 3, k: "a", v: 30, doc: none }, { id: 4, k: "c", v: 40, doc: none }
];
insert s::u [{ k: "a", note: "first" }, { k: "b", note: "second" }]`;

async function seeded(): Promise<Database> {
  const db = await open();
  await db.admin(schema);
  await db.command(data);
  return db;
}

/** Queries whose rows are the table's rows unchanged (each access path and row-keeping step). */
const rowQueries = [
  "from s::t",
  "from s::t filter v > 15",
  "from s::t filter id == 2",
  "from s::t filter id in [1, 3]",
  "from s::t filter id >= 2 and id <= 3",
  'from s::t filter k == "a"',
  'from s::t filter k in ["a", "c"]',
  "from s::t filter v > 25",
  "from s::t filter v between 10 and 20",
  "from s::t sort v desc",
  "from s::t take 2",
  "from s::t distinct { k }",
  "from s::t filter id == 1 append { from s::t filter id == 4 }",
  'from [{ id: 9 }] append { from s::t filter k == "a" }',
  "from s::t filter id == 1.5",
];

/** Queries that build rows from the table's (joins, maps, extends). */
const builtQueries = [
  "from s::t inner join { from s::u } as u using (k, u.k)",
  'from s::t left join { from s::u filter note != "x" } as u using (k, u.k)',
  "from s::t map { id, v }",
  "from s::t extend { w: v + 1 }",
];

function overwrite(frame: Array<Record<string, unknown>>): void {
  for (const row of frame) {
    for (const name of Object.keys(row)) row[name] = 999;
    row.added = true;
  }
}

async function tableRows(db: Database): Promise<unknown> {
  return (await db.query("from s::t")).frames[0];
}

test("a query's rows written into leave the table as it was, by every access path", async () => {
  const db = await seeded();
  const before = await tableRows(db);
  const handleBefore = db.table("s::t").scan();
  for (const query of [...rowQueries, ...builtQueries]) {
    for (let round = 0; round < 2; round++) {
      const frame = (await db.query(query)).frames[0]!;
      if (query !== "from s::t filter id == 1.5") assert.ok(frame.length > 0, query);
      overwrite(frame);
      assert.deepEqual(await tableRows(db), before, query);
      assert.deepEqual(db.table("s::t").scan(), handleBefore, query);
    }
  }
  await db.close();
});

test("a query's rows are not shared between two runs of it", async () => {
  const db = await seeded();
  for (const query of rowQueries.slice(0, -1)) {
    const first = (await db.query(query)).frames[0]!;
    const second = (await db.query(query)).frames[0]!;
    assert.deepEqual(first, second, query);
    overwrite(first);
    assert.notDeepEqual(first, second, query);
  }
  await db.close();
});

test("rows a transaction read keep their values through its later writes", async () => {
  const db = await seeded();
  db.transact((tx) => {
    const read = tx.execute('from s::t filter k == "a"').frames[0]!;
    const all = tx.execute("from s::t sort v").frames[0]!;
    tx.execute("update s::t { v: v + 100 } filter id >= 1");
    tx.execute("delete s::t filter id == 3");
    assert.deepEqual(
      read.map((row) => row.v),
      [10, 30],
    );
    assert.deepEqual(
      all.map((row) => row.v),
      [10, 20, 30, 40],
    );
    overwrite(read);
    const now = tx.execute("from s::t").frames[0]!;
    assert.deepEqual(
      now.map((row) => row.v),
      [110, 120, 140],
    );
  });
  await db.close();
});

test("one script's frames are each as of their statement, around its writes", async () => {
  const db = await seeded();
  const result = await db.command(`
    from s::t filter v > 15;
    from s::t aggregate { s: math::sum(v) };
    update s::t { v: v * 2, k: "z" } filter v > 15 returning { id, v, k };
    from s::t filter v > 15;
    delete s::t filter k == "z" returning { id, v };
    from s::t aggregate { s: math::sum(v), n: math::count(id) }`);
  const [before, sumBefore, updated, after, deleted, sumAfter] = result.frames;
  assert.deepEqual(
    before!.map((row) => [row.id, row.v, row.k]),
    [
      [2, 20, "b"],
      [3, 30, "a"],
      [4, 40, "c"],
    ],
  );
  assert.deepEqual(sumBefore, [{ s: 100 }]);
  assert.deepEqual(updated, [
    { id: 2, v: 40, k: "z" },
    { id: 3, v: 60, k: "z" },
    { id: 4, v: 80, k: "z" },
  ]);
  assert.deepEqual(
    after!.map((row) => row.v),
    [40, 60, 80],
  );
  assert.deepEqual(deleted, [
    { id: 2, v: 40 },
    { id: 3, v: 60 },
    { id: 4, v: 80 },
  ]);
  assert.deepEqual(sumAfter, [{ s: 10, n: 1 }]);
  await db.close();
});

test("an update reads each row as it was before the statement wrote any", async () => {
  const db = await seeded();
  // Each row's new v is read from the row as the update found it: swapping two columns
  // and moving v along an ordered index it is found by must not see its own writes.
  const result = await db.command(
    "update s::t { v: v + 15, k: text::concat(k, k) } filter v >= 10 and v <= 30 " +
      "returning { id, v, k }",
  );
  assert.deepEqual(result.frames[0], [
    { id: 1, v: 25, k: "aa" },
    { id: 2, v: 35, k: "bb" },
    { id: 3, v: 45, k: "aa" },
  ]);
  assert.deepEqual(
    ((await tableRows(db)) as Array<Record<string, unknown>>).map((row) => row.v),
    [25, 35, 45, 40],
  );
  await db.close();
});

test("json values read by a query are the stored values' own, as before", async () => {
  // Pinned, not endorsed: nested values are shared by the stored row and every copy.
  const db = await seeded();
  await db.command("update s::t { doc: { n: 1 } } filter id == 1");
  const frame = (await db.query("from s::t filter id == 1")).frames[0]!;
  assert.deepEqual(frame[0]!.doc, { n: 1 });
  await db.close();
});

test("without a primary key: queries hand out copies, update and delete find rows", async () => {
  const db = await open();
  await db.admin("create namespace s; create table s::log { n: int8, tag: utf8 }");
  await db.command('insert s::log [{ n: 1, tag: "a" }, { n: 2, tag: "b" }, { n: 3, tag: "a" }]');
  overwrite((await db.query('from s::log filter tag == "a"')).frames[0]!);
  const updated = await db.command(
    'update s::log { n: n * 10 } filter tag == "a" returning { n, tag }',
  );
  assert.deepEqual(updated.frames[0], [
    { n: 10, tag: "a" },
    { n: 30, tag: "a" },
  ]);
  const deleted = await db.command("delete s::log filter n > 5 returning { n }");
  assert.deepEqual(deleted.frames[0], [{ n: 10 }, { n: 30 }]);
  assert.deepEqual((await db.query("from s::log")).frames[0], [{ n: 2, tag: "b" }]);
  await db.close();
});
