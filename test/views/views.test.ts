/**
 * Goal: views behave as documented beyond the operator property test: readable inside the
 * writing transaction, deferred views lag then catch up in a follow-up commit, drops of
 * inputs are refused, a failing view expression undoes the write that fed it, views read
 * ring buffers (evictions are deletes), series, queues and machine instance tables, RQL's
 * `create view` / `from view` / `drop view`, and a restart (snapshot + log, and a crash
 * before a deferred view caught up) leaves every view equal to its recomputation.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duration, createManualClock, open } from "../../src/index.ts";
import { deferredViewRetryDelayMsMin } from "../../src/views/view-manager.ts";
import type { Database, ManualClock } from "../../src/index.ts";
import { dbErrorOf, rejectsWithCode, throwsDb } from "../support/assertions.ts";
import { assertViewMatches } from "./support.ts";

const byCustomer =
  'from shop::orders filter { status == "open" } ' +
  "aggregate { n: math::count(id), total: math::sum(total) } by { customer }";

async function shop(path?: string): Promise<Database> {
  const db = await open(path === undefined ? {} : { path });
  db.createNamespace("shop", { ifNotExists: true });
  db.createTable(
    "shop::orders",
    {
      columns: { id: "int8", customer: "utf8", total: "int8", status: "utf8" },
      primaryKey: "id",
    },
    { ifNotExists: true },
  );
  return db;
}

test("a transactional view is correct inside the writing transaction and rolls back", async () => {
  const db = await shop();
  const orders = db.table("shop::orders");
  orders.insert({ id: 1, customer: "ada", total: 10, status: "open" });
  const view = db.createView("shop::open_by_customer", { query: byCustomer });
  assert.deepEqual(view.scan(), [{ customer: "ada", n: 1, total: 10 }]);
  assert.throws(() =>
    db.transact(() => {
      orders.insert({ id: 2, customer: "ada", total: 5, status: "open" });
      assert.deepEqual(view.get("ada"), { customer: "ada", n: 2, total: 15 });
      throw new Error("no");
    }),
  );
  assert.deepEqual(view.get("ada"), { customer: "ada", n: 1, total: 10 });
  orders.update(1, { status: "paid" });
  assert.equal(view.size, 0);
  // The view's change is in the same commit as the write that caused it.
  assert.deepEqual(
    db.lastCommit?.changes.map((c) => [c.object, c.kind]),
    [
      ["shop::orders", "update"],
      ["shop::open_by_customer", "delete"],
    ],
  );
  await db.close();
});

test("a failing view expression undoes the write that fed it, even when caught", async () => {
  const db = await shop();
  const orders = db.table("shop::orders");
  db.createView("shop::ratio", { query: "from shop::orders map { id, r: 100 / total }" });
  orders.insert({ id: 1, customer: "ada", total: 4, status: "open" });
  db.transact(() => {
    throwsDb(() => orders.insert({ id: 2, customer: "bob", total: 0, status: "open" }), {
      code: "DIVISION_BY_ZERO",
    });
    orders.insert({ id: 3, customer: "cy", total: 5, status: "open" });
  });
  assert.deepEqual(
    orders.scan().map((row) => row.id),
    [1, 3],
  );
  assert.deepEqual(db.view("shop::ratio").scan(), [
    { id: 1, r: 25 },
    { id: 3, r: 20 },
  ]);
  await db.close();
});

test("a view failing after a chain of views was fed undoes the whole chain's part", async () => {
  const db = await shop();
  const orders = db.table("shop::orders");
  const views = [
    ["shop::open", 'from shop::orders filter { status == "open" }'],
    ["shop::open_n", "from shop::open aggregate { n: math::count(id) } by { customer }"],
    ["shop::sums", "from shop::orders aggregate { s: math::sum(total) } by { customer }"],
    ["shop::ratio", "from shop::orders map { id, r: 100 / total }"],
  ] as const;
  for (const [name, query] of views) db.createView(name, { query });
  const check = (context: string): void => {
    for (const [name, query] of views) assertViewMatches(db, name, query, context);
  };
  orders.insert({ id: 1, customer: "ada", total: 4, status: "open" });
  db.transact(() => {
    // The views before shop::ratio (and shop::open_n, through shop::open) take the row
    // before shop::ratio fails on it.
    throwsDb(() => orders.insert({ id: 2, customer: "ada", total: 0, status: "open" }), {
      code: "DIVISION_BY_ZERO",
    });
    check("after the caught failure");
    orders.update(1, { total: 5 });
  });
  check("after commit");
  assert.deepEqual(db.view("shop::open_n").scan(), [{ customer: "ada", n: 1 }]);
  assert.throws(() =>
    db.transact(() => {
      orders.insert({ id: 3, customer: "bob", total: 2, status: "open" });
      orders.update(1, { status: "paid" });
      check("inside the transaction");
      throw new Error("rolled back");
    }),
  );
  check("after rollback");
  await db.close();
});

test("a deferred view lags behind, then catches up in its own follow-up commit", async () => {
  const db = await shop();
  const orders = db.table("shop::orders");
  orders.insert({ id: 1, customer: "ada", total: 10, status: "open" });
  const view = db.createView("shop::later", { query: byCustomer, mode: "deferred" });
  assert.equal(view.mode, "deferred");
  assert.deepEqual(view.scan(), [{ customer: "ada", n: 1, total: 10 }]);
  orders.insert({ id: 2, customer: "ada", total: 5, status: "open" });
  orders.insert({ id: 3, customer: "bob", total: 1, status: "open" });
  const seq = db.seq;
  assert.equal(view.lag, 2);
  assert.deepEqual(view.get("ada"), { customer: "ada", n: 1, total: 10 });
  await view.settled();
  assert.equal(view.lag, 0);
  assert.equal(db.seq, seq + 1, "one follow-up commit for the backlog");
  assert.deepEqual(db.lastCommit?.origin, { kind: "view", detail: { view: "shop::later", seq } });
  assertViewMatches(db, "shop::later", byCustomer);
  await db.close();
});

test("a deferred view created mid-transaction counts the writes around it once", async () => {
  const db = await shop();
  const orders = db.table("shop::orders");
  orders.insert({ id: 1, customer: "ada", total: 10, status: "open" });
  db.transact(() => {
    // Population covers this write; the commit's backlog must skip it.
    orders.insert({ id: 2, customer: "ada", total: 5, status: "open" });
    db.createView("shop::later", { query: byCustomer, mode: "deferred" });
    orders.insert({ id: 3, customer: "bob", total: 1, status: "open" });
  });
  // A later commit of the same shape (a write before and after) must not be skipped.
  orders.insert({ id: 4, customer: "bob", total: 2, status: "open" });
  const view = db.view("shop::later");
  await view.settled();
  assert.deepEqual(view.scan(), [
    { customer: "ada", n: 2, total: 15 },
    { customer: "bob", n: 2, total: 3 },
  ]);
  assertViewMatches(db, "shop::later", byCustomer);
  await db.close();
});

test("dropping an object a view reads is refused; dropping the view frees it", async () => {
  const db = await shop();
  db.createView("shop::all", { query: "from shop::orders" });
  db.createView("shop::chained", { query: "from shop::all map { id }" });
  throwsDb(() => db.drop("shop::orders"), { code: "OBJECT_IN_USE", object: "shop::orders" });
  throwsDb(() => db.drop("shop::all"), { code: "OBJECT_IN_USE", object: "shop::all" });
  assert.ok(db.drop("shop::chained"));
  assert.ok(db.drop("shop::all"));
  assert.ok(db.drop("shop::orders"));
  await db.close();
});

test("a view that fails to compile is not created", async () => {
  const db = await shop();
  throwsDb(() => db.createView("shop::bad", { query: "from shop::orders map { nope }" }), {
    code: "UNKNOWN_COLUMN",
  });
  throwsDb(() => db.createView("shop::bad", { query: "from shop::missing" }), {
    code: "UNKNOWN_OBJECT",
  });
  assert.equal(db.system("objects").filter((o) => o.name === "bad").length, 0);
  db.createView("shop::bad", { query: "from shop::orders" });
  await db.close();
});

test("views read ring buffers (evictions are deletes), series and queues", async () => {
  const db = await open();
  const recent = db.createRingBuffer("default::recent", {
    columns: { page: "utf8", ms: "int8" },
    capacity: 3,
  });
  const series = db.createSeries("default::temps", {
    columns: { at: "int8", celsius: "float8" },
    key: "at",
  });
  const jobs = db.createQueue("default::jobs");
  const pages = "from recent aggregate { n: math::count(ms), worst: math::max(ms) } by { page }";
  db.createView("default::pages", { query: pages });
  const warm = "from temps filter { celsius > 20 } aggregate { n: math::count(at) }";
  db.createView("default::warm", { query: warm });
  const states = "from jobs aggregate { n: math::count(id) } by { state }";
  db.createView("default::job_states", { query: states });
  for (const [page, ms] of [
    ["a", 5],
    ["b", 9],
    ["a", 7],
    ["a", 1],
    ["b", 2],
  ] as const) {
    recent.push({ page, ms });
  }
  assert.deepEqual(db.view("default::pages").scan(), [
    { page: "a", n: 2, worst: 7 },
    { page: "b", n: 1, worst: 2 },
  ]);
  assertViewMatches(db, "default::pages", pages);
  series.insert({ at: 1, celsius: 25 });
  series.insert({ at: 2, celsius: 15 });
  series.deleteRange({ from: 1, to: 2 });
  series.insert({ at: 3, celsius: 30 });
  assert.deepEqual(db.view("default::warm").scan(), [{ n: 1 }]);
  assertViewMatches(db, "default::warm", warm);
  jobs.enqueue({ task: "x" });
  jobs.enqueue({ task: "y" });
  jobs.claim(1);
  assert.deepEqual(
    db
      .view("default::job_states")
      .scan()
      .map((row) => [row.state, row.n]),
    [
      ["claimed", 1],
      ["ready", 1],
    ],
  );
  await db.close();
});

test("RQL creates, reads and drops views", async () => {
  const db = await shop();
  await db.command(
    'insert shop::orders [{ id: 1, customer: "ada", total: 10.0, status: "open" }, ' +
      '{ id: 2, customer: "bob", total: 5.0, status: "open" }]',
  );
  await db.admin(
    "create transactional view shop::open_by_customer { customer: utf8, n: int8, total: int8 } " +
      `as { ${byCustomer} }`,
  );
  await db.command('update shop::orders { status: "paid" } filter { id == 2 }');
  const result = await db.query("from shop::open_by_customer");
  assert.deepEqual(result.frames, [[{ customer: "ada", n: 1, total: 10 }]]);
  await assert.rejects(db.admin("drop table shop::orders"), { code: "OBJECT_IN_USE" });
  await db.admin("drop view shop::open_by_customer");
  await db.admin("drop table shop::orders");
  await db.close();
});

test("sums over float and duration columns: the view and its query agree", async () => {
  // Found by test/rql/mutations.test.ts and a wider fuzz: integral floats summed by integer
  // rules widened to bigint in the query (the view, declared float8, coerced back); a view
  // summing durations could not be created (its total started at the number 0); and a
  // view's float total lost 0.5 for good after 3.4e38 came and went.
  const db = await open();
  db.createNamespace("shop");
  db.createTable("shop::prices", {
    columns: { id: "int8", item: "utf8", amount: "float8", took: "duration" },
    primaryKey: "id",
  });
  const query =
    "from shop::prices aggregate { s: math::sum(amount), a: math::avg(amount), " +
    "t: math::sum(took) } by { item }";
  db.createView("shop::totals", { query });
  await db.command(
    'insert shop::prices [{ id: 1, item: "x", amount: 9007199254740992.0, took: 1s }, ' +
      '{ id: 2, item: "x", amount: 4.0, took: 2s }, { id: 3, item: "y", amount: 0.5, took: 1m }]',
  );
  await db.command("update shop::prices { amount: amount * 3 } filter { id == 1 }");
  const total = 3 * 2 ** 53 + 4;
  const expected = { item: "x", s: total, a: total / 2, t: new Duration(3000) };
  assert.deepEqual(db.view("shop::totals").get("x"), expected);
  const fresh = db.execute(`${query} filter { item == "x" }`).frames[0];
  assert.deepEqual(fresh, [expected]);
  assert.equal(typeof fresh?.[0]?.s, "number");
  await db.command('insert shop::prices [{ id: 4, item: "y", amount: 3.4e38, took: 0s }]');
  await db.command("delete shop::prices filter { id == 4 }");
  assert.deepEqual(db.view("shop::totals").get("y"), {
    item: "y",
    s: 0.5,
    a: 0.5,
    t: new Duration(60_000),
  });
  assertViewMatches(db, "shop::totals", query);
  await db.close();
});

test("after a restart every view equals its recomputation and keeps being maintained", async () => {
  const path = mkdtempSync(join(tmpdir(), "statebase-views-"));
  try {
    const top = "from shop::orders sort { total: desc } take 2";
    const totals = "from shop::orders aggregate { n: math::count(id), s: math::sum(total) }";
    const pairs = "from shop::orders left join { from shop::orders } as o using (total, o.id)";
    let db = await shop(path);
    const orders = db.table("shop::orders");
    for (let id = 1; id <= 20; id++) {
      orders.insert({ id, customer: `c${id % 3}`, total: (id * 7) % 11, status: "open" });
    }
    db.createView("shop::by_customer", { query: byCustomer });
    db.createView("shop::top", { query: top });
    db.createView("shop::totals", { query: totals });
    db.createView("shop::pairs", { query: pairs });
    db.createView("shop::later", { query: byCustomer, mode: "deferred" });
    await db.view("shop::later").settled();
    await db.snapshot();
    orders.del(3);
    orders.update(5, { status: "paid" });
    // Closed before the deferred view's follow-up commit: the log never gets it.
    await db.close();

    db = await shop(path);
    for (const name of ["shop::by_customer", "shop::later"])
      assertViewMatches(db, name, byCustomer);
    assertViewMatches(db, "shop::top", top);
    assertViewMatches(db, "shop::totals", totals);
    assertViewMatches(db, "shop::pairs", pairs);
    assert.equal(db.lastCommit?.origin.kind, "view_rebuild", "the deferred view caught up");
    // Time travel rebuilds views as of the past seq, from the rows of that seq.
    const past = await db.at(db.seq - 1);
    assertViewMatches(past, "shop::top", top);
    assertViewMatches(past, "shop::pairs", pairs);
    await past.close();
    db.table("shop::orders").del(1);
    db.table("shop::orders").insert({ id: 30, customer: "c0", total: 99, status: "open" });
    await db.view("shop::later").settled();
    for (const name of ["shop::by_customer", "shop::later"])
      assertViewMatches(db, name, byCustomer);
    assertViewMatches(db, "shop::top", top);
    assertViewMatches(db, "shop::pairs", pairs);
    await db.close();
  } finally {
    rmSync(path, { recursive: true, force: true });
  }
});

test("the example of docs/views.md gives what it shows", async () => {
  const db = await open();
  db.createNamespace("shop");
  db.createTable("shop::orders", {
    columns: { id: "int8", customer: "utf8", total: "int8", status: "utf8" },
    primaryKey: "id",
  });
  const orders = db.table("shop::orders");
  orders.insert({ id: 1, customer: "ada", total: 10, status: "open" });
  const openTotals = db.createView("shop::open_totals", {
    query:
      'from shop::orders filter { status == "open" } ' +
      "aggregate { n: math::count(id), total: math::sum(total) } by { customer }",
  });
  orders.insert({ id: 2, customer: "ada", total: 7, status: "open" });
  assert.deepEqual(openTotals.get("ada"), { customer: "ada", n: 2, total: 17 });
  await db.close();
});

test("a top-k over a large table reads its input again when its spare rows run out", async () => {
  const db = await open();
  const table = db.createTable("default::scores", {
    columns: { id: "int8", x: "int8" },
    primaryKey: "id",
  });
  db.transact(() => {
    for (let id = 1; id <= 1200; id++) table.insert({ id, x: (id * 37) % 1201 });
  });
  const top = "from scores sort { x: desc } take 5";
  db.createView("default::top", { query: top });
  const byX = table.scan().sort((a, b) => (b.x as number) - (a.x as number));
  // A rolled-back transaction that empties the held rows leaves the view as it was.
  assert.throws(() =>
    db.transact(() => {
      for (const row of byX.slice(0, 1100)) table.del(row.id);
      assertViewMatches(db, "default::top", top, "inside");
      throw new Error("undo");
    }),
  );
  assertViewMatches(db, "default::top", top, "after rollback");
  for (let start = 0; start < 1100; start += 100) {
    db.transact(() => {
      for (const row of byX.slice(start, start + 100)) table.del(row.id);
    });
    assertViewMatches(db, "default::top", top, `after deleting ${start + 100}`);
  }
  table.insert({ id: 5000, x: 10_000 });
  assertViewMatches(db, "default::top", top, "after an insert");
  await db.close();
});

test("updates of unread columns keep views exact, on narrow and wide tables", async () => {
  // A table update tells views which columns it changed (bits by column position) up to
  // changedColumnsTrackedMax columns; a wider table's views compare the columns they read.
  const db = await open();
  db.createNamespace("w");
  for (const width of [4, 40]) {
    const names = Array.from({ length: width }, (_, i) => `c${i}`);
    const columns = Object.fromEntries([["id", "int8"], ...names.map((n) => [n, "int8"])]);
    const table = db.createTable(`w::t${width}`, { columns, primaryKey: "id" });
    const last = names.at(-1)!;
    const queries = [
      `from w::t${width} aggregate { n: math::count(id), s: math::sum(${last}) } by { c0 }`,
      `from w::t${width} filter { c1 > 2 } map { id, c1 }`,
    ];
    queries.forEach((query, i) => db.createView(`w::v${width}_${i}`, { query }));
    const check = (context: string): void =>
      queries.forEach((query, i) => assertViewMatches(db, `w::v${width}_${i}`, query, context));
    const row = (id: number): Record<string, number> =>
      Object.fromEntries([["id", id], ...names.map((n, i): [string, number] => [n, id + i])]);
    db.transact(() => {
      for (let id = 0; id < 6; id++) table.insert(row(id));
    });
    table.update(1, { c2: 100 }); // read by neither view
    check(`width ${width}, unread column`);
    table.update(2, { [last]: 7, c2: 8 }); // read by the aggregate only
    table.update(3, { c1: 0 }); // leaves the filter
    table.update(4, { c0: 4 }); // moves between groups
    check(`width ${width}, read columns`);
    assert.throws(() =>
      db.transact(() => {
        table.update(5, { c2: -1 });
        table.update(5, { c1: -1, [last]: 0 });
        table.update(0, { c3: 9 });
        throw new Error("rolled back");
      }),
    );
    check(`width ${width}, after a rollback`);
    table.update(5, { c1: -1, [last]: 0 });
    check(`width ${width}, after the same write committed`);
  }
  await db.close();
});

test("a global aggregate is evaluated over the rows a new view starts from", async () => {
  const db = await open();
  const table = db.createTable("default::t", { columns: { id: "int4" }, primaryKey: "id" });
  table.insert({ id: 1 });
  table.insert({ id: 2 });
  // Evaluated over no rows first, 7 / count failed with DIVISION_BY_ZERO though count is 2.
  const query = "from t aggregate { q: 7 / math::count(id) }";
  db.createView("default::ratio", { query });
  assert.deepEqual(db.view("default::ratio").scan(), [{ q: 3 }]);
  db.createView("default::n", {
    query: "from t filter { id > 5 } aggregate { n: math::count(id) }",
  });
  assert.deepEqual(db.view("default::n").scan(), [{ n: 0 }], "over no rows, one row still");
  table.insert({ id: 6 });
  assert.deepEqual(db.view("default::n").scan(), [{ n: 1 }]);
  await db.close();
});

test("an error in a view's body names its line and column in the script", async () => {
  const db = await open();
  db.createTable("default::t", { columns: { id: "int4" }, primaryKey: "id" });
  const script =
    "create namespace x;\n" +
    "create transactional view default::v { n: int8 } as {\n" +
    "  from default::t\n" +
    "  aggregate { n: math::count(nope) }\n" +
    "}";
  // Counted from the body's first line, it said line 2.
  await rejectsWithCode(db.admin(script), "UNKNOWN_COLUMN", /^line 4, column 30: /);
  await db.close();
});

/** A database on a manual clock with a deferred view summing s::t's int8 x into an int8. */
async function deferredSumView(): Promise<{ clock: ManualClock; db: Database }> {
  const clock = createManualClock();
  const db = await open({ clock });
  await db.admin(`create namespace s;
    create table s::t { id: int8, x: int8 } with { primary_key: { id } };
    create deferred view s::total { s: Option(int8) } as {
      from s::t aggregate { s: math::sum(x) }
    }`);
  return { clock, db };
}

test("a deferred view whose maintenance fails shows its lag, then recovers", async () => {
  // The failed backlog was dropped: lag read 0 and settled() resolved while the view kept
  // stale rows, and it never moved again, even once the row that broke it was gone.
  const { clock, db } = await deferredSumView();
  const view = db.view("s::total");
  const query = "from s::t aggregate { s: math::sum(x) }";
  await db.command("insert s::t [{ id: 1, x: 9223372036854775807 }]");
  await view.settled();
  assertViewMatches(db, "s::total", query);
  // The sum leaves the declared int8: the follow-up commit fails, the write stands.
  await db.command("insert s::t [{ id: 2, x: 1 }]");
  await view.settled();
  assert.equal(view.lag, 1, "the failed commit is still to apply");
  assert.deepEqual(view.scan(), [{ s: 2n ** 63n - 1n }]);
  await db.command("delete s::t filter { id == 2 }; insert s::t [{ id: 3, x: -7 }]");
  await view.settled();
  // A failed view is rebuilt from all its inputs, so it is not retried at every commit.
  assert.equal(view.lag, 2, "no retry before the wait is over");
  clock.advance(deferredViewRetryDelayMsMin);
  await db.command("insert s::t [{ id: 4, x: 0 }]");
  await view.settled();
  assert.equal(view.lag, 0);
  assertViewMatches(db, "s::total", query);
  assert.deepEqual(view.scan(), [{ s: 2n ** 63n - 8n }]);
  await db.close();
});

test("a deferred view that keeps failing waits longer between rebuilds", async () => {
  const { clock, db } = await deferredSumView();
  const view = db.view("s::total");
  await db.command("insert s::t [{ id: 1, x: 9223372036854775807 }, { id: 2, x: 1 }]");
  await view.settled();
  assert.equal(view.lag, 1, "failed");
  // The retry after the first wait fails again (the rows still overflow): no view commit.
  clock.advance(deferredViewRetryDelayMsMin);
  let seq = db.seq;
  await db.command("insert s::t [{ id: 3, x: 0 }]");
  await view.settled();
  assert.equal(db.seq, seq + 1, "the insert only: the retry failed");
  assert.equal(view.lag, 2);
  // The second wait is twice the first: one more first wait later, it is not over yet.
  clock.advance(deferredViewRetryDelayMsMin);
  await db.command("delete s::t filter { id == 2 }");
  await view.settled();
  assert.equal(view.lag, 3, "not retried yet");
  clock.advance(deferredViewRetryDelayMsMin);
  seq = db.seq;
  await db.command("insert s::t [{ id: 5, x: 0 }]");
  await view.settled();
  assert.equal(db.seq, seq + 2, "the insert, then the view's rebuild");
  assert.equal(view.lag, 0);
  assertViewMatches(db, "s::total", "from s::t aggregate { s: math::sum(x) }");
  await db.close();
});

test("a view reading the clock (date::now, datetime::now) is refused when created", async () => {
  // Views change only when their inputs do: `at > datetime::now() - 1h` kept a row it had
  // let in for good, and a restart, recomputing the view, then disagreed with it.
  const db = await open();
  await db.admin(`create namespace s;
    create table s::t { id: int8, at: datetime } with { primary_key: { id } }`);
  const rows = "{ id: int8, at: datetime }";
  const bodies: Array<[string, string, number]> = [
    [rows, "from s::t filter { at > datetime::now() - 1h }", 27],
    ["{ id: int8, day: date }", "from s::t map { id, day: date::now() }", 28],
    [rows, "from s::t append { from s::t filter { datetime::year(datetime::now()) > 0 } }", 56],
  ];
  for (const [columns, body, col] of bodies) {
    const seq = db.seq;
    const caught = await dbErrorOf(db.admin(`create view s::v ${columns} as {\n  ${body}\n}`));
    assert.equal(caught.code, "INVALID_ARGUMENT", caught.message);
    assert.deepEqual([caught.details.line, caught.details.col], [2, col], caught.message);
    assert.match(caught.message, /now\(\)/);
    assert.equal(db.seq, seq, "nothing was created");
  }
  const query = "from s::t filter { at > datetime::now() }";
  throwsDb(() => db.createView("s::w", { query }), { code: "INVALID_ARGUMENT" });
  await db.close();
});

test("an aggregate over a left join follows updates of matched and unmatched rows", async () => {
  const db = await open();
  db.createNamespace("j");
  const orders = db.createTable("j::orders", {
    columns: { id: "int8", customer: "int8", total: "int8" },
    primaryKey: "id",
  });
  const customers = db.createTable("j::customers", {
    columns: { id: "int8", region: "utf8" },
    primaryKey: "id",
  });
  customers.insert({ id: 1, region: "north" });
  orders.insertMany([
    { id: 10, customer: 1, total: 5 },
    { id: 11, customer: 2, total: 7 },
  ]);
  // The join hands the aggregate positional rows: before and after must stay apart.
  const query =
    "from j::orders left join { from j::customers } as c using (customer, c.id) " +
    "aggregate { n: math::count(c_id), total: math::sum(total) } by { c_region }";
  db.createView("j::by_region", { query });
  orders.update(11, { total: 9 }); // no customer 2: the unmatched row changes in place
  assertViewMatches(db, "j::by_region", query, "after the unmatched row's update");
  orders.update(10, { total: 6 });
  assertViewMatches(db, "j::by_region", query, "after the matched row's update");
  customers.insert({ id: 2, region: "south" });
  orders.update(11, { total: 1 });
  assertViewMatches(db, "j::by_region", query, "after the row found its match");
  await db.close();
});
