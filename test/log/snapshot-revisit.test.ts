/**
 * Goal: a snapshot written while commits run holds each entry once, as of its seq, also an
 * entry its reader had already read that a commit then deleted and set again.
 * Method: views, counters and queues read their Map through a live iterator, which visits such
 * a key a second time (it moved to the end). Take a snapshot of 1,000 entries (several chunks)
 * and, between its chunks, make keys near the front leave and come back (a view row, a
 * counter key, a queue message claimed); then read the database as of the snapshot's seq and
 * reopen it. Before the fix the view restored "inserted a view row twice" (the database did not
 * open), a counter took its later value and a claimed message replaced its ready copy.
 */
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";

function tempPath(context: TestContext): string {
  const path = mkdtempSync(join(tmpdir(), "statebase-revisit-"));
  context.after(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

const entryCount = 1_000; // several chunks of 256

/** Takes a snapshot of `db` and runs `between` once per event-loop turn until it is written. */
async function snapshotWhile(db: Database, between: (round: number) => void): Promise<number> {
  const seq = db.seq;
  const writing = db.snapshot();
  let settled = false;
  void writing.then(() => (settled = true));
  for (let round = 0; !settled; round++) {
    between(round);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal((await writing).seq, seq);
  return seq;
}

test("view rows and counter keys read, then removed and set again, are in it once", async (t) => {
  const path = tempPath(t);
  const db = await open({ path, snapshotLogBytes: 0, snapshotsKept: Infinity });
  db.createNamespace("p");
  const a = db.createTable<{ id: number; y: number }>("p::a", {
    columns: { id: "int4", y: "int4" },
    primaryKey: "id",
  });
  a.insertMany(Array.from({ length: entryCount }, (_, id) => ({ id, y: 1 })));
  db.createView("p::v", { query: "from p::a filter { y > 0 }" });
  const counter = db.createCounter("p::c", { by: { k: "int4" } });
  db.transact(() => {
    for (let key = 0; key < entryCount; key++) counter.add(1, key);
  });
  // A new key each round: one moved earlier would be read once, at the end.
  const seq = await snapshotWhile(db, (round) => {
    a.update(round, { y: 0 });
    a.update(round, { y: 2 });
    counter.reset(round);
    counter.add(5, round);
  });
  const past = await db.at(seq);
  const view = past.view("p::v").scan();
  assert.deepEqual(
    view.filter((row) => row["y"] !== 1),
    [],
    "the view as of the snapshot's seq",
  );
  assert.equal(view.length, entryCount);
  const counts = past.counter("p::c").entries();
  assert.deepEqual(
    counts.filter((entry) => entry.value !== 1),
    [],
    "the counter as of the snapshot's seq",
  );
  assert.equal(counts.length, entryCount);
  await past.close();
  await db.close();
  const reopened = await open({ path });
  assert.equal(reopened.view("p::v").scan().length, entryCount);
  await reopened.close();
});

test("queue messages claimed while it is written are ready in it", async (t) => {
  const path = tempPath(t);
  const db = await open({ path, snapshotLogBytes: 0, snapshotsKept: Infinity });
  db.createNamespace("p");
  const q = db.createQueue<number>("p::q");
  db.transact(() => {
    for (let i = 0; i < entryCount; i++) q.enqueue(i);
  });
  const seq = await snapshotWhile(db, () => void q.claim(3));
  const past = await db.at(seq);
  assert.equal(past.queue("p::q").list("ready").length, entryCount);
  await past.close();
  await db.close();
  const reopened = await open({ path });
  assert.ok(reopened.queue("p::q").list("ready").length < entryCount);
  await reopened.close();
});
