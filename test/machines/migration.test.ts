/**
 * Goal: `migrateInstances` moves instances between versions with an explicit state map, all
 * or nothing, as one logged commit; unknown target states and unmapped states are errors.
 * Method: two versions of a machine, instances in several states, then migrations.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { createManualClock } from "../../src/lib/clock.ts";
import { throwsDb } from "../support/assertions.ts";

const v1 = {
  states: ["new", "paid", "done"],
  initial: "new",
  transitions: [
    { from: "new", event: "PAY", to: "paid" },
    { from: "paid", event: "SHIP", to: "done" },
  ],
};
const v2 = {
  states: ["created", "paid", "shipped", "delivered"],
  initial: "created",
  transitions: [
    { from: "created", event: "PAY", to: "paid" },
    { from: "paid", event: "SHIP", to: "shipped" },
    { from: "shipped", event: "DELIVER", to: "delivered" },
  ],
};

async function setUp(): Promise<Database> {
  const db = await open();
  db.machines.put("order", 1, v1);
  db.machines.put("order", 2, v2);
  for (const id of ["a", "b", "c"]) {
    db.machines.createInstance({ instance_id: id, machine: "order", version: 1 });
  }
  db.machines.applyEvent({ instance_id: "b", event: "PAY" });
  db.machines.applyEvent({ instance_id: "c", event: "PAY" });
  db.machines.applyEvent({ instance_id: "c", event: "SHIP" });
  return db;
}

test("migrates every instance of a version in one commit, mapping states", async () => {
  const db = await setUp();
  const seq = db.seq;
  const result = db.machines.migrateInstances({
    machine: "order",
    from_version: 1,
    to_version: 2,
    state_map: { new: "created", done: "shipped" },
  });
  assert.deepEqual(result, { migrated: 3, wal_offset: seq + 1 });
  assert.equal(db.seq, seq + 1);
  const states = ["a", "b", "c"].map((id) => db.machines.getInstance(id));
  assert.deepEqual(
    states.map((s) => [s.version, s.state, s.last_wal_offset]),
    [
      [2, "created", seq + 1],
      [2, "paid", seq + 1],
      [2, "shipped", seq + 1],
    ],
  );
  const delivered = db.machines.applyEvent({ instance_id: "c", event: "DELIVER" });
  assert.equal(delivered.to_state, "delivered", "v2's transitions apply after migration");
  assert.deepEqual(
    db.machines.migrateInstances({
      machine: "order",
      from_version: 1,
      to_version: 2,
      state_map: {},
    }),
    { migrated: 0, wal_offset: db.seq },
  );
  await db.close();
});

test("named instances only; errors leave everything as it was", async () => {
  const db = await setUp();
  const base = { machine: "order", from_version: 1, to_version: 2 };
  const seq = db.seq;
  throwsDb(() => db.machines.migrateInstances({ ...base, state_map: { new: "nowhere" } }), {
    code: "INVALID_ARGUMENT",
    message: /^state_map: unknown target state "nowhere" in order v2$/,
  });
  throwsDb(() => db.machines.migrateInstances({ ...base, state_map: { gone: "paid" } }), {
    code: "INVALID_ARGUMENT",
    message: /'gone' is not a state of order v1/,
  });
  throwsDb(() => db.machines.migrateInstances({ ...base, state_map: { new: "created" } }), {
    code: "INVALID_ARGUMENT",
    message: /instance c is in state 'done', which order v2 does not have/,
  });
  throwsDb(() => db.machines.migrateInstances({ ...base, to_version: 3, state_map: {} }), {
    code: "MACHINE_NOT_FOUND",
  });
  // A migration to the same version rewrote every row: timers restarted, offsets moved.
  throwsDb(() => db.machines.migrateInstances({ ...base, to_version: 1, state_map: {} }), {
    code: "INVALID_ARGUMENT",
    message: /^from_version and to_version are both 1: there is nothing to migrate$/,
  });
  throwsDb(
    () => db.machines.migrateInstances({ ...base, state_map: {}, instance_ids: ["a", "zz"] }),
    { code: "INSTANCE_NOT_FOUND" },
  );
  assert.equal(db.seq, seq);
  const one = db.machines.migrateInstances({
    ...base,
    state_map: { new: "created" },
    instance_ids: ["a"],
  });
  assert.equal(one.migrated, 1);
  assert.equal(db.machines.getInstance("b").version, 1);
  throwsDb(() => db.machines.migrateInstances({ ...base, state_map: {}, instance_ids: ["a"] }), {
    code: "STATE_CONFLICT",
    message: /instance a is at order v2, not v1/,
  });
  await db.close();
});

test("a timer keeps its deadline in a migration when the target takes its event", async () => {
  const timed = {
    states: ["pending", "paid", "expired"],
    initial: "pending",
    after: { pending: { ms: 60_000, event: "EXPIRE" } },
    transitions: [
      { from: "pending", event: "EXPIRE", to: "expired" },
      { from: "pending", event: "PAY", to: "paid", after: { ms: 30_000, event: "REMIND" } },
      { from: "paid", event: "REMIND", to: "paid" },
    ],
  };
  const clock = createManualClock(1_000);
  const db = await open({ clock });
  db.machines.put("t", 1, timed);
  db.machines.put("t", 2, { ...timed, states: [...timed.states, "archived"] });
  db.machines.put("t", 3, { ...timed, after: {}, transitions: timed.transitions.slice(1) });
  for (const id of ["waits", "paid", "drops"]) {
    db.machines.createInstance({ instance_id: id, machine: "t", version: 1 });
  }
  db.machines.applyEvent({ instance_id: "paid", event: "PAY" });
  clock.advance(25_000);
  const migrate = (to: number, ids: string[]) =>
    db.machines.migrateInstances({
      machine: "t",
      from_version: 1,
      to_version: to,
      state_map: {},
      instance_ids: ids,
    });
  migrate(2, ["waits", "paid"]);
  migrate(3, ["drops"]); // v3 has no EXPIRE: the pending timer cannot fire there
  clock.advance(5_000);
  assert.equal(db.machines.fireDueTimers(), 1, "the transition's timer: due 30 s after PAY");
  assert.equal(db.machines.getInstance("paid").state, "paid");
  clock.advance(30_000);
  assert.equal(db.machines.fireDueTimers(), 1, "the state's timer: due 60 s after creation");
  assert.equal(db.machines.getInstance("waits").state, "expired");
  assert.equal(db.machines.getInstance("drops").state, "pending");
  await db.close();
});
