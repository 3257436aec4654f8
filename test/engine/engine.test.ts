// Goal: the transactional core behaves as documented. A transaction commits whole with the next
// gapless seq or, on a throw, leaves no trace and rethrows the original error; nested calls are
// savepoints; async functions are refused with TXN_ASYNC; commit listeners and the change feed
// (`db.changes({ fromSeq })`) deliver every commit in order, retained ones first, then live,
// with SEQ_NOT_RETAINED for seqs older than `commitsRetained`; DDL (create, drop, re-create,
// namespaces) is transactional and visible in the `system(...)` tables; a closed database
// refuses writes with DATABASE_CLOSED; unknown objects and wrong kinds are named.
// Method: black box through the embedded API with a manual clock; the change feed is read by
// stepping its async iterator around synchronous commits.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { open, DbError, createManualClock } from "../../src/index.ts";
import type { Change, Commit, Database, ErrorCode } from "../../src/index.ts";

interface Expected {
  code: ErrorCode;
  object?: string;
  value?: unknown;
  message?: RegExp;
}

function checkDbError(error: unknown, expected: Expected): true {
  assert.ok(error instanceof DbError, `expected a DbError, got ${String(error)}`);
  assert.equal(error.code, expected.code, error.message);
  if (expected.object !== undefined) assert.equal(error.details.object, expected.object);
  if (expected.value !== undefined) assert.equal(error.details.value, expected.value);
  if (expected.message !== undefined) assert.match(error.message, expected.message);
  return true;
}

function throwsDb(fn: () => unknown, expected: Expected): void {
  assert.throws(fn, (error: unknown) => checkDbError(error, expected));
}

async function rejectsDb(fn: () => Promise<unknown>, expected: Expected): Promise<void> {
  await assert.rejects(fn, (error: unknown) => checkDbError(error, expected));
}

function assertChangeShape(change: Change | undefined): Change {
  assert.ok(change !== undefined, "a change was recorded");
  assert.deepEqual(Object.keys(change).sort(), ["after", "before", "key", "kind", "object"]);
  return change;
}

const t0 = 1_700_000_000_000;

async function fresh(commitsRetained?: number): Promise<Database> {
  const clock = createManualClock(t0);
  return open(commitsRetained === undefined ? { clock } : { clock, commitsRetained });
}

/** A hang guard, generous so a loaded CI machine never trips it. */
const stallMsMax = 10_000;

/** Drains `count` commits from an iterator, failing instead of hanging if one never comes. */
async function take(iterator: AsyncIterator<Commit>, count: number): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < count; i++) {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("change feed stalled")), stallMsMax);
    });
    const next = await Promise.race([iterator.next(), stalled]).finally(() => clearTimeout(timer));
    assert.equal(next.done, false);
    seqs.push(next.value.seq);
  }
  return seqs;
}

describe("transactions and seq", () => {
  test("a transaction returns its value and commits once with the next seq", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    const table = db.createTable("t", { columns: { id: "int4" }, primaryKey: "id" });
    assert.equal(db.seq, 2);
    const result = db.transact((tx) => {
      assert.equal(db.inTransaction, true);
      hits.add(1);
      table.insert({ id: 1 });
      tx.counter("hits").add(2);
      return "done";
    });
    assert.equal(result, "done");
    assert.equal(db.inTransaction, false);
    assert.equal(db.seq, 3);
    const commit = db.lastCommit!;
    assert.deepEqual(Object.keys(commit).sort(), ["changes", "origin", "seq", "ts"]);
    assert.equal(commit.seq, 3);
    assert.equal(commit.ts, t0);
    assert.deepEqual(commit.origin, { kind: "api" });
    assert.deepEqual(
      commit.changes.map((change) => [change.object, change.kind]),
      [
        ["default::hits", "set"],
        ["default::t", "insert"],
        ["default::hits", "set"],
      ],
    );
    commit.changes.forEach(assertChangeShape);
  });

  test("seq is gapless: failed and empty transactions do not consume one", async () => {
    const db = await fresh();
    assert.equal(db.seq, 0);
    assert.equal(db.lastCommit?.seq, undefined, "no commit yet");
    const hits = db.createCounter("hits");
    assert.throws(() => db.transact(() => hits.add(1) && hits.add(1.5)), DbError);
    assert.equal(
      db.transact(() => hits.get()),
      0,
      "a read-only transaction",
    );
    db.transact(() => undefined);
    assert.equal(db.seq, 1);
    hits.add(1);
    assert.equal(db.seq, 2);
    assert.equal(db.lastCommit?.seq, 2);
  });

  test("a throw undoes every primitive's changes and rethrows the very same error", async () => {
    const db = await fresh();
    const table = db.createTable("t", { columns: { id: "int4", v: "int4" }, primaryKey: "id" });
    table.insert({ id: 1, v: 1 });
    const hits = db.createCounter("hits");
    const rb = db.createRingBuffer("rb", { columns: { v: "int4" }, capacity: 1 });
    rb.push({ v: 1 });
    const series = db.createSeries("s", { columns: { t: "int8" }, key: "t" });
    const h = db.createHistogram("h");
    const q = db.createQueue("q");
    const seq = db.seq;
    const failure = new Error("boom");
    assert.throws(
      () =>
        db.transact(() => {
          table.update(1, { v: 2 });
          table.insert({ id: 2, v: 2 });
          table.del(1);
          hits.add(5);
          rb.push({ v: 2 });
          series.insert({ t: 1 });
          h.record(3);
          q.enqueue({ n: 1 });
          db.createCounter("made_inside");
          db.drop("s");
          throw failure;
        }),
      (error: unknown) => error === failure,
    );
    assert.equal(db.seq, seq);
    assert.deepEqual(table.scan(), [{ id: 1, v: 1 }]);
    assert.equal(hits.get(), 0);
    assert.deepEqual(rb.scan(), [{ v: 1 }]);
    assert.equal(series.size, 0);
    assert.equal(h.count, 0);
    assert.equal(q.size, 0);
    throwsDb(() => db.counter("made_inside").get(), {
      code: "UNKNOWN_OBJECT",
      object: "made_inside",
    });
    assert.ok(!db.system("objects").some((row) => row.name === "made_inside"));
    assert.equal(series.size, 0, "the dropped series is back");
  });

  test("abort rolls back with TXN_ABORTED carrying the reason", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    throwsDb(
      () =>
        db.transact((tx) => {
          hits.add(1);
          tx.abort("not today");
        }),
      { code: "TXN_ABORTED", message: /transaction aborted: not today/ },
    );
    assert.equal(hits.get(), 0);
    throwsDb(() => db.transact((tx) => tx.abort()), { code: "TXN_ABORTED" });
  });

  test("now is fixed for the whole transaction and becomes the commit's ts", async () => {
    const clock = createManualClock(t0);
    const db = await open({ clock });
    const hits = db.createCounter("hits");
    db.transact((tx) => {
      const start = tx.now;
      clock.advance(5_000);
      hits.add(1);
      assert.equal(tx.now, start);
      assert.equal(db.now, start);
    });
    assert.equal(db.lastCommit?.ts, t0, "time was read when the transaction began");
    assert.equal(db.now, t0 + 5_000);
  });

  test("commit ts never goes backwards, even when the clock does", async () => {
    const clock = createManualClock(t0);
    const db = await open({ clock });
    const hits = db.createCounter("hits");
    clock.set(t0 - 60_000);
    hits.add(1);
    assert.equal(db.lastCommit?.ts, t0);
    clock.set(t0 + 1);
    hits.add(1);
    assert.equal(db.lastCommit?.ts, t0 + 1);
  });

  test("a clock's fractional ms are dropped: transaction times are whole ms", async () => {
    const clock = createManualClock(t0 + 0.75);
    const db = await open({ clock });
    const jobs = db.createQueue("jobs");
    jobs.enqueue({ n: 1 });
    assert.equal(db.lastCommit?.ts, t0);
    const message = jobs.get(1);
    assert.deepEqual([message?.enqueuedAt, message?.availableAt], [t0, t0]);
    clock.advance(1);
    const [claimed] = jobs.claim(1, { visibilityMs: 10 });
    assert.equal(claimed?.availableAt, t0 + 11, "an int8 column holds it");
  });

  test("a clock reading that is no time is refused, and time goes on after it", async () => {
    const clock = createManualClock(t0);
    const db = await open({ clock });
    const hits = db.createCounter("hits");
    for (const reading of [Number.NaN, Infinity, -Infinity, 1e300]) {
      clock.set(reading);
      throwsDb(() => hits.add(1), {
        code: "INVALID_ARGUMENT",
        message: /clock\.now\(\) returned .*: a clock gives Unix ms within/,
      });
    }
    assert.equal(hits.get(), 0);
    clock.set(t0 + 1);
    hits.add(1);
    assert.equal(db.lastCommit?.ts, t0 + 1, "a refused reading left no mark");
  });

  test("the origin of a commit is recorded", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    const origin = { kind: "procedure", detail: { name: "visit", args: [1] } };
    db.transact(() => hits.add(1), { origin });
    assert.deepEqual(db.lastCommit?.origin, origin);
    hits.add(1);
    assert.deepEqual(db.lastCommit?.origin, { kind: "api" });
  });
});

describe("nested transactions are savepoints", () => {
  test("a caught inner throw undoes only the inner changes", async () => {
    const db = await fresh();
    const t = db.createTable("t", { columns: { id: "int4" }, primaryKey: "id" });
    const seq = db.seq;
    db.transact(() => {
      t.insert({ id: 1 });
      assert.throws(
        () =>
          db.transact(() => {
            t.insert({ id: 2 });
            assert.ok(t.has(2), "the inner part sees its write");
            throw new Error("inner");
          }),
        /inner/,
      );
      assert.equal(t.has(2), false);
      t.insert({ id: 3 });
    });
    assert.equal(db.seq, seq + 1, "one commit for the whole");
    assert.deepEqual(
      t.scan().map((row) => row.id),
      [1, 3],
    );
    assert.deepEqual(
      db.lastCommit?.changes.map((change) => change.key),
      [1, 3],
    );
  });

  test("savepoints nest three deep; inner results return to the caller", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    const outcome = db.transact(() => {
      hits.add(1);
      const middle = db.transact(() => {
        hits.add(10);
        try {
          db.transact(() => {
            hits.add(100);
            throw new Error("deepest");
          });
        } catch {
          // The deepest savepoint is rolled back; the middle one goes on.
        }
        return db.transact(() => hits.add(1000));
      });
      return middle;
    });
    assert.equal(outcome, 1011);
    assert.equal(hits.get(), 1011);
  });

  test("an uncaught inner throw rolls back the outer transaction too", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    assert.throws(() =>
      db.transact(() => {
        hits.add(1);
        db.transact(() => hits.add(2));
        db.transact(() => {
          throw new Error("inner");
        });
      }),
    );
    assert.equal(hits.get(), 0);
  });
});

describe("TXN_ASYNC", () => {
  test("an async transaction function is refused and its synchronous part undone", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    const seq = db.seq;
    throwsDb(
      () =>
        db.transact(async () => {
          hits.add(1);
          await Promise.resolve();
        }),
      { code: "TXN_ASYNC", message: /must be synchronous/ },
    );
    assert.equal(hits.get(), 0);
    assert.equal(db.seq, seq);
    assert.equal(db.inTransaction, false);
    throwsDb(() => db.transact(() => ({ then: () => undefined })), { code: "TXN_ASYNC" });
  });

  test("a nested async function fails its savepoint only", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    db.transact(() => {
      hits.add(1);
      throwsDb(
        () =>
          db.transact(async () => {
            hits.add(10);
            return Promise.resolve();
          }),
        { code: "TXN_ASYNC" },
      );
      hits.add(100);
    });
    assert.equal(hits.get(), 101);
  });

  test("a refused function whose promise rejects leaves no unhandled rejection", async () => {
    // Such a rejection ends a Node process (a server whose procedure was async and threw).
    const db = await fresh();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const rejecting = async (): Promise<void> => Promise.reject(new Error("late"));
      throwsDb(() => db.transact(rejecting), { code: "TXN_ASYNC" });
      throwsDb(() => db.transact(() => db.transact(rejecting)), { code: "TXN_ASYNC" });
      await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    assert.deepEqual(unhandled, []);
  });
});

describe("commit listeners", () => {
  test("called synchronously once per commit, in order, until unsubscribed", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    const seen: Commit[] = [];
    const unsubscribe = db.addCommitListener((commit) => seen.push(commit));
    hits.add(1);
    assert.equal(seen.length, 1, "before add() returned");
    assert.equal(seen[0], db.lastCommit);
    db.transact(() => {
      hits.add(1);
      hits.add(1);
      assert.equal(seen.length, 1, "not before the commit");
    });
    assert.throws(() =>
      db.transact(() => {
        hits.add(1);
        throw new Error("undo");
      }),
    );
    db.transact(() => undefined);
    assert.deepEqual(
      seen.map((commit) => [commit.seq, commit.changes.length]),
      [
        [2, 1],
        [3, 2],
      ],
    );
    unsubscribe();
    hits.add(1);
    assert.equal(seen.length, 2);
    unsubscribe();
  });
});

describe("the change feed", () => {
  test("from a retained seq: history in order, then live commits", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    for (let i = 0; i < 3; i++) hits.add(1);
    const feed = db.changes({ fromSeq: 2 })[Symbol.asyncIterator]();
    assert.deepEqual(await take(feed, 3), [2, 3, 4]);
    const pending = take(feed, 2);
    hits.add(1);
    db.transact(() => hits.add(1));
    assert.deepEqual(await pending, [5, 6]);
    const next = feed.next();
    hits.add(7);
    const commit = (await next).value as Commit;
    assert.equal(commit.seq, 7);
    assert.deepEqual(commit.changes, db.lastCommit?.changes);
    await feed.return?.();
  });

  test("without fromSeq the feed starts at the next commit", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    hits.add(1);
    const feed = db.changes()[Symbol.asyncIterator]();
    const pending = take(feed, 1);
    hits.add(1);
    assert.deepEqual(await pending, [3]);
    await feed.return?.();
  });

  test("a fromSeq beyond the next commit waits for it", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    const feed = db.changes({ fromSeq: 3 })[Symbol.asyncIterator]();
    const pending = take(feed, 1);
    hits.add(1);
    hits.add(1);
    assert.deepEqual(await pending, [3]);
    await feed.return?.();
  });

  test("seqs older than commitsRetained are SEQ_NOT_RETAINED; retained ones work", async () => {
    const db = await fresh(3);
    const hits = db.createCounter("hits");
    for (let i = 0; i < 5; i++) hits.add(1);
    assert.equal(db.seq, 6);
    for (const fromSeq of [1, 3]) {
      await rejectsDb(() => db.changes({ fromSeq })[Symbol.asyncIterator]().next(), {
        code: "SEQ_NOT_RETAINED",
        value: fromSeq,
        message: new RegExp(`seq ${fromSeq} is no longer retained in memory \\(oldest is 4\\)`),
      });
    }
    const feed = db.changes({ fromSeq: 4 })[Symbol.asyncIterator]();
    assert.deepEqual(await take(feed, 3), [4, 5, 6]);
    await feed.return?.();
  });

  test("with commitsRetained 0 only live commits can be read", async () => {
    const db = await fresh(0);
    const hits = db.createCounter("hits");
    await rejectsDb(() => db.changes({ fromSeq: 1 })[Symbol.asyncIterator]().next(), {
      code: "SEQ_NOT_RETAINED",
    });
    const feed = db.changes({ fromSeq: 2 })[Symbol.asyncIterator]();
    const pending = take(feed, 1);
    hits.add(1);
    assert.deepEqual(await pending, [2]);
    await feed.return?.();
  });

  test("fromSeq must be a positive integer", async () => {
    const db = await fresh();
    for (const fromSeq of [0, -1, 1.5]) {
      await rejectsDb(() => db.changes({ fromSeq })[Symbol.asyncIterator]().next(), {
        code: "INVALID_ARGUMENT",
        message: /fromSeq must be a positive integer/,
      });
    }
  });

  test("an abort signal and close both end the feed", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    const controller = new AbortController();
    const aborted = db.changes({ signal: controller.signal })[Symbol.asyncIterator]();
    const waiting = aborted.next();
    controller.abort();
    assert.deepEqual(await waiting, { value: undefined, done: true });
    const feed = db.changes({ fromSeq: 1 })[Symbol.asyncIterator]();
    assert.deepEqual(await take(feed, 1), [1]);
    const pending = feed.next();
    hits.add(1);
    assert.equal((await pending).value?.seq, 2);
    const last = feed.next();
    await db.close();
    assert.deepEqual(await last, { value: undefined, done: true });
  });

  test("commitsRetained above its maximum is LIMIT_EXCEEDED", async () => {
    await rejectsDb(() => open({ commitsRetained: 10_000_001 }), {
      code: "LIMIT_EXCEEDED",
      message: /commitsRetained may be at most 10000000/,
    });
  });
});

describe("the catalog", () => {
  test("create, drop and re-create; handles follow the name", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    hits.add(5);
    assert.equal(db.drop("hits"), true);
    throwsDb(() => hits.get(), { code: "UNKNOWN_OBJECT", object: "hits" });
    throwsDb(() => hits.add(1), { code: "UNKNOWN_OBJECT", object: "hits" });
    db.createCounter("hits");
    assert.equal(hits.get(), 0, "the old handle sees the new, empty counter");
    db.drop("hits");
    db.createTable("hits", { columns: { a: "int4" } });
    throwsDb(() => hits.get(), {
      code: "WRONG_OBJECT_KIND",
      object: "default::hits",
      message: /default::hits is a table, not a counter/,
    });
  });

  test("DDL records create and drop changes of system::catalog", async () => {
    const db = await fresh();
    db.createCounter("hits");
    const create = assertChangeShape(db.lastCommit?.changes[0]);
    assert.deepEqual(
      { ...create },
      {
        object: "system::catalog",
        kind: "create",
        key: "default::hits",
        before: undefined,
        after: { kind: "counter", name: "default::hits" },
      },
    );
    db.drop("default::hits");
    const drop = assertChangeShape(db.lastCommit?.changes[0]);
    assert.deepEqual(
      { ...drop },
      {
        object: "system::catalog",
        kind: "drop",
        key: "default::hits",
        before: { kind: "counter", name: "default::hits" },
        after: undefined,
      },
    );
    db.createNamespace("shop");
    const namespace = assertChangeShape(db.lastCommit?.changes[0]);
    assert.deepEqual(
      { ...namespace },
      {
        object: "system::catalog",
        kind: "create_namespace",
        key: "shop",
        before: undefined,
        after: { name: "shop" },
      },
    );
  });

  test("a rolled-back drop restores the object with its state", async () => {
    const db = await fresh();
    const t = db.createTable("t", { columns: { id: "int4" }, primaryKey: "id" });
    t.insert({ id: 1 });
    assert.throws(() =>
      db.transact(() => {
        db.drop("t");
        db.createCounter("t").add(3);
        throw new Error("undo");
      }),
    );
    assert.deepEqual(t.scan(), [{ id: 1 }]);
    t.insert({ id: 2 });
    assert.equal(t.size, 2);
  });

  test("ifNotExists and ifExists make create and drop idempotent", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    hits.add(2);
    const seq = db.seq;
    assert.equal(db.createCounter("hits", {}, { ifNotExists: true }).get(), 2);
    assert.equal(db.seq, seq, "nothing committed");
    throwsDb(() => db.createCounter("hits"), {
      code: "OBJECT_EXISTS",
      object: "default::hits",
      message: /default::hits already exists/,
    });
    throwsDb(() => db.createHistogram("hits", {}, { ifNotExists: true }), {
      code: "OBJECT_EXISTS",
      object: "default::hits",
    });
    assert.equal(db.drop("nope", { ifExists: true }), false);
    throwsDb(() => db.drop("nope"), { code: "UNKNOWN_OBJECT", object: "nope" });
    assert.equal(db.seq, seq);
  });

  test("namespaces: created once, needed before use, system is reserved", async () => {
    const db = await fresh();
    throwsDb(() => db.createCounter("shop::hits"), {
      code: "UNKNOWN_NAMESPACE",
      object: "shop::hits",
      message: /unknown namespace "shop"/,
    });
    assert.equal(db.createNamespace("shop"), true);
    assert.equal(db.createNamespace("shop", { ifNotExists: true }), false);
    throwsDb(() => db.createNamespace("shop"), { code: "OBJECT_EXISTS", object: "shop" });
    db.createCounter("shop::hits").add(1);
    assert.equal(db.counter("shop::hits").get(), 1);
    throwsDb(() => db.createCounter("system::hits"), {
      code: "READ_ONLY",
      object: "system::hits",
    });
    assert.throws(() =>
      db.transact(() => {
        db.createNamespace("temp");
        throw new Error("undo");
      }),
    );
    assert.deepEqual(
      db.system("namespaces").map((row) => row.name),
      ["default", "shop", "system"],
    );
  });

  test("names are letters, digits and _ (1 to 128, no leading digit), ns::name", async () => {
    const db = await fresh();
    const long = "n".repeat(128);
    db.createCounter(long);
    db.createCounter("_x9");
    for (const bad of ["", "9lives", "a-b", "a b", `${long}n`, "a::b::c", "::a", "é"]) {
      throwsDb(() => db.createCounter(bad), { code: "INVALID_NAME" });
    }
    throwsDb(() => db.createNamespace("bad-ns"), { code: "INVALID_NAME", value: "bad-ns" });
    // A column so named would be lost from every row (assigning __proto__ sets a prototype).
    db.createNamespace("ns");
    throwsDb(() => db.createTable("ns::t", { columns: [{ name: "__proto__", type: "int8" }] }), {
      code: "INVALID_NAME",
      value: "__proto__",
    });
    throwsDb(() => db.createCounter("__proto__"), { code: "INVALID_NAME", value: "__proto__" });
    assert.equal(db.system("objects").length, 2);
  });

  test("a bare name is the default namespace", async () => {
    const db = await fresh();
    db.createCounter("hits").add(1);
    assert.equal(db.counter("default::hits").get(), 1);
  });
});

describe("system tables", () => {
  test("objects, columns and indexes describe the catalog, sorted by name", async () => {
    const db = await fresh();
    db.createNamespace("shop");
    db.createTable("shop::orders", {
      columns: { id: { type: "int8", autoIncrement: true }, total: "decimal" },
      primaryKey: "id",
      indexes: [{ name: "by_total", columns: ["total"], ordered: true }],
    });
    db.createCounter("hits");
    db.createQueue("shop::jobs");
    assert.deepEqual(db.system("objects"), [
      { namespace: "default", name: "hits", kind: "counter" },
      { namespace: "shop", name: "jobs", kind: "queue" },
      { namespace: "shop", name: "orders", kind: "table" },
    ]);
    assert.deepEqual(db.system("columns"), [
      { object: "default::hits", name: "value", type: "int8", position: 0, auto_increment: false },
      ...["id:int8", "state:utf8", "attempts:int4", "available_at:int8", "enqueued_at:int8"]
        .concat("body:any")
        .map((column, position) => {
          const [name, type] = column.split(":");
          return { object: "shop::jobs", name, type, position, auto_increment: false };
        }),
      { object: "shop::orders", name: "id", type: "int8", position: 0, auto_increment: true },
      {
        object: "shop::orders",
        name: "total",
        type: "decimal",
        position: 1,
        auto_increment: false,
      },
    ]);
    assert.deepEqual(db.system("indexes"), [
      { object: "shop::orders", name: "by_total", columns: "total", unique: false, ordered: true },
    ]);
    db.drop("shop::orders");
    assert.deepEqual(
      [...new Set(db.system("columns").map((c) => c.object))],
      ["default::hits", "shop::jobs"],
    );
    assert.deepEqual(db.system("indexes"), []);
    assert.equal(db.system("objects").length, 2);
  });

  test("columns lists a counter's and a histogram's columns, as `from` reads them", async () => {
    const db = await fresh();
    db.createCounter("hits", { by: { page: "utf8", code: "int2" } });
    db.createHistogram("latency");
    const listed = db.system("columns").map((c) => [c.object, c.name, c.type, c.position]);
    const stat = (name: string, position: number): unknown[] => {
      return ["default::latency", name, "Option(float8)", position];
    };
    assert.deepEqual(listed, [
      ["default::hits", "page", "utf8", 0],
      ["default::hits", "code", "int2", 1],
      ["default::hits", "value", "int8", 2],
      ["default::latency", "count", "int8", 0],
      ...["min", "max", "mean", "p50", "p90", "p99", "p999"].map((n, i) => stat(n, i + 1)),
    ]);
    // The names are the columns of the rows `from` gives.
    db.counter("hits").add(1, ["home", 200]);
    const { frames } = await db.query("from default::hits");
    assert.deepEqual(Object.keys(frames[0]![0]!), ["page", "code", "value"]);
    const summary = await db.query("from default::latency");
    assert.deepEqual(
      Object.keys(summary.frames[0]![0]!),
      listed.slice(3).map((c) => c[1]),
    );
  });

  test("columns lists a queue's columns, as `from` reads its messages", async () => {
    const db = await fresh();
    db.createQueue("jobs");
    db.createQueue("typed", { columns: { id: "uuid7", n: "Option(int4)" } });
    const fields = ["state:utf8", "attempts:int4", "available_at:int8", "enqueued_at:int8"];
    const listed = (object: string): string[] =>
      db
        .system("columns")
        .filter((c) => c.object === object)
        .map((c) => `${String(c.name)}:${String(c.type)}`);
    assert.deepEqual(listed("default::jobs"), ["id:int8", ...fields, "body:any"]);
    assert.deepEqual(listed("default::typed"), ["id:uuid7", "n:Option(int4)", ...fields]);
    db.queue("jobs").enqueue({ a: 1 });
    const { frames } = await db.query("from default::jobs");
    const names = listed("default::jobs").map((c) => c.split(":")[0]);
    assert.deepEqual(Object.keys(frames[0]![0]!).sort(), names.sort());
  });

  test("system tables are read-only and not other kinds", async () => {
    const db = await fresh();
    throwsDb(() => db.drop("system::objects"), {
      code: "READ_ONLY",
      object: "system::objects",
      message: /cannot be dropped/,
    });
    throwsDb(() => db.system("bogus" as never), {
      code: "UNKNOWN_OBJECT",
      object: "system::bogus",
    });
    throwsDb(() => db.table("system::objects"), {
      code: "WRONG_OBJECT_KIND",
      object: "system::objects",
    });
    assert.equal(db.seq, 0);
  });
});

describe("unknown objects and wrong kinds", () => {
  test("every accessor names an unknown object", async () => {
    const db = await fresh();
    const accessors: Array<(name: string) => unknown> = [
      (n) => db.table(n),
      (n) => db.ringBuffer(n),
      (n) => db.series(n),
      (n) => db.counter(n),
      (n) => db.histogram(n),
      (n) => db.queue(n),
    ];
    for (const access of accessors) {
      throwsDb(() => access("ghost"), {
        code: "UNKNOWN_OBJECT",
        object: "ghost",
        message: /unknown object "ghost"/,
      });
    }
    throwsDb(() => db.table("a-b"), { code: "INVALID_NAME" });
  });

  test("every accessor refuses an object of another kind", async () => {
    const db = await fresh();
    db.createTable("t", { columns: { a: "int4" } });
    db.createRingBuffer("r", { columns: { a: "int4" }, capacity: 1 });
    const wrong: Array<[() => unknown, RegExp]> = [
      [() => db.counter("t"), /default::t is a table, not a counter/],
      [() => db.table("r"), /default::r is a ring buffer, not a table/],
      [() => db.ringBuffer("t"), /not a ring buffer/],
      [() => db.series("t"), /not a series/],
      [() => db.histogram("t"), /not a histogram/],
      [() => db.queue("r"), /not a queue/],
    ];
    for (const [access, message] of wrong) {
      throwsDb(access, { code: "WRONG_OBJECT_KIND", message });
    }
  });
});

describe("closing", () => {
  test("after close every write is DATABASE_CLOSED; close is idempotent", async () => {
    const db = await fresh();
    const hits = db.createCounter("hits");
    const t = db.createTable("t", { columns: { a: "int4" } });
    hits.add(1);
    const seq = db.seq;
    await db.close();
    const writes: Array<() => unknown> = [
      () => db.transact(() => 1),
      () => hits.add(1),
      () => t.insert({ a: 1 }),
      () => db.createCounter("more"),
      () => db.createNamespace("ns"),
      () => db.drop("hits"),
    ];
    for (const write of writes) {
      throwsDb(write, { code: "DATABASE_CLOSED", message: /the database is closed/ });
    }
    assert.equal(db.seq, seq);
    assert.equal(hits.get(), 1, "reads of in-memory state still answer");
    await db.close();
  });
});
