/**
 * Goal: transition effects change counters, ring buffers, queues and tables in the same
 * transaction as the transition, with values computed from ctx, payload and the transition;
 * a failing effect fails the event and leaves nothing of it.
 * Method: one machine whose PAY transition has one effect of every kind; then an effect
 * whose target is missing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import { throwsDb } from "../support/assertions.ts";

const shop = {
  states: ["created", "paid"],
  initial: "created",
  transitions: [
    {
      from: "created",
      event: "PAY",
      to: "paid",
      effects: [
        { counter: "shop::paid", add: 1 },
        { counter: "shop::revenue", add: "payload.amount", key: "ctx.region" },
        { ringbuffer: "shop::recent", push: { id: "instance_id", amount: "payload.amount" } },
        { queue: "shop::jobs", enqueue: { kind: "'ship'", order: "instance_id", at: "to_state" } },
        {
          table: "shop::orders",
          upsert: { id: "instance_id", total: "ctx.total + payload.amount", status: "'paid'" },
        },
      ],
    },
  ],
};

test("every effect kind runs in the transition's transaction", async () => {
  const db = await open();
  db.createNamespace("shop");
  db.createCounter("shop::paid");
  db.createCounter("shop::revenue", { by: { region: "utf8" } });
  db.createRingBuffer("shop::recent", { columns: { id: "utf8", amount: "int8" }, capacity: 10 });
  db.createQueue("shop::jobs");
  db.createTable("shop::orders", {
    columns: { id: "utf8", total: "int8", status: "utf8" },
    primaryKey: "id",
  });
  db.machines.put("order", 1, shop);
  db.machines.createInstance({
    instance_id: "o1",
    machine: "order",
    version: 1,
    initial_ctx: { region: "eu", total: 10 },
  });
  const seq = db.seq;
  db.machines.applyEvent({ instance_id: "o1", event: "PAY", payload: { amount: 32 } });
  assert.equal(db.seq, seq + 1, "one commit");
  assert.equal(db.counter("shop::paid").get(), 1);
  assert.equal(db.counter("shop::revenue").get("eu"), 32);
  assert.deepEqual(db.ringBuffer("shop::recent").scan(), [{ id: "o1", amount: 32 }]);
  const messages = db.queue("shop::jobs").list("ready");
  assert.deepEqual(
    messages.map((m) => m.body),
    [{ kind: "ship", order: "o1", at: "paid" }],
  );
  assert.deepEqual(db.table("shop::orders").get("o1"), { id: "o1", total: 42, status: "paid" });
  const objects = new Set(db.lastCommit!.changes.map((c) => c.object));
  for (const name of ["shop::paid", "shop::recent", "shop::jobs", "shop::orders"]) {
    assert.ok(objects.has(name), `${name} changed in the transition's commit`);
  }
  await db.close();
});

test("a failing effect fails the event: nothing of it is applied", async () => {
  const db = await open();
  db.createNamespace("shop");
  db.createCounter("shop::paid");
  db.machines.put("order", 1, shop);
  db.machines.createInstance({ instance_id: "o1", machine: "order", version: 1 });
  const seq = db.seq;
  // The message said only 'unknown object "shop::revenue"', not that an effect named it.
  throwsDb(
    () => db.machines.applyEvent({ instance_id: "o1", event: "PAY", payload: { amount: 1 } }),
    {
      code: "UNKNOWN_OBJECT",
      message:
        /^effect transitions\[0\]\.effects\[1\] on event 'PAY': unknown object "shop::revenue"$/,
    },
  );
  db.createCounter("shop::revenue");
  // A counter's own words name its internal column: "shop::revenue.amount: expected int8".
  throwsDb(
    () => db.machines.applyEvent({ instance_id: "o1", event: "PAY", payload: { amount: "x" } }),
    { code: "TYPE_MISMATCH", message: /^effect transitions\[0\]\.effects\[1\] on event 'PAY': / },
  );
  assert.equal(db.seq, seq + 1);
  assert.equal(db.counter("shop::paid").get(), 0);
  assert.equal(db.machines.getInstance("o1").state, "created");
  assert.deepEqual(db.machines.history("o1"), []);
  await db.close();
});

test("a template key named __proto__ is an ordinary key of the value it builds", async () => {
  const db = await open();
  db.createNamespace("shop");
  db.createQueue("shop::jobs");
  // Parsed, as from a client: in a literal, `__proto__` would set the prototype instead.
  const enqueue = JSON.parse('{"__proto__": "instance_id", "nested": {"__proto__": "1"}}');
  db.machines.put("m", 1, {
    states: ["a", "b"],
    initial: "a",
    transitions: [{ from: "a", event: "GO", to: "b", effects: [{ queue: "shop::jobs", enqueue }] }],
  });
  db.machines.createInstance({ instance_id: "i-1", machine: "m", version: 1 });
  db.machines.applyEvent({ instance_id: "i-1", event: "GO" });
  const [body] = db
    .queue("shop::jobs")
    .list("ready")
    .map((message) => message.body);
  assert.equal(JSON.stringify(body), '{"__proto__":"i-1","nested":{"__proto__":1}}');
  await db.close();
});
