/**
 * Property: views over every input kind other than tables (a partitioned ring buffer, whose
 * evictions are deletes; a series with range deletes; a queue whose messages change state;
 * a state machine's instance table) and chains of views over those views hold exactly what
 * the same pipeline gives recomputed from scratch, after every commit and inside
 * transactions that then roll back.
 * Method: fast-check generates transactions of random operations on the four inputs (some
 * thrown away at the end); after each one every view is compared with the RQL executor over
 * the current rows (test/views/support.ts). Chains are checked link by link.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { assertViewMatches } from "./support.ts";

const views: ReadonlyArray<readonly [string, string]> = [
  [
    "p::by_page",
    "from p::recent aggregate { n: math::count(ms), hi: math::max(ms), s: math::sum(ms), " +
      "f: math::first(ms), l: math::last(ms) } by { page }",
  ],
  ["p::slow", "from p::recent filter { ms > 4 } map { page, ms }"],
  ["p::slowest", "from p::recent sort { ms: desc } take 2 map { ms }"],
  ["p::pages", "from p::recent distinct { page }"],
  ["p::warm", "from p::temps filter { celsius > 20 }"],
  ["p::matched", "from p::recent inner join { from p::temps } as t using (ms, t.at)"],
  ["p::unmatched", "from p::recent left join { from p::temps } as t using (ms, t.at)"],
  ["p::keys", "from p::recent map { k: ms } append { from p::temps map { k: at } }"],
  ["p::job_states", "from p::jobs aggregate { n: math::count(id) } by { state }"],
  ["p::tasks", 'from p::jobs filter { state == "ready" } map { task }'],
  ["p::order_states", "from machine::order aggregate { n: math::count(id) } by { state }"],
  // Chains: views over the views above.
  ["p::busy_pages", "from p::by_page filter { n > 1 } map { page, n }"],
  ["p::matched_total", "from p::matched aggregate { n: math::count(ms), s: math::sum(t_celsius) }"],
  ["p::slow_top", "from p::slow sort { ms } take 3 map { ms }"],
  ["p::paid", 'from p::order_states filter { state == "paid" }'],
];

type Op =
  | { kind: "push"; page: string; ms: number }
  | { kind: "measure"; at: number; celsius: number }
  | { kind: "forget"; from: number; to: number }
  | { kind: "enqueue"; task: string }
  | { kind: "claim"; count: number }
  | { kind: "settle"; ack: boolean }
  | { kind: "order" }
  | { kind: "event"; event: "PAY" | "SHIP"; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("push" as const),
    page: fc.constantFrom("a", "b", "c"),
    ms: fc.integer({ min: 0, max: 9 }),
  }),
  fc.record({
    kind: fc.constant("measure" as const),
    at: fc.integer({ min: 0, max: 9 }),
    celsius: fc.integer({ min: 10, max: 30 }),
  }),
  fc.record({
    kind: fc.constant("forget" as const),
    from: fc.integer({ min: 0, max: 9 }),
    to: fc.integer({ min: 0, max: 10 }),
  }),
  fc.record({ kind: fc.constant("enqueue" as const), task: fc.constantFrom("x", "y") }),
  fc.record({ kind: fc.constant("claim" as const), count: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ kind: fc.constant("settle" as const), ack: fc.boolean() }),
  fc.record({ kind: fc.constant("order" as const) }),
  fc.record({
    kind: fc.constant("event" as const),
    event: fc.constantFrom("PAY" as const, "SHIP" as const),
    pick: fc.nat(),
  }),
);

async function createInputs(): Promise<Database> {
  const db = await open();
  db.createNamespace("p");
  db.createRingBuffer("p::recent", {
    columns: { page: "utf8", ms: "int8" },
    capacity: 2,
    partitionBy: "page",
  });
  db.createSeries("p::temps", { columns: { at: "int8", celsius: "float8" }, key: "at" });
  db.createQueue("p::jobs", { columns: { id: "uuid7", task: "utf8" } });
  db.machines.put("order", 1, {
    states: ["created", "paid", "shipped"],
    initial: "created",
    transitions: [
      { from: "created", event: "PAY", to: "paid" },
      { from: "paid", event: "SHIP", to: "shipped" },
    ],
  });
  return db;
}

function apply(db: Database, op: Op): void {
  switch (op.kind) {
    case "push":
      db.ringBuffer("p::recent").push({ page: op.page, ms: op.ms });
      return;
    case "measure": {
      const temps = db.series("p::temps");
      temps.deleteRange({ from: op.at, to: op.at + 1 });
      temps.insert({ at: op.at, celsius: op.celsius });
      return;
    }
    case "forget":
      db.series("p::temps").deleteRange({ from: op.from, to: op.to });
      return;
    case "enqueue":
      db.queue("p::jobs").enqueue({ task: op.task });
      return;
    case "claim":
      db.queue("p::jobs").claim(op.count);
      return;
    case "settle": {
      const jobs = db.queue("p::jobs");
      const claimed = jobs.list("claimed")[0];
      if (claimed === undefined) return;
      if (op.ack) jobs.ack(claimed.id);
      else jobs.nack(claimed.id);
      return;
    }
    case "order":
      db.machines.createInstance({ machine: "order", version: 1 });
      return;
    case "event": {
      const instances = db.machines.listInstances({ machine: "order" }).instances;
      const target = instances[op.pick % Math.max(instances.length, 1)];
      if (target === undefined) return;
      const next = target.state === "created" ? "PAY" : "SHIP";
      if (next !== op.event || target.state === "shipped") return;
      db.machines.applyEvent({ instance_id: target.id, event: op.event });
      return;
    }
  }
}

function checkAll(db: Database, context: string): void {
  for (const [name, query] of views) assertViewMatches(db, name, query, context);
}

test("views over ring buffers, series, queues and machines equal recomputation", async () => {
  const txnArb = fc.record({
    ops: fc.array(opArb, { minLength: 1, maxLength: 5 }),
    rollback: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(opArb, { maxLength: 6 }),
      fc.array(txnArb, { minLength: 1, maxLength: 8 }),
      async (before, txns) => {
        const db = await createInputs();
        for (const op of before) apply(db, op);
        for (const [name, query] of views) db.createView(name, { query });
        checkAll(db, "after population");
        for (const txn of txns) {
          try {
            db.transact(() => {
              for (const op of txn.ops) apply(db, op);
              checkAll(db, "inside the transaction");
              if (txn.rollback) throw new Error("rolled back");
            });
          } catch (error) {
            assert.equal((error as Error).message, "rolled back");
          }
          checkAll(db, `after ${JSON.stringify(txn)}`);
        }
        await db.close();
      },
    ),
    { numRuns: 40 },
  );
});
