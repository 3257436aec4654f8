/**
 * The transfer workload shared by bench/engine.ts and bench/log.ts: its seeded operands, and
 * its SQLite form (better-sqlite3: accounts, a transfers counter and a histogram as a
 * bucket-count table; one prepared transaction per transfer).
 */
import type BetterSqlite3 from "better-sqlite3";

/** A seeded generator: every benchmark and peer sees the same sequence. */
export function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
}

/** Pre-generated operands (from, to, amount), so that generating them is not timed. */
export function makeTransfers(count: number, accountCount: number): Int32Array {
  const random = makeRandom(42);
  const out = new Int32Array(count * 3);
  for (let i = 0; i < count; i++) {
    const from = random() % accountCount;
    let to = random() % accountCount;
    if (to === from) to = (to + 1) % accountCount;
    out[i * 3] = from;
    out[i * 3 + 1] = to;
    out[i * 3 + 2] = 1 + (random() % 1000);
  }
  return out;
}

export type SqliteTransfer = (from: number, to: number, amount: number) => void;

/** Loads better-sqlite3, or says how to install it and returns undefined. */
export async function loadSqlite(indent = ""): Promise<typeof BetterSqlite3 | undefined> {
  try {
    return (await import("better-sqlite3")).default;
  } catch {
    console.log(
      `${indent}sqlite: better-sqlite3 is not installed (cd bench && npm install); skipped`,
    );
    return undefined;
  }
}

/** Creates the schema and accounts in `db` and returns the prepared transfer. */
export function prepareSqliteTransfer(
  db: BetterSqlite3.Database,
  accountCount: number,
  balanceStart: number,
): SqliteTransfer {
  db.exec(`
    CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE amounts (bucket INTEGER PRIMARY KEY, count INTEGER NOT NULL);
    INSERT INTO counters VALUES ('transfers', 0);`);
  const insert = db.prepare("INSERT INTO accounts VALUES (?, ?)");
  db.transaction(() => {
    for (let id = 0; id < accountCount; id++) insert.run(id, balanceStart);
  })();
  const get = db.prepare("SELECT balance FROM accounts WHERE id = ?").pluck();
  const set = db.prepare("UPDATE accounts SET balance = ? WHERE id = ?");
  const count = db.prepare("UPDATE counters SET value = value + 1 WHERE name = 'transfers'");
  const record = db.prepare(
    "INSERT INTO amounts VALUES (?, 1) ON CONFLICT(bucket) DO UPDATE SET count = count + 1",
  );
  return db.transaction((from: number, to: number, amount: number) => {
    const source = get.get(from) as number;
    const target = get.get(to) as number;
    if (source < amount) return;
    set.run(source - amount, from);
    set.run(target + amount, to);
    count.run();
    record.run(amount);
  });
}
