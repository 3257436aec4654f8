/**
 * Goal: the per-operation paths make no closure that tsx names at run time. tsx compiles our
 * TypeScript with esbuild's keepNames, which wraps `const f = () => ...`, `f ??= () => ...`
 * and `{ now: () => ... }` written inside a function in `__name(fn, "f")`: an
 * Object.defineProperty on every closure made, ~320 ns each (a third of a point query). See
 * docs/performance.md, "Thirteenth pass".
 * Method: Object.defineProperty is wrapped before src is imported (dynamically, below), so the
 * `__name` helper each compiled module captures when it loads is the wrapper; while each
 * operation runs after a warm-up, the wrapper records where every function was named.
 */
import { test } from "node:test";
import assert from "node:assert/strict";

const defineProperty = Object.defineProperty;
let counting = false;
let sites: string[] = [];
Object.defineProperty = function <T>(
  target: T,
  key: PropertyKey,
  descriptor: PropertyDescriptor & ThisType<unknown>,
): T {
  if (counting && key === "name" && typeof target === "function") {
    // Frames: this wrapper, esbuild's __name, then the line that made the closure.
    sites.push(new Error().stack?.split("\n")[3]?.trim() ?? "?");
  }
  return defineProperty(target, key, descriptor);
};

// Imported only now, so that src's modules capture the wrapper (static imports load first).
const { open } = await import("../src/index.ts");

const warmUpRuns = 100;
const countedRuns = 100;

/** Where closures were named while `operation` ran countedRuns times after a warm-up. */
async function namedDuring(operation: (run: number) => unknown): Promise<string[]> {
  for (let run = 0; run < warmUpRuns; run++) await operation(run);
  sites = [];
  counting = true;
  try {
    for (let run = warmUpRuns; run < warmUpRuns + countedRuns; run++) await operation(run);
  } finally {
    counting = false;
  }
  return [...new Set(sites)];
}

async function bank() {
  const db = await open();
  db.createNamespace("bank");
  const accounts = db.createTable("bank::accounts", {
    columns: { id: "int8", balance: "int8", owner: "utf8" },
    primaryKey: "id",
  });
  db.transact(() => {
    for (let id = 0; id < 1000; id++) accounts.insert({ id, balance: 1000, owner: `o${id}` });
  });
  return { db, accounts };
}

test("a transfer (two reads, two updates, a counter, a histogram) names no closure", async () => {
  const { db, accounts } = await bank();
  const transfers = db.createCounter("bank::transfers");
  const amounts = db.createHistogram("bank::amounts");
  const transfer = (run: number) =>
    db.transact(() => {
      const from = accounts.get(run % 1000)!;
      const to = accounts.get((run * 7 + 1) % 1000)!;
      accounts.update(from.id, { balance: (from.balance as number) - 1 });
      accounts.update(to.id, { balance: (to.balance as number) + 1 });
      transfers.add(1);
      amounts.record(1);
    });
  assert.deepEqual(await namedDuring(transfer), []);
  await db.close();
});

test("a cached point query and a procedure call name no closure", async () => {
  const { db } = await bank();
  await db.admin(
    "create procedure bank::owner { id: int8 } as { from bank::accounts " +
      "filter { id == $id } map { owner } }",
  );
  const query = (run: number) =>
    db.query("from bank::accounts filter { id == $id }", { id: run % 1000 });
  assert.deepEqual(await namedDuring(query), []);
  assert.deepEqual(await namedDuring((run) => db.call("bank::owner", { id: run % 1000 })), []);
  await db.close();
});

test("an update maintaining a group-by, a join and a top-k view names no closure", async () => {
  const { db, accounts } = await bank();
  db.createTable("bank::owners", { columns: { name: "utf8", region: "utf8" }, primaryKey: "name" });
  db.transact(() => {
    for (let id = 0; id < 1000; id++)
      db.table("bank::owners").insert({ name: `o${id}`, region: "r" });
  });
  db.createView("bank::by_owner", {
    query: "from bank::accounts aggregate { total: math::sum(balance) } by { owner }",
  });
  db.createView("bank::by_region", {
    query:
      "from bank::accounts inner join { from bank::owners } as o using (owner, o.name) " +
      "aggregate { n: math::count(id) } by { o_region }",
  });
  db.createView("bank::top", { query: "from bank::accounts sort { balance: desc } take 3" });
  const update = (run: number) => accounts.update(run % 1000, { balance: run });
  assert.deepEqual(await namedDuring(update), []);
  await db.close();
});

test("a state machine event with a guard and effects, and queue work name no closure", async () => {
  const db = await open();
  db.createNamespace("shop");
  db.createCounter("shop::revenue");
  const jobs = db.createQueue("shop::jobs");
  db.machines.put("payment", 1, {
    states: ["pending", "paid"],
    initial: "pending",
    transitions: [
      {
        from: "pending",
        event: "PAY",
        to: "paid",
        guard: "payload.amount >= ctx.due",
        effects: [
          { counter: "shop::revenue", add: "payload.amount" },
          { queue: "shop::jobs", enqueue: { order: "instance_id" } },
        ],
      },
    ],
  });
  const instances = warmUpRuns + countedRuns;
  for (let run = 0; run < instances; run++) {
    db.machines.createInstance({
      instance_id: `p-${run}`,
      machine: "payment",
      version: 1,
      initial_ctx: { due: 1 },
    });
  }
  const pay = (run: number) =>
    db.machines.applyEvent({ instance_id: `p-${run}`, event: "PAY", payload: { amount: 5 } });
  assert.deepEqual(await namedDuring(pay), []);
  const work = () => {
    jobs.enqueue({ task: "ship" });
    const [job] = jobs.claim(1);
    jobs.ack(job!.id);
  };
  assert.deepEqual(await namedDuring(work), []);
  await db.close();
});
