/**
 * bench/rcp: APPLY_EVENT over RCP against a real `statebase serve --durability sync`
 * process, and the same transition done the way a user would without Statebase: Redis with
 * a Lua script, `appendonly yes`, `appendfsync always` (equal durability: neither answers
 * before the change is fsynced).
 *
 * The transition: an instance toggles between states `a` and `b` on event TOGGLE with a
 * payload `{n}`. Statebase checks the state, merges the payload into the context, writes the
 * instance row, a history row and the log record (hash-chained, group fsync). The Lua script
 * checks the state, merges the payload into a JSON context, sets the state, takes the next
 * sequence number and appends a history entry to a list.
 *
 * Points: 1 and 50 connections, each unpipelined (1 request in flight per connection) and
 * pipelined (PIPELINE, default 32, in flight per connection; every in-flight slot owns its
 * own instance, so no request waits on another's conflict). Per point and system: a warm-up,
 * then ROUNDS (default 3) timed rounds of SECONDS (default 3) each, the two systems
 * alternating round by round so they share the machine's noise; the median round's rate is
 * shown, latency percentiles are the medians of the rounds' p50 and p99 (client-measured,
 * request written to answer parsed, one client process for both systems). Each server's CPU
 * time (user + system, from /proc) per operation is shown too: it does not depend on what
 * else shares the machine, so it says what one core could sustain (1e6 / µs per op). That
 * holds under load; unpipelined on one connection it does not (each operation sleeps and
 * wakes the server's threads, and what a wake-up costs depends on the load: 150–590 µs per
 * APPLY_EVENT for the same code on this 2-core VM). So each server's context switches per
 * operation (voluntary, all its threads, from /proc) are shown too: a thread-pool trip or an
 * extra event-loop wake-up shows there whatever the load. For Statebase, the commits per fsync
 * (WAL_STATS) say how well requests share a group commit.
 *
 * Knobs (environment): SECONDS, ROUNDS, PIPELINE, CONNECTIONS ("1,50"), PROFILE (a directory:
 * the Statebase server runs with --cpu-prof and writes its profile there on exit),
 * DURABILITY (default sync; `async` only to see what waiting for the disk costs), ONLY
 * (default "statebase,redis"; one of them alone, e.g. while profiling).
 * Run: `cd bench && npm install && cd ..`, then `node --import tsx bench/rcp.ts`.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { cpuMs } from "./process-cpu.ts";
import { connectRedis, startRedisServer } from "./redis-peer.ts";
import { RcpClient } from "../src/protocol/index.ts";
import { startServer } from "../test/support/server-process.ts";
import type { ServerProcess } from "../test/support/server-process.ts";

const secondsPerRound = Number(process.env.SECONDS ?? 3);
const rounds = Number(process.env.ROUNDS ?? 3);
const pipelineDepth = Number(process.env.PIPELINE ?? 32);
const connectionCounts = (process.env.CONNECTIONS ?? "1,50").split(",").map(Number);
const profileDir = process.env.PROFILE;
/** For diagnosis only (`async` shows what the per-request durability wait costs). */
const durability = process.env.DURABILITY ?? "sync";
const only = (process.env.ONLY ?? "statebase,redis").split(",");
/**
 * Per point and system, before the timed rounds. One second was too short for the server's
 * JIT at 1×1 (a few thousand operations): its CPU per operation kept falling over the next
 * six rounds (1,494 → ~600 µs), so the median round measured a server still warming up.
 * Three seconds, as bench/server.ts; Redis gets the same.
 */
const warmupMs = 3000;
const targets = { appliesPerSecond: 50_000, redisRatio: 1 };

interface Point {
  connections: number;
  inFlight: number;
}

interface Round {
  rate: number;
  p50Ms: number;
  p99Ms: number;
  /** Server process CPU time (user + system) per operation: independent of other load. */
  cpuUsPerOp: number;
  /**
   * This process's CPU time per operation (the client library and the driving loop): on a
   * two-core machine, what the client takes is not there for the server.
   */
  clientCpuUsPerOp: number;
  /** The server's voluntary context switches (all threads: each a sleep) per operation. */
  switchesPerOp: number;
  /** Operations per fsync of the server's log; NaN where not known (Redis). */
  opsPerFsync: number;
}

/** One system under test: a pool of connections and one transition on an instance slot. */
interface System {
  name: string;
  /** The server process, whose CPU time is read from /proc around every round. */
  pid: number;
  /** The log's fsyncs so far, where the system reports them. */
  fsyncCount?(): Promise<number>;
  prepare(point: Point): Promise<Driver>;
  close(): Promise<void>;
}

interface Driver {
  /** Applies one transition on slot `slot` (0 <= slot < connections * inFlight). */
  apply(slot: number, n: number): Promise<void>;
  close(): Promise<void>;
}

// ---- Statebase ----

const toggleMachine = {
  states: ["a", "b"],
  initial: "a",
  transitions: [
    { from: "a", event: "TOGGLE", to: "b" },
    { from: "b", event: "TOGGLE", to: "a" },
  ],
};

async function startStatebase(): Promise<System> {
  const server =
    profileDir === undefined ? await startTestServer() : await startProfiled(profileDir);
  const admin = await RcpClient.connect({ host: "127.0.0.1", port: server.rcp.port });
  await admin.request("PUT_MACHINE", { machine: "toggle", version: 1, definition: toggleMachine });
  let created = 0;
  let pointIndex = 0;
  return {
    name: "Statebase RCP",
    pid: server.process.pid!,
    async fsyncCount() {
      const stats = await admin.request<{ io_stats: { fsyncs: number } }>("WAL_STATS");
      return stats.io_stats.fsyncs;
    },
    async prepare(point) {
      const prefix = `p${pointIndex++}`;
      const slots = point.connections * point.inFlight;
      const creates: Array<Promise<unknown>> = [];
      for (let slot = 0; slot < slots; slot++) {
        const params = { instance_id: `${prefix}-${slot}`, machine: "toggle", version: 1 };
        creates.push(admin.request("CREATE_INSTANCE", params));
      }
      await Promise.all(creates);
      created += slots;
      const clients = await Promise.all(
        Array.from({ length: point.connections }, () =>
          RcpClient.connect({ host: "127.0.0.1", port: server.rcp.port }),
        ),
      );
      return {
        apply: async (slot, n) => {
          await clients[slot % point.connections]!.request("APPLY_EVENT", {
            instance_id: `${prefix}-${slot}`,
            event: "TOGGLE",
            payload: { n },
          });
        },
        close: async () => {
          await Promise.all(clients.map((client) => client.close()));
        },
      };
    },
    async close() {
      await admin.close();
      console.log(`(Statebase: ${created} instances; server stopped with SIGTERM)`);
      await server.stop();
    },
  };
}

interface StatebaseProcess {
  rcp: { port: number };
  process: { pid?: number | undefined };
  stop(): Promise<unknown>;
}

function startTestServer(): Promise<ServerProcess> {
  return startServer({ args: ["--durability", durability, "--http", "off"] });
}

/**
 * The server under `node --cpu-prof` (not allowed in NODE_OPTIONS, so not through
 * test/support/server-process.ts); the profile is written when SIGTERM ends it.
 */
async function startProfiled(dir: string): Promise<StatebaseProcess> {
  const data = await mkdtemp(join(tmpdir(), "statebase-bench-rcp-"));
  const bin = join(import.meta.dirname, "..", "bin", "statebase.js");
  const args = ["--cpu-prof", `--cpu-prof-dir=${dir}`, bin, "serve", "--data", join(data, "d")];
  const child = spawn(
    process.execPath,
    [...args, "--rcp", "127.0.0.1:0", "--http", "off", "--durability", durability],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      text += chunk;
      if (text.includes("ready")) resolve(text);
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  const port = Number(/rcp=\S+:(\d+)/.exec(line)![1]);
  return {
    rcp: { port },
    process: child,
    stop: async () => {
      await stopChild(child);
      await rm(data, { recursive: true, force: true });
    },
  };
}

// ---- Redis + Lua ----

/** Check state, merge the payload into the context, set state, append history. */
const transitionLua = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return redis.error_reply('INSTANCE_NOT_FOUND') end
local to = nil
if ARGV[1] == 'TOGGLE' then
  if state == 'a' then to = 'b' elseif state == 'b' then to = 'a' end
end
if not to then return redis.error_reply('INVALID_TRANSITION') end
local ctx = cjson.decode(redis.call('HGET', KEYS[1], 'ctx'))
local payload = cjson.decode(ARGV[2])
for k, v in pairs(payload) do ctx[k] = v end
local ctxText = cjson.encode(ctx)
local seq = redis.call('INCR', 'bench:seq')
redis.call('HSET', KEYS[1], 'state', to, 'ctx', ctxText, 'last_seq', seq)
redis.call('RPUSH', KEYS[2], cjson.encode({seq = seq, event = ARGV[1], from = state,
  to = to, payload = payload}))
return {state, to, ctxText, seq}
`;

type TransitionRedis = Redis & {
  transition(key: string, history: string, event: string, payload: string): Promise<unknown>;
};

async function startRedis(): Promise<System> {
  const server = await startRedisServer();
  const connect = async () =>
    (await connectRedis(server.port, {
      name: "transition",
      lua: transitionLua,
    })) as TransitionRedis;
  const admin = await connect();
  let pointIndex = 0;
  return {
    name: "Redis + Lua",
    pid: server.pid,
    async prepare(point) {
      const prefix = `p${pointIndex++}`;
      const slots = point.connections * point.inFlight;
      const pipeline = admin.pipeline();
      for (let slot = 0; slot < slots; slot++) {
        pipeline.hset(`i:${prefix}-${slot}`, "state", "a", "ctx", "{}", "last_seq", 0);
      }
      await pipeline.exec();
      const clients = await Promise.all(Array.from({ length: point.connections }, connect));
      return {
        apply: async (slot, n) => {
          const key = `${prefix}-${slot}`;
          const client = clients[slot % point.connections]!;
          await client.transition(`i:${key}`, `h:${key}`, "TOGGLE", JSON.stringify({ n }));
        },
        close: async () => {
          await Promise.all(clients.map((client) => client.quit()));
        },
      };
    },
    async close() {
      await admin.quit();
      await server.stop();
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

// ---- Measuring ----

/** Every slot loops apply-then-next until the deadline; returns rate and latencies. */
async function runRound(
  system: System,
  driver: Driver,
  point: Point,
  durationMs: number,
): Promise<Round> {
  const latencies: number[] = [];
  const fsyncsBefore = (await system.fsyncCount?.()) ?? NaN;
  const switchesBefore = contextSwitches(system.pid);
  const cpuBefore = cpuMs(system.pid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + durationMs;
  let completed = 0;
  const slot = async (index: number): Promise<void> => {
    for (let n = 0; ; n++) {
      const sent = performance.now();
      if (sent >= deadline) return;
      await driver.apply(index, n);
      const done = performance.now();
      latencies.push(done - sent);
      completed++;
    }
  };
  const slots = point.connections * point.inFlight;
  await Promise.all(Array.from({ length: slots }, (_, index) => slot(index)));
  const seconds = (performance.now() - started) / 1000;
  const cpuUsPerOp = ((cpuMs(system.pid) - cpuBefore) * 1000) / completed;
  const switchesPerOp = (contextSwitches(system.pid) - switchesBefore) / completed;
  const client = process.cpuUsage(clientBefore);
  const clientCpuUsPerOp = (client.user + client.system) / completed;
  const sorted = Float64Array.from(latencies).sort();
  const fsyncs = ((await system.fsyncCount?.()) ?? NaN) - fsyncsBefore;
  return {
    rate: completed / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    cpuUsPerOp,
    clientCpuUsPerOp,
    switchesPerOp,
    opsPerFsync: completed / fsyncs,
  };
}

/**
 * Voluntary context switches of every thread of process `pid` so far, from
 * /proc/<pid>/task/<tid>/status; threads that ended take theirs with them.
 */
function contextSwitches(pid: number): number {
  let total = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0; // the process is gone
  }
  for (const task of tasks) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/task/${task}/status`, "utf8");
    } catch {
      continue; // the thread ended
    }
    // Voluntary only: a thread that blocks (a sleep, a wake-up to come); being preempted
    // (nonvoluntary) depends on the machine's load.
    total += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return total;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface PointResult {
  point: Point;
  bySystem: Map<string, Summary>;
}

interface Summary {
  rate: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerOp: number;
  clientCpuUsPerOp: number;
  switchesPerOp: number;
  opsPerFsync: number;
  rates: number[];
}

async function measurePoint(systems: System[], point: Point): Promise<PointResult> {
  const drivers = await Promise.all(systems.map((system) => system.prepare(point)));
  for (const [index, driver] of drivers.entries()) {
    await runRound(systems[index]!, driver, point, warmupMs);
  }
  const roundsBySystem = systems.map((): Round[] => []);
  for (let round = 0; round < rounds; round++) {
    for (const [index, driver] of drivers.entries()) {
      const measured = await runRound(systems[index]!, driver, point, secondsPerRound * 1000);
      roundsBySystem[index]!.push(measured);
    }
  }
  for (const driver of drivers) await driver.close();
  const bySystem = new Map<string, Summary>();
  systems.forEach((system, index) => {
    const measured = roundsBySystem[index]!;
    bySystem.set(system.name, {
      rate: median(measured.map((r) => r.rate)),
      p50Ms: median(measured.map((r) => r.p50Ms)),
      p99Ms: median(measured.map((r) => r.p99Ms)),
      cpuUsPerOp: median(measured.map((r) => r.cpuUsPerOp)),
      clientCpuUsPerOp: median(measured.map((r) => r.clientCpuUsPerOp)),
      switchesPerOp: median(measured.map((r) => r.switchesPerOp)),
      opsPerFsync: median(measured.map((r) => r.opsPerFsync)),
      rates: measured.map((r) => r.rate),
    });
  });
  return { point, bySystem };
}

// ---- Report ----

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
const ms = (n: number): string => n.toFixed(2);

function printPoint(result: PointResult): void {
  const { connections, inFlight } = result.point;
  const label = `${connections} conn × ${inFlight} in flight`;
  for (const [name, r] of result.bySystem) {
    console.log(
      `${label.padEnd(24)}${name.padEnd(16)}${fmt(r.rate).padStart(9)}/s` +
        `   p50 ${ms(r.p50Ms).padStart(7)} ms   p99 ${ms(r.p99Ms).padStart(7)} ms` +
        `   server CPU ${r.cpuUsPerOp.toFixed(0).padStart(4)} µs/op` +
        `   client CPU ${r.clientCpuUsPerOp.toFixed(0).padStart(3)} µs/op` +
        `   switches ${r.switchesPerOp.toFixed(2).padStart(5)}/op` +
        (Number.isNaN(r.opsPerFsync) ? "" : `   ${r.opsPerFsync.toFixed(1)} ops/fsync`) +
        `   (rounds: ${r.rates.map(fmt).join(", ")})`,
    );
  }
  const ours = result.bySystem.get("Statebase RCP")?.rate;
  const theirs = result.bySystem.get("Redis + Lua")?.rate;
  if (ours === undefined || theirs === undefined) return;
  console.log(`${"".padEnd(24)}ratio Statebase / Redis+Lua: ${(ours / theirs).toFixed(2)}×\n`);
}

const systems: System[] = [];
if (only.includes("statebase")) systems.push(await startStatebase());
if (only.includes("redis")) systems.push(await startRedis());
const results: PointResult[] = [];
console.log(
  `APPLY_EVENT, sync durability vs Redis appendfsync always; ${rounds} rounds of ` +
    `${secondsPerRound} s per point, median shown\n`,
);
try {
  for (const connections of connectionCounts) {
    for (const inFlight of [1, pipelineDepth]) {
      const result = await measurePoint(systems, { connections, inFlight });
      printPoint(result);
      results.push(result);
    }
  }
} finally {
  for (const system of systems) await system.close();
}
const fifty = results.filter((r) => r.point.connections === 50);
const best = Math.max(...fifty.map((r) => r.bySystem.get("Statebase RCP")?.rate ?? 0));
if (fifty.length > 0 && only.includes("statebase")) {
  const met = best >= targets.appliesPerSecond;
  console.log(
    `target ≥ ${fmt(targets.appliesPerSecond)} APPLY_EVENT/s at 50 connections: ` +
      `${fmt(best)}/s (${met ? "met" : "NOT met"})`,
  );
}
const ratios = results.map(
  (r) =>
    (r.bySystem.get("Statebase RCP")?.rate ?? NaN) / (r.bySystem.get("Redis + Lua")?.rate ?? NaN),
);
console.log(
  `target ≥ ${targets.redisRatio}× Redis+Lua: ratios ${ratios.map((x) => x.toFixed(2)).join(", ")}`,
);
