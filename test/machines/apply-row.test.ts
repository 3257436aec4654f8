/**
 * Goal: APPLY_EVENT reads the instance's stored row (no copy) and then updates it in place;
 * what it reports and records as the state it left is still the state before the update,
 * and a row handed out earlier (GET_INSTANCE) does not change with later events.
 * Method: a two-state machine whose transitions enqueue their from and to states; apply
 * events and compare the answer, the history, the effects' values and an earlier read.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import { throwsDb } from "../support/assertions.ts";

const effects = [{ queue: "m::moves", enqueue: { from: "from_state", to: "to_state" } }];
const toggle = {
  states: ["a", "b"],
  initial: "a",
  transitions: [
    { from: "a", event: "GO", to: "b", effects },
    { from: "b", event: "GO", to: "a", effects },
    { from: "a", event: "FAIL", to: "b", effects: [{ counter: "m::missing", add: 1 }] },
  ],
};

async function openToggle() {
  const db = await open();
  db.createNamespace("m");
  db.createQueue("m::moves");
  db.machines.put("t", 1, toggle);
  db.machines.createInstance({ instance_id: "i", machine: "t", version: 1, initial_ctx: {} });
  return db;
}

test("an applied event reports and records the state it left, not the one it entered", async () => {
  const db = await openToggle();
  const first = db.machines.applyEvent({ instance_id: "i", event: "GO", payload: { n: 1 } });
  const second = db.machines.applyEvent({ instance_id: "i", event: "GO", payload: { n: 2 } });
  assert.deepEqual([first.from_state, first.to_state], ["a", "b"]);
  assert.deepEqual([second.from_state, second.to_state], ["b", "a"]);
  const history = db.machines.history("i").map((t) => [t.from_state, t.to_state]);
  assert.deepEqual(history, [
    ["a", "b"],
    ["b", "a"],
  ]);
  const moves = db
    .queue("m::moves")
    .list("ready")
    .map((m) => m.body);
  assert.deepEqual(moves, [
    { from: "a", to: "b" },
    { from: "b", to: "a" },
  ]);
});

test("an instance read before an event does not change with it", async () => {
  const db = await openToggle();
  const before = db.machines.getInstance("i");
  db.machines.applyEvent({ instance_id: "i", event: "GO", payload: { n: 1 } });
  assert.equal(before.state, "a");
  assert.deepEqual(before.ctx, {});
  assert.equal(db.machines.getInstance("i").state, "b");
  assert.deepEqual(db.machines.getInstance("i").ctx, { n: 1 });
});

test("a failed event leaves the stored row as it was", async () => {
  const db = await openToggle();
  const before = db.machines.getInstance("i");
  throwsDb(() => db.machines.applyEvent({ instance_id: "i", event: "FAIL" }), {
    code: "UNKNOWN_OBJECT",
  });
  assert.deepEqual(db.machines.getInstance("i"), before);
  const after = db.machines.applyEvent({ instance_id: "i", event: "GO" });
  assert.equal(after.from_state, "a");
});
