/**
 * Goal: a database opened on a path keeps its state across close and reopen in every
 * durability mode, and refuses bad options clearly.
 * Method: open on a temporary directory, write through every primitive, close, reopen, and
 * compare; check `durable()` and `flush()` resolve, and that the seq continues.
 */
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import fs, { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createManualClock, open } from "../src/index.ts";
import type { Database } from "../src/index.ts";

/** A new temporary directory, removed when the test ends. */
function tempDir(t: TestContext): string {
  const path = mkdtempSync(join(tmpdir(), "statebase-db-"));
  t.after(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

function fill(db: Database): void {
  db.createNamespace("app");
  const users = db.createTable("app::users", {
    columns: { id: { type: "int8", autoIncrement: true }, name: "utf8", big: "Option(int16)" },
    primaryKey: "id",
    indexes: [{ name: "by_name", columns: ["name"], unique: true }],
  });
  users.insert({ name: "ada", big: 2n ** 100n });
  users.insert({ name: "bob" });
  users.update(2, { name: "rob" });
  db.createCounter("app::hits", { by: { page: "utf8" } }).add(3, "home");
  db.createHistogram("app::lat", { max: 10_000 }).record(42);
  db.createRingBuffer("app::recent", { columns: { n: "int4" }, capacity: 2 });
  for (let n = 1; n <= 3; n++) db.ringBuffer("app::recent").push({ n });
  db.createQueue("app::jobs").enqueue({ task: "x" }, { dedupKey: "k" });
}

function snapshot(db: Database): unknown {
  return {
    users: db.table("app::users").scan(),
    byName: db.table("app::users").lookup("by_name", "rob"),
    hits: db.counter("app::hits").get("home"),
    lat: db.histogram("app::lat").summary(),
    recent: db.ringBuffer("app::recent").scan(),
    jobs: db
      .queue("app::jobs")
      .list("ready")
      .map((m) => m.body),
    objects: db.system("objects"),
  };
}

for (const durability of ["sync", "async"] as const) {
  test(`state survives close and reopen (${durability})`, async (t) => {
    const path = tempDir(t);
    const first = await open({ path, durability });
    fill(first);
    await first.durable();
    const before = snapshot(first);
    const seq = first.seq;
    await first.close();
    const second = await open({ path, durability });
    assert.equal(second.seq, seq);
    assert.deepEqual(snapshot(second), before);
    // New commits continue the sequence and the auto-increment.
    assert.equal(second.table("app::users").insert({ name: "cy" }).id, 3);
    assert.equal(second.seq, seq + 1);
    await second.flush();
    await second.close();
  });
}

test("durability needs a path, and unknown modes are refused", async () => {
  await assert.rejects(open({ durability: "sync" }), { code: "INVALID_ARGUMENT" });
  await assert.rejects(open({ path: "/tmp/x", durability: "fast" as never }), {
    code: "INVALID_ARGUMENT",
  });
});

test("a data directory is open in one database at a time; close frees it", async (t) => {
  const path = tempDir(t);
  const first = await open({ path });
  first.createNamespace("app");
  const rows = { columns: { id: "int8" }, primaryKey: "id" } as const;
  await assert.rejects(open({ path }), (error: unknown) => {
    const { code, message } = error as { code: string; message: string };
    const held = `is in use by process ${process.pid}, this one: a database opened on it`;
    return code === "IO_ERROR" && message.includes(held);
  });
  first.createTable("app::t", rows).insert({ id: 1 }); // the first one still writes
  await first.close();
  const second = await open({ path });
  assert.equal(second.table("app::t").size, 1);
  await second.close();
});

test("a data directory that cannot be created is refused, naming it and why", async (t) => {
  const root = tempDir(t);
  const file = join(root, "a-file");
  writeFileSync(file, "");
  await assert.rejects(open({ path: file }), (error: unknown) => {
    const { code, message } = error as { code: string; message: string };
    return code === "IO_ERROR" && message.startsWith(`cannot create data directory ${file}: `);
  });
});

test("a snapshot a crash left unfinished is removed on open, saying so", async (t) => {
  const path = tempDir(t);
  const first = await open({ path });
  first.createCounter("default::n").add(7);
  await first.close();
  const snapshots = join(path, "snapshots");
  const unfinished = "snapshot-00000000000000000002.jsonl.tmp";
  writeFileSync(join(snapshots, unfinished), "x".repeat(1 << 20));
  writeFileSync(join(snapshots, "notes.txt"), "an operator's file");
  const warnings: string[] = [];
  const second = await open({ path, onMessage: (_, text) => void warnings.push(text) });
  assert.deepEqual(readdirSync(snapshots).sort(), ["notes.txt"]);
  assert.deepEqual(warnings, [`removed ${unfinished}: a snapshot that did not finish (a crash)`]);
  assert.equal(second.counter("default::n").get(), 7);
  await second.close();
});

test("a per-commit sync override is durable once awaited", async (t) => {
  const path = tempDir(t);
  const db = await open({ path, durability: "async", durabilityWindowMs: 10_000 });
  db.createCounter("default::n");
  db.transact((tx) => tx.counter("default::n").add(1), { durability: "sync" });
  await db.durable(); // would wait 10 s if the override were ignored
  await db.close();
});

test("writable() resolves at once while the log keeps up, and after catching up", async (t) => {
  const path = tempDir(t);
  const db = await open({ path, durability: "async", durabilityWindowMs: 5 });
  db.createCounter("default::n");
  for (let i = 0; i < 200; i++) {
    await db.writable();
    db.counter("default::n").add(1);
  }
  await db.flush();
  assert.equal(db.counter("default::n").get(), 200);
  await db.close();
});

test("async: a command waits while the oldest unsynced commit is past the window", async (t) => {
  const path = tempDir(t);
  const clock = createManualClock();
  const db = await open({ path, durability: "async", durabilityWindowMs: 10, clock });
  await db.admin(
    "create namespace app; " +
      "create table app::t { id: int8, v: int8 } with { primary_key: { id } }",
  );
  await db.flush();
  db.table("app::t").insert({ id: 1, v: 1 });
  const behind = db.seq;
  let behindDurable = false;
  void db.durable(behind).then(() => (behindDurable = true));
  // The disk "falls behind": the commit is 50 ms old by the clock and still not flushed.
  clock.advance(50);
  await db.command("update app::t { v: 2 } filter { id == 1 }");
  assert.equal(behindDurable, true, "the command ran before the lagging commit was on disk");
  // Within the window nothing waits: the command resolves before its own flush.
  let lastDurable = false;
  void db.durable(db.seq).then(() => (lastDurable = true));
  await db.command("update app::t { v: 3 } filter { id == 1 }");
  assert.equal(lastDurable, false);
  await db.close();
});

test("open() refuses options out of range, naming the option", async () => {
  const bad: Array<Record<string, unknown>> = [
    { path: "" },
    { path: "/tmp/x", segmentSizeBytes: 10 },
    { path: "/tmp/x", durabilityWindowMs: -1 },
    { path: "/tmp/x", snapshotsKept: 0 },
    { path: "/tmp/x", logRetentionMs: 1.5 },
    { commitsRetained: -1 },
  ];
  for (const options of bad) {
    const name = Object.keys(options).find((key) => key !== "path") ?? "path";
    await assert.rejects(open(options), (error: unknown) => {
      assert.ok(error instanceof Error && "code" in error && error.code === "INVALID_ARGUMENT");
      assert.match(error.message, new RegExp(name));
      return true;
    });
  }
});

test("durable(seq) refuses a seq that is not a commit of this database, naming it", async (t) => {
  const path = tempDir(t);
  const db = await open({ path, durability: "async" });
  db.createCounter("default::n").add(1);
  await db.flush();
  // NaN once hung for ever (no flush was due to resolve it); a seq never committed failed
  // an assertion. Both are the caller's mistake: INVALID_ARGUMENT with the range.
  for (const seq of [NaN, 1.5, -1, 3, Infinity, "2" as unknown as number]) {
    await assert.rejects(db.durable(seq), (error: unknown) => {
      const { code, message } = error as { code: string; message: string };
      assert.equal(code, "INVALID_ARGUMENT", String(seq));
      assert.match(message, /^durable\(\): seq must be a whole number in \[0, 2\], got /);
      return true;
    });
  }
  await db.durable(0);
  await db.durable(2);
  await db.close();
});

test("close() lets no background snapshot run on after it, nor after a reopen", async (t) => {
  const path = tempDir(t);
  const db = await open({ path, durability: "async", snapshotLogBytes: 1 });
  const rows = db.createTable("default::t", { columns: { k: "int4" }, primaryKey: "k" });
  db.transact(() => {
    for (let k = 0; k < 20_000; k++) rows.insert({ k });
  });
  await db.flush();
  await db.snapshot();
  rows.insert({ k: -1 });
  await db.flush();
  rows.insert({ k: -2 }); // past the policy: a background snapshot is due
  await db.close();
  const snapshots = join(path, "snapshots");
  const atClose = readdirSync(snapshots).sort();
  const warnings: string[] = [];
  const again = await open({ path, onMessage: (_, text) => void warnings.push(text) });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(warnings, [], "the reopen found a snapshot being written");
  assert.deepEqual(readdirSync(snapshots).sort(), atClose);
  assert.equal(again.table("default::t").size, 20_002);
  await again.close();
});

test("after close, methods that use the data directory say it is closed", async (t) => {
  const path = tempDir(t);
  const db = await open({ path, commitsRetained: 0 });
  db.createCounter("default::n").add(1);
  await db.close();
  const calls: Record<string, () => Promise<unknown>> = {
    snapshot: () => db.snapshot(),
    at: () => db.at(1),
    history: () => db.history("default::n", null),
    readCommits: () => db.readCommits(1, 10),
    logStats: () => db.logStats(),
  };
  for (const [name, call] of Object.entries(calls)) {
    await assert.rejects(call(), (error: unknown) => {
      const { code, message } = error as { code: string; message: string };
      assert.equal(code, "DATABASE_CLOSED", name);
      assert.equal(message, `db.${name}(): the database is closed`);
      return true;
    });
  }
  assert.deepEqual(readdirSync(join(path, "snapshots")), []);
});

test("readCommits refuses a negative limit or a bad fromSeq, naming both", async (t) => {
  // Nothing retained in memory: the read goes to the log, whose reader asserted on -1.
  const db = await open({ path: tempDir(t), commitsRetained: 0 });
  db.createCounter("default::n").add(1);
  for (const [fromSeq, limit] of [
    [1, -1],
    [0, 5],
    [1, NaN],
    [1.5, 5],
  ] as const) {
    await assert.rejects(db.readCommits(fromSeq, limit), {
      code: "INVALID_ARGUMENT",
      message:
        "readCommits(): fromSeq must be a whole number >= 1 and limit a whole number >= 0, " +
        `got fromSeq ${fromSeq}, limit ${limit}`,
    });
  }
  assert.deepEqual(await db.readCommits(1, 0), []);
  await db.close();
});

test("a per-commit durability but sync or async is refused, nothing committed", async (t) => {
  const db = await open({ path: tempDir(t), durability: "sync" });
  const n = db.createCounter("default::n");
  // "memory" once committed and logged as async, as if the override were honoured.
  const got = (value: unknown): string => JSON.stringify(value);
  for (const durability of ["memory", "fast", 1]) {
    assert.throws(() => db.transact(() => n.add(1), { durability: durability as never }), {
      code: "INVALID_ARGUMENT",
      message: `durability of a transaction must be sync or async, got ${got(durability)}`,
    });
  }
  assert.equal(n.get(), 0);
  assert.equal(db.seq, 1);
  await db.close();
});

test("a path opened in memory durability: what needs a log says why there is none", async (t) => {
  const path = tempDir(t);
  const db = await open({ path, durability: "memory" });
  const because =
    `a database opened with a path: this one was opened on ${path} with durability ` +
    `"memory", which writes nothing there`;
  await assert.rejects(db.snapshot(), { message: `snapshots need ${because}` });
  await assert.rejects(db.at(0), { message: `time travel needs ${because}` });
  await assert.rejects(db.history("default::n", null), { message: `history needs ${because}` });
  await db.close();
  const plain = await open();
  await assert.rejects(plain.snapshot(), {
    code: "INVALID_ARGUMENT",
    message: "snapshots need a database opened with a path",
  });
  await plain.close();
});

test("a second close() resolves only once the first has closed the directory", async (t) => {
  const path = tempDir(t);
  const db = await open({ path, durability: "async", durabilityWindowMs: 1000 });
  const n = db.createCounter("default::n");
  for (let i = 0; i < 1000; i++) n.add(1);
  const first = db.close();
  await db.close(); // once resolved at once, the log still being flushed and the lock held
  const again = await open({ path });
  assert.equal(again.counter("default::n").get(), 1000);
  await first;
  await again.close();
});

test("close() inside a transaction is refused, and a close after it works", async (t) => {
  const db = await open({ path: tempDir(t) });
  let refused: Promise<void> | undefined;
  assert.throws(() => db.transact(() => (refused = db.close())), { code: "TXN_ASYNC" });
  await assert.rejects(refused!, {
    code: "TXN_ASYNC",
    message: "db.close() cannot run inside a transaction",
  });
  await db.close();
  await assert.rejects(db.snapshot(), { code: "DATABASE_CLOSED" });
});

test("db.snapshot() inside a transaction is thrown as TXN_ASYNC, and rolls it back", async (t) => {
  const db = await open({ path: tempDir(t), snapshotLogBytes: 0 });
  const n = db.createCounter("default::n");
  assert.throws(
    () =>
      db.transact(() => {
        n.add(1);
        void db.snapshot(); // not awaited, as a procedure might: nothing may go unhandled
      }),
    { code: "TXN_ASYNC", message: /^db\.snapshot\(\) cannot run inside a transaction/ },
  );
  assert.equal(n.get(), 0);
  assert.equal((await db.snapshot()).seq, db.seq);
  await db.close();
});

/**
 * Makes every `fs.writeSync` fail with ENOSPC while `full` is set: the log writes its small
 * group commits with it (a full disk), while snapshots write through file handles.
 */
function diskFullSwitch(t: TestContext): { full: boolean } {
  const state = { full: false };
  const original = fs.writeSync;
  const failing = function (this: unknown, ...args: unknown[]): number {
    if (state.full) {
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), {
        code: "ENOSPC",
      });
    }
    return (original as (...a: unknown[]) => number).apply(this, args);
  };
  (fs as { writeSync: unknown }).writeSync = failing;
  syncBuiltinESMExports();
  t.after(() => {
    (fs as { writeSync: unknown }).writeSync = original;
    syncBuiltinESMExports();
  });
  return state;
}

test("a snapshot after or during a log failure is refused: none holds lost commits", async (t) => {
  const path = tempDir(t);
  const disk = diskFullSwitch(t);
  const db = await open({ path, durabilityWindowMs: 50, snapshotLogBytes: 0 });
  const rows = db.createTable("default::t", { columns: { id: "int8" }, primaryKey: "id" });
  db.transact(() => {
    for (let id = 0; id < 20_000; id++) rows.insert({ id });
  });
  await db.flush();
  const durableSeq = db.seq;
  disk.full = true;
  rows.insert({ id: -1 }); // async: acknowledged, its flush fails within the window
  // Running while the log fails: it must not be published with the lost commit in it.
  await assert.rejects(db.snapshot(), { code: "IO_ERROR" });
  assert.equal(db.failure?.code, "IO_ERROR");
  // Asked after the failure: refused at once, and nothing is left unhandled.
  await assert.rejects(db.snapshot(), { code: "IO_ERROR" });
  disk.full = false;
  await db.close();
  assert.deepEqual(readdirSync(join(path, "snapshots")), []);
  const again = await open({ path });
  assert.deepEqual([again.seq, again.table("default::t").has(-1)], [durableSeq, false]);
  await again.close();
});

test("open() aborted as it recovers is ABORTED, files untouched; the next recovers", async (t) => {
  const path = tempDir(t);
  const db = await open({ path, durability: "async", snapshotLogBytes: 0 });
  fill(db);
  const items = db.createTable("app::items", {
    columns: { id: "int8", v: "utf8" },
    primaryKey: "id",
  });
  for (let id = 0; id < 2000; id++) db.transact(() => items.insert({ id, v: "v".repeat(500) }));
  const expected = { ...(snapshot(db) as object), items: items.scan() };
  await db.close();
  const files = (): string[] =>
    readdirSync(path, { recursive: true, encoding: "utf8" })
      .sort()
      .map((name) => {
        const full = join(path, name);
        const bytes = fs.statSync(full).isFile() ? fs.readFileSync(full) : "";
        return `${name} ${createHash("sha256").update(bytes).digest("hex")}`;
      });
  const before = files();
  const stop = new AbortController();
  // Aborted by a task of the event loop, as a signal is, while open() is under way.
  setImmediate(() => stop.abort(new Error("SIGTERM")));
  await assert.rejects(open({ path, signal: stop.signal }), (error: unknown) => {
    assert.ok(error instanceof Error && "code" in error && error.code === "ABORTED", String(error));
    assert.match(error.message, /the data directory is unchanged/);
    return true;
  });
  assert.deepEqual(files(), before);
  const again = await open({ path, signal: new AbortController().signal });
  t.after(() => again.close());
  assert.deepEqual(
    { ...(snapshot(again) as object), items: again.table("app::items").scan() },
    expected,
  );
});

test("a long recovery reports progress within a segment, at most once a second", async (t) => {
  const path = tempDir(t);
  const db = await open({ path, durability: "async", snapshotLogBytes: 0 });
  db.createNamespace("app");
  const items = db.createTable("app::items", {
    columns: { id: "int8", v: "utf8" },
    primaryKey: "id",
  });
  for (let first = 0; first < 6000; first += 100) {
    db.transact(() => {
      for (let id = first; id < first + 100; id++) items.insert({ id, v: "v".repeat(1000) });
    });
  }
  await db.close();
  // Each reading of this clock is 0.6 s later: the recovery seems to take seconds.
  let nowMs = 0;
  const clock = { now: () => (nowMs += 600) };
  const messages: string[] = [];
  const again = await open({ path, clock, onMessage: (_kind, m) => void messages.push(m) });
  t.after(() => again.close());
  assert.equal(again.table("app::items").size, 6000);
  const percents = messages.map((m) => Number(/^recovering the log: (\d+)%$/.exec(m)?.[1]));
  assert.ok(percents.length >= 2, messages.join("\n"));
  assert.equal(percents.at(-1), 100);
  assert.deepEqual(
    percents,
    [...new Set(percents)].sort((a, b) => a - b),
    messages.join("\n"),
  );
});

// An error is an answer too: a duplicate key, a division by a value a commit wrote, or a
// procedure refusing because of that commit reveal it, so in sync durability they wait until
// it is on disk, as successful answers do (a crash could still take an unsynced commit back).
test("sync: errors that reveal a commit are answered once it is durable", async (t) => {
  const db = await open({ path: tempDir(t), durability: "sync" });
  await db.admin(
    "create namespace s; create table s::t { id: int4, v: int4 } with { primary_key: { id } }",
  );
  db.defineProcedure("s::check", {
    params: { id: "int4" },
    run: (tx, args) => {
      if (tx.table("s::t").has(args["id"])) throw new Error(`row ${String(args["id"])} exists`);
      return null;
    },
  });
  let durable = 0;
  db.addCommitListener((commit) => {
    void db.durable(commit.seq).then(() => {
      durable = Math.max(durable, commit.seq);
    });
  });
  const early: string[] = [];
  for (let id = 1; id <= 5; id++) {
    // Committed at once; its fsync comes later, in another turn of the event loop.
    db.table<{ id: number; v: number }>("s::t").insert({ id, v: 0 });
    const seq = db.seq;
    const attempts = [
      ["duplicate insert", db.command(`insert s::t [{ id: ${id}, v: 1 }]`)],
      ["division by the new v", db.query(`from s::t filter { id == ${id} } map { x: 1 / v }`)],
      ["procedure refusing", db.call("s::check", { id })],
    ] as const;
    for (const [what, attempt] of attempts) {
      await attempt.then(
        () => early.push(`${what} of ${id} succeeded`),
        () => {
          if (durable < seq) early.push(`${what}: error at durable ${durable} < ${seq}`);
        },
      );
    }
  }
  await db.close();
  assert.deepEqual(early, []);
});
