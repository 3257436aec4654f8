/**
 * Goal: `db.at(seq)` equals the state that existed right after commit `seq`, for random seqs,
 * whether it is rebuilt from the log alone or from a snapshot plus the log; `db.at(date)`
 * picks the last commit at or before that time; `db.history` lists every version of a key.
 * Method: a random workload records the full state after every commit as the reference;
 * snapshots are taken part way; then random seqs are rebuilt and compared.
 */
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { open, createManualClock } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { createPrng } from "../../src/lib/prng.ts";

type Row = { id: number; v: number };

/** A temporary data directory, removed after the test. */
function tempPath(context: TestContext): string {
  const path = mkdtempSync(join(tmpdir(), "statebase-tt-"));
  context.after(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

/** The table most tests write: `default::t`, keyed by `id`. */
function rowTable(db: Database) {
  return db.createTable<Row>("default::t", {
    columns: { id: "int4", v: "int8" },
    primaryKey: "id",
  });
}

function stateOf(db: Database): unknown {
  return {
    rows: db.table<Row>("h::t").scan(),
    n: db.counter("h::n").get(),
    recent: db.ringBuffer("h::r").scan(),
  };
}

test("db.at(seq) equals the state right after that commit, for random seqs", async (context) => {
  const path = tempPath(context);
  const clock = createManualClock(1_800_000_000_000);
  const db = await open({ path, clock, snapshotLogBytes: 0, snapshotsKept: Infinity });
  db.createNamespace("h");
  db.createTable("h::t", { columns: { id: "int4", v: "int8" }, primaryKey: "id" });
  db.createCounter("h::n");
  db.createRingBuffer("h::r", { columns: { v: "int8" }, capacity: 5 });
  const reference = new Map<number, unknown>([[db.seq, stateOf(db)]]);
  const times = new Map<number, number>();
  const prng = createPrng(11);
  for (let i = 0; i < 400; i++) {
    clock.advance(1 + prng.int(5));
    const id = prng.int(40);
    db.transact((tx) => {
      const t = tx.table<Row>("h::t");
      if (prng.int(4) === 0) t.del(id);
      else t.set({ id, v: prng.int(1000) });
      tx.counter("h::n").add(1);
      tx.ringBuffer("h::r").push({ v: i });
    });
    reference.set(db.seq, stateOf(db));
    times.set(db.seq, clock.now());
    if (i === 150 || i === 300) await db.snapshot();
  }
  const seqs = [...reference.keys()];
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...seqs), async (seq) => {
      const past = await db.at(seq);
      assert.equal(past.seq, seq);
      assert.deepEqual(stateOf(past), reference.get(seq));
      assert.throws(() => past.counter("h::n").add(1), { code: "READ_ONLY" });
      await past.close();
    }),
    { numRuns: 25 },
  );
  const someSeq = seqs[200]!;
  const byTime = await db.at(new Date(times.get(someSeq)!));
  assert.equal(byTime.seq, someSeq);
  await assert.rejects(db.at(db.seq + 1), { code: "INVALID_ARGUMENT" });
  await db.close();
});

test("db.history lists every version of a key with seq, time and origin", async (context) => {
  const path = tempPath(context);
  const db = await open({ path, durability: "sync" });
  const t = rowTable(db);
  t.insert({ id: 7, v: 1 });
  t.insert({ id: 8, v: 1 });
  db.transact(() => t.update(7, { v: 2 }), { origin: { kind: "procedure", detail: "bump" } });
  t.del(7);
  const versions = await db.history("t", 7);
  assert.deepEqual(
    versions.map((v) => [v.kind, v.before, v.after]),
    [
      ["insert", undefined, { id: 7, v: 1 }],
      ["update", { id: 7, v: 1 }, { id: 7, v: 2 }],
      ["delete", { id: 7, v: 2 }, undefined],
    ],
  );
  assert.deepEqual(versions[1]!.origin, { kind: "procedure", detail: "bump" });
  assert.ok(versions.every((v, i) => i === 0 || v.seq > versions[i - 1]!.seq));
  await db.close();
});

test("past states asked at once: 8 wait their turn, more are refused", async (context) => {
  const path = tempPath(context);
  const db = await open({ path, durability: "sync" });
  const t = rowTable(db);
  for (let id = 1; id <= 20; id++) t.insert({ id, v: id });
  // Ten asked for at once: eight build in turn (each a copy of the state), two are refused.
  const asked = Array.from({ length: 10 }, (_, i) => db.at(2 + i));
  const settled = await Promise.allSettled(asked);
  const refused = settled.filter((s) => s.status === "rejected");
  assert.equal(refused.length, 2);
  for (const r of refused) {
    const error = r.reason as { code: string; message: string };
    assert.equal(error.code, "LIMIT_EXCEEDED");
    assert.match(error.message, /^at\(\): 8 past states are being rebuilt or wait/);
  }
  const built = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  // Each is the state after its own commit (commit 1 created the table).
  assert.deepEqual(
    built.map((past) => past.table<Row>("default::t").size),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  for (const past of built) await past.close();
  assert.equal((await db.at(21)).table("default::t").size, 20, "turns are free again");
  await db.close();
});

test("db.at before the retained history: SEQ_NOT_RETAINED, not damage", async (context) => {
  const path = tempPath(context);
  const clock = createManualClock(1_800_000_000_000);
  const options = { path, clock, segmentSizeBytes: 4096, snapshotLogBytes: 0, snapshotsKept: 1 };
  const db = await open({ ...options, durability: "sync" });
  const t = rowTable(db);
  for (let v = 0; v < 200; v++) {
    clock.advance(1000);
    t.set({ id: 1, v });
  }
  await db.snapshot();
  const kept = await db.snapshot(); // the log before the older snapshot is removed
  const firstSeq = (await db.logStats())?.firstSeq ?? 0;
  assert.ok(firstSeq > 1, "retention removed the start of the log");
  for (const target of [1, firstSeq - 1, new Date(1_800_000_000_000 + 5000)]) {
    await assert.rejects(db.at(target), {
      code: "SEQ_NOT_RETAINED",
      message: new RegExp(`the oldest state kept is at seq ${kept.seq}`),
    });
  }
  const empty = await db.at(0); // before the first commit: empty, whatever was removed
  assert.deepEqual([empty.seq, empty.system("objects")], [0, []]);
  const past = await db.at(kept.seq);
  assert.equal(past.table<Row>("default::t").get(1)?.v, 199);
  await db.close();
});

test("a snapshot taken right after a restart keeps the time of its state", async (context) => {
  const path = tempPath(context);
  const clock = createManualClock(1_800_000_000_000);
  const options = { path, clock, segmentSizeBytes: 4096, snapshotLogBytes: 0, snapshotsKept: 1 };
  const db = await open(options);
  const t = rowTable(db);
  for (let v = 0; v < 40; v++) {
    clock.advance(1000);
    t.set({ id: v, v });
  }
  const when = new Date(clock.now() + 500);
  await db.snapshot();
  await db.close();
  clock.advance(3_600_000);
  // Reopened from that snapshot, no commit since: the new snapshot holds the same state,
  // an hour old, and replaces the old one (the log before it goes too).
  const again = await open(options);
  await again.snapshot();
  const past = await again.at(when);
  assert.deepEqual([past.seq, past.table<Row>("default::t").size], [again.seq, 40]);
  await again.close();
});

test("with logRetentionMs, at() rebuilds the whole span, disk stays bounded", async (context) => {
  const path = tempPath(context);
  const clock = createManualClock(1_800_000_000_000);
  const minuteMs = 60_000;
  const db = await open({
    path,
    clock,
    segmentSizeBytes: 4096,
    snapshotLogBytes: 0,
    logRetentionMs: 60 * minuteMs,
  });
  const t = rowTable(db);
  const seqAt = new Map<number, number>(); // minute -> seq of its commit
  // Three hours, one commit a minute, a snapshot every ten minutes (two kept).
  for (let minute = 1; minute <= 180; minute++) {
    clock.advance(minuteMs);
    t.set({ id: 1, v: minute });
    seqAt.set(minute, db.seq);
    if (minute % 10 === 0) await db.snapshot();
  }
  // Every moment of the last hour was once refused: no snapshot was old enough to start from.
  for (const minute of [121, 130, 150, 175, 180]) {
    const past = await db.at(new Date(1_800_000_000_000 + minute * minuteMs));
    assert.equal(past.seq, seqAt.get(minute), `minute ${minute}`);
    assert.equal(past.table<Row>("default::t").get(1)?.v, minute, `minute ${minute}`);
    await past.close();
  }
  // Bounded: the two newest snapshots, the span's base and the next one; at most two
  // spans and a snapshot interval of log (from minute 50), not all three hours.
  const stats = (await db.logStats())!;
  assert.ok(stats.snapshotCount <= 4, `${stats.snapshotCount} snapshots kept`);
  assert.ok(stats.firstSeq >= seqAt.get(50)!, `the log starts at seq ${stats.firstSeq}`);
  await db.close();
});

test("reads of the log during retention find every file they listed", async (context) => {
  const path = tempPath(context);
  const options = { segmentSizeBytes: 4096, snapshotLogBytes: 0, snapshotsKept: 1 };
  const db = await open({ path, ...options, commitsRetained: 0 });
  const t = rowTable(db);
  // Each round the snapshot's retention removes segments while the reads list and open
  // them; history() failed with 'storage open failed ... ENOENT' in a third of the rounds.
  for (let round = 0; round < 30; round++) {
    for (let id = 0; id < 40; id++) t.set({ id, v: round });
    await db.flush();
    const snapshot = db.snapshot();
    const reads = await Promise.allSettled([
      db.history("default::t", 3),
      db.at(db.seq),
      db.readCommits(db.seq - 10, 5),
      db.logStats(),
    ]);
    await snapshot;
    for (const read of reads) if (read.status === "rejected") throw read.reason;
    const past = (reads[1] as PromiseFulfilledResult<Database>).value;
    assert.equal(past.table<Row>("default::t").get(3)?.v, round);
    await past.close();
  }
  await db.close();
});
