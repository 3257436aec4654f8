/**
 * bench/engine: the embedded engine's hot paths, with SQLite as the peer, in one run.
 *
 * - transfer: read two account rows, check funds, update both, add to a counter, record the
 *   amount in a histogram; one transaction each (`db.transact`).
 * - point reads: primary-key `get` of a random account.
 * - SQLite peer: the same transfer on better-sqlite3 (in memory, prepared statements, one
 *   `db.transaction` per transfer; the histogram is a bucket-count table).
 *
 * Every figure is the median of several timed rounds after a warm-up round; both systems
 * see the same seeded sequence of accounts and amounts. Run: `cd bench && npm install`, then
 * `npm run engine` (or `node --import tsx bench/engine.ts` from the root).
 */
import { cpus } from "node:os";
import { getHeapSpaceStatistics } from "node:v8";
import { open } from "../src/index.ts";
import { loadSqlite, makeTransfers, prepareSqliteTransfer } from "./transfers.ts";

const accountCount = Number(process.env.ACCOUNTS ?? 100_000);
const transfersPerRound = Number(process.env.TRANSFERS ?? 1_000_000);
const readsPerRound = Number(process.env.READS ?? 2_000_000);
const rounds = Number(process.env.ROUNDS ?? 7);
const balanceStart = 1_000_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Runs `body` once to warm up, then `rounds` times; returns the median rate per second. */
function measure(name: string, operations: number, body: () => void): number {
  body();
  const rates: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = process.hrtime.bigint();
    body();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    rates.push(operations / seconds);
  }
  const rate = median(rates);
  const spread = `${fmt(Math.min(...rates))} .. ${fmt(Math.max(...rates))}`;
  console.log(`${name.padEnd(34)} ${fmt(rate).padStart(12)} /s   (rounds: ${spread})`);
  return rate;
}

/**
 * The young generation the run had, which the transfer rate depends on (docs/operations.md,
 * "Embedded tuning"): V8 grows it up to twice `--max-semi-space-size` (16 MiB by default), and
 * it is fixed when the process starts.
 */
function youngGeneration(): string {
  const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === "new_space");
  const mib = ((newSpace?.space_size ?? 0) / 1024 / 1024).toFixed(0);
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(" ")];
  const flags = given.filter((arg) => arg.includes("semi-space"));
  return `${mib} MiB (${flags.length === 0 ? "node's default" : flags.join(" ")})`;
}

function fmt(rate: number): string {
  return Math.round(rate).toLocaleString("en-US");
}

async function statebase(ops: Int32Array): Promise<{ transfers: number; reads: number }> {
  const db = await open();
  db.createNamespace("bank");
  const accounts = db.createTable<{ id: number; balance: number }>("bank::accounts", {
    columns: { id: "int8", balance: "int8" },
    primaryKey: "id",
  });
  const transfers = db.createCounter("bank::transfers");
  const amounts = db.createHistogram("bank::amounts", { max: 1_000_000, digits: 3 });
  db.transact(() => {
    for (let id = 0; id < accountCount; id++) accounts.insert({ id, balance: balanceStart });
  });

  const transfer = (from: number, to: number, amount: number): void => {
    db.transact(() => {
      const source = accounts.get(from)!;
      const target = accounts.get(to)!;
      if (source.balance < amount) return;
      accounts.update(from, { balance: source.balance - amount });
      accounts.update(to, { balance: target.balance + amount });
      transfers.add(1);
      amounts.record(amount);
    });
  };
  const transferRate = measure("statebase transfer", transfersPerRound, () => {
    for (let i = 0; i < transfersPerRound; i++)
      transfer(ops[i * 3]!, ops[i * 3 + 1]!, ops[i * 3 + 2]!);
  });
  let sink = 0;
  const readRate = measure("statebase point read", readsPerRound, () => {
    for (let i = 0; i < readsPerRound; i++)
      sink += accounts.get(ops[(i % transfersPerRound) * 3]!)!.balance;
  });
  // Money is conserved: a cheap check that the benchmark did real work.
  let total = 0;
  for (const row of accounts.scan()) total += row.balance;
  if (total !== accountCount * balanceStart || sink === 0) throw new Error("benchmark lost money");
  console.log(`  (${db.seq.toLocaleString("en-US")} commits, ${transfers.get()} transfers)`);
  await db.close();
  return { transfers: transferRate, reads: readRate };
}

async function sqlite(ops: Int32Array): Promise<number | undefined> {
  const Database = await loadSqlite();
  if (Database === undefined) return undefined;
  const db = new Database(":memory:");
  const transfer = prepareSqliteTransfer(db, accountCount, balanceStart);
  const n = Math.min(transfersPerRound, 200_000);
  const rate = measure("sqlite transfer (in memory)", n, () => {
    for (let i = 0; i < n; i++) transfer(ops[i * 3]!, ops[i * 3 + 1]!, ops[i * 3 + 2]!);
  });
  db.close();
  return rate;
}

console.log(
  `bench/engine: node ${process.version}, ${cpus()[0]?.model ?? "cpu"} x${cpus().length}`,
);
console.log(`${accountCount.toLocaleString("en-US")} accounts, ${rounds} rounds, median shown\n`);
const ops = makeTransfers(transfersPerRound, accountCount);
const ours = await statebase(ops);
const peer = await sqlite(ops);
console.log("");
console.log(`transfers/s:   ${fmt(ours.transfers)}   (target >= 1,000,000)`);
console.log(`point reads/s: ${fmt(ours.reads)}`);
console.log(`young generation: ${youngGeneration()} after the run`);
if (peer !== undefined) {
  console.log(`vs sqlite:     ${(ours.transfers / peer).toFixed(2)}x   (target >= 5x)`);
}
