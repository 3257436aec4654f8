/**
 * @module `statebase serve`: runs the server (src/server/serve.ts) until SIGINT or SIGTERM.
 * Every flag of the DESIGN.md contract is accepted; settings come from the config file, then
 * STATEBASE_* environment variables, then flags. When every listener listens it prints one
 * line containing `ready` with the bound addresses, which scripts and tests wait for.
 *
 * The server runs on a worker thread of this process (src/server/serve-thread.ts), because
 * only a thread can be given a young generation of its own size without node flags, which
 * `npx statebase serve` cannot pass (limits.ts says why the size matters). This thread reads
 * the configuration, receives the signals and prints. `STATEBASE_SERVE_THREAD=main` serves on
 * the main thread instead (for `node --inspect` and other tools that watch the main thread).
 */
import { once } from "node:events";
import { getHeapStatistics } from "node:v8";
import { Worker } from "node:worker_threads";
import type { Command } from "commander";
import { DbError, hasErrorCode } from "../../lib/errors.ts";
import type { ErrorCode } from "../../lib/errors.ts";
import { serverStallCheckMs, serverYoungGenerationSizeMb } from "../../lib/limits.ts";
import { configEnvironment, resolveConfig } from "../../server/config.ts";
import type { ConfigFlags, ListenAddress, ServerConfig } from "../../server/config.ts";
import { recoveryStoppedText, serve } from "../../server/serve.ts";
import type { RunningServer } from "../../server/serve.ts";
import type { ServeThreadMessage, ServeThreadRequest } from "../../server/serve-thread.ts";
import { exitCodeOk, exitCodeFailed } from "../output.ts";
import type { CliContext } from "../output.ts";

/** Adds `serve` to `program`. */
export function addServeCommand(program: Command, context: CliContext): void {
  program
    .command("serve")
    .description("run the server: RCP, HTTP and WebSocket over one database")
    .option("--data <dir>", "data directory (default ./statebase-data)")
    .option("--rcp <host:port>", "RCP listener, or off (default 127.0.0.1:7401)")
    .option("--http <host:port>", "HTTP and WebSocket listener, or off (default 127.0.0.1:8090)")
    .option("--durability <mode>", "sync, async or memory (default sync)")
    .option("--module <file>", "procedure module (.js, or .ts) exporting `procedures`")
    .option("--config <file>", "config file, YAML or JSON (keys below)")
    .option("--replicate <nats-url>", "share one JetStream log with every node given this URL")
    .option("--query-timeout-ms <ms>", "deadline of every script and procedure call (default 1000)")
    .addHelpText("after", serveHelp)
    .action(async (flags: ConfigFlags) => {
      context.exitCode = await serveCommand(context, flags);
    });
}

async function serveCommand(context: CliContext, flags: ConfigFlags): Promise<number> {
  const config = await resolveConfig(flags, process.env, { checkFiles: true });
  // A misspelt value would serve on the worker while the operator's --inspect watches main.
  const thread = process.env.STATEBASE_SERVE_THREAD ?? "";
  if (!["", "worker", "main"].includes(thread)) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `STATEBASE_SERVE_THREAD must be main or worker (the default), got ${JSON.stringify(thread)}`,
    );
  }
  if (thread === "main") return serveHere(context, config);
  return serveOnThread(context, config);
}

async function serveHere(context: CliContext, config: ServerConfig): Promise<number> {
  if (config.heapSizeMbMax !== undefined) {
    context.warn(
      "heapSizeMbMax sets the server thread's heap; on the main thread set " +
        `NODE_OPTIONS=--max-old-space-size=${config.heapSizeMbMax} instead`,
    );
  }
  // Listen for the signals before the server starts: a signal during a long recovery would
  // otherwise end the process unsynced (exit 143), not shut it down.
  let signalled = false;
  // The signal also stops a recovery under way (open() then rejects ABORTED, files unchanged).
  const aborting = new AbortController();
  const stopping = waitForSignal().finally(() => (signalled = true));
  void stopping.then((signal) => aborting.abort(signal));
  const server = await serve(config, {
    warn: (text) => context.warn(text),
    signal: aborting.signal,
  }).catch((error: unknown) => {
    if (!aborting.signal.aborted || !(error instanceof DbError && error.code === "ABORTED")) {
      throw error;
    }
    return undefined;
  });
  if (server === undefined) {
    context.warn(recoveryStoppedText);
    const reason = await stopping;
    context.warn(`${reason}: shutting down`);
    return exitCodeOf(reason);
  }
  // Told to stop while it started: it stops without saying ready.
  if (!signalled) await context.line(readyLine(server, config));
  const reason = await Promise.race([stopping, server.mustStop]);
  context.warn(`${reason}: shutting down`);
  await server.close();
  return exitCodeOf(reason);
}

async function serveOnThread(context: CliContext, config: ServerConfig): Promise<number> {
  const worker = new Worker(new URL("../../../bin/serve-thread.js", import.meta.url), {
    workerData: config,
    resourceLimits: {
      maxYoungGenerationSizeMb: serverYoungGenerationSizeMb,
      ...(config.heapSizeMbMax === undefined
        ? {}
        : { maxOldGenerationSizeMb: config.heapSizeMbMax }),
    },
  });
  // Listen for the signals before the thread says ready: a supervisor may signal at once.
  void waitForSignal().then((signal) =>
    worker.postMessage({ signal } satisfies ServeThreadRequest),
  );
  let stall: StallWatch | undefined;
  let reason: string | undefined;
  let failure: Error | undefined;
  let closed = false;
  const printing: Array<Promise<void>> = [];
  worker.on("message", (message: ServeThreadMessage) => {
    switch (message.kind) {
      case "warn":
        return context.warn(message.text);
      case "ready":
        printing.push(context.line(readyLine(message, config)));
        stall = watchForStall(worker, config.limits.stallMsMax, (text) => {
          failure ??= new DbError("LIMIT_EXCEEDED", text);
        });
        return;
      case "alive":
        return stall?.answered();
      case "stopping":
        reason = message.reason;
        return context.warn(`${reason}: shutting down`);
      case "failed":
        failure = threadFailure(message);
        return;
      case "closed":
        // The log is synced and the listeners closed: nothing the thread still holds matters.
        closed = true;
        void worker.terminate();
    }
  });
  worker.on("error", (error) => (failure ??= threadError(error, config)));
  // Not `once(worker, "exit")`: it rejects on the "error" event, before the thread is gone.
  await new Promise((resolve) => worker.once("exit", resolve));
  stall?.stop();
  await Promise.all(printing);
  if (failure !== undefined) throw failure;
  if (!closed || reason === undefined) throw new Error("the server thread ended unexpectedly");
  return exitCodeOf(reason);
}

interface StallWatch {
  answered(): void;
  stop(): void;
}

/**
 * Asks the server thread every second whether its event loop runs; when it has not answered
 * for `stallMsMax` (a procedure in an endless loop, a query of minutes: every client waits),
 * reports why and stops the thread, so that the process exits 1 and a supervisor restarts it.
 * The log holds every acknowledged commit; the stalled request never committed.
 */
function watchForStall(
  worker: Worker,
  stallMsMax: number,
  stalled: (text: string) => void,
): StallWatch {
  let answeredAt = performance.now();
  const timer = setInterval(() => {
    const silentMs = performance.now() - answeredAt;
    if (silentMs > stallMsMax) {
      clearInterval(timer);
      stalled(
        `the server thread has not answered for ${Math.round(silentMs / 1000)} s ` +
          `(limits.stallMsMax ${stallMsMax} ms): a request or procedure runs that long and ` +
          `every client waits. Stopping it; a restart recovers every acknowledged commit`,
      );
      void worker.terminate();
      return;
    }
    worker.postMessage({ alive: true } satisfies ServeThreadRequest);
  }, serverStallCheckMs);
  return {
    answered: () => void (answeredAt = performance.now()),
    stop: () => clearInterval(timer),
  };
}

/** An error that ended the server thread; running out of heap says what to change. */
function threadError(error: Error, config: ServerConfig): Error {
  if (!hasErrorCode(error, "ERR_WORKER_OUT_OF_MEMORY")) return error;
  const limit = getHeapStatistics().heap_size_limit;
  const heap =
    config.heapSizeMbMax === undefined
      ? `V8's default heap limit (about ${Math.round(limit / 2 ** 20)} MiB here)`
      : `heapSizeMbMax ${config.heapSizeMbMax} MiB`;
  return new DbError(
    "LIMIT_EXCEEDED",
    `the server ran out of memory (${heap}): the state, with the work of the requests in ` +
      `flight, did not fit. The log holds every acknowledged commit; restart with a larger ` +
      `heapSizeMbMax (STATEBASE_HEAP_SIZE_MB_MAX) on a machine with that much memory free`,
  );
}

/** The error the server thread reported, rebuilt (a DbError keeps its code). */
function threadFailure(message: Extract<ServeThreadMessage, { kind: "failed" }>): Error {
  if (message.code !== undefined) return new DbError(message.code as ErrorCode, message.message);
  const error = new Error(message.message);
  error.name = message.name;
  return error;
}

/** A fenced node exits non-zero so a supervisor restarts it; it comes back as a follower. */
function exitCodeOf(reason: string): number {
  return reason === "SIGINT" || reason === "SIGTERM" ? exitCodeOk : exitCodeFailed;
}

/** `statebase ready rcp=HOST:PORT http=HOST:PORT data=DIR durability=MODE`. */
export function readyLine(
  server: Pick<RunningServer, "rcp" | "http">,
  config: ServerConfig,
): string {
  const address = (a: ListenAddress | undefined): string =>
    a === undefined ? "off" : `${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
  const data =
    config.replicate !== undefined
      ? `jetstream replicate=${config.replicate}`
      : config.durability === "memory"
        ? "none"
        : config.data;
  return (
    `statebase ready rcp=${address(server.rcp)} http=${address(server.http)} ` +
    `data=${data} durability=${config.durability}`
  );
}

async function waitForSignal(): Promise<string> {
  const stop = new AbortController();
  const signals = ["SIGINT", "SIGTERM"] as const;
  const received = await Promise.race(
    signals.map(async (name) => {
      await once(process, name, { signal: stop.signal });
      return name;
    }),
  );
  stop.abort();
  return received;
}

const serveHelp = `
Settings come from the config file, then the environment, then flags (each overrides the one
before); relative paths in the file are relative to its directory. Config file keys (YAML or
JSON):
  data: DIR                       durability: sync | async | memory
  rcp: HOST:PORT | off            http: HOST:PORT | off        (port 0 picks a free port;
                                                                not both off)
  module: FILE                    replicate: NATS_URL[,NATS_URL...]
  replicateStream: NAME           (the JetStream stream of the log; default statebase)
  replicateNode: NAME             (this node's name in the writer lease and in status;
                                  default a random one per start)
  replicateReplicas: 1 | 3 | 5    (replicas of the stream and buckets this node creates;
                                  default 1: a NATS cluster needs 3 to keep the log on 3)
  replicateMonitorUrl: URL        (NATS monitoring, http://HOST:8222: the status then says
                                  whether NATS fsyncs before it acknowledges)
  replicateLeaseTtlMs: MS         (writer lease time to live, 100 to 600000: the failover
                                  bound; default the lease bucket's, 3000 for a new one)
  forwardWrites: bool             (a follower's HTTP server sends writes on to the writer;
                                  default true; false: it answers NOT_WRITER)
  advertiseHttp: URL | HOST:PORT  (where followers reach this node's HTTP when it writes;
                                  default the bound http address; needed with 0.0.0.0)
  retention: {snapshotsKept, logRetentionMs, snapshotLogBytes, segmentSizeBytes,
              durabilityWindowMs}
  auth: {tokens: [{sha256: HEX, role: read | write | admin, name?}]}
        (sha256 of the token, see statebase hash-token; no tokens = auth off)
  tls: {cert: FILE, key: FILE, ca?: FILE, requireClientCert?: bool}  (every listener)
  limits: {httpBodySizeBytesMax, wsMessageSizeBytesMax, wsBufferedSizeBytesMax,
           wsConnectionsMax, httpConnectionsMax (WebSockets included), requestTimeoutMs,
           subscriptionPendingCommitsMax,
           queryTimeoutMs (default 1000: a script or procedure call running longer fails
             with QUERY_TIMEOUT and is undone; 0: no deadline),
           stallMsMax (default 60000: a server thread busy that long is stopped, exit 1)}
  timerTickMs: how often due state machine timers are fired (default 100)
  allowedOrigins: [ORIGIN, ...]  (web pages elsewhere that may use this server from a
                                  browser, e.g. http://localhost:3000, or *; default none)
  heapSizeMbMax: MiB of heap the state may fill (default V8's: a quarter of the memory,
                 at most about 4 GiB); past it the server stops, its log intact
Environment variables:
${configEnvironment.map(([name, key]) => `  ${name.padEnd(44)}${key}`).join("\n")}
  (STATEBASE_TOKENS: a JSON array, or SHA256:ROLE[:NAME] entries separated by commas)
  STATEBASE_SERVE_THREAD=main|worker          main: serve on the main thread, not a worker
                                              (for node --inspect; no heapSizeMbMax, no
                                              stallMsMax); worker: the default
`;
