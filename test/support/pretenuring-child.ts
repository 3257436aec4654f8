/**
 * Child of test/engine/pretenuring.test.ts, run with `--expose-gc --trace-gc
 * --trace-pretenuring-statistics`. It sets up one database with every primitive, transactional
 * views and a state machine, forces a minor GC (which settles the setup's allocation sites),
 * then runs the workload in short windows, each ended by a forced minor GC. A window is far
 * shorter than the change feed's ring, so every commit of a window is still retained at its
 * GC: if a retained object came from an object or array literal, V8 decides to pretenure that
 * literal (`undecided => maybe tenure`), which the parent sees in the trace after the first
 * forced GC. See docs/performance.md, "Runs in a slow mode" and "Eighth pass".
 *
 * Left out on purpose: secondary indexes and idempotency keys. Their entries live as long as
 * the row or the key's window, so V8 is right to allocate them in the old generation; the
 * trace cannot tell those from objects only the change feed keeps.
 */
import { open } from "../../src/index.ts";

/** Transactions per window (argument 1): well under the change feed's 1,024 retained commits. */
const windowTransactions = Number(process.argv[2]);
const windowCount = 4;
const accountCount = 1000;

const gc = (globalThis as { gc?: (options: { type: "minor" }) => void }).gc;
if (gc === undefined) throw new Error("run with --expose-gc");
if (!Number.isSafeInteger(windowTransactions)) throw new Error("usage: WINDOW_TRANSACTIONS");

const db = await open();
db.createNamespace("bank");
const accounts = db.createTable<{ id: number; owner: number; balance: number }>("bank::accounts", {
  columns: { id: "int8", owner: "int8", balance: "int8" },
  primaryKey: "id",
});
const owners = db.createTable("bank::owners", {
  columns: { id: "int8", region: "utf8" },
  primaryKey: "id",
});
const transfers = db.createCounter("bank::transfers");
const byOwner = db.createCounter("bank::by_owner", { by: { owner: "int8" } });
const amounts = db.createHistogram("bank::amounts", { max: 1_000_000, digits: 3 });
const recent = db.createRingBuffer("bank::recent", {
  columns: { account: "int8", amount: "int8" },
  capacity: 100,
});
const series = db.createSeries("bank::ticks", { columns: { t: "int8", n: "int8" }, key: "t" });
const queue = db.createQueue("bank::audit");
db.transact(() => {
  for (let id = 0; id < 10; id++) owners.insert({ id, region: `r${id % 3}` });
  for (let id = 0; id < accountCount; id++) accounts.insert({ id, owner: id % 10, balance: 1e6 });
  // Series keys live as long as their rows: V8 decides on their literal here, as on tables'.
  for (let t = -accountCount; t < 0; t++) series.insert({ t, n: 0 });
});
const views = {
  totals:
    "from bank::accounts aggregate { n: math::count(id), sum: math::sum(balance) } by { owner }",
  regions:
    "from bank::accounts inner join { from bank::owners } as o using (owner, o.id) " +
    "aggregate { n: math::count(id), sum: math::sum(balance) } by { o_region }",
  top: "from bank::accounts sort { balance: desc } take 5",
  rich: "from bank::accounts filter { balance > 1000500 } map { id, balance }",
};
db.machines.put("toggle", 1, {
  states: ["a", "b"],
  initial: "a",
  transitions: [
    { from: "a", event: "FLIP", to: "b", guard: "payload.n > 0" },
    { from: "b", event: "FLIP", to: "a" },
  ],
});
db.machines.createInstance({ instance_id: "t", machine: "toggle", version: 1 });
for (const [name, query] of Object.entries(views)) db.createView(`bank::${name}`, { query });

/**
 * A value the database keeps as given (a queue body, an event payload), parsed as a server
 * parses it: a literal of this file would be this file's allocation site, not the database's.
 */
function external(json: string): unknown {
  return JSON.parse(json) as unknown;
}

let step = 0;
function transaction(): void {
  step++;
  const from = (step * 7919) % accountCount;
  const to = (step * 104729 + 1) % accountCount;
  const amount = 1 + (step % 50);
  db.transact(() => {
    const source = accounts.get(from)!;
    const target = accounts.get(to)!;
    accounts.update(from, { balance: source.balance - amount });
    accounts.update(to, { balance: target.balance + amount });
    transfers.add(1);
    byOwner.add(1, { owner: source.owner });
    amounts.record(amount);
    recent.push({ account: from, amount });
    series.insert({ t: step, n: amount });
    queue.enqueue(external(`{"from":${from},"to":${to},"amount":${amount}}`));
    for (const message of queue.claim(1)) queue.ack(message.id);
  });
  // A second commit per step (windows stay under the feed's 1,024 commits).
  const payload = external(`{"n":${step}}`);
  const flip = { instance_id: "t", event: "FLIP", payload };
  db.machines.applyEvent(flip);
}

// No warm-up: V8 decides for each literal once, at the first scavenge that counts enough of
// its objects, and a "don't tenure" is final; the windows must be where it decides.
gc({ type: "minor" });
for (let window = 0; window < windowCount; window++) {
  for (let i = 0; i < windowTransactions; i++) transaction();
  gc({ type: "minor" });
}
await db.close();
