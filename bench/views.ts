/**
 * bench/views: what incremental views cost and what they save, in one run.
 *
 * - maintenance vs recomputation: the time of one base-row update (a transaction changing one
 *   order's total) while a view is maintained, against recomputing the same view from scratch
 *   with the RQL executor, and against SQLite running the same query (better-sqlite3, in
 *   memory, in bench/'s own install). Three views: a group-by, a join (then group-by), a top-k.
 * - write throughput with 0, 1 and 5 transactional views over the same table.
 *
 * Every figure is the median of several rounds after a warm-up. Sizes: ROWS (default
 * 1,000,000; `ROWS=100000` for a quick run), UPDATES per round, ROUNDS, and REPEATS (default
 * 5) of the write-throughput readings, which take turns so that drift falls on all alike; the
 * ratio quoted is the median of the repeats' ratios (on this VM one repeat's ratio swings by
 * ±15 %, so three repeats left the median at the mercy of one).
 * `CLOCK=cpu` times rounds in the process's CPU time (all its threads, GC included) instead of
 * wall time: on a machine shared with other work, the wall time counts the time other
 * processes ran. Run from the root: `node --import tsx bench/views.ts` (after
 * `cd bench && npm install` once).
 */
import { open } from "../src/index.ts";
import type { Database } from "../src/index.ts";
import { loadSqlite } from "./transfers.ts";

const rowCount = Number(process.env.ROWS ?? 1_000_000);
// 100,000 updates make a round of 0.3–0.7 s; a 60 ms round of 20,000 was at the mercy of a
// scavenge landing in it or in the next.
const updatesPerRound = Number(process.env.UPDATES ?? 100_000);
const rounds = Number(process.env.ROUNDS ?? 5);
const cpuClock = process.env.CLOCK === "cpu";
const throughputRepeats = Number(process.env.REPEATS ?? 5);
const customerCount = 1000;
const regionCount = 10;

const views = {
  groupBy:
    "from shop::orders aggregate { n: math::count(id), total: math::sum(total) } by { customer }",
  join:
    "from shop::orders inner join { from shop::customers } as c using (customer, c.id) " +
    "aggregate { n: math::count(id), total: math::sum(total) } by { c_region }",
  topK: "from shop::orders sort { total: desc } take 10",
  filtered: "from shop::orders filter { total > 990 } map { id, customer, total }",
  byStatus: "from shop::orders aggregate { n: math::count(id) } by { status }",
};

const sqlQueries = {
  groupBy: "SELECT customer, count(id) AS n, sum(total) AS total FROM orders GROUP BY customer",
  join:
    "SELECT c.region, count(o.id) AS n, sum(o.total) AS total FROM orders o " +
    "JOIN customers c ON o.customer = c.id GROUP BY c.region",
  topK: "SELECT * FROM orders ORDER BY total DESC LIMIT 10",
};

/** A seeded sequence (xorshift), so every run and both systems see the same data. */
function sequence(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Seconds on the chosen clock (see CLOCK above). */
function clockSeconds(): number {
  if (!cpuClock) return Number(process.hrtime.bigint()) / 1e9;
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** Median seconds of `body` over `rounds` runs after one warm-up run. */
function timeIt(body: () => void, count = rounds): number {
  body();
  const seconds: number[] = [];
  for (let round = 0; round < count; round++) {
    const start = clockSeconds();
    body();
    seconds.push(clockSeconds() - start);
  }
  return median(seconds);
}

function orderOf(id: number, random: () => number): Record<string, unknown> {
  return {
    id,
    customer: Math.floor(random() * customerCount),
    total: Math.floor(random() * 1000),
    status: random() < 0.5 ? "open" : "paid",
  };
}

async function load(): Promise<Database> {
  const db = await open();
  db.createNamespace("shop");
  const orders = db.createTable("shop::orders", {
    columns: { id: "int8", customer: "int8", total: "int8", status: "utf8" },
    primaryKey: "id",
  });
  const customers = db.createTable("shop::customers", {
    columns: { id: "int8", region: "utf8" },
    primaryKey: "id",
  });
  db.transact(() => {
    for (let id = 0; id < customerCount; id++)
      customers.insert({ id, region: `r${id % regionCount}` });
  });
  const random = sequence(42);
  const batch = 100_000;
  for (let start = 0; start < rowCount; start += batch) {
    db.transact(() => {
      for (let id = start; id < Math.min(rowCount, start + batch); id++)
        orders.insert(orderOf(id, random));
    });
  }
  return db;
}

const viewNames = ["groupBy", "join", "topK", "filtered", "byStatus"] as const;

/** Update transactions per second with the first `count` of {@link viewNames} maintained. */
function throughputWith(db: Database, count: number, seed: number): number {
  const names = viewNames.slice(0, count);
  for (const name of names) db.createView(`shop::w_${name}`, { query: views[name] });
  const rate = 1 / updateSeconds(db, seed);
  for (const name of names) db.drop(`shop::w_${name}`);
  return rate;
}

/** Seconds per update transaction (one order's total changes) with the current views. */
function updateSeconds(db: Database, seed: number): number {
  const orders = db.table("shop::orders");
  const random = sequence(seed);
  const seconds = timeIt(() => {
    for (let i = 0; i < updatesPerRound; i++) {
      orders.update(Math.floor(random() * rowCount), { total: Math.floor(random() * 1000) });
    }
  });
  return seconds / updatesPerRound;
}

function fmtSeconds(seconds: number): string {
  if (seconds < 1e-3) return `${(seconds * 1e6).toFixed(2)} µs`;
  return `${(seconds * 1e3).toFixed(1)} ms`;
}

function fmtRatio(ratio: number): string {
  return `${Math.round(ratio).toLocaleString("en-US")}×`;
}

async function sqliteSeconds(): Promise<Record<string, number> | undefined> {
  const Sqlite = await loadSqlite();
  if (Sqlite === undefined) return undefined;
  const db = new Sqlite(":memory:");
  db.exec(
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER, total INTEGER, status TEXT)",
  );
  db.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, region TEXT)");
  const insertCustomer = db.prepare("INSERT INTO customers VALUES (?, ?)");
  const insertOrder = db.prepare("INSERT INTO orders VALUES (@id, @customer, @total, @status)");
  db.transaction(() => {
    for (let id = 0; id < customerCount; id++) insertCustomer.run(id, `r${id % regionCount}`);
    const random = sequence(42);
    for (let id = 0; id < rowCount; id++) insertOrder.run(orderOf(id, random));
  })();
  const out: Record<string, number> = {};
  for (const [name, sql] of Object.entries(sqlQueries)) {
    const statement = db.prepare(sql);
    out[name] = timeIt(() => void statement.all(), 3);
  }
  db.close();
  return out;
}

async function main(): Promise<void> {
  console.log(
    `bench/views: ${rowCount.toLocaleString("en-US")} orders, ${updatesPerRound} updates/round` +
      (cpuClock ? ", CPU time" : ", wall time"),
  );
  const db = await load();
  const base = updateSeconds(db, 7);
  console.log(`update, no view                     ${fmtSeconds(base).padStart(12)} per update`);
  const sqlite = await sqliteSeconds();
  console.log("\nmaintenance (per update) vs recomputation (per query):");
  for (const name of ["groupBy", "join", "topK"] as const) {
    const query = views[name];
    const view = db.createView(`shop::${name}`, { query });
    const maintained = updateSeconds(db, 11);
    db.drop(`shop::${name}`);
    void view;
    const recompute = timeIt(() => void db.execute(query), 3);
    const sql = sqlite?.[name];
    console.log(
      `${name.padEnd(8)} update+maintain ${fmtSeconds(maintained).padStart(10)}` +
        `  recompute ${fmtSeconds(recompute).padStart(9)} (${fmtRatio(recompute / maintained)})` +
        (sql === undefined
          ? ""
          : `  sqlite ${fmtSeconds(sql).padStart(9)} (${fmtRatio(sql / maintained)})`),
    );
  }
  console.log("\nwrite throughput (update transactions/s):");
  const counts = [0, 1, 5];
  const rates = counts.map(() => [] as number[]);
  // The counts take turns, repeat after repeat: a long run drifts (the heap holds more after
  // the recomputations above), and measuring 0 views first and 5 views last put all of the
  // drift on the 5 views. Each repeat's ratio compares readings taken moments apart.
  for (let repeat = 0; repeat < throughputRepeats; repeat++) {
    counts.forEach((count, i) => rates[i]!.push(throughputWith(db, count, 13 + repeat * 7 + i)));
  }
  counts.forEach((count, i) => {
    const each = rates[i]!.map((rate) => Math.round(rate).toLocaleString("en-US")).join(", ");
    const rate = Math.round(median(rates[i]!)).toLocaleString("en-US");
    console.log(`${String(count)} views  ${rate.padStart(10)} /s   (repeats: ${each})`);
  });
  const ratios = rates[0]!.map((rate, repeat) => rate / rates[2]![repeat]!);
  console.log(
    `cost of 5 views: ${median(ratios).toFixed(2)}× (target ≤ 2×; repeats: ` +
      `${ratios.map((ratio) => `${ratio.toFixed(2)}×`).join(", ")})`,
  );
  await db.close();
}

await main();
