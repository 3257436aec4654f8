// Goal: queues deliver messages by claim with a visibility timeout that expires exactly when
// the clock reaches it, count attempts, dead-letter a message after its attempt limit (by nack
// or by an expired claim), honour not-before times, delays and dedup keys, requeue dead
// messages, and refuse malformed arguments (claim counts, delays, visibilities, bodies) with
// errors naming the queue. Every step is an insert/update/delete change keyed by message id,
// and rollback undoes claims and enqueues.
// Method: black box through the embedded API with a manual clock, so every expiry is driven
// deterministically by advancing time to one millisecond before and exactly at the deadline.
import { test, describe } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { open, createManualClock } from "../../src/index.ts";
import type { Change, Database, ManualClock, QueueHandle, QueueMessage } from "../../src/index.ts";
import { Queue, queueDefinition } from "../../src/primitives/index.ts";
import { throwsDb } from "../support/assertions.ts";

function assertChange(change: Change | undefined, expected: Change): void {
  assert.ok(change !== undefined, "a change was recorded");
  assert.deepEqual(Object.keys(change).sort(), ["after", "before", "key", "kind", "object"]);
  assert.deepEqual({ ...change }, { ...expected });
}

const t0 = 1_000_000;
const visibilityMs = 10_000;

interface Fixture {
  db: Database;
  clock: ManualClock;
  q: QueueHandle<{ job: string }>;
}

/** A schema-free queue with a 10 s visibility and at most `attempts` claims per message. */
async function jobs(attempts = 3): Promise<Fixture> {
  const clock = createManualClock(t0);
  const db = await open({ clock });
  const q = db.createQueue<{ job: string }>("jobs", { visibility: "10s", attempts });
  return { db, clock, q };
}

const idsOf = (messages: readonly QueueMessage[]): unknown[] => messages.map((m) => m.id);

describe("enqueue and claim", () => {
  test("claims go in enqueue order and set attempts and a visibility deadline", async () => {
    const { q } = await jobs();
    assert.deepEqual(q.enqueue({ job: "a" }), { id: 1, enqueued: true });
    assert.deepEqual(q.enqueue({ job: "b" }), { id: 2, enqueued: true });
    q.enqueue({ job: "c" });
    assert.equal(q.size, 3);
    const claimed = q.claim(2);
    assert.deepEqual(idsOf(claimed), [1, 2]);
    assert.deepEqual(claimed[0], {
      id: 1,
      body: { job: "a" },
      state: "claimed",
      attempts: 1,
      claim: 1,
      availableAt: t0 + visibilityMs,
      enqueuedAt: t0,
      dedupKey: null,
      order: 1,
    });
    assert.deepEqual(idsOf(q.claim(5)), [3]);
    assert.deepEqual(q.claim(5), [], "nothing is due");
    assert.deepEqual(idsOf(q.list("claimed")), [1, 2, 3]);
    assert.deepEqual(q.list("ready"), []);
  });

  test("claim count defaults to 1; visibility may be set per claim", async () => {
    const { q, clock } = await jobs();
    q.enqueue({ job: "a" });
    q.enqueue({ job: "b" });
    assert.deepEqual(idsOf(q.claim()), [1]);
    const [b] = q.claim(1, { visibilityMs: 500 });
    assert.equal(b?.availableAt, t0 + 500);
    clock.advance(500);
    assert.deepEqual(idsOf(q.claim(5)), [2], "the short claim expired first");
  });

  test("ack removes a claimed message", async () => {
    const { q } = await jobs();
    q.enqueue({ job: "a" });
    q.claim();
    q.ack(1);
    assert.equal(q.get(1), undefined);
    assert.equal(q.size, 0);
  });

  test("bodies are copied at enqueue; messages are frozen", async () => {
    const { q } = await jobs();
    const body = { job: "a" };
    q.enqueue(body);
    body.job = "changed";
    const message = q.get(1)!;
    assert.deepEqual(message.body, { job: "a" });
    assert.ok(Object.isFrozen(message));
    assert.ok(Object.isFrozen(q.claim()[0]));
  });
});

describe("visibility timeouts", () => {
  test("a claim is valid until one ms before its deadline and expires exactly at it", async () => {
    const { q, clock } = await jobs();
    q.enqueue({ job: "a" });
    q.enqueue({ job: "b" });
    q.claim(2);
    clock.advance(visibilityMs - 1);
    assert.deepEqual(q.claim(5), [], "not redelivered before the deadline");
    q.ack(1);
    clock.advance(1);
    throwsDb(() => q.ack(2), {
      code: "NOT_CLAIMED",
      object: "default::jobs",
      value: "2",
      message: /message 2 is not claimed \(its claim expired\)/,
    });
    const again = q.claim(5);
    assert.deepEqual(idsOf(again), [2], "redelivered at the deadline");
    assert.equal(again[0]?.attempts, 2);
    assert.equal(again[0]?.availableAt, t0 + 2 * visibilityMs);
  });

  test("an expired claim out of attempts is dead-lettered by the next claim", async () => {
    const { q, clock, db } = await jobs(2);
    q.enqueue({ job: "a" });
    q.claim(1);
    clock.advance(visibilityMs);
    assert.deepEqual(idsOf(q.claim(1)), [1]);
    assert.equal(q.get(1)?.attempts, 2);
    clock.advance(visibilityMs);
    q.enqueue({ job: "b" });
    assert.deepEqual(idsOf(q.claim(1)), [2], "message 1 went dead instead of being claimed");
    assert.equal(q.get(1)?.state, "dead");
    assert.deepEqual(idsOf(q.list("dead")), [1]);
    const changes = db.lastCommit?.changes ?? [];
    assert.deepEqual(
      changes.map((c) => [c.kind, c.key, (c.after as QueueMessage).state]),
      [
        ["update", 1, "dead"],
        ["update", 2, "claimed"],
      ],
    );
    throwsDb(() => q.ack(1), { code: "NOT_CLAIMED", message: /\(it is dead\)/ });
  });
});

describe("nack, attempts and dead letters", () => {
  test("nack makes a message ready again, at once or after a delay", async () => {
    const { q, clock } = await jobs();
    q.enqueue({ job: "a" });
    q.claim();
    q.nack(1);
    assert.equal(q.get(1)?.state, "ready");
    assert.equal(q.get(1)?.attempts, 1);
    assert.deepEqual(idsOf(q.claim()), [1]);
    q.nack(1, 2_000);
    assert.equal(q.get(1)?.availableAt, t0 + 2_000);
    clock.advance(1_999);
    assert.deepEqual(q.claim(), []);
    clock.advance(1);
    const [third] = q.claim();
    assert.equal(third?.attempts, 3);
  });

  test("a nack after the last allowed attempt dead-letters the message", async () => {
    const { q } = await jobs(2);
    q.enqueue({ job: "a" });
    q.claim();
    q.nack(1);
    q.claim();
    q.nack(1);
    assert.equal(q.get(1)?.state, "dead");
    assert.deepEqual(q.claim(5), [], "dead messages are never claimed");
    assert.deepEqual(idsOf(q.list("dead")), [1]);
  });

  test("requeue makes a dead message ready with its attempts reset", async () => {
    const { q, clock } = await jobs(1);
    q.enqueue({ job: "a" });
    q.claim();
    q.nack(1);
    clock.advance(5);
    q.requeue(1);
    assert.deepEqual(
      { ...q.get(1)! },
      {
        id: 1,
        body: { job: "a" },
        state: "ready",
        attempts: 0,
        claim: 1,
        availableAt: t0 + 5,
        enqueuedAt: t0,
        dedupKey: null,
        order: 1,
      },
    );
    assert.equal(q.claim()[0]?.attempts, 1);
    throwsDb(() => q.requeue(1), {
      code: "NOT_FOUND",
      object: "default::jobs",
      value: "1",
      message: /no dead message 1/,
    });
  });

  test("del removes a message in any state and is idempotent", async () => {
    const { q } = await jobs(1);
    q.enqueue({ job: "ready" });
    q.enqueue({ job: "claimed" });
    q.enqueue({ job: "dead" });
    q.claim(1);
    q.claim(2);
    q.nack(3);
    assert.deepEqual(
      [q.get(1)?.state, q.get(2)?.state, q.get(3)?.state],
      ["claimed", "claimed", "dead"],
    );
    q.enqueue({ job: "still ready" });
    for (const id of [1, 2, 3, 4]) assert.equal(q.del(id), true);
    assert.equal(q.del(1), false);
    assert.equal(q.size, 0);
  });

  test("ack and nack need a live claim; unknown ids are NOT_FOUND", async () => {
    const { q } = await jobs();
    q.enqueue({ job: "a" });
    throwsDb(() => q.ack(1), {
      code: "NOT_CLAIMED",
      object: "default::jobs",
      value: "1",
      message: /\(it is ready\)/,
    });
    throwsDb(() => q.nack(1), { code: "NOT_CLAIMED" });
    throwsDb(() => q.ack(99), {
      code: "NOT_FOUND",
      object: "default::jobs",
      value: "99",
      message: /no message 99/,
    });
    throwsDb(() => q.nack(99), { code: "NOT_FOUND" });
  });
});

describe("claim tokens", () => {
  test("each claim carries a number of its own, which requeue does not reset", async () => {
    const { q, clock } = await jobs(1);
    q.enqueue({ job: "a" });
    assert.equal(q.get(1)?.claim, 0, "never claimed");
    assert.equal(q.claim()[0]?.claim, 1);
    clock.advance(visibilityMs);
    assert.deepEqual(q.claim(), [], "the expired claim, out of attempts, is dead-lettered");
    q.requeue(1);
    const again = q.claim()[0];
    assert.equal(again?.attempts, 1, "requeue resets attempts");
    assert.equal(again?.claim, 2, "but never the claim number");
  });

  test("a worker whose claim expired cannot settle the claim that replaced it", async () => {
    const { q, clock } = await jobs();
    q.enqueue({ job: "a" });
    const first = q.claim()[0]!;
    clock.advance(visibilityMs);
    const second = q.claim()[0]!;
    assert.equal(second.id, first.id);
    for (const settle of [
      () => q.ack(first.id, { claim: first.claim }),
      () => q.nack(first.id, { claim: first.claim }),
      () => q.nack(first.id, { claim: first.claim, delayMs: 5 }),
    ]) {
      throwsDb(settle, {
        code: "NOT_CLAIMED",
        object: "default::jobs",
        value: "1",
        message: /claim 1 of message 1 is over: the message was claimed again \(claim 2\)/,
      });
    }
    assert.deepEqual(q.get(1), second, "the second worker still holds it");
    throwsDb(() => q.ack(1, { claim: 9 }), {
      code: "NOT_CLAIMED",
      message: /message 1 has no claim 9 \(claim 2\)/,
    });
    q.nack(second.id, { claim: second.claim, delayMs: 5 });
    assert.equal(q.get(1)?.state, "ready");
    assert.equal(q.get(1)?.availableAt, t0 + visibilityMs + 5);
    clock.advance(5);
    const third = q.claim()[0]!;
    q.ack(third.id, { claim: third.claim });
    assert.equal(q.size, 0);
  });

  test("claim numbers are never reused in a queue, even by a message of a reused id", async () => {
    const clock = createManualClock(t0);
    const db = await open({ clock });
    const q = db.createQueue("default::typed", { columns: { id: "int4", job: "utf8" } });
    q.enqueue({ id: 7, job: "a" });
    const stale = q.claim()[0]!;
    clock.advance(visibilityMs * 3);
    assert.equal(q.del(7), true, "an operator removes the stuck message");
    q.enqueue({ id: 7, job: "b" });
    const fresh = q.claim()[0]!;
    assert.notEqual(fresh.claim, stale.claim);
    throwsDb(() => q.ack(7, { claim: stale.claim }), { code: "NOT_CLAIMED" });
    q.ack(7, { claim: fresh.claim });
    // A rolled-back claim hands its number out again, as the log never saw it.
    q.enqueue({ id: 8, job: "c" });
    assert.throws(() =>
      db.transact(() => {
        q.claim();
        throw new Error("worker crashed");
      }),
    );
    assert.equal(q.claim()[0]?.claim, fresh.claim + 1);
  });

  test("settling without a claim number still works; a malformed one is refused", async () => {
    const { q } = await jobs();
    q.enqueue({ job: "a" });
    q.enqueue({ job: "b" });
    q.claim(2);
    for (const claim of [0.5, -1, "1", Number.NaN]) {
      throwsDb(() => q.ack(1, { claim: claim as number }), {
        code: "INVALID_ARGUMENT",
        object: "default::jobs",
        message: /claim must be a whole number >= 0/,
      });
    }
    q.ack(1);
    q.nack(2, 0);
    assert.deepEqual(
      q.list("ready").map((m) => [m.id, m.claim]),
      [[2, 2]],
    );
  });

  test("claim numbers survive a reopen from the log", async () => {
    const path = mkdtempSync(join(tmpdir(), "statebase-queue-"));
    try {
      const clock = createManualClock(t0);
      const db = await open({ path, clock });
      const q = db.createQueue("default::jobs", { visibility: "10s" });
      q.enqueue({ job: "a" });
      q.claim();
      clock.advance(visibilityMs);
      q.claim();
      await db.snapshot();
      q.enqueue({ job: "b" });
      await db.close();
      const again = await open({ path, clock });
      const reopened = again.queue("default::jobs");
      assert.equal(reopened.get(1)?.claim, 2);
      throwsDb(() => reopened.ack(1, { claim: 1 }), { code: "NOT_CLAIMED" });
      reopened.ack(1, { claim: 2 });
      assert.equal(reopened.claim()[0]?.claim, 3, "the next claim number survives too");
      await again.close();
    } finally {
      rmSync(path, { recursive: true, force: true });
    }
  });
});

describe("not-before, delays and dedup keys", () => {
  test("notBefore (ms or Date) and delayMs hold a message back; the later one wins", async () => {
    const { q, clock } = await jobs();
    q.enqueue({ job: "at" }, { notBefore: t0 + 300 });
    q.enqueue({ job: "date" }, { notBefore: new Date(t0 + 100) });
    q.enqueue({ job: "delay" }, { delayMs: 200 });
    q.enqueue({ job: "both" }, { delayMs: 50, notBefore: t0 + 400 });
    q.enqueue({ job: "past" }, { notBefore: t0 - 1_000 });
    assert.deepEqual(idsOf(q.claim(10)), [5], "a past not-before is now");
    clock.advance(99);
    assert.deepEqual(q.claim(10), []);
    clock.advance(1);
    assert.deepEqual(idsOf(q.claim(10)), [2]);
    clock.advance(300);
    assert.deepEqual(idsOf(q.claim(10)), [3, 1, 4], "claimed in order of availability");
  });

  test("a dedup key matching a message still in the queue enqueues nothing", async () => {
    const { db, q } = await jobs(1);
    assert.deepEqual(q.enqueue({ job: "a" }, { dedupKey: "k" }), { id: 1, enqueued: true });
    const seq = db.seq;
    assert.deepEqual(q.enqueue({ job: "b" }, { dedupKey: "k" }), { id: 1, enqueued: false });
    assert.equal(db.seq, seq, "a deduplicated enqueue commits nothing");
    assert.equal(q.size, 1);
    q.claim();
    assert.equal(q.enqueue({ job: "c" }, { dedupKey: "k" }).enqueued, false, "while claimed");
    q.nack(1);
    assert.equal(q.enqueue({ job: "d" }, { dedupKey: "k" }).enqueued, false, "while dead");
    q.del(1);
    assert.deepEqual(q.enqueue({ job: "e" }, { dedupKey: "k" }), { id: 2, enqueued: true });
    assert.equal(q.get(2)?.dedupKey, "k");
  });

  test("a dedup key longer than 1,024 characters is LIMIT_EXCEEDED", async () => {
    // Each key is kept, and looked up, for as long as its message stays in the queue.
    const { db, q } = await jobs();
    const seq = db.seq;
    throwsDb(() => q.enqueue({ job: "a" }, { dedupKey: "k".repeat(1025) }), {
      code: "LIMIT_EXCEEDED",
      object: "default::jobs",
      message: /dedupKey is longer than 1024 characters/,
    });
    assert.equal(db.seq, seq);
    assert.equal(q.enqueue({ job: "a" }, { dedupKey: "k".repeat(1024) }).enqueued, true);
  });
});

describe("typed queues", () => {
  test("a uuid7 id is generated from the transaction's time; bodies are typed", async () => {
    const clock = createManualClock(0x0189_0a5d_ac96);
    const db = await open({ clock });
    const q = db.createQueue("mail", { columns: { id: "uuid7", to: "utf8", tries: "int1" } });
    const { id, enqueued } = q.enqueue({ to: "ada", tries: 0 });
    assert.equal(enqueued, true);
    assert.match(String(id), /^01890a5d-ac96-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(q.get(id)?.body, { id, to: "ada", tries: 0 });
    throwsDb(() => q.enqueue({ to: "bob", tries: 200 }), {
      code: "OUT_OF_RANGE",
      object: "default::mail",
      column: "tries",
      value: "200",
    });
    throwsDb(() => q.enqueue({ to: 5, tries: 0 }), {
      code: "TYPE_MISMATCH",
      column: "to",
    });
    throwsDb(() => q.enqueue({ to: "x", tries: 0, cc: "y" }), {
      code: "UNKNOWN_COLUMN",
      column: "cc",
    });
    assert.equal(q.size, 1);
  });

  test("an integer id must be given and must be unique", async () => {
    const db = await open();
    const q = db.createQueue("orders", { columns: { id: "int8", total: "int4" } });
    assert.deepEqual(q.enqueue({ id: 7, total: 1 }), { id: 7, enqueued: true });
    throwsDb(() => q.enqueue({ total: 1 }), {
      code: "MISSING_COLUMN",
      object: "default::orders",
      column: "id",
    });
    throwsDb(() => q.enqueue({ id: 7, total: 2 }), {
      code: "CONSTRAINT_VIOLATION",
      object: "default::orders",
      value: "7",
      message: /message 7 exists/,
    });
  });

  test("a queue with columns needs an id column", async () => {
    const db = await open();
    throwsDb(() => db.createQueue("q", { columns: { job: "utf8" } }), {
      code: "INVALID_SCHEMA",
      object: "default::q",
      message: /needs an id column/,
    });
  });

  test("a message id that may be none is INVALID_SCHEMA naming the column", async () => {
    const db = await open();
    throwsDb(() => db.createQueue("q", { columns: { id: "Option(int4)", job: "utf8" } }), {
      code: "INVALID_SCHEMA",
      object: "default::q",
      column: "id",
      message: /id column is Option\(int4\), which may be none/,
    });
    await assert.rejects(db.admin("create queue default::q2 { id: Option(uuid7), n: int4 }"), {
      code: "INVALID_SCHEMA",
    });
    assert.deepEqual(db.system("objects"), []);
  });
});

describe("malformed arguments", () => {
  test("claim count must be an integer in [1, 10000]", async () => {
    const { db, q } = await jobs();
    q.enqueue({ job: "a" });
    const seq = db.seq;
    for (const count of [0, -1, 1.5, 10_001, Number.NaN]) {
      throwsDb(() => q.claim(count), {
        code: "INVALID_ARGUMENT",
        object: "default::jobs",
        message: new RegExp(`claim count must be an integer in \\[1, 10000\\], got ${count}`),
      });
    }
    assert.equal(db.seq, seq);
    assert.equal(q.claim(10_000).length, 1);
  });

  test("claim visibility must be a positive integer of ms", async () => {
    const { q } = await jobs();
    q.enqueue({ job: "a" });
    for (const ms of [0, -5, 1.5]) {
      throwsDb(() => q.claim(1, { visibilityMs: ms }), {
        code: "INVALID_ARGUMENT",
        object: "default::jobs",
        message: /visibilityMs must be a positive integer/,
      });
    }
    assert.equal(q.get(1)?.state, "ready");
  });

  test("negative or fractional delays are refused", async () => {
    const { q } = await jobs();
    throwsDb(() => q.enqueue({ job: "a" }, { delayMs: -1 }), {
      code: "INVALID_ARGUMENT",
      object: "default::jobs",
      message: /delayMs must be a whole number >= 0/,
    });
    throwsDb(() => q.enqueue({ job: "a" }, { delayMs: 0.5 }), { code: "INVALID_ARGUMENT" });
    throwsDb(() => q.enqueue({ job: "a" }, { notBefore: Number.NaN }), {
      code: "INVALID_ARGUMENT",
      message: /notBefore must be a time/,
    });
    throwsDb(() => q.enqueue({ job: "a" }, { notBefore: new Date(Number.NaN) }), {
      code: "INVALID_ARGUMENT",
    });
    throwsDb(() => q.enqueue({ job: "a" }, { dedupKey: 5 as never }), {
      code: "INVALID_ARGUMENT",
      message: /dedupKey must be text/,
    });
    assert.equal(q.size, 0);
    q.enqueue({ job: "a" });
    q.claim();
    for (const delay of [-5, 1.5]) {
      throwsDb(() => q.nack(1, delay), {
        code: "INVALID_ARGUMENT",
        object: "default::jobs",
        message: /delayMs must be a whole number >= 0/,
      });
    }
    assert.equal(q.get(1)?.state, "claimed");
  });

  test("bodies must be data the log carries back as it was", async () => {
    const { q } = await jobs();
    throwsDb(() => q.enqueue({ job: "a", run: () => 1 } as never), {
      code: "TYPE_MISMATCH",
      object: "default::jobs",
      message: /a function cannot be stored/,
    });
    // Each was enqueued, then came back from the log as {} (or stopped the commit: NaN).
    for (const [body, message] of [
      [new Map([["job", "a"]]), /a Map cannot be stored/],
      [{ job: "a", tags: new Set(["x"]) }, /a Set cannot be stored/],
      [{ job: "a", at: Number.NaN }, /only finite numbers/],
      [{ job: "a", at: new Date(Number.NaN) }, /an invalid date cannot be stored/],
    ] as const) {
      throwsDb(() => q.enqueue(body as never), {
        code: "TYPE_MISMATCH",
        object: "default::jobs",
        message,
      });
    }
    assert.equal(q.size, 0);
    const kept = { job: "a", at: new Date(5), n: 7n, bytes: new Uint8Array([1]) };
    const { id } = q.enqueue(kept);
    assert.deepEqual(q.get(id)?.body, kept);
  });

  test("a refused body leaves a log that opens again with every other message", async () => {
    const path = mkdtempSync(join(tmpdir(), "statebase-queue-"));
    try {
      const db = await open({ path, durability: "sync" });
      const q = db.createQueue("default::jobs");
      q.enqueue({ job: "a" });
      throwsDb(() => q.enqueue({ at: new Date(Number.NaN) }), { code: "TYPE_MISMATCH" });
      q.enqueue({ job: "b" });
      await db.durable();
      await db.close();
      const again = await open({ path });
      const bodies = again.queue("default::jobs").list("ready");
      assert.deepEqual(
        bodies.map((m) => m.body),
        [{ job: "a" }, { job: "b" }],
      );
      await again.close();
    } finally {
      rmSync(path, { recursive: true, force: true });
    }
  });

  test("definitions: attempts in [1, 1000000], visibility positive, durations parse", async () => {
    const db = await open();
    for (const attempts of [0, 1.5, 1_000_001]) {
      throwsDb(() => db.createQueue("q", { attempts }), {
        code: "INVALID_SCHEMA",
        object: "default::q",
        message: /attempts must be an integer in \[1, 1000000\]/,
      });
    }
    for (const visibility of [0, -1, 2.5]) {
      throwsDb(() => db.createQueue("q", { visibility }), {
        code: "INVALID_SCHEMA",
        object: "default::q",
        message: /visibility must be a positive whole number of ms/,
      });
    }
    throwsDb(() => db.createQueue("q", { visibility: "soon" }), {
      code: "INVALID_SCHEMA",
      object: "q",
      value: "soon",
      message: /^q: .*"soon"/,
    });
    assert.deepEqual(db.system("objects"), []);
    const q = db.createQueue("q", { visibility: "1m30s", attempts: 1_000_000 });
    q.enqueue({});
    // The claim's own commit time, not db.now after it: the wall clock may have moved on.
    const [claimed] = q.claim();
    assert.equal(claimed?.availableAt, db.lastCommit!.ts + 90_000);
  });

  test("unknown queues and other kinds are refused by name", async () => {
    const db = await open();
    db.createSeries("s", { columns: { t: "int8" }, key: "t" });
    throwsDb(() => db.queue("nope"), { code: "UNKNOWN_OBJECT", object: "nope" });
    throwsDb(() => db.queue("s"), {
      code: "WRONG_OBJECT_KIND",
      object: "default::s",
      message: /is a series, not a queue/,
    });
  });
});

describe("changes and rollback", () => {
  test("enqueue, claim, nack and ack record insert, update, update and delete", async () => {
    const { db, q } = await jobs();
    q.enqueue({ job: "a" });
    const ready = q.get(1)!;
    assertChange(db.lastCommit?.changes[0], {
      object: "default::jobs",
      kind: "insert",
      key: 1,
      before: undefined,
      after: ready,
    });
    const [claimed] = q.claim();
    assertChange(db.lastCommit?.changes[0], {
      object: "default::jobs",
      kind: "update",
      key: 1,
      before: ready,
      after: claimed,
    });
    q.nack(1);
    const nacked = q.get(1)!;
    assert.equal((db.lastCommit?.changes[0]?.after as QueueMessage).state, "ready");
    q.claim();
    const reclaimed = q.get(1)!;
    assert.notDeepEqual(reclaimed, nacked);
    q.ack(1);
    assertChange(db.lastCommit?.changes[0], {
      object: "default::jobs",
      kind: "delete",
      key: 1,
      before: reclaimed,
      after: undefined,
    });
  });

  test("rollback undoes claims, acks and enqueues, including dedup keys and ids", async () => {
    const { db, q } = await jobs();
    q.enqueue({ job: "a" });
    q.enqueue({ job: "b" });
    q.claim();
    const before = [q.get(1), q.get(2)];
    assert.throws(() =>
      db.transact(() => {
        q.ack(1);
        q.claim(5);
        q.enqueue({ job: "c" }, { dedupKey: "k" });
        throw new Error("undo");
      }),
    );
    assert.deepEqual([q.get(1), q.get(2)], before);
    assert.equal(q.size, 2);
    assert.deepEqual(q.enqueue({ job: "d" }, { dedupKey: "k" }), { id: 3, enqueued: true });
  });

  test("a claim whose view fails, caught in the transaction, claims nothing", async () => {
    const { db, q } = await jobs();
    // Fails for the second message's claim only (attempts 1, id 2).
    db.createView("v", { query: "from jobs map { r: 10 / (attempts * 3 - id - 1) }" });
    q.enqueue({ job: "a" });
    q.enqueue({ job: "b" });
    const before = [q.get(1), q.get(2)];
    db.transact(() => {
      throwsDb(() => q.claim(2), { code: "DIVISION_BY_ZERO" });
      assert.deepEqual([q.get(1), q.get(2)], before, "no message claimed by the failed claim");
    });
    assert.deepEqual(idsOf(q.list("ready")), [1, 2]);
    assert.deepEqual(idsOf(q.claim(1)), [1], "the first message is still there to claim");
  });
});

describe("times stay whole, safe milliseconds", () => {
  const century = 100 * 365 * 24 * 60 * 60 * 1000;

  test("a fractional or out-of-range notBefore is refused naming the queue", async () => {
    const { q } = await jobs();
    for (const notBefore of [t0 + 0.5, 1e300, 8.64e15 + 1, -Infinity]) {
      throwsDb(() => q.enqueue({ job: "a" }, { notBefore }), {
        code: "INVALID_ARGUMENT",
        object: "default::jobs",
        message: /default::jobs: notBefore must be a time/,
      });
    }
    assert.equal(q.size, 0);
    const { id } = q.enqueue({ job: "a" }, { notBefore: 8.64e15 });
    assert.equal(q.get(id)?.availableAt, 8.64e15, "the last Date is a time");
  });

  test("visibility and delays longer than 100 years are refused", async () => {
    const { db, q } = await jobs();
    throwsDb(() => db.createQueue("huge", { visibility: Number.MAX_SAFE_INTEGER }), {
      code: "INVALID_SCHEMA",
      object: "default::huge",
      message: /visibility must be at most 3153600000000 ms \(100 years\)/,
    });
    throwsDb(() => db.createQueue("long", { visibility: "36501d" }), {
      code: "INVALID_SCHEMA",
      message: /visibility must be at most/,
    });
    assert.ok(db.createQueue("century", { visibility: century }));
    throwsDb(() => q.enqueue({ job: "a" }, { delayMs: century + 1 }), {
      code: "INVALID_ARGUMENT",
      object: "default::jobs",
      message: /delayMs must be at most 3153600000000/,
    });
    q.enqueue({ job: "a" });
    throwsDb(() => q.claim(1, { visibilityMs: Number.MAX_SAFE_INTEGER }), {
      code: "INVALID_ARGUMENT",
      object: "default::jobs",
      message: /visibilityMs must be at most 3153600000000/,
    });
    const [claimed] = q.claim(1, { visibilityMs: century });
    assert.ok(Number.isSafeInteger(claimed?.availableAt));
    throwsDb(() => q.nack(1, century + 1), {
      code: "INVALID_ARGUMENT",
      message: /delayMs must be at most 3153600000000/,
    });
    assert.equal(q.get(1)?.state, "claimed");
  });

  test("a replayed definition with a longer visibility still opens", () => {
    const definition = queueDefinition("old::q", { visibility: Number.MAX_SAFE_INTEGER });
    assert.throws(() => new Queue(definition, true), /visibility must be at most/);
    assert.equal(new Queue(definition, false).definition.visibilityMs, Number.MAX_SAFE_INTEGER);
  });
});

describe("ids as given", () => {
  test("get, ack, nack and del read an id in the id column's type", async () => {
    const db = await open();
    const q = db.createQueue("mail", { columns: { id: "uuid7", to: "utf8" } });
    const { id } = q.enqueue({ to: "ada" });
    const upper = String(id).toUpperCase();
    assert.equal(q.get(upper)?.id, id, "a uuid in capitals is the same uuid");
    q.claim();
    q.nack(upper, { delayMs: 0 });
    q.claim();
    q.ack(upper);
    assert.equal(q.size, 0);
    const wide = db.createQueue("wide", { columns: { id: "int16" } });
    wide.enqueue({ id: 5 });
    assert.equal(wide.get("5")?.id, 5n, "text for a wide int, as JSON carries it");
    assert.equal(wide.del("5"), true);
    throwsDb(() => q.get("not a uuid"), {
      code: "TYPE_MISMATCH",
      object: "default::mail",
      column: "id",
    });
  });

  test("a schema-free queue's ids are whole numbers; text spelling one finds it", async () => {
    const { q } = await jobs();
    q.enqueue({ job: "a" });
    assert.equal(q.get("1")?.id, 1);
    assert.equal(q.get(1n)?.id, 1);
    throwsDb(() => q.ack("x"), { code: "TYPE_MISMATCH", object: "default::jobs" });
  });
});
