/**
 * bench/server: the transfer workload published by SpacetimeDB, against a real
 * `statebase serve --durability sync` (the transfer as a procedure, called over WebSocket
 * through the TypeScript client) and, in the same run, PostgreSQL (one transaction per
 * transfer from Node with `pg`: a PL/pgSQL function locking both rows in id order, with
 * `fsync` and `synchronous_commit` on) and Redis (a Lua script per transfer, `appendfsync
 * always`). Equal durability: none answers before the transfer is fsynced.
 *
 * Workload: ACCOUNTS (100,000) accounts; each transfer reads two balances, checks funds,
 * debits one and credits the other. Account choice uniform, or Zipf with α = 1.5 (a few hot
 * accounts: contention). CLIENTS (64) closed-loop clients, one request in flight each.
 * Per system and distribution: a warm-up second, then SECONDS (5) measured; TPS counts
 * completed transfers; p50/p99 are client-measured (request sent to answer received). Each
 * server's CPU time per transfer (its processes' user + system time, from /proc) is shown
 * too: the client runs on the same two cores, so TPS also measures the client.
 *
 * Knobs (environment): SECONDS, ACCOUNTS, CLIENTS, SYSTEMS ("statebase,postgres,redis"),
 * DISTRIBUTIONS ("uniform,zipf").
 * Run: `cd bench && npm install && cd ..`, then `node --import tsx bench/server.ts`.
 * PostgreSQL needs `initdb`/`pg_ctl` on PATH (run as the `postgres` user when root).
 */
import { execFileSync, spawn } from "node:child_process";
import { chownSync, mkdtempSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { connect } from "../src/client/index.ts";
import type { Client } from "../src/client/index.ts";
import { startServer } from "../test/support/server-process.ts";
import { makeRandom } from "./transfers.ts";
import type { Redis } from "ioredis";
import { cpuMs, treeCpuMs } from "./process-cpu.ts";
import { connectRedis, freePort, startRedisServer } from "./redis-peer.ts";

const seconds = Number(process.env.SECONDS ?? 5);
const accountCount = Number(process.env.ACCOUNTS ?? 100_000);
const clientCount = Number(process.env.CLIENTS ?? 64);
const systems = (process.env.SYSTEMS ?? "statebase,postgres,redis").split(",");
const distributions = (process.env.DISTRIBUTIONS ?? "uniform,zipf").split(",") as Array<
  "uniform" | "zipf"
>;
const balanceStart = 1_000_000;
/** Long enough for the JIT of the client and the server on a loaded 2-core machine. */
const warmupMs = 3_000;
const zipfAlpha = 1.5;

type Transfer = (from: number, to: number, amount: number) => Promise<unknown>;

/** A system under test: one transfer function per client, and a way to stop. */
interface System {
  name: string;
  clients: Transfer[];
  /** CPU time the server (its processes) has used so far, in ms. */
  serverCpuMs(): number;
  close(): Promise<void>;
}

interface Result {
  tps: number;
  p50Ms: number;
  p99Ms: number;
  count: number;
  /** Server CPU time per transfer in the measured window. */
  cpuUsPerTransfer: number;
  /**
   * This process's CPU time per transfer in the measured window: the clients (and the load
   * loop, the same for every system), which share the two cores with the server.
   */
  clientCpuUsPerTransfer: number;
}

// ---- Account choice ----

/** Draws account ids: uniform, or Zipf(α) over ranks 1..n mapped to ids 0..n-1. */
function makeChooser(distribution: "uniform" | "zipf", seed: number): () => number {
  const random = makeRandom(seed);
  if (distribution === "uniform") return () => random() % accountCount;
  const cumulative = zipfCumulative();
  return () => {
    const u = random() / 2 ** 32;
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (cumulative[mid]! < u) low = mid + 1;
      else high = mid;
    }
    return low;
  };
}

let zipfTable: Float64Array | undefined;

function zipfCumulative(): Float64Array {
  if (zipfTable !== undefined) return zipfTable;
  const table = new Float64Array(accountCount);
  let sum = 0;
  for (let rank = 1; rank <= accountCount; rank++) {
    sum += 1 / rank ** zipfAlpha;
    table[rank - 1] = sum;
  }
  for (let i = 0; i < accountCount; i++) table[i]! /= sum;
  zipfTable = table;
  return table;
}

// ---- The load ----

async function run(system: System, distribution: "uniform" | "zipf"): Promise<Result> {
  const latencies: number[] = [];
  let measuring = false;
  let stop = false;
  const loops = system.clients.map(async (transfer, index) => {
    const choose = makeChooser(distribution, 1000 + index);
    const amounts = makeRandom(2000 + index);
    while (!stop) {
      const from = choose();
      let to = choose();
      if (to === from) to = (to + 1) % accountCount;
      const started = performance.now();
      await transfer(from, to, 1 + (amounts() % 100));
      if (measuring) latencies.push(performance.now() - started);
    }
  });
  await sleep(warmupMs);
  measuring = true;
  const started = performance.now();
  const cpuBefore = system.serverCpuMs();
  const clientCpuBefore = process.cpuUsage();
  await sleep(seconds * 1000);
  measuring = false;
  const cpuUsed = system.serverCpuMs() - cpuBefore;
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const elapsed = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(loops);
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    tps: latencies.length / elapsed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    count: latencies.length,
    cpuUsPerTransfer: (cpuUsed * 1000) / latencies.length,
    clientCpuUsPerTransfer: (clientCpu.user + clientCpu.system) / latencies.length,
  };
}

// ---- Statebase ----

async function startStatebase(): Promise<System> {
  const module = resolve(import.meta.dirname, "server-procedures.ts");
  const server = await startServer({
    args: ["--durability", "sync", "--rcp", "off", "--module", module],
  });
  const url = `http://127.0.0.1:${server.http.port}`;
  const admin = await connect(url);
  await admin.admin(
    "create namespace bank; " +
      "create table bank::accounts { id: int8, balance: int8 } with { primary_key: { id } }",
  );
  for (let from = 0; from < accountCount; from += 10_000) {
    const to = Math.min(accountCount, from + 10_000);
    await admin.call("seed", { from, to, balance: balanceStart });
  }
  const clients: Client[] = await Promise.all(
    Array.from({ length: clientCount }, () => connect(url, { transport: "websocket" })),
  );
  return {
    name: "statebase (procedure over WebSocket, sync)",
    clients: clients.map(
      (client) => (from, to, amount) => client.call("transfer", { from, to, amount }),
    ),
    serverCpuMs: () => cpuMs(server.process.pid!),
    close: async () => {
      await Promise.all([...clients, admin].map((client) => client.close()));
      await server.stop();
    },
  };
}

// ---- PostgreSQL ----

interface PgClient {
  connect(): Promise<void>;
  query(text: string, values?: unknown[]): Promise<unknown>;
  end(): Promise<void>;
}

const pgSchema = `
DROP TABLE IF EXISTS accounts;
CREATE TABLE accounts (id int8 PRIMARY KEY, balance int8 NOT NULL);
INSERT INTO accounts SELECT g, ${balanceStart} FROM generate_series(0, ${accountCount - 1}) g;
CREATE OR REPLACE FUNCTION transfer(a int8, b int8, amount int8) RETURNS boolean AS $$
DECLARE source int8;
BEGIN
  PERFORM 1 FROM accounts WHERE id IN (a, b) ORDER BY id FOR UPDATE;
  SELECT balance INTO source FROM accounts WHERE id = a;
  IF source < amount THEN RETURN false; END IF;
  UPDATE accounts SET balance = balance - amount WHERE id = a;
  UPDATE accounts SET balance = balance + amount WHERE id = b;
  RETURN true;
END $$ LANGUAGE plpgsql;`;

/** Runs a PostgreSQL tool; as root, as the `postgres` user (initdb refuses root). */
function pgTool(args: string[]): void {
  const root = userInfo().uid === 0;
  const [command, ...rest] = root ? ["runuser", "-u", "postgres", "--", ...args] : args;
  execFileSync(command!, rest, { stdio: "ignore" });
}

async function startPostgres(): Promise<System> {
  const specifier = "pg"; // no type declarations installed: typed by PgClient below
  const pg = ((await import(specifier)) as { default: unknown }).default as {
    Client: new (options: Record<string, unknown>) => PgClient;
  };
  const dir = mkdtempSync(join(tmpdir(), "statebase-bench-pg-"));
  if (userInfo().uid === 0) {
    const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"]).toString());
    chownSync(dir, id("-u"), id("-g"));
  }
  const port = await freePort();
  const data = join(dir, "data");
  pgTool(["initdb", "-D", data, "-U", "postgres", "--auth=trust"]);
  const options =
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on ` +
    `-c synchronous_commit=on -c max_connections=${clientCount + 10} -c shared_buffers=256MB`;
  pgTool(["pg_ctl", "-D", data, "-o", options, "-l", join(dir, "log"), "-w", "start"]);
  const settings = { host: "127.0.0.1", port, user: "postgres", database: "postgres" };
  const admin = new pg.Client(settings);
  await admin.connect();
  await admin.query(pgSchema);
  await admin.query("VACUUM ANALYZE accounts"); // not allowed inside the schema's transaction
  const postmasterPid = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  const clients = await Promise.all(
    Array.from({ length: clientCount }, async () => {
      const client = new pg.Client(settings);
      await client.connect();
      return client;
    }),
  );
  return {
    name: "PostgreSQL 15 (pg, PL/pgSQL transfer, fsync)",
    clients: clients.map(
      (client) => (from, to, amount) =>
        client.query("SELECT transfer($1, $2, $3)", [from, to, amount]),
    ),
    // The postmaster and its backends (one per client connection).
    serverCpuMs: () => treeCpuMs(postmasterPid),
    close: async () => {
      await Promise.all([...clients, admin].map((client) => client.end()));
      pgTool(["pg_ctl", "-D", data, "-m", "fast", "-w", "stop"]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---- Redis ----

const redisTransfer = `
local source = tonumber(redis.call('GET', KEYS[1]))
local target = tonumber(redis.call('GET', KEYS[2]))
local amount = tonumber(ARGV[1])
if source == nil or target == nil or source < amount then return 0 end
redis.call('SET', KEYS[1], source - amount)
redis.call('SET', KEYS[2], target + amount)
return 1`;

async function startRedis(): Promise<System> {
  const server = await startRedisServer();
  const open = async () =>
    (await connectRedis(server.port, { name: "transfer", lua: redisTransfer })) as Redis & {
      transfer(a: string, b: string, n: number): Promise<number>;
    };
  const admin = await open();
  for (let from = 0; from < accountCount; from += 10_000) {
    const pairs: string[] = [];
    for (let id = from; id < Math.min(accountCount, from + 10_000); id++)
      pairs.push(`a:${id}`, String(balanceStart));
    await admin.mset(...pairs);
  }
  const clients = await Promise.all(Array.from({ length: clientCount }, open));
  return {
    name: "Redis (Lua script, appendfsync always)",
    clients: clients.map(
      (client) => (from, to, amount) => client.transfer(`a:${from}`, `a:${to}`, amount),
    ),
    serverCpuMs: () => cpuMs(server.pid),
    close: async () => {
      await Promise.all([...clients, admin].map((client) => client.quit()));
      await server.stop();
    },
  };
}

// ---- Main ----

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

const starters: Record<string, () => Promise<System>> = {
  statebase: startStatebase,
  postgres: startPostgres,
  redis: startRedis,
};

const results = new Map<string, Result>();
console.log(
  `transfer workload: ${accountCount} accounts, ${clientCount} clients, ${seconds} s ` +
    `measured per point (after ${warmupMs} ms warm-up)`,
);
for (const distribution of distributions) {
  for (const name of systems) {
    const system = await starters[name]!();
    const result = await run(system, distribution);
    await system.close();
    results.set(`${name}/${distribution}`, result);
    console.log(
      `${distribution.padEnd(8)} ${system.name.padEnd(48)} ${result.tps.toFixed(0).padStart(7)} TPS` +
        `  p50 ${result.p50Ms.toFixed(2)} ms  p99 ${result.p99Ms.toFixed(2)} ms` +
        `  server CPU ${result.cpuUsPerTransfer.toFixed(0)} µs/transfer` +
        `  client CPU ${result.clientCpuUsPerTransfer.toFixed(0)} µs/transfer`,
    );
  }
}
for (const distribution of distributions) {
  const ours = results.get(`statebase/${distribution}`);
  for (const peer of ["postgres", "redis"]) {
    const theirs = results.get(`${peer}/${distribution}`);
    if (ours === undefined || theirs === undefined) continue;
    console.log(`${distribution}: statebase / ${peer} = ${(ours.tps / theirs.tps).toFixed(2)}×`);
  }
}
