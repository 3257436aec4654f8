// State machines: a payment that expires unless paid, counts revenue and queues shipping.
// test/machines/docs.test.ts runs it and compares its output with docs/machines.md.
import { createManualClock, open } from "statebase";

const clock = createManualClock(Date.UTC(2026, 0, 1));
const db = await open({ clock });
db.createNamespace("shop");
db.createCounter("shop::revenue");
db.createQueue("shop::shipping");

const put = db.machines.put("payment", 1, {
  states: ["pending", "paid", "expired"],
  initial: "pending",
  after: { pending: { ms: 60_000, event: "EXPIRE" } },
  transitions: [
    {
      from: "pending",
      event: "PAY",
      to: "paid",
      guard: "payload.amount >= ctx.due",
      effects: [
        { counter: "shop::revenue", add: "payload.amount" },
        { queue: "shop::shipping", enqueue: { order: "instance_id", amount: "payload.amount" } },
      ],
    },
    { from: "pending", event: "EXPIRE", to: "expired" },
  ],
});
console.log("checksum", put.stored_checksum);

for (const id of ["p-1", "p-2"]) {
  db.machines.createInstance({
    instance_id: id,
    machine: "payment",
    version: 1,
    initial_ctx: { due: 30 },
  });
}
const paid = db.machines.applyEvent({
  instance_id: "p-1",
  event: "PAY",
  payload: { amount: 42 },
  idempotency_key: "pay-p-1",
});
console.log("p-1", paid.from_state, "->", paid.to_state, JSON.stringify(paid.ctx));
const retry = db.machines.applyEvent({
  instance_id: "p-1",
  event: "PAY",
  payload: { amount: 42 },
  idempotency_key: "pay-p-1",
});
console.log("retry applied:", retry.applied, "same offset:", retry.wal_offset === paid.wal_offset);

clock.advance(60_000);
console.log("timers fired:", db.machines.fireDueTimers());
console.log("p-2", db.machines.getInstance("p-2").state);
console.log("revenue", db.counter("shop::revenue").get());
console.log(
  "shipping",
  JSON.stringify(
    db
      .queue("shop::shipping")
      .list("ready")
      .map((m) => m.body),
  ),
);
await db.close();
