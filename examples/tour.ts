// A tour of every primitive. test/examples.test.ts runs it; each assert is a documented result.
import assert from "node:assert/strict";
import { open, createManualClock } from "statebase";

const clock = createManualClock(Date.UTC(2026, 0, 1));
const db = await open({ clock }); // no path: in memory only

db.createNamespace("shop");
const orders = db.createTable("shop::orders", {
  columns: {
    id: { type: "int8", autoIncrement: true },
    customer: "utf8",
    total: "float8",
    status: "Option(utf8)",
  },
  primaryKey: "id",
  indexes: [
    { name: "by_customer", columns: ["customer"] },
    { name: "by_total", columns: ["total"], ordered: true },
  ],
});
orders.insert({ customer: "ada", total: 12.5 });
orders.insert({ customer: "bob", total: 150 });
assert.deepEqual(orders.get(1), { id: 1, customer: "ada", total: 12.5, status: null });
assert.equal(orders.range("by_total", { lower: 100 })[0]?.customer, "bob");

const recent = db.createRingBuffer("shop::recent", { columns: { page: "utf8" }, capacity: 2 });
for (const page of ["home", "cart", "pay"]) recent.push({ page });
assert.deepEqual(recent.scan(), [{ page: "cart" }, { page: "pay" }]); // "home" was evicted

const temps = db.createSeries("shop::temps", {
  columns: { at: "datetime", celsius: "float8" },
  key: "at",
});
temps.insert({ at: new Date(Date.UTC(2026, 0, 1, 12)), celsius: 21.5 });
assert.equal(temps.range({ from: new Date(Date.UTC(2026, 0, 1)) }).length, 1);

const hits = db.createCounter("shop::hits", { by: { page: "utf8" } });
hits.add(2, "home");
assert.equal(hits.get("home"), 2);

const latency = db.createHistogram("shop::latency", { max: 60_000, digits: 3 });
for (const ms of [10, 20, 30, 40, 1000]) latency.record(ms);
assert.equal(latency.percentile(50), 30);

const jobs = db.createQueue("shop::jobs", { visibility: "30s", attempts: 5 });
jobs.enqueue({ task: "email" }, { dedupKey: "welcome-ada" });
assert.equal(jobs.enqueue({ task: "email" }, { dedupKey: "welcome-ada" }).enqueued, false);
const [job] = jobs.claim(1);
assert.ok(job);
jobs.ack(job.id, { claim: job.claim }); // only this claim: once it expires, a re-claim wins
assert.equal(jobs.size, 0);

// A throw undoes the whole transaction; the error carries a stable code.
assert.throws(
  () =>
    db.transact(() => {
      orders.update(1, { status: "paid" });
      orders.insert({ id: 1, customer: "eve", total: 1 }); // duplicate key
    }),
  { code: "CONSTRAINT_VIOLATION" },
);
assert.equal(orders.get(1)?.status, null);

// Every commit is one ordered list of changes, readable from any retained seq.
for await (const commit of db.changes({ fromSeq: 1 })) {
  assert.equal(commit.seq, 1);
  assert.equal(commit.changes[0]?.kind, "create_namespace");
  break;
}
await db.close();
console.log("tour ok:", db.seq, "commits");
