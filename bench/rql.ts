/**
 * bench/rql: indexed point queries per second through the embedded RQL entry point
 * (`await db.query(text, params)`, a parameterised filter on the primary key and on a
 * secondary index) against SQLite in memory (better-sqlite3, a prepared statement). Each
 * figure is the median of ROUNDS rounds of QUERIES queries over ROWS rows.
 *
 * Then whole-table reads over SCAN_ROWS rows (default 1,000,000): a sum of a column
 * (`aggregate { s: math::sum(v) }` against `SELECT sum(v)`) and a filter that keeps one row
 * in 1,000 (`filter v > 998` against `WHERE v > 998`), milliseconds per query, median of
 * ROUNDS. These read every row: what a row read costs, not what finding one does.
 *
 * Run from the repository root: `node --import tsx bench/rql.ts` (after `cd bench && npm install`
 * for the SQLite peer).
 */
import { open } from "../src/index.ts";
import { loadSqlite } from "./transfers.ts";

const rowCount = Number(process.env.ROWS ?? 100_000);
const queryCount = Number(process.env.QUERIES ?? 200_000);
const rounds = Number(process.env.ROUNDS ?? 5);
const scanRowCount = Number(process.env.SCAN_ROWS ?? 1_000_000);
/** The number of distinct values of the scanned column `v`: the filter keeps 1 row in this. */
const scanValueCount = 1000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The id of query `i`: a fixed stride through the rows, so every run reads the same keys. */
function idOf(i: number): number {
  return (i * 7919) % rowCount;
}

async function measure(run: () => Promise<void> | void): Promise<number> {
  const perSecond: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    await run();
    perSecond.push((queryCount / (performance.now() - started)) * 1000);
  }
  return median(perSecond);
}

async function statebase(): Promise<{ pk: number; index: number }> {
  const db = await open();
  await db.admin(`create namespace b;
    create table b::items { id: int8, sku: utf8, price: float8 } with { primary_key: { id } };
    create unique index b::items_by_sku on b::items { sku }`);
  db.transact((tx) => {
    const items = tx.table("b::items");
    for (let id = 0; id < rowCount; id++) items.insert({ id, sku: `sku-${id}`, price: id / 4 });
  });
  const byId = "from b::items filter { id == $id } map { id, price }";
  const bySku = "from b::items filter { sku == $sku } map { id, price }";
  console.log(`  plans: ${db.explain(byId).join("; ")} | ${db.explain(bySku).join("; ")}`);
  const pk = await measure(async () => {
    for (let i = 0; i < queryCount; i++) {
      const result = await db.query(byId, { id: idOf(i) });
      if (result.frames[0]!.length !== 1) throw new Error("row missing");
    }
  });
  const index = await measure(async () => {
    for (let i = 0; i < queryCount; i++) {
      const result = await db.query(bySku, { sku: `sku-${idOf(i)}` });
      if (result.frames[0]!.length !== 1) throw new Error("row missing");
    }
  });
  await db.close();
  return { pk, index };
}

async function sqlite(): Promise<{ pk: number; index: number } | undefined> {
  const Sqlite = await loadSqlite("  ");
  if (Sqlite === undefined) return undefined;
  const db = new Sqlite(":memory:");
  db.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, price REAL NOT NULL);
           CREATE UNIQUE INDEX items_by_sku ON items (sku);`);
  const insert = db.prepare("INSERT INTO items (id, sku, price) VALUES (?, ?, ?)");
  db.transaction(() => {
    for (let id = 0; id < rowCount; id++) insert.run(id, `sku-${id}`, id / 4);
  })();
  const byId = db.prepare("SELECT id, price FROM items WHERE id = ?");
  const bySku = db.prepare("SELECT id, price FROM items WHERE sku = ?");
  const pk = await measure(() => {
    for (let i = 0; i < queryCount; i++) {
      if (byId.all(idOf(i)).length !== 1) throw new Error("row missing");
    }
  });
  const index = await measure(() => {
    for (let i = 0; i < queryCount; i++) {
      if (bySku.all(`sku-${idOf(i)}`).length !== 1) throw new Error("row missing");
    }
  });
  db.close();
  return { pk, index };
}

/** Milliseconds a call of `run` takes, median of `rounds` after one warming call. */
async function millisOf(run: () => Promise<number> | number, expected: number): Promise<number> {
  const times: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    const started = performance.now();
    const got = await run();
    if (round > 0) times.push(performance.now() - started);
    if (got !== expected) throw new Error(`read ${got}, expected ${expected}`);
  }
  return median(times);
}

interface ScanFigures {
  sum: number;
  filter: number;
}

/** The sum of v over the scanned rows, and how many rows the filter keeps. */
const scanSum = Array.from({ length: scanRowCount }, (_, id) => id % scanValueCount).reduce(
  (a, b) => a + b,
  0,
);
const scanKept = Math.floor(scanRowCount / scanValueCount);

async function statebaseScans(): Promise<ScanFigures> {
  const db = await open();
  await db.admin(`create namespace b;
    create table b::scan { id: int8, v: int8, w: float8 } with { primary_key: { id } }`);
  db.transact((tx) => {
    const rows = tx.table("b::scan");
    for (let id = 0; id < scanRowCount; id++) {
      rows.insert({ id, v: id % scanValueCount, w: id / 4 });
    }
  });
  const sum = await millisOf(async () => {
    const result = await db.query("from b::scan aggregate { s: math::sum(v) }");
    return Number(result.frames[0]![0]!.s);
  }, scanSum);
  const filter = await millisOf(async () => {
    const result = await db.query(`from b::scan filter v > ${scanValueCount - 2}`);
    return result.frames[0]!.length;
  }, scanKept);
  await db.close();
  return { sum, filter };
}

async function sqliteScans(): Promise<ScanFigures | undefined> {
  const Sqlite = await loadSqlite("  ");
  if (Sqlite === undefined) return undefined;
  const db = new Sqlite(":memory:");
  db.exec("CREATE TABLE scan (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, w REAL NOT NULL)");
  const insert = db.prepare("INSERT INTO scan (id, v, w) VALUES (?, ?, ?)");
  db.transaction(() => {
    for (let id = 0; id < scanRowCount; id++) insert.run(id, id % scanValueCount, id / 4);
  })();
  const sumOf = db.prepare("SELECT sum(v) AS s FROM scan");
  const filterOf = db.prepare(`SELECT * FROM scan WHERE v > ${scanValueCount - 2}`);
  const sum = await millisOf(() => (sumOf.get() as { s: number }).s, scanSum);
  const filter = await millisOf(() => filterOf.all().length, scanKept);
  db.close();
  return { sum, filter };
}

const fmt = (n: number): string => `${Math.round(n).toLocaleString("en-US")}/s`.padStart(12);

console.log(
  `rql point queries: ${rowCount} rows, ${queryCount} queries x ${rounds} rounds (median)`,
);
const ours = await statebase();
const theirs = await sqlite();
for (const key of ["pk", "index"] as const) {
  const label = key === "pk" ? "primary key" : "unique index";
  const peer =
    theirs === undefined
      ? ""
      : `  sqlite ${fmt(theirs[key])}  ratio ${(ours[key] / theirs[key]).toFixed(2)}x`;
  console.log(`  ${label.padEnd(13)} statebase ${fmt(ours[key])}${peer}`);
}

console.log(`rql whole-table reads: ${scanRowCount} rows, ms per query (median of ${rounds})`);
const oursScan = await statebaseScans();
const theirsScan = await sqliteScans();
for (const key of ["sum", "filter"] as const) {
  const label = key === "sum" ? "sum of v" : "filter 1/1000";
  const ms = (n: number): string => `${n.toFixed(1)} ms`.padStart(10);
  const peer =
    theirsScan === undefined
      ? ""
      : `  sqlite ${ms(theirsScan[key])}  ratio ${(theirsScan[key] / oursScan[key]).toFixed(2)}x`;
  console.log(`  ${label.padEnd(13)} statebase ${ms(oursScan[key])}${peer}`);
}
