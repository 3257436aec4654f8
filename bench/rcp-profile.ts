/**
 * bench/rcp-profile: APPLY_EVENT throughput of `statebase serve --durability sync` driven by
 * several client processes, so that the measurement is of the server and not of one client's
 * event loop (bench/rcp.ts drives every connection from one process). It also reports how
 * many commits share one fsync (WAL_STATS before and after each round).
 *
 * The workload is bench/rcp.ts's: a two-state machine toggled by TOGGLE with payload `{n}`;
 * every in-flight slot owns its own instance. Clients are deliberately thin: requests are
 * written as frames without parsing a response beyond `"status":"ok"`, and answers are
 * matched to slots by order (RCP answers a connection's requests in order).
 *
 * Knobs (environment): WORKERS (client processes, default 4), CONNECTIONS (default 50),
 * PIPELINE (in flight per connection, default 32), SECONDS (per round, default 3), ROUNDS
 * (default 3), DURABILITY (default sync), PROFILE (a directory: the server runs under
 * --cpu-prof), CLIENT_PROFILE (a directory: the workers run under --cpu-prof), SERVER_FLAGS
 * (more node flags for the server, e.g. `--trace-gc`).
 * The server's pid is printed, for `strace -c -f -p PID`.
 * Run: `node --import tsx bench/rcp-profile.ts`.
 */
import { fork, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeFrame } from "../src/protocol/frame.ts";
import { RcpClient } from "../src/protocol/index.ts";
import { cpuMs } from "./process-cpu.ts";

const workerCount = Number(process.env.WORKERS ?? 4);
const connectionCount = Number(process.env.CONNECTIONS ?? 50);
const pipelineDepth = Number(process.env.PIPELINE ?? 32);
const secondsPerRound = Number(process.env.SECONDS ?? 3);
const rounds = Number(process.env.ROUNDS ?? 3);
const durability = process.env.DURABILITY ?? "sync";
const warmupMs = 1500;
/** Latency histogram: 20 µs buckets up to 2 s. */
const bucketUs = 20;
const bucketCount = 100_000;

interface WorkerReport {
  completed: number;
  errors: number;
  histogram: number[];
}

type ParentMessage =
  | { kind: "start"; port: number; connections: number; firstSlot: number; pipeline: number }
  | { kind: "reset" }
  | { kind: "report" }
  | { kind: "stop" };

// ---- Worker: a few connections, each keeping `pipeline` requests in flight ----

function runWorker(): void {
  let completed = 0;
  let errors = 0;
  let histogram = new Uint32Array(bucketCount);
  let running = true;
  const sockets: Array<ReturnType<typeof connect>> = [];
  const request = (slot: number, n: number): Buffer => {
    const message = {
      type: "request",
      id: String(n),
      op: "APPLY_EVENT",
      params: { instance_id: `i-${slot}`, event: "TOGGLE", payload: { n } },
    };
    return encodeFrame(Buffer.from(JSON.stringify(message), "utf8"));
  };
  const open = (port: number, slots: number[]): void => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setNoDelay(true);
    sockets.push(socket);
    // Answers come in request order: a FIFO of (slot, sent at) matches them.
    const queue: Array<{ slot: number; sent: number }> = [];
    let buffered: Buffer = Buffer.alloc(0);
    let n = 0;
    const send = (slot: number): void => {
      queue.push({ slot, sent: performance.now() });
      socket.write(request(slot, n++));
    };
    socket.on("connect", () => {
      socket.cork();
      for (const slot of slots) send(slot);
      socket.uncork();
    });
    socket.on("data", (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      let offset = 0;
      socket.cork();
      while (buffered.length - offset >= 18) {
        const size = 18 + buffered.readUInt32BE(offset + 10);
        if (buffered.length - offset < size) break;
        const text = buffered.toString("latin1", offset + 18, offset + size);
        offset += size;
        const head = queue.shift()!;
        if (text.includes('"status":"ok"')) completed++;
        else errors++;
        const us = (performance.now() - head.sent) * 1000;
        histogram[Math.min(bucketCount - 1, Math.floor(us / bucketUs))]!++;
        if (running) send(head.slot);
      }
      socket.uncork();
      buffered = buffered.subarray(offset);
    });
    socket.on("error", (error) => {
      if (running) throw error;
    });
  };
  process.on("message", (message: ParentMessage) => {
    if (message.kind === "start") {
      for (let c = 0; c < message.connections; c++) {
        const first = message.firstSlot + c * message.pipeline;
        open(
          message.port,
          Array.from({ length: message.pipeline }, (_, i) => first + i),
        );
      }
      process.send!({ kind: "started" });
    } else if (message.kind === "reset") {
      completed = 0;
      errors = 0;
      histogram = new Uint32Array(bucketCount);
    } else if (message.kind === "report") {
      const report: WorkerReport = { completed, errors, histogram: [...histogram] };
      process.send!({ kind: "report", report });
    } else {
      running = false;
      for (const socket of sockets) socket.destroy();
      process.disconnect();
    }
  });
}

// ---- Parent: server, instances, workers, rounds ----

async function startServerProcess(): Promise<{ child: ChildProcess; port: number; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "statebase-rcp-profile-"));
  const bin = join(import.meta.dirname, "..", "bin", "statebase.js");
  const prof = process.env.PROFILE;
  const node = (prof === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${prof}`]).concat(
    (process.env.SERVER_FLAGS ?? "").split(" ").filter((flag) => flag !== ""),
  );
  const args = [...node, bin, "serve", "--data", join(dir, "d"), "--rcp", "127.0.0.1:0"];
  const child = spawn(process.execPath, [...args, "--http", "off", "--durability", durability], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      text += chunk;
      if (text.includes("ready")) resolve(text);
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { child, port: Number(/rcp=\S+:(\d+)/.exec(line)![1]), dir };
}

function ask<T>(worker: ChildProcess, message: ParentMessage, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const listener = (m: { kind: string; report?: T }): void => {
      if (m.kind !== reply) return;
      worker.off("message", listener);
      resolve(m.report as T);
    };
    worker.on("message", listener);
    worker.send(message);
  });
}

function percentileMs(histogram: Uint32Array, total: number, p: number): number {
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]!;
    if (seen > p * total) return ((i + 0.5) * bucketUs) / 1000;
  }
  return NaN;
}

interface WalStats {
  entry_count: number;
  io_stats: { fsyncs: number };
}

function cpuMsOf(pids: number[]): number {
  return pids.reduce((total, pid) => total + cpuMs(pid), 0);
}

async function measureRound(
  server: ChildProcess,
  workers: ChildProcess[],
  admin: RcpClient,
  ms: number,
) {
  for (const worker of workers) worker.send({ kind: "reset" });
  const before = await admin.request<WalStats>("WAL_STATS");
  const workerPids = workers.map((w) => w.pid!);
  const serverCpuBefore = cpuMs(server.pid!);
  const workerCpuBefore = cpuMsOf(workerPids);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const reports = await Promise.all(
    workers.map((w) => ask<WorkerReport>(w, { kind: "report" }, "report")),
  );
  const seconds = (performance.now() - started) / 1000;
  const serverCpu = cpuMs(server.pid!) - serverCpuBefore;
  const workerCpu = cpuMsOf(workerPids) - workerCpuBefore;
  const after = await admin.request<WalStats>("WAL_STATS");
  const histogram = new Uint32Array(bucketCount);
  let completed = 0;
  let errors = 0;
  for (const report of reports) {
    completed += report.completed;
    errors += report.errors;
    report.histogram.forEach((count, i) => (histogram[i]! += count));
  }
  const fsyncs = after.io_stats.fsyncs - before.io_stats.fsyncs;
  const commits = after.entry_count - before.entry_count;
  return {
    rate: completed / seconds,
    errors,
    p50Ms: percentileMs(histogram, completed, 0.5),
    p99Ms: percentileMs(histogram, completed, 0.99),
    fsyncsPerSecond: fsyncs / seconds,
    commitsPerFsync: fsyncs === 0 ? NaN : commits / fsyncs,
    serverCpuUsPerRequest: (serverCpu * 1000) / completed,
    serverCpuShare: serverCpu / 1000 / seconds,
    clientCpuUsPerRequest: (workerCpu * 1000) / completed,
  };
}

async function createInstances(admin: RcpClient, slots: number): Promise<void> {
  const definition = {
    states: ["a", "b"],
    initial: "a",
    transitions: [
      { from: "a", event: "TOGGLE", to: "b" },
      { from: "b", event: "TOGGLE", to: "a" },
    ],
  };
  await admin.request("PUT_MACHINE", { machine: "toggle", version: 1, definition });
  const creates: Array<Promise<unknown>> = [];
  for (let slot = 0; slot < slots; slot++) {
    creates.push(
      admin.request("CREATE_INSTANCE", { instance_id: `i-${slot}`, machine: "toggle", version: 1 }),
    );
  }
  await Promise.all(creates);
}

async function startWorkers(port: number): Promise<ChildProcess[]> {
  const clientProf = process.env.CLIENT_PROFILE;
  const execArgv = ["--import", "tsx"].concat(
    clientProf === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${clientProf}`],
  );
  const workers: ChildProcess[] = [];
  let connection = 0;
  for (let w = 0; w < workerCount; w++) {
    const share =
      Math.floor(connectionCount / workerCount) + (w < connectionCount % workerCount ? 1 : 0);
    const worker = fork(import.meta.filename, [], {
      execArgv,
      env: { ...process.env, RCP_PROFILE_WORKER: "1" },
    });
    workers.push(worker);
    const start = {
      kind: "start" as const,
      port,
      connections: share,
      firstSlot: connection * pipelineDepth,
      pipeline: pipelineDepth,
    };
    await ask(worker, start, "started");
    connection += share;
  }
  return workers;
}

async function main(): Promise<void> {
  const server = await startServerProcess();
  console.log(`server pid ${server.child.pid}, port ${server.port}, durability ${durability}`);
  const admin = await RcpClient.connect({ host: "127.0.0.1", port: server.port });
  await createInstances(admin, connectionCount * pipelineDepth);
  const workers = await startWorkers(server.port);
  await measureRound(server.child, workers, admin, warmupMs);
  const results = [];
  for (let round = 0; round < rounds; round++) {
    const r = await measureRound(server.child, workers, admin, secondsPerRound * 1000);
    results.push(r);
    console.log(
      `${workerCount} workers × ${connectionCount} conn × ${pipelineDepth}: ` +
        `${Math.round(r.rate)}/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  ` +
        `fsync/s ${Math.round(r.fsyncsPerSecond)}  commits/fsync ${r.commitsPerFsync.toFixed(0)}  ` +
        `server ${r.serverCpuUsPerRequest.toFixed(1)} µs CPU/req (${r.serverCpuShare.toFixed(2)} ` +
        `cores)  clients ${r.clientCpuUsPerRequest.toFixed(1)} µs/req` +
        (r.errors > 0 ? `  errors ${r.errors}` : ""),
    );
  }
  const med = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `median ${Math.round(med(results.map((r) => r.rate)))}/s, server ` +
      `${med(results.map((r) => r.serverCpuUsPerRequest)).toFixed(1)} µs CPU/req`,
  );
  for (const worker of workers) worker.send({ kind: "stop" });
  await admin.close();
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGTERM");
  await exited;
  await rm(server.dir, { recursive: true, force: true });
}

if (process.env.RCP_PROFILE_WORKER === "1") runWorker();
else await main();
