/**
 * Goal: idempotency keys work as decision 6 says: create, apply and delete retried with a key
 * return the original result (apply with `applied: false`) without a second change; a key
 * reused for a different request is IDEMPOTENCY_MISMATCH; keys expire after the window, by
 * commit time; and keys survive a restart because they live in a logged table.
 * Method: manual clock; a temp-dir database closed and reopened for the restart case.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { createManualClock } from "../../src/lib/clock.ts";
import { machineIdempotencyKeyLengthMax } from "../../src/lib/limits.ts";
import { throwsDb } from "../support/assertions.ts";

const order = {
  states: ["created", "paid"],
  initial: "created",
  transitions: [
    { from: "created", event: "PAY", to: "paid" },
    { from: "paid", event: "PAY", to: "paid" },
  ],
};

test("apply retried with its key: the original result, applied false, no new commit", async () => {
  const db = await open();
  db.machines.put("order", 1, order);
  db.machines.createInstance({ instance_id: "i", machine: "order", version: 1 });
  const request = { instance_id: "i", event: "PAY", payload: { a: 1 }, idempotency_key: "k" };
  const first = db.machines.applyEvent(request);
  const seq = db.seq;
  const retry = db.machines.applyEvent({ ...request, payload: { a: 1 } });
  assert.deepEqual(retry, { ...first, applied: false });
  assert.equal(db.seq, seq);
  assert.equal(db.machines.history("i").length, 1);
  throwsDb(() => db.machines.applyEvent({ ...request, payload: { a: 2 } }), {
    code: "IDEMPOTENCY_MISMATCH",
    message: /^idempotency key 'k' was already used for a different apply_event request/,
  });
  // The same key on another instance is another request scope (rstmdb keys by instance).
  db.machines.createInstance({ instance_id: "j", machine: "order", version: 1 });
  assert.equal(db.machines.applyEvent({ ...request, instance_id: "j" }).applied, true);
  await db.close();
});

test("create and delete retried with their keys return the original result", async () => {
  const db = await open();
  db.machines.put("order", 1, order);
  const params = { machine: "order", version: 1, initial_ctx: { n: 1 }, idempotency_key: "c" };
  const created = db.machines.createInstance(params);
  assert.deepEqual(db.machines.createInstance(params), created, "the generated id is kept");
  assert.equal(db.machines.listInstances().total, 1);
  throwsDb(() => db.machines.createInstance({ ...params, initial_ctx: { n: 2 } }), {
    code: "IDEMPOTENCY_MISMATCH",
  });
  const id = created.instance_id;
  const deleted = db.machines.deleteInstance({ instance_id: id, idempotency_key: "d" });
  const seq = db.seq;
  assert.deepEqual(db.machines.deleteInstance({ instance_id: id, idempotency_key: "d" }), deleted);
  assert.equal(db.seq, seq);
  await db.close();
});

test("keys expire after the window, decided by commit time", async () => {
  const clock = createManualClock(0);
  const db = await open({ clock, machines: { idempotencyWindowMs: 1_000 } });
  db.machines.put("order", 1, order);
  db.machines.createInstance({ instance_id: "i", machine: "order", version: 1 });
  const request = { instance_id: "i", event: "PAY", idempotency_key: "k" };
  db.machines.applyEvent(request);
  clock.advance(999);
  assert.equal(db.machines.applyEvent(request).applied, false);
  clock.advance(1);
  const again = db.machines.applyEvent({ ...request, payload: { other: true } });
  assert.equal(again.applied, true, "an expired key is free for any request");
  assert.equal(again.from_state, "paid");
  // Writes that store a key purge expired ones, so the table stays bounded.
  clock.advance(5_000);
  db.machines.applyEvent({ instance_id: "i", event: "PAY", idempotency_key: "fresh" });
  const keys = db.table("machine::_idempotency").scan() as Array<{ key: string }>;
  assert.deepEqual(
    keys.map((row) => row.key),
    ["fresh"],
  );
  await db.close();
});

test("keys survive a restart (snapshot plus log): retries get the original results", async () => {
  const dir = mkdtempSync(join(tmpdir(), "statebase-machines-"));
  try {
    let db: Database = await open({ path: dir });
    db.machines.put("order", 1, order);
    const created = db.machines.createInstance({
      machine: "order",
      version: 1,
      idempotency_key: "c",
    });
    const id = created.instance_id;
    await db.snapshot(); // recovery then loads the snapshot and replays the apply after it
    const applied = db.machines.applyEvent({ instance_id: id, event: "PAY", idempotency_key: "a" });
    await db.close();
    db = await open({ path: dir });
    assert.deepEqual(
      db.machines.createInstance({ machine: "order", version: 1, idempotency_key: "c" }),
      created,
    );
    assert.deepEqual(
      db.machines.applyEvent({ instance_id: id, event: "PAY", idempotency_key: "a" }),
      {
        ...applied,
        applied: false,
      },
    );
    assert.equal(db.machines.history(id).length, 1);
    // Time travel rebuilds the machine tables as of a past commit, like any table.
    const past = await db.at(created.wal_offset);
    assert.equal(past.machines.getInstance(id).state, "created");
    assert.throws(() => past.machines.applyEvent({ instance_id: id, event: "PAY" }));
    await past.close();
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an idempotency key longer than the limit is refused, not kept for the window", async () => {
  const db = await open();
  db.machines.put("m", 1, order);
  const key = "k".repeat(machineIdempotencyKeyLengthMax + 1);
  const tooLong = { code: "LIMIT_EXCEEDED", message: /idempotency_key may have at most/ } as const;
  throwsDb(
    () => db.machines.createInstance({ machine: "m", version: 1, idempotency_key: key }),
    tooLong,
  );
  db.machines.createInstance({ instance_id: "i", machine: "m", version: 1 });
  throwsDb(
    () => db.machines.applyEvent({ instance_id: "i", event: "PAY", idempotency_key: key }),
    tooLong,
  );
  throwsDb(() => db.machines.deleteInstance({ instance_id: "i", idempotency_key: key }), tooLong);
  const fits = "k".repeat(machineIdempotencyKeyLengthMax);
  db.machines.applyEvent({ instance_id: "i", event: "PAY", idempotency_key: fits });
  await db.close();
});

test("keys belong to the instance they were used on: an id created again is new", async () => {
  const db = await open();
  db.machines.put("order", 1, order);
  const create = { instance_id: "r", machine: "order", version: 1 };
  db.machines.createInstance(create);
  const apply = { instance_id: "r", event: "PAY", idempotency_key: "k" };
  const first = db.machines.applyEvent(apply);
  const remove = { instance_id: "r", idempotency_key: "d" };
  db.machines.deleteInstance(remove);
  assert.equal(db.machines.deleteInstance(remove).wal_offset, first.wal_offset + 1);
  db.machines.createInstance(create);
  const again = db.machines.applyEvent(apply);
  assert.equal(again.applied, true, "applied to the new instance, not the old one's answer");
  assert.equal(again.from_state, "created");
  assert.equal(db.machines.getInstance("r").state, "paid");
  assert.equal(db.machines.history("r").length, 1);
  const deleted = db.machines.deleteInstance(remove);
  assert.equal(deleted.wal_offset, db.seq, "the new instance is deleted");
  assert.throws(() => db.machines.getInstance("r"), { code: "INSTANCE_NOT_FOUND" });
  await db.close();
});
