/**
 * Goal: instances behave as rcp.md §2.6 with Statebase decisions 5, 11 and 12: create, get,
 * list (ordered by id, paged), delete (tombstone, reusable id), every error code with its
 * message, `wal_offset` = commit seq, rows queryable as a table, and atomicity inside a
 * transaction (a throwing transaction or a caught failed operation leaves nothing).
 * Method: drive `db.machines` / `tx.machines` on an in-memory database with a manual clock.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { createManualClock } from "../../src/lib/clock.ts";
import { throwsDb } from "../support/assertions.ts";

const order = {
  states: ["created", "paid", "shipped"],
  initial: "created",
  transitions: [
    { from: "created", event: "PAY", to: "paid" },
    { from: "paid", event: "SHIP", to: "shipped", guard: "ctx.ready" },
  ],
};

async function orderDb(): Promise<Database> {
  const db = await open({ clock: createManualClock(1_000) });
  db.machines.put("order", 1, order);
  return db;
}

test("create: ctx defaults to {}, ids default to UUIDv4, offsets are commit seqs", async () => {
  const db = await orderDb();
  const made = db.machines.createInstance({ instance_id: "i-1", machine: "order", version: 1 });
  assert.deepEqual(made, { instance_id: "i-1", state: "created", wal_offset: db.seq });
  assert.deepEqual(db.machines.getInstance("i-1"), {
    machine: "order",
    version: 1,
    state: "created",
    ctx: {},
    last_wal_offset: db.seq,
  });
  const random = db.machines.createInstance({
    machine: "order",
    version: 1,
    initial_ctx: { a: 1 },
  });
  assert.match(
    random.instance_id,
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.deepEqual(db.machines.getInstance(random.instance_id).ctx, { a: 1 });
  const row = db.table("machine::order").get("i-1") as Record<string, unknown>;
  assert.equal(row.state, "created");
  assert.equal(row.created_at, 1_000);
  await db.close();
});

test("create errors: exists, unknown machine version, non-object ctx", async () => {
  const db = await orderDb();
  db.machines.createInstance({ instance_id: "i-1", machine: "order", version: 1 });
  throwsDb(() => db.machines.createInstance({ instance_id: "i-1", machine: "order", version: 1 }), {
    code: "INSTANCE_EXISTS",
    message: /^instance already exists: i-1$/,
  });
  throwsDb(() => db.machines.createInstance({ instance_id: "i-2", machine: "order", version: 9 }), {
    code: "MACHINE_NOT_FOUND",
    message: /^machine version not found: order v9$/,
  });
  for (const initial_ctx of [null, 5, "x", [1]]) {
    throwsDb(() => db.machines.createInstance({ machine: "order", version: 1, initial_ctx }), {
      code: "INVALID_ARGUMENT",
      message: /^initial_ctx must be a JSON object/,
    });
  }
  throwsDb(() => db.machines.getInstance("nope"), {
    code: "INSTANCE_NOT_FOUND",
    message: /^instance not found: nope$/,
  });
  await db.close();
});

test("apply: transitions, merges shallowly, echoes event_id, records history", async () => {
  const clock = createManualClock(5_000);
  const db = await open({ clock });
  db.machines.put("order", 1, order);
  db.machines.createInstance({
    instance_id: "i-1",
    machine: "order",
    version: 1,
    initial_ctx: { a: { x: 1 }, keep: true },
  });
  clock.advance(10);
  const paid = db.machines.applyEvent({
    instance_id: "i-1",
    event: "PAY",
    payload: { a: { y: 2 }, ready: true },
    event_id: "e-1",
  });
  assert.deepEqual(paid, {
    from_state: "created",
    to_state: "paid",
    ctx: { a: { y: 2 }, keep: true, ready: true },
    wal_offset: db.seq,
    applied: true,
    event_id: "e-1",
  });
  const shipped = db.machines.applyEvent({ instance_id: "i-1", event: "SHIP", payload: [1, 2] });
  assert.deepEqual(
    shipped.ctx,
    { a: { y: 2 }, keep: true, ready: true },
    "array payload: no merge",
  );
  assert.equal("event_id" in shipped, false);
  const got = db.machines.getInstance("i-1");
  assert.equal(got.last_event_id, undefined, "an event without event_id clears it (rstmdb)");
  assert.deepEqual(db.machines.history("i-1"), [
    {
      seq: paid.wal_offset,
      ts: 5_010,
      event: "PAY",
      from_state: "created",
      to_state: "paid",
      payload: { a: { y: 2 }, ready: true },
      event_id: "e-1",
    },
    {
      seq: shipped.wal_offset,
      ts: 5_010,
      event: "SHIP",
      from_state: "paid",
      to_state: "shipped",
      payload: [1, 2],
    },
  ]);
  await db.close();
});

test("apply errors: not found, invalid transition, guard, state and offset conflicts", async () => {
  const db = await orderDb();
  const made = db.machines.createInstance({ instance_id: "i-1", machine: "order", version: 1 });
  const apply = (params: Record<string, unknown>) => () =>
    db.machines.applyEvent({ instance_id: "i-1", event: "PAY", ...params });
  throwsDb(apply({ instance_id: "i-9" }), {
    code: "INSTANCE_NOT_FOUND",
    message: /^instance not found: i-9$/,
  });
  throwsDb(apply({ event: "SHIP" }), {
    code: "INVALID_TRANSITION",
    message: /^invalid transition: cannot apply 'SHIP' in state 'created'$/,
  });
  throwsDb(apply({ expected_state: "paid" }), {
    code: "STATE_CONFLICT",
    message: /^state conflict: expected 'paid', actual 'created'$/,
  });
  throwsDb(apply({ expected_wal_offset: made.wal_offset + 5 }), {
    code: "STATE_CONFLICT",
    message: new RegExp(
      `^WAL offset conflict: expected ${made.wal_offset + 5}, actual ${made.wal_offset}$`,
    ),
  });
  const seq = db.seq;
  apply({ expected_state: "created", expected_wal_offset: made.wal_offset })();
  throwsDb(apply({ event: "SHIP" }), {
    code: "GUARD_FAILED",
    message: /^guard failed: guard failed for transition 'paid' -> 'shipped' on event 'SHIP'$/,
  });
  assert.equal(db.seq, seq + 1, "failed applies commit nothing");
  await db.close();
});

test("delete: tombstone answers re-deletes, reads are NOT_FOUND, the id is reusable", async () => {
  const db = await orderDb();
  db.machines.createInstance({ instance_id: "i-1", machine: "order", version: 1 });
  db.machines.applyEvent({ instance_id: "i-1", event: "PAY" });
  const deleted = db.machines.deleteInstance({ instance_id: "i-1" });
  assert.deepEqual(deleted, { instance_id: "i-1", deleted: true, wal_offset: db.seq });
  const seq = db.seq;
  assert.deepEqual(db.machines.deleteInstance({ instance_id: "i-1" }), deleted);
  assert.equal(db.seq, seq, "a re-delete commits nothing");
  for (const read of [
    () => db.machines.getInstance("i-1"),
    () => db.machines.history("i-1"),
    () => db.machines.applyEvent({ instance_id: "i-1", event: "PAY" }),
  ]) {
    throwsDb(read, { code: "INSTANCE_NOT_FOUND" });
  }
  throwsDb(() => db.machines.deleteInstance({ instance_id: "i-9" }), {
    code: "INSTANCE_NOT_FOUND",
  });
  throwsDb(() => db.machines.deleteInstance({} as { instance_id: string }), {
    code: "INVALID_ARGUMENT",
    message: /^missing instance_id$/,
  });
  assert.equal(db.table("machine::order").has("i-1"), false);
  db.machines.createInstance({ instance_id: "i-1", machine: "order", version: 1 });
  assert.equal(db.machines.getInstance("i-1").state, "created");
  assert.deepEqual(db.machines.history("i-1"), [], "a reused id starts with no history");
  await db.close();
});

test("list: ordered by id across machines, filtered, paged", async () => {
  const db = await orderDb();
  db.machines.put("ticket", 1, { states: ["open"], initial: "open", transitions: [] });
  for (const id of ["c", "a", "e"]) {
    db.machines.createInstance({ instance_id: id, machine: "order", version: 1 });
  }
  for (const id of ["d", "b"]) {
    db.machines.createInstance({ instance_id: id, machine: "ticket", version: 1 });
  }
  db.machines.applyEvent({ instance_id: "e", event: "PAY" });
  const all = db.machines.listInstances();
  assert.deepEqual(
    all.instances.map((i) => `${i.id}:${i.machine}:${i.state}`),
    ["a:order:created", "b:ticket:open", "c:order:created", "d:ticket:open", "e:order:paid"],
  );
  assert.deepEqual(Object.keys(all.instances[0]!).sort(), [
    "created_at",
    "id",
    "last_wal_offset",
    "machine",
    "state",
    "updated_at",
    "version",
  ]);
  assert.equal(all.total, 5);
  assert.equal(all.has_more, false);
  const page = db.machines.listInstances({ limit: 2, offset: 1 });
  assert.deepEqual(
    page.instances.map((i) => i.id),
    ["b", "c"],
  );
  assert.equal(page.total, 5);
  assert.equal(page.has_more, true);
  const filtered = db.machines.listInstances({ machine: "order", state: "created" });
  assert.deepEqual(
    filtered.instances.map((i) => i.id),
    ["a", "c"],
  );
  assert.equal(filtered.total, 2);
  assert.deepEqual(db.machines.listInstances({ machine: "none" }), {
    instances: [],
    total: 0,
    has_more: false,
  });
  throwsDb(() => db.machines.listInstances({ limit: -1 }), { code: "INVALID_ARGUMENT" });
  await db.close();
});

test("inside a transaction: one commit, one offset; a throw leaves nothing", async () => {
  const db = await orderDb();
  const before = db.seq;
  const offsets = db.transact((tx) => {
    const made = tx.machines.createInstance({ instance_id: "i-1", machine: "order", version: 1 });
    const paid = tx.machines.applyEvent({ instance_id: "i-1", event: "PAY" });
    return [made.wal_offset, paid.wal_offset];
  });
  assert.deepEqual(offsets, [before + 1, before + 1]);
  assert.equal(db.seq, before + 1);
  assert.throws(() =>
    db.transact((tx) => {
      tx.machines.deleteInstance({ instance_id: "i-1" });
      tx.machines.createInstance({ instance_id: "i-2", machine: "order", version: 1 });
      tx.machines.put("other", 1, order);
      throw new Error("boom");
    }),
  );
  assert.equal(db.seq, before + 1);
  assert.throws(() => db.machines.getInstance("i-2"));
  assert.equal(db.machines.getInstance("i-1").state, "paid");
  assert.deepEqual(
    db.machines.list().items.map((i) => i.machine),
    ["order"],
  );
  // A failed operation that the caller catches leaves nothing of itself behind.
  db.transact((tx) => {
    tx.machines.createInstance({ instance_id: "i-3", machine: "order", version: 1 });
    assert.throws(() => tx.machines.applyEvent({ instance_id: "i-3", event: "SHIP" }));
  });
  assert.equal(db.machines.getInstance("i-3").state, "created");
  assert.equal(db.machines.history("i-3").length, 0);
  await db.close();
});

test("a definition rolled back after use is never applied from the compiled cache", async () => {
  const db = await open({ clock: createManualClock(1_000) });
  const toggle = (to: string) => ({
    states: ["a", to],
    initial: "a",
    transitions: [{ from: "a", event: "GO", to }],
  });
  // Compiled and cached inside a transaction that is then rolled back.
  assert.throws(() =>
    db.transact((tx) => {
      tx.machines.put("m", 1, toggle("b"));
      tx.machines.createInstance({ instance_id: "x", machine: "m", version: 1 });
      assert.equal(tx.machines.applyEvent({ instance_id: "x", event: "GO" }).to_state, "b");
      throw new Error("roll back");
    }),
  );
  throwsDb(() => db.machines.createInstance({ instance_id: "x", machine: "m", version: 1 }), {
    code: "MACHINE_NOT_FOUND",
  });
  // The same machine and version again, with another definition: its own transitions apply.
  db.machines.put("m", 1, toggle("c"));
  db.machines.createInstance({ instance_id: "x", machine: "m", version: 1 });
  assert.equal(db.machines.applyEvent({ instance_id: "x", event: "GO" }).to_state, "c");
  // Other writes to the definitions table leave the compiled machine in use.
  db.machines.put("n", 1, toggle("d"));
  db.machines.createInstance({ instance_id: "y", machine: "m", version: 1 });
  assert.equal(db.machines.applyEvent({ instance_id: "y", event: "GO" }).to_state, "c");
  await db.close();
});

test("entriesOf: rstmdb entry shapes with ctx per event, from changes alone", async () => {
  const db = await orderDb();
  const putCommit = db.lastCommit!;
  assert.deepEqual(db.machines.entriesOf(putCommit), [
    {
      type: "put_machine",
      machine: "order",
      version: 1,
      definition_hash: "eef67bea",
      definition: order,
    },
  ]);
  db.transact((tx) => {
    tx.machines.createInstance({
      instance_id: "i-1",
      machine: "order",
      version: 1,
      idempotency_key: "c1",
    });
    const payload = { ready: true };
    tx.machines.applyEvent({ instance_id: "i-1", event: "PAY", payload, event_id: "e" });
    tx.machines.applyEvent({ instance_id: "i-1", event: "SHIP", payload: { n: 2 } });
  });
  assert.throws(() => db.machines.applyEvent({ instance_id: "i-1", event: "SHIP" }));
  const entries = db.machines.entriesOf(db.lastCommit!);
  assert.deepEqual(entries, [
    {
      type: "create_instance",
      instance_id: "i-1",
      machine: "order",
      version: 1,
      initial_state: "created",
      initial_ctx: {},
      idempotency_key: "c1",
    },
    {
      type: "apply_event",
      instance_id: "i-1",
      machine: "order",
      version: 1,
      event: "PAY",
      from_state: "created",
      to_state: "paid",
      payload: { ready: true },
      ctx: { ready: true },
      event_id: "e",
    },
    {
      type: "apply_event",
      instance_id: "i-1",
      machine: "order",
      version: 1,
      event: "SHIP",
      from_state: "paid",
      to_state: "shipped",
      payload: { n: 2 },
      ctx: { ready: true, n: 2 },
    },
  ]);
  db.machines.deleteInstance({ instance_id: "i-1", idempotency_key: "d1" });
  assert.deepEqual(db.machines.entriesOf(db.lastCommit!), [
    {
      type: "delete_instance",
      instance_id: "i-1",
      machine: "order",
      version: 1,
      idempotency_key: "d1",
    },
  ]);
  db.createNamespace("app");
  db.createCounter("app::c").add(1);
  assert.deepEqual(db.machines.entriesOf(db.lastCommit!), []);
  await db.close();
});

test("instances are rows RQL can query", async () => {
  const db = await orderDb();
  for (const id of ["i-1", "i-2", "i-3"]) {
    db.machines.createInstance({ instance_id: id, machine: "order", version: 1 });
  }
  db.machines.applyEvent({ instance_id: "i-2", event: "PAY", payload: { total: 7 } });
  const result = await db.query('from machine::order filter { state == "paid" }');
  assert.deepEqual(
    result.frames[0]!.map((row) => [row.id, row.ctx]),
    [["i-2", { total: 7 }]],
  );
  await db.close();
});
