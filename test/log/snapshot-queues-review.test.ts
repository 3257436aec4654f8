// Goal: queues and keyed counters, whose snapshots read a Map through a live iterator, are
// snapshotted as of the snapshot's seq while workers claim, ack, nack and requeue messages
// and counters are reset and added to between its chunks (every such write moves its key to
// the Map's end, where the reader meets it again: c9fab8f writes it once).
// Method: a seeded random workload; the database itself is the reference: after every commit
// its queue (every message of every state) and counter are read and kept by seq. Three
// snapshots are written while the workload runs; db.at of each snapshot's seq and of random
// seqs, and a reopen, must read the same. Fails before c9fab8f (claimed messages in place of
// ready ones at the snapshot's seq).
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createManualClock, open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { createPrng } from "../../src/lib/prng.ts";
import type { Prng } from "../../src/lib/prng.ts";

const keyCount = 600;

function tempPath(context: TestContext): string {
  const path = mkdtempSync(join(tmpdir(), "statebase-snapshot-queues-review-"));
  context.after(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

/** The queue's messages of every state and the counter's entries, comparable. */
function observed(db: Database): unknown {
  const q = db.queue<number>("p::q");
  const messages = (["ready", "claimed", "dead"] as const).map((state) =>
    q
      .list(state)
      .map((m) => [m.id, m.body, m.state, m.attempts, m.claim, m.availableAt])
      .sort((a, b) => Number(a[0]) - Number(b[0])),
  );
  const counts = db
    .counter("p::c")
    .entries()
    .map((entry) => [entry.key, entry.value])
    .sort((a, b) => JSON.stringify(a[0]).localeCompare(JSON.stringify(b[0])));
  return { messages, counts };
}

function step(db: Database, prng: Prng): void {
  const q = db.queue<number>("p::q");
  const c = db.counter("p::c");
  const choice = prng.int(7);
  if (choice === 0) {
    q.enqueue(prng.int(1000));
  } else if (choice === 1) {
    const claimed = q.claim(1 + prng.int(4), { visibilityMs: 5 + prng.int(20) });
    for (const message of claimed) {
      const fate = prng.int(3);
      if (fate === 0) q.ack(message.id, { claim: message.claim });
      else if (fate === 1) q.nack(message.id, { claim: message.claim, delayMs: prng.int(5) });
    }
  } else if (choice === 2) {
    const dead = q.list("dead");
    if (dead.length > 0) q.requeue(dead[prng.int(dead.length)]!.id);
  } else if (choice === 3) {
    c.reset({ k: prng.int(keyCount) });
  } else {
    c.add(1 + prng.int(3), { k: prng.int(keyCount) });
  }
}

test("queues and counters changed between a snapshot's chunks hold its seq's state", async (t) => {
  const path = tempPath(t);
  const clock = createManualClock(1_800_000_000_000);
  const db = await open({ path, clock, snapshotLogBytes: 0, snapshotsKept: Infinity });
  db.createNamespace("p");
  db.createQueue("p::q", { attempts: 2 });
  db.createCounter("p::c", { by: { k: "int4" } });
  const prng = createPrng(Number(process.env.SNAPSHOT_QUEUES_REVIEW_SEED ?? 20261129));
  db.transact(() => {
    for (let i = 0; i < 900; i++) db.queue<number>("p::q").enqueue(i);
    for (let k = 0; k < keyCount; k++) db.counter("p::c").add(1, { k });
  });
  const states = new Map<number, unknown>([[db.seq, observed(db)]]);
  const snapshotSeqs: number[] = [];
  for (let pass = 0; pass < 3; pass++) {
    const seq = db.seq;
    const writing = db.snapshot();
    let settled = false;
    void writing.then(() => (settled = true));
    while (!settled) {
      for (let i = 0; i < 4; i++) {
        clock.advance(1 + prng.int(4));
        step(db, prng);
        states.set(db.seq, observed(db));
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal((await writing).seq, seq);
    snapshotSeqs.push(seq);
  }
  const seqs = [...states.keys()];
  for (const seq of [
    ...snapshotSeqs,
    ...Array.from({ length: 5 }, () => seqs[prng.int(seqs.length)]!),
  ]) {
    const past = await db.at(seq);
    assert.deepEqual(observed(past), states.get(seq), `db.at(${seq})`);
    await past.close();
  }
  const finalState = observed(db);
  await db.close();
  const reopened = await open({ path, clock });
  assert.deepEqual(observed(reopened), finalState, "reopened");
  await reopened.close();
});
