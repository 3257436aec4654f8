/**
 * bench/log: the write-ahead log's figures, with a naive fsync-per-commit appender and SQLite
 * as peers, in one run.
 *
 * 1. sync commits: N concurrent committers (async loops: `db.transact(transfer)`, then
 *    `await db.durable(seq)`), for 1, 16 and 256 committers; commits/s and p50/p99 latency
 *    (transact -> durable resolved). Fresh data directory per point.
 * 2. naive peer: the same loops, but each commit (the same transfer, in memory) appends a
 *    record of the same size to a file and `datasync`s it under a mutex before acknowledging:
 *    a true fsync per commit, no grouping.
 * 3. SQLite peer: better-sqlite3 on a file, `journal_mode=WAL`, `synchronous=FULL`, the same
 *    transfer (prepared statements, one `db.transaction` per transfer), one commit at a time.
 *    1-3 share the disk with whatever else runs, so at each point the systems are measured
 *    in the same stretch of time: a warm-up each, then rounds alternating between them (SQLite
 *    joins at the largest point); the median round is shown, latency is over every round.
 * 4. async vs memory: a tight synchronous loop of transfers for a fixed time; in async mode
 *    (default 10 ms window) the final `await db.flush()` is inside the timed region. Rounds
 *    alternate between the two modes; the median round is shown. Then what one transfer's
 *    record costs the committing thread, piece by piece: encoding it into the log's pending
 *    buffer (all of it), and within that the SHA-256 call of the hash chain and the CRC32C,
 *    against the memory-mode transfer and the 1.3× target's budget.
 * 5. recovery: 1,000,000 rows in 1,000-row transactions, and separately 1,000,000 single-row
 *    commits; close, then time `open({ path })` with `snapshotLogBytes: 0` (log only).
 * 6. snapshot stall: on the recovered 1,000,000-row table, `db.snapshot()` while a loop keeps
 *    committing one-row updates, yielding with setImmediate between commits; the gaps between
 *    consecutive commit completions are the event-loop stalls the snapshot causes.
 *
 * The transfer is the one of bench/engine.ts: read two of 100,000 accounts, check funds,
 * update both, add to a counter, record the amount in a histogram. Operands are seeded and
 * pre-generated. Data directories live under os.tmpdir() and are removed afterwards.
 *
 * Knobs (environment): SECONDS_PER_POINT (3), WARMUP_SECONDS (1), COMMITTERS ("1,16,256"),
 * ACCOUNTS (100000), ROUNDS (3), RECOVERY_ROWS (1000000), RECOVERY_COMMITS
 * (1000000), ONLY (comma list of sync,async,recovery,snapshot;
 * sync includes the naive and SQLite peers), BENCH_TMP.
 * Run: `cd bench && npm install`, then `npm run log` (or `node --import tsx bench/log.ts`).
 */
import { cpus, tmpdir } from "node:os";
import { mkdir, mkdtemp, open as openFile, rm } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { open } from "../src/index.ts";
import type { Database, OpenOptions } from "../src/index.ts";
import { hash } from "node:crypto";
import { encodeRecord, encodeRecordAt, zeroHash } from "../src/log/index.ts";
import { dataViewOf } from "../src/lib/bytes.ts";
import { crc32c } from "../src/lib/crc32c.ts";
import { loadSqlite, makeRandom, makeTransfers, prepareSqliteTransfer } from "./transfers.ts";

const secondsPerPoint = Number(process.env.SECONDS_PER_POINT ?? 3);
const warmupSeconds = Number(process.env.WARMUP_SECONDS ?? 1);
const committerCounts = (process.env.COMMITTERS ?? "1,16,256").split(",").map(Number);
const accountCount = Number(process.env.ACCOUNTS ?? 100_000);
const rounds = Number(process.env.ROUNDS ?? 3);
/** Un-timed start of every round after the first, so committers are running when timing starts. */
const roundLeadInMs = 100;
const recoveryRows = Number(process.env.RECOVERY_ROWS ?? 1_000_000);
const recoveryCommits = Number(process.env.RECOVERY_COMMITS ?? 1_000_000);
const rowsPerTransaction = 1_000;
const only = process.env.ONLY?.split(",").map((s) => s.trim());
const tmpRoot = process.env.BENCH_TMP ?? tmpdir();
const balanceStart = 1_000_000;
const operandCount = 1 << 20;

const targets = {
  syncCommits: 50_000,
  vsSqlite: 10,
  memoryOverAsync: 1.3,
  recoveryRecords: 1_000_000,
  stallP99Ms: 5,
};

const runStart = performance.now();
const enabled = (section: string): boolean => only === undefined || only.includes(section);

// ---- Formatting ----

function fmt(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

function dec(value: number, digits = 2): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function mib(bytes: number): string {
  return `${dec(bytes / 1024 / 1024, 1)} MiB`;
}

function elapsed(): string {
  return `${dec((performance.now() - runStart) / 1000, 1)} s`;
}

function verdict(met: boolean, missed: string): string {
  return met ? "met" : `MISSED: ${missed}`;
}

function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function sortedOf(values: number[]): Float64Array {
  return Float64Array.from(values).sort();
}

function median(values: number[]): number {
  return percentile(sortedOf(values), 0.5);
}

// ---- Operands and the transfer ----

const ops = makeTransfers(operandCount, accountCount);

interface Bank {
  readonly db: Database;
  /** Runs transfer number `i` (operands cycle) as one transaction. */
  transfer(i: number): void;
}

async function openBank(options: OpenOptions): Promise<Bank> {
  const db = await open(options);
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
  await db.flush();
  const transfer = (i: number): void => {
    const k = (i % operandCount) * 3;
    const from = ops[k]!;
    const to = ops[k + 1]!;
    const amount = ops[k + 2]!;
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
  return { db, transfer };
}

/** The log writer's statistics, read from internals: diagnostics only, absent if they move. */
function walStats(db: Database): { flushCount: number; appendedSeq: number } | undefined {
  const internals = db as unknown as {
    log?: { wal?: { stats?: { flushCount: number; appendedSeq: number } } };
  };
  return internals.log?.wal?.stats;
}

let tempRoot: string | undefined;

async function freshDirectory(name: string): Promise<string> {
  tempRoot ??= await mkdtemp(join(tmpRoot, "statebase-bench-log-"));
  const path = join(tempRoot, name);
  await rm(path, { recursive: true, force: true });
  await mkdir(path, { recursive: true });
  return path;
}

async function removeDirectory(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

/** Prints warnings from the database; progress lines are dropped (they would be timed). */
function onMessage(kind: "warning" | "progress", message: string): void {
  if (kind === "warning") console.log(`  (statebase warning: ${message})`);
}

// ---- Concurrent committers ----

/** One timed round of committers: acknowledged commits and their latencies (ms). */
interface Round {
  readonly count: number;
  readonly seconds: number;
  readonly latencies: number[];
}

/**
 * Runs `committers` async loops of `commitOne` for `leadInMs` (not counted) plus `measureMs`.
 * Throughput counts commits acknowledged inside the measured window; latency covers those
 * that also started inside it.
 */
async function runCommitters(
  committers: number,
  commitOne: (i: number) => Promise<void>,
  leadInMs: number,
  measureMs: number,
): Promise<Round> {
  const measureStart = performance.now() + leadInMs;
  const end = measureStart + measureMs;
  const latencies: number[] = [];
  let count = 0;
  const loop = async (): Promise<void> => {
    for (;;) {
      const started = performance.now();
      if (started >= end) return;
      await commitOne(nextOperand++);
      const done = performance.now();
      if (done >= measureStart && done < end) {
        count++;
        if (started >= measureStart) latencies.push(done - started);
      }
    }
  };
  await Promise.all(Array.from({ length: committers }, loop));
  return { count, seconds: measureMs / 1000, latencies };
}

/** Operands are shared by every committer loop and cycle through the pre-generated ones. */
let nextOperand = 0;

interface PointResult {
  /** Median of the rounds' rates. */
  readonly rate: number;
  readonly rounds: number[];
  /** Latency percentiles over every round's commits. */
  readonly p50: number;
  readonly p99: number;
}

function combine(rounds: Round[]): PointResult {
  const rates = rounds.map((r) => r.count / r.seconds);
  const sorted = sortedOf(rounds.flatMap((r) => r.latencies));
  return {
    rate: median(rates),
    rounds: rates,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
  };
}

interface System {
  readonly committers: number;
  readonly commitOne: (i: number) => Promise<void>;
}

/**
 * Measures several systems in the same stretch of time, so that background load on a shared
 * machine hits them alike: a warm-up each, then rounds that alternate between the systems.
 */
async function interleave(systems: System[]): Promise<PointResult[]> {
  const roundMs = (secondsPerPoint * 1000) / rounds;
  for (const s of systems) await runCommitters(s.committers, s.commitOne, warmupSeconds * 1000, 0);
  const results = systems.map((): Round[] => []);
  for (let round = 0; round < rounds; round++) {
    for (const [index, s] of systems.entries()) {
      results[index]!.push(await runCommitters(s.committers, s.commitOne, roundLeadInMs, roundMs));
    }
  }
  return results.map(combine);
}

/** The naive peer: append one record, datasync, acknowledge; one at a time (a mutex). */
class NaiveLog {
  private offset = 0;
  private tail: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: FileHandle,
    private readonly record: Uint8Array,
  ) {}

  static async create(path: string, recordBytes: number): Promise<NaiveLog> {
    const record = new Uint8Array(recordBytes).fill(0x5a);
    return new NaiveLog(await openFile(path, "w"), record);
  }

  append(): Promise<void> {
    const run = this.tail.then(async () => {
      await this.file.write(this.record, 0, this.record.length, this.offset);
      this.offset += this.record.length;
      await this.file.datasync();
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.file.close();
  }
}

/** The SQLite peer, or undefined when better-sqlite3 is not installed. */
async function openSqlite(
  path: string,
): Promise<{ commitOne: (i: number) => Promise<void>; close: () => void } | undefined> {
  const Sqlite = await loadSqlite("  ");
  if (Sqlite === undefined) return undefined;
  const db = new Sqlite(join(path, "bank.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  const transfer = prepareSqliteTransfer(db, accountCount, balanceStart);
  // Synchronous: one committer, one commit (one WAL fsync) at a time.
  const commitOne = async (i: number): Promise<void> => {
    const k = (i % operandCount) * 3;
    transfer(ops[k]!, ops[k + 1]!, ops[k + 2]!);
  };
  return { commitOne, close: () => db.close() };
}

// ---- Sections ----

interface CommitPoint {
  readonly committers: number;
  readonly ours: PointResult;
  readonly naive: PointResult;
  readonly commitsPerFsync: number | undefined;
}

let recordBytes = 0;

function pointLine(name: string, r: PointResult): string {
  return (
    `${name.padEnd(10)} ${fmt(r.rate).padStart(9)} commits/s (rounds ` +
    `${fmt(Math.min(...r.rounds))} .. ${fmt(Math.max(...r.rounds))})  p50 ${dec(r.p50, 3)} ms` +
    `  p99 ${dec(r.p99, 3)} ms`
  );
}

async function commitSection(): Promise<{ points: CommitPoint[]; sqlite?: PointResult }> {
  const roundSeconds = secondsPerPoint / rounds;
  console.log(
    `sync commits (transact -> await durable(seq)) vs naive fsync-per-commit` +
      ` (vs SQLite at ${Math.max(...committerCounts)}): ${warmupSeconds} s warm-up each, then ` +
      `${rounds} alternating rounds of ${dec(roundSeconds, 1)} s; median round, latency over all`,
  );
  const naiveBank = await openBank({});
  naiveBank.transfer(0);
  recordBytes = encodeRecord(naiveBank.db.lastCommit!, zeroHash).bytes.length;
  console.log(
    `  naive: the same transfer in memory, then append ${fmt(recordBytes)} bytes (one ` +
      `transfer's log record) + datasync, under a mutex`,
  );
  const points: CommitPoint[] = [];
  let sqlite: PointResult | undefined;
  for (const committers of committerCounts) {
    const path = await freshDirectory(`sync-${committers}`);
    const bank = await openBank({ path, durability: "sync", onMessage });
    const { db } = bank;
    const naivePath = await freshDirectory(`naive-${committers}`);
    const naive = await NaiveLog.create(join(naivePath, "naive.log"), recordBytes);
    const sqlitePath = await freshDirectory("sqlite");
    const peer =
      committers === Math.max(...committerCounts) ? await openSqlite(sqlitePath) : undefined;
    const seqBefore = db.seq;
    const flushesBefore = walStats(db)?.flushCount ?? 0;
    const systems: System[] = [
      {
        committers,
        commitOne: async (i) => {
          bank.transfer(i);
          const seq = db.seq;
          await db.durable(seq);
        },
      },
      {
        committers,
        commitOne: async (i) => {
          naiveBank.transfer(i);
          await naive.append();
        },
      },
    ];
    if (peer !== undefined) systems.push({ committers: 1, commitOne: peer.commitOne });
    const [ours, naiveResult, sqliteResult] = await interleave(systems);
    const after = walStats(db);
    const commitsPerFsync =
      after === undefined ? undefined : (db.seq - seqBefore) / (after.flushCount - flushesBefore);
    await db.close();
    await naive.close();
    peer?.close();
    await removeDirectory(path);
    await removeDirectory(naivePath);
    await removeDirectory(sqlitePath);
    points.push({ committers, ours: ours!, naive: naiveResult!, commitsPerFsync });
    console.log(
      `  ${String(committers).padStart(3)} committers: ${pointLine("statebase", ours!)}` +
        (commitsPerFsync === undefined ? "" : `  ${dec(commitsPerFsync, 1)} commits/fsync`),
    );
    console.log(`                  ${pointLine("naive", naiveResult!)}`);
    if (sqliteResult !== undefined) {
      sqlite = sqliteResult;
      console.log(`                  ${pointLine("sqlite", sqliteResult)}  (1 committer, FULL)`);
    }
  }
  await naiveBank.db.close();
  return sqlite === undefined ? { points } : { points, sqlite };
}

interface AsyncResult {
  readonly memory: number;
  readonly async: number;
  readonly memoryRounds: number[];
  readonly asyncRounds: number[];
  readonly asyncFlushMs: number;
}

/** A tight synchronous loop of transfers for `seconds`; returns how many ran. */
function tightLoop(bank: Bank, first: number, seconds: number): number {
  const end = performance.now() + seconds * 1000;
  let i = first;
  while (performance.now() < end) {
    for (let j = 0; j < 256; j++) bank.transfer(i++);
  }
  return i - first;
}

/** Median ns per call of `body` over 5 runs of `count` calls, after one warm-up run. */
function nsPerCall(count: number, body: (i: number) => void): number {
  const runs: number[] = [];
  for (let run = 0; run <= 5; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) body(i);
    if (run > 0) runs.push(Number(process.hrtime.bigint() - start) / count);
  }
  return median(runs);
}

/**
 * What the log adds to one transfer on the committing thread, measured on the last transfer's
 * commit: the whole record (as the log writes it, into its pending buffer), and the two
 * fixed-cost pieces inside it. The 1.3× target leaves 30% of a memory-mode transfer for it.
 */
function recordCost(bank: Bank, memoryRate: number): void {
  const commit = bank.db.lastCommit;
  if (commit === undefined) return;
  const calls = 200_000;
  const target = Buffer.allocUnsafe(1024 * 1024);
  const view = dataViewOf(target);
  let end = 0;
  const record = nsPerCall(calls, () => {
    end = encodeRecordAt(commit, zeroHash, target, view, 0);
  });
  const sha = nsPerCall(calls, () => {
    keep ^= hash("sha256", target.subarray(8, end - 32), "binary").length;
  });
  // The same call over 32 bytes: what a hash call costs whatever it hashes.
  const shaFixed = nsPerCall(calls, () => {
    keep ^= hash("sha256", target.subarray(8, 40), "binary").length;
  });
  const crc = nsPerCall(calls, () => {
    keep ^= crc32c(target, 0, 8, end);
  });
  const transferNs = 1e9 / memoryRate;
  console.log(
    `  one transfer's record (${fmt(end)} B) on the committing thread: ${fmt(record)} ns, ` +
      `of which SHA-256 (crypto.hash) ${fmt(sha)} ns and CRC32C ${fmt(crc)} ns; ` +
      `SHA-256 of 32 bytes ${fmt(shaFixed)} ns`,
  );
  console.log(
    `  a memory-mode transfer: ${fmt(transferNs)} ns; async within 1.3× leaves ` +
      `${fmt(transferNs * (targets.memoryOverAsync - 1))} ns for everything the log does`,
  );
}

/** Results the timed loops fold in, so that the compiler cannot drop the calls. */
export let keep = 0;

async function asyncVersusMemory(): Promise<AsyncResult> {
  const roundSeconds = secondsPerPoint / rounds;
  console.log(
    `async vs memory: tight synchronous loop, ${rounds} alternating rounds of ` +
      `${dec(roundSeconds, 1)} s each after a ${warmupSeconds} s warm-up; async includes its ` +
      `final flush`,
  );
  const path = await freshDirectory("async");
  const memoryBank = await openBank({});
  const asyncBank = await openBank({ path, durability: "async", snapshotLogBytes: 0, onMessage });
  let memoryNext = 0;
  let asyncNext = 0;
  memoryNext += tightLoop(memoryBank, memoryNext, warmupSeconds);
  asyncNext += tightLoop(asyncBank, asyncNext, warmupSeconds);
  await asyncBank.db.flush();
  const memoryRounds: number[] = [];
  const asyncRounds: number[] = [];
  const flushMs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let start = performance.now();
    let n = tightLoop(memoryBank, memoryNext, roundSeconds);
    memoryNext += n;
    memoryRounds.push(n / ((performance.now() - start) / 1000));
    start = performance.now();
    n = tightLoop(asyncBank, asyncNext, roundSeconds);
    asyncNext += n;
    const loopDone = performance.now();
    await asyncBank.db.flush();
    const done = performance.now();
    flushMs.push(done - loopDone);
    asyncRounds.push(n / ((done - start) / 1000));
  }
  await memoryBank.db.close();
  await asyncBank.db.close();
  await removeDirectory(path);
  const result = {
    memory: median(memoryRounds),
    async: median(asyncRounds),
    memoryRounds,
    asyncRounds,
    asyncFlushMs: median(flushMs),
  };
  recordCost(memoryBank, result.memory);
  const spread = (r: number[]): string => `${fmt(Math.min(...r))} .. ${fmt(Math.max(...r))}`;
  console.log(
    `  memory  ${fmt(result.memory).padStart(9)} transfers/s  (rounds ${spread(memoryRounds)})`,
  );
  console.log(
    `  async   ${fmt(result.async).padStart(9)} transfers/s  (rounds ${spread(asyncRounds)}; ` +
      `final flush ${dec(result.asyncFlushMs, 0)} ms median)`,
  );
  return result;
}

interface RecoveryCase {
  readonly label: string;
  readonly records: number;
  readonly rows: number;
  readonly writeSeconds: number;
  readonly openSeconds: number;
  readonly logBytes: number | undefined;
}

const rowsTable = "bench::rows";
type RowShape = { id: number; name: string };
const nameOf = (id: number): string => `row-${id.toString(36).padStart(6, "0")}-statebase`;

async function createRowsTable(db: Database): Promise<void> {
  db.createNamespace("bench");
  db.createTable<RowShape>(rowsTable, {
    columns: { id: "int8", name: "utf8" },
    primaryKey: "id",
  });
}

/** Writes with `write`, closes, then times `open` (log only). Leaves the directory in place. */
async function recoveryCase(
  label: string,
  path: string,
  write: (db: Database) => Promise<void>,
): Promise<RecoveryCase> {
  const options: OpenOptions = { path, durability: "async", snapshotLogBytes: 0, onMessage };
  const writer = await open(options);
  await createRowsTable(writer);
  const seqBefore = writer.seq;
  const writeStart = performance.now();
  await write(writer);
  await writer.flush();
  const writeSeconds = (performance.now() - writeStart) / 1000;
  const written = writer.seq - seqBefore;
  const stats = walStats(writer) as { bytesWritten?: number } | undefined;
  const logBytes = stats?.bytesWritten;
  await writer.close();
  const openStart = performance.now();
  const db = await open(options);
  const openSeconds = (performance.now() - openStart) / 1000;
  const rows = db.table<RowShape>(rowsTable).size;
  const records = db.seq;
  await db.close();
  if (records < written) throw new Error(`${label}: recovered ${records} of ${written} records`);
  return { label, records, rows, writeSeconds, openSeconds, logBytes };
}

async function recovery(): Promise<{
  batched: RecoveryCase;
  single: RecoveryCase;
  small: RecoveryCase;
  path: string;
}> {
  console.log(
    `recovery: close, then time open({ path }) with snapshotLogBytes: 0 (log only); ` +
      `int8 key + utf8 column rows`,
  );
  const batchedPath = await freshDirectory("recovery-batched");
  const batched = await recoveryCase(
    `${fmt(recoveryRows)} rows in ${fmt(rowsPerTransaction)}-row transactions`,
    batchedPath,
    async (db) => {
      const table = db.table<RowShape>(rowsTable);
      for (let first = 0; first < recoveryRows; first += rowsPerTransaction) {
        db.transact(() => {
          const last = Math.min(recoveryRows, first + rowsPerTransaction);
          for (let id = first; id < last; id++) table.insert({ id, name: nameOf(id) });
        });
        if ((first / rowsPerTransaction) % 50 === 49) await new Promise(setImmediate);
      }
    },
  );
  printRecovery(batched);
  const singlePath = await freshDirectory("recovery-single");
  const single = await recoveryCase(
    `${fmt(recoveryCommits)} single-row commits`,
    singlePath,
    async (db) => {
      const table = db.table<RowShape>(rowsTable);
      for (let id = 0; id < recoveryCommits; id++) {
        table.insert({ id, name: nameOf(id) });
        // Let the window timer fire so the log is written while commits go on.
        if (id % 10_000 === 9_999) await new Promise(setImmediate);
      }
    },
  );
  printRecovery(single);
  await removeDirectory(singlePath);
  // A database that has seen few commits: its one segment is 64 MiB, almost all zeros.
  const smallPath = await freshDirectory("recovery-small");
  const small = await recoveryCase("10 single-row commits (a new database)", smallPath, (db) => {
    const table = db.table<RowShape>(rowsTable);
    for (let id = 0; id < 10; id++) table.insert({ id, name: nameOf(id) });
    return Promise.resolve();
  });
  printRecovery(small);
  await removeDirectory(smallPath);
  return { batched, single, small, path: batchedPath };
}

function printRecovery(c: RecoveryCase): void {
  console.log(`  ${c.label}`);
  console.log(
    `    written in ${dec(c.writeSeconds)} s` +
      (c.logBytes === undefined ? "" : `, log ${mib(c.logBytes)}`) +
      `; open ${dec(c.openSeconds, 3)} s: ${fmt(c.records / c.openSeconds)} records/s, ` +
      `${fmt(c.rows / c.openSeconds)} rows/s (${fmt(c.records)} records, ${fmt(c.rows)} rows)`,
  );
}

interface StallResult {
  readonly rows: number;
  readonly seconds: number;
  /** Opening the database again right after: the snapshot plus the log after it. */
  readonly reopenSeconds: number;
  readonly sizeBytes: number;
  readonly commits: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly baselineP50: number;
  readonly baselineP99: number;
  readonly baselineMax: number;
}

/** Commits one-row updates, yielding between commits, until `stop()`; returns the gaps. */
async function commitLoop(
  db: Database,
  stop: () => boolean,
  start: number,
  first: number,
): Promise<{ gaps: number[]; next: number }> {
  const table = db.table<RowShape>(rowsTable);
  const size = table.size;
  const random = makeRandom(7 + first);
  const gaps: number[] = [];
  let last = start;
  let i = first;
  while (!stop()) {
    const id = random() % size;
    table.update(id, { name: `updated-${i++}` });
    const now = performance.now();
    gaps.push(now - last);
    last = now;
    await new Promise(setImmediate);
  }
  return { gaps, next: i };
}

async function snapshotStall(path: string | undefined): Promise<StallResult> {
  const options: OpenOptions = {
    path: path ?? (await freshDirectory("snapshot")),
    durability: "async",
    snapshotLogBytes: 0,
    onMessage,
  };
  const db = await open(options);
  if (path === undefined) {
    await createRowsTable(db);
    const table = db.table<RowShape>(rowsTable);
    for (let first = 0; first < recoveryRows; first += rowsPerTransaction) {
      db.transact(() => {
        const last = Math.min(recoveryRows, first + rowsPerTransaction);
        for (let id = first; id < last; id++) table.insert({ id, name: nameOf(id) });
      });
    }
    await db.flush();
  }
  const rows = db.table<RowShape>(rowsTable).size;
  console.log(
    `snapshot stall: db.snapshot() of ${fmt(rows)} rows while a loop commits one-row updates, ` +
      `setImmediate between commits`,
  );
  // Baseline: the same loop without a snapshot, for half a second.
  const baselineEnd = performance.now() + 500;
  const baseline = await commitLoop(
    db,
    () => performance.now() >= baselineEnd,
    performance.now(),
    0,
  );
  await db.flush();
  let done = false;
  const start = performance.now();
  const snapshot = db.snapshot().finally(() => (done = true));
  const during = await commitLoop(db, () => done, start, baseline.next);
  const info = await snapshot;
  const seconds = (performance.now() - start) / 1000;
  await db.close();
  const reopenStart = performance.now();
  await (await open(options)).close();
  const reopenSeconds = (performance.now() - reopenStart) / 1000;
  await removeDirectory(options.path!);
  const sorted = sortedOf(during.gaps);
  const base = sortedOf(baseline.gaps);
  const result = {
    rows,
    seconds,
    reopenSeconds,
    sizeBytes: info.sizeBytes,
    commits: during.gaps.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    baselineP50: percentile(base, 0.5),
    baselineP99: percentile(base, 0.99),
    baselineMax: base[base.length - 1] ?? Number.NaN,
  };
  console.log(
    `  snapshot ${dec(result.seconds, 2)} s, ${mib(result.sizeBytes)} ` +
      `(${fmt(result.sizeBytes)} bytes); ${fmt(result.commits)} commits during it`,
  );
  console.log(
    `  gap between commits during snapshot: p50 ${dec(result.p50, 3)} ms  p99 ${dec(result.p99, 3)} ms` +
      `  max ${dec(result.max, 3)} ms`,
  );
  console.log(
    `  gap without snapshot (baseline):     p50 ${dec(result.baselineP50, 3)} ms  ` +
      `p99 ${dec(result.baselineP99, 3)} ms  max ${dec(result.baselineMax, 3)} ms`,
  );
  console.log(`  open from that snapshot: ${dec(result.reopenSeconds, 2)} s`);
  return result;
}

// ---- Main ----

async function main(): Promise<void> {
  console.log(
    `bench/log: node ${process.version}, ${cpus()[0]?.model ?? "cpu"} x${cpus().length}, ` +
      `data under ${tmpRoot}`,
  );
  console.log(
    `${fmt(accountCount)} accounts; committers ${committerCounts.join("/")}; ` +
      `${secondsPerPoint} s per point${only === undefined ? "" : `; only ${only.join(",")}`}\n`,
  );

  const commits = enabled("sync") ? await commitSection() : undefined;
  if (commits !== undefined) console.log(`  [${elapsed()}]\n`);
  const sync = commits?.points ?? [];
  const sqlite = commits?.sqlite;
  const asyncResult = enabled("async") ? await asyncVersusMemory() : undefined;
  if (enabled("async")) console.log(`  [${elapsed()}]\n`);
  const rec = enabled("recovery") ? await recovery() : undefined;
  if (enabled("recovery")) console.log(`  [${elapsed()}]\n`);
  const stall = enabled("snapshot") ? await snapshotStall(rec?.path) : undefined;
  if (enabled("snapshot")) console.log(`  [${elapsed()}]\n`);
  if (rec !== undefined && stall === undefined) await removeDirectory(rec.path);

  // ---- Table ----
  const lines: string[] = [];
  const missed: string[] = [];
  const check = (name: string, met: boolean, why: string): string => {
    if (!met) missed.push(`${name}: ${why}`);
    return verdict(met, why);
  };
  const top = sync.find((p) => p.committers === Math.max(...committerCounts));

  console.log("== results ==");
  if (sync.length > 0) {
    console.log(
      "committers  statebase sync/s   p50 ms    p99 ms  commits/fsync    naive/s  naive p50 ms  naive p99 ms  ours/naive",
    );
    for (const p of sync) {
      console.log(
        [
          String(p.committers).padStart(10),
          fmt(p.ours.rate).padStart(17),
          dec(p.ours.p50, 3).padStart(8),
          dec(p.ours.p99, 3).padStart(9),
          (p.commitsPerFsync === undefined ? "-" : dec(p.commitsPerFsync, 1)).padStart(14),
          fmt(p.naive.rate).padStart(10),
          dec(p.naive.p50, 3).padStart(13),
          dec(p.naive.p99, 3).padStart(13),
          `${dec(p.ours.rate / p.naive.rate, 1)}x`.padStart(11),
        ].join(" "),
      );
    }
    if (sqlite !== undefined) {
      console.log(
        `sqlite (WAL, synchronous=FULL, 1 committer): ${fmt(sqlite.rate)} commits/s, ` +
          `p50 ${dec(sqlite.p50, 3)} ms, p99 ${dec(sqlite.p99, 3)} ms`,
      );
    }
    console.log(`(record size ${fmt(recordBytes)} bytes)`);
  }
  console.log("");
  console.log("== targets ==");
  if (top !== undefined) {
    console.log(
      `sync commits/s @ ${top.committers} committers: ${fmt(top.ours.rate)}   target >= ` +
        `${fmt(targets.syncCommits)}   ` +
        check(
          "sync commits/s",
          top.ours.rate >= targets.syncCommits,
          `${fmt(top.ours.rate)} < ${fmt(targets.syncCommits)}`,
        ),
    );
    lines.push(
      `| sync commits/s, ${top.committers} committers | ${fmt(top.ours.rate)} | >= ${fmt(targets.syncCommits)} |`,
    );
    for (const p of sync) {
      lines.push(
        `| sync commits, ${p.committers} committer${p.committers === 1 ? "" : "s"}: rate, latency p50 / p99 | ` +
          `${fmt(p.ours.rate)}/s, ${dec(p.ours.p50, 3)} / ${dec(p.ours.p99, 3)} ms | |`,
      );
    }
    for (const p of sync) {
      lines.push(
        `| vs naive fsync per commit, ${p.committers} committer${p.committers === 1 ? "" : "s"} ` +
          `(${fmt(p.naive.rate)}/s) | ${dec(p.ours.rate / p.naive.rate, 1)}x | |`,
      );
    }
    console.log(
      `vs naive fsync-per-commit @ ${top.committers}: ${dec(top.ours.rate / top.naive.rate, 1)}x ` +
        `(${fmt(top.naive.rate)} commits/s)   (no target)`,
    );
    if (sqlite !== undefined) {
      const ratio = top.ours.rate / sqlite.rate;
      console.log(
        `vs SQLite WAL synchronous=FULL: ${dec(ratio, 1)}x (${fmt(sqlite.rate)} commits/s)   ` +
          `target >= ${targets.vsSqlite}x   ` +
          check(
            "vs SQLite FULL",
            ratio >= targets.vsSqlite,
            `${dec(ratio, 1)}x < ${targets.vsSqlite}x`,
          ),
      );
      lines.push(
        `| vs SQLite (WAL, synchronous=FULL, ${fmt(sqlite.rate)} commits/s) | ${dec(ratio, 1)}x | >= ${targets.vsSqlite}x |`,
      );
    }
  }
  if (asyncResult !== undefined) {
    const ratio = asyncResult.memory / asyncResult.async;
    console.log(
      `memory/async: ${dec(ratio)} (memory ${fmt(asyncResult.memory)}/s, async ` +
        `${fmt(asyncResult.async)}/s)   target <= ${targets.memoryOverAsync}   ` +
        check(
          "async vs memory",
          ratio <= targets.memoryOverAsync,
          `${dec(ratio)} > ${targets.memoryOverAsync}`,
        ),
    );
    lines.push(
      `| async transfers/s (memory/async) | ${fmt(asyncResult.async)} (${dec(ratio)}) | <= ${targets.memoryOverAsync} |`,
    );
  }
  if (rec !== undefined) {
    const recordsRate = rec.single.records / rec.single.openSeconds;
    const per1M = (rec.batched.openSeconds * 1_000_000) / rec.batched.rows;
    console.log(
      `recovery, single-row commits: ${fmt(recordsRate)} records/s   target >= ` +
        `${fmt(targets.recoveryRecords)}   ` +
        check(
          "recovery records/s",
          recordsRate >= targets.recoveryRecords,
          `${fmt(recordsRate)} < ${fmt(targets.recoveryRecords)}`,
        ),
    );
    console.log(
      `recovery, 1,000-row transactions: ${dec(per1M, 2)} s per 1,000,000 rows ` +
        `(${fmt(rec.batched.rows / rec.batched.openSeconds)} rows/s)   (no target)`,
    );
    if (recoveryCommits !== 1_000_000) {
      console.log(`  (single-row case ran ${fmt(recoveryCommits)} commits, not 1,000,000)`);
    }
    lines.push(
      `| recovery, single-row commits (${fmt(rec.single.records)} records) | ${fmt(recordsRate)} records/s | >= ${fmt(targets.recoveryRecords)} |`,
    );
    lines.push(
      `| open of a new database (10 commits, one 64 MiB segment) | ` +
        `${dec(rec.small.openSeconds * 1000, 0)} ms | |`,
    );
    lines.push(
      `| recovery of 1,000,000 rows (${fmt(rec.batched.records)} records of ${fmt(rowsPerTransaction)} rows` +
        `${rec.batched.rows === 1_000_000 ? "" : `; scaled from ${fmt(rec.batched.rows)}`}) | ` +
        `${dec(per1M, 2)} s (${fmt(rec.batched.rows / rec.batched.openSeconds)} rows/s) | |`,
    );
  }
  if (stall !== undefined) {
    console.log(
      `snapshot stall p99: ${dec(stall.p99, 3)} ms (p50 ${dec(stall.p50, 3)}, max ${dec(stall.max, 3)})` +
        `   target <= ${targets.stallP99Ms} ms   ` +
        check(
          "snapshot stall p99",
          stall.p99 <= targets.stallP99Ms,
          `${dec(stall.p99, 3)} ms > ${targets.stallP99Ms} ms`,
        ),
    );
    lines.push(
      `| snapshot stall of ${fmt(stall.rows)} rows (p50 / p99 / max) | ${dec(stall.p50, 3)} / ${dec(stall.p99, 3)} / ${dec(stall.max, 3)} ms | p99 <= ${targets.stallP99Ms} ms |`,
    );
    lines.push(
      `| snapshot of ${fmt(stall.rows)} rows | ${dec(stall.seconds, 2)} s, ${mib(stall.sizeBytes)} | |`,
    );
    lines.push(`| open from that snapshot | ${dec(stall.reopenSeconds, 2)} s | |`);
  }
  console.log("");
  if (missed.length === 0) console.log("every target met");
  else
    console.log(`MISSED ${missed.length} target(s):\n${missed.map((m) => `  - ${m}`).join("\n")}`);

  console.log("");
  console.log("== figures ==");
  console.log(
    `Node ${process.version}, ${cpus()[0]?.model ?? "cpu"} x${cpus().length}, data under ${tmpRoot}`,
  );
  console.log("| measure | figure | target |");
  console.log("|---|---|---|");
  for (const line of lines) console.log(line);
  console.log("");
  console.log(`elapsed ${elapsed()}`);
}

try {
  await main();
} finally {
  if (tempRoot !== undefined) await rm(tempRoot, { recursive: true, force: true });
}
