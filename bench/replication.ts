/**
 * bench/replication: the log through NATS JetStream versus the local log, in one run.
 * 1. Commit throughput and commit latency (commit to `db.durable()` resolving) with
 *    CLIENTS pipelined clients (default 64), each committing one row at a time: first on the
 *    local log in `sync` mode, then on a replicated writer (acknowledged by JetStream).
 * 2. Follower lag: a follower in a child process applies the stream and reports how old each
 *    commit was when it applied it (both processes read the same clock): at the full load of
 *    step 1, then at the target load, RATE commits/s (default 20,000) for PACED_MS.
 * 3. Start of a new node (its own process) from an object-store snapshot of ROWS rows
 *    (default 1,000,000).
 *
 * Needs the nats-server at NATS_URL (default nats://127.0.0.1:4222).
 * Run from the repository root: `node --import tsx bench/replication.ts`
 * (COMMITS=20000 ROWS=200000 for a shorter run; SKIP_LOCAL=1 skips the local log).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { open } from "../src/index.ts";
import type { Database } from "../src/index.ts";
import { deleteReplicatedLog, natsUrl, uniqueStream } from "../test/support/nats.ts";

const commits = Number(process.env.COMMITS ?? 100_000);
const clients = Number(process.env.CLIENTS ?? 64);
const rows = Number(process.env.ROWS ?? 1_000_000);
const pacedRate = Number(process.env.RATE ?? 20_000);
const pacedMs = Number(process.env.PACED_MS ?? 5_000);
const quiet = (): void => undefined;

if (process.argv[2] === "follower") await runFollower(process.argv[3]!);
else if (process.argv[2] === "late") await runLateNode(process.argv[3]!);
else await main();

/** A new node: prints how long opening took (snapshot download, restore, tail) and its rows. */
async function runLateNode(stream: string): Promise<void> {
  const at = performance.now();
  const late = await open({
    replicate: { url: natsUrl, stream, node: "bench-late", role: "follower" },
    onMessage: quiet,
  });
  const startMs = performance.now() - at;
  process.stdout.write(`${startMs} ${late.table("bench::big").size}\n`);
  await late.close();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "statebase-replication-bench-"));
  const stream = uniqueStream("bench");
  try {
    if (process.env.SKIP_LOCAL === undefined) {
      const local = await open({ path: dir, durability: "sync", onMessage: quiet });
      report("local log, sync", await runLoad(local));
      await local.close();
    }

    const writer = await open({
      replicate: { url: natsUrl, stream, node: "bench-writer", snapshotLogBytes: 0 },
      onMessage: (kind, message) => console.error(`${kind}: ${message}`),
    });
    const follower = startFollower(stream);
    await follower.ready;
    const load = await runLoad(writer);
    report("JetStream, writer", load);
    reportLag("at full load", await follower.lagsUntil(0, writer.seq));
    const pacedFrom = writer.seq + 1;
    const paced = await runPaced(writer);
    report(`JetStream, writer paced at ${pacedRate.toLocaleString("en-US")}/s`, paced, "paced");
    reportLag("at the paced load", await follower.lagsUntil(pacedFrom, writer.seq));
    follower.child.kill();
    await snapshotStart(writer, stream);
    await writer.close();
  } finally {
    await deleteReplicatedLog(stream);
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Load {
  seconds: number;
  latenciesMs: number[];
}

/** `clients` loops, each: commit one row, await durability, repeat; `commits` in total. */
async function runLoad(db: Database): Promise<Load> {
  db.createNamespace("bench", { ifNotExists: true });
  const table = db.createTable(
    "bench::events",
    { columns: { id: "int8", client: "int4", payload: "utf8" }, primaryKey: "id" },
    { ifNotExists: true },
  );
  await db.durable();
  const latenciesMs: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (next < commits) {
        const id = ++next;
        const at = performance.now();
        table.insert({ id, client, payload: `event ${id} from client ${client}` });
        await db.durable();
        latenciesMs.push(performance.now() - at);
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latenciesMs };
}

/** Commits at `pacedRate` per second for `pacedMs`, topping up every millisecond. */
async function runPaced(db: Database): Promise<Load> {
  const table = db.table("bench::events");
  const latenciesMs: number[] = [];
  const waits: Array<Promise<void>> = [];
  let id = db.table("bench::events").size + 1;
  let sent = 0;
  const started = performance.now();
  for (;;) {
    const elapsedMs = performance.now() - started;
    if (elapsedMs >= pacedMs) break;
    for (const due = Math.floor((elapsedMs * pacedRate) / 1000); sent < due; sent++) {
      const at = performance.now();
      table.insert({ id: id++, client: -1, payload: `paced event ${sent}` });
      waits.push(db.durable().then(() => void latenciesMs.push(performance.now() - at)));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(waits);
  return { seconds: (performance.now() - started) / 1000, latenciesMs };
}

function reportLag(what: string, lags: number[]): void {
  console.log(
    `follower lag ${what} (commit to applied in another process): p50 ${pct(lags, 0.5)} ms, ` +
      `p99 ${pct(lags, 0.99)} ms, max ${pct(lags, 1)} ms over ${lags.length} commits`,
  );
}

function report(what: string, load: Load, by = `with ${clients} clients`): void {
  const rate = Math.round(load.latenciesMs.length / load.seconds);
  console.log(
    `${what}: ${rate.toLocaleString("en-US")} commits/s ${by}; latency ` +
      `p50 ${pct(load.latenciesMs, 0.5)} ms, p99 ${pct(load.latenciesMs, 0.99)} ms`,
  );
}

function pct(values: number[], q: number): string {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return (sorted[index] ?? 0).toFixed(2);
}

/** A follower process; it prints `lag <seq> <ms>` per applied commit. */
function startFollower(stream: string) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", import.meta.filename, "follower", stream],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  process.on("exit", () => child.kill());
  const lags: Array<{ seq: number; ms: number }> = [];
  let seq = 0;
  let wake: (() => void) | undefined;
  let readyResolve!: () => void;
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  createInterface({ input: child.stdout }).on("line", (line) => {
    const [kind, a, b] = line.split(" ");
    if (kind === "ready") readyResolve();
    if (kind !== "lag") return;
    seq = Number(a);
    lags.push({ seq, ms: Number(b) });
    wake?.();
  });
  return {
    child,
    ready,
    /** Lags of the commits `fromSeq..target`, once the follower has applied `target`. */
    async lagsUntil(fromSeq: number, target: number): Promise<number[]> {
      while (seq < target) await new Promise<void>((resolve) => (wake = resolve));
      return lags.filter((lag) => lag.seq >= fromSeq && lag.seq <= target).map((l) => l.ms);
    },
  };
}

async function runFollower(stream: string): Promise<void> {
  const db = await open({
    replicate: { url: natsUrl, stream, node: "bench-follower", role: "follower" },
    onMessage: quiet,
  });
  let lines: string[] = [];
  db.addCommitListener((commit) => {
    // The commit's ts is the writer's clock; both processes run on this machine.
    lines.push(
      `lag ${commit.seq} ${(performance.timeOrigin + performance.now() - commit.ts).toFixed(2)}`,
    );
    if (lines.length >= 256) flushLines();
  });
  const flushLines = (): void => {
    if (lines.length > 0) process.stdout.write(`${lines.join("\n")}\n`);
    lines = [];
  };
  setInterval(flushLines, 5).unref();
  process.stdout.write("ready\n");
  await new Promise(() => undefined);
}

/** Fills `rows` rows, snapshots them into the object store and times a new node's start. */
async function snapshotStart(writer: Database, stream: string): Promise<void> {
  const table = writer.createTable("bench::big", {
    columns: { id: "int8", name: "utf8", amount: "int8" },
    primaryKey: "id",
  });
  const batch = 2_000; // one commit stays well below the NATS message size limit
  for (let start = 0; start < rows; start += batch) {
    writer.transact(() => {
      for (let id = start; id < Math.min(rows, start + batch); id++) {
        table.insert({ id, name: `customer ${id}`, amount: id % 1000 });
      }
    });
    await writer.durable();
  }
  let at = performance.now();
  const snapshot = await writer.snapshot();
  const writeMs = performance.now() - at;
  // The new node runs in its own process, as it would in production: its synchronous restore
  // must not stall this writer's event loop (and its lease renewals).
  const child = spawn(process.execPath, ["--import", "tsx", import.meta.filename, "late", stream], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await new Promise((resolve) => child.once("exit", resolve));
  const [startMs, size] = output.trim().split(" ").map(Number) as [number, number];
  console.log(
    `snapshot of ${rows.toLocaleString("en-US")} rows: ${(snapshot.sizeBytes / 1e6).toFixed(1)} MB ` +
      `written and uploaded in ${(writeMs / 1000).toFixed(2)} s; a new node started from it ` +
      `in ${(startMs / 1000).toFixed(2)} s (${size.toLocaleString("en-US")} rows)`,
  );
}
