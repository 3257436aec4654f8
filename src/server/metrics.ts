/**
 * @module Prometheus metrics of one server process (GET /metrics): commits, how long commits
 * take to become durable, log and snapshot sizes on disk, the durability lag, connections and
 * subscriptions, and per-operation counters and latencies for HTTP, WebSocket and RCP. Each
 * server owns its registry (never prom-client's global one), so tests can run several.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Database } from "../types.ts";
import { RequestMetrics } from "./request-metrics.ts";

export type Protocol = "http" | "ws" | "rcp";

/** What the listeners report; the registry renders it. */
export interface ServerMetrics {
  readonly registry: Registry;
  /**
   * Counts one finished request and records its latency; `outcome` is ok, an error code, or
   * forwarded (a follower relayed the writer's answer).
   */
  observeRequest(protocol: Protocol, op: string, outcome: string, seconds: number): void;
  connectionOpened(protocol: Protocol): void;
  connectionClosed(protocol: Protocol): void;
  subscriptionOpened(): void;
  subscriptionClosed(): void;
  /** Stops following the database. */
  close(): void;
}

const latencyBucketsSeconds = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** Creates the metrics of one server over `db`, whose data directory is `dataDir`. */
export function createServerMetrics(db: Database, dataDir: string | undefined): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "statebase_process_" });
  const requests = new RequestMetrics(
    registry,
    { count: "statebase_requests_total", latency: "statebase_request_duration_seconds" },
    {
      count: "Requests answered, by protocol, operation and outcome (ok, forwarded, error code).",
      latency:
        "Time from receiving a request to sending its answer, commit and fsync included " +
        "(RCP: until the answer is ready, without its wait for the fsync).",
    },
    latencyBucketsSeconds,
  );
  const connections = new Gauge({
    name: "statebase_connections",
    help: "Open client connections, by protocol.",
    labelNames: ["protocol"],
    registers: [registry],
  });
  new Gauge({
    name: "statebase_heap_limit_bytes",
    help: "The heap the server may fill (heapSizeMbMax, or V8's default); the state lives in it.",
    registers: [registry],
    collect() {
      this.set(getHeapStatistics().heap_size_limit);
    },
  });
  const subscriptions = new Gauge({
    name: "statebase_subscriptions",
    help: "Open subscriptions over WebSocket.",
    registers: [registry],
  });
  const stopDurability = followDurability(db, registry);
  registerDiskGauges(registry, dataDir);
  return {
    registry,
    observeRequest: (protocol, op, outcome, seconds) =>
      requests.observe(protocol, op, outcome, seconds),
    connectionOpened: (protocol) => connections.inc({ protocol }),
    connectionClosed: (protocol) => connections.dec({ protocol }),
    subscriptionOpened: () => subscriptions.inc(),
    subscriptionClosed: () => subscriptions.dec(),
    close: stopDurability,
  };
}

/**
 * Counts commits and measures the time from a commit to its fsync. At most one wait for
 * durability is outstanding: when it resolves, the next one starts at the newest commit, so
 * the cost per commit stays one counter increment however fast commits arrive.
 */
function followDurability(db: Database, registry: Registry): () => void {
  const commits = new Counter({
    name: "statebase_commits_total",
    help: "Commits since the server started.",
    registers: [registry],
  });
  const durableLatency = new Histogram({
    name: "statebase_commit_durable_seconds",
    help: "Time from a commit to the fsync that made it durable (sampled).",
    buckets: latencyBucketsSeconds,
    registers: [registry],
  });
  let durableSeq = db.seq;
  let waiting = false;
  let closed = false;
  new Gauge({
    name: "statebase_durability_lag_commits",
    help: "Commits acknowledged in memory but not yet on disk.",
    registers: [registry],
    collect() {
      this.set(Math.max(0, db.seq - durableSeq));
    },
  });
  new Gauge({
    name: "statebase_seq",
    help: "The seq of the last commit.",
    registers: [registry],
    collect() {
      this.set(db.seq);
    },
  });
  const wait = (seq: number): void => {
    waiting = true;
    const started = performance.now();
    db.durable(seq).then(
      () => {
        waiting = false;
        durableSeq = Math.max(durableSeq, seq);
        durableLatency.observe((performance.now() - started) / 1000);
        if (!closed && db.seq > durableSeq) wait(db.seq);
      },
      () => {
        // The database closed or its disk failed: the lag gauge keeps showing the gap.
        waiting = false;
      },
    );
  };
  const stop = db.addCommitListener((commit) => {
    commits.inc();
    if (!waiting && !closed) wait(commit.seq);
  });
  return () => {
    closed = true;
    stop();
  };
}

/** Sizes of the log and the snapshots, read from the data directory when scraped. */
function registerDiskGauges(registry: Registry, dataDir: string | undefined): void {
  const gauge = (name: string, help: string, folder: string): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(dataDir === undefined ? 0 : await folderSizeBytes(join(dataDir, folder)));
      },
    });
  };
  gauge("statebase_log_size_bytes", "Bytes of log segments on disk (preallocated).", "wal");
  gauge("statebase_snapshot_size_bytes", "Bytes of snapshots on disk.", "snapshots");
}

async function folderSizeBytes(path: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(path);
  } catch {
    // No folder yet (memory durability, or before the first snapshot) means nothing on disk.
    return 0;
  }
  let total = 0;
  for (const name of names) {
    try {
      total += (await stat(join(path, name))).size;
    } catch {
      // A segment or snapshot removed by retention between readdir and stat has no size.
    }
  }
  return total;
}
