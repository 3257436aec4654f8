/**
 * @module One server process: it opens the database from the data directory, loads the
 * procedure module, starts replication, the RCP listener, the HTTP listener with its
 * WebSocket endpoint and the durable-timer tick, and stops them in the reverse order. Every
 * listener shares the one database, so every protocol sees the same commits in one order.
 */
import { once } from "node:events";
import { createServer } from "node:net";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { tsImport } from "tsx/esm/api";
import { DbError, hasErrorCode } from "../lib/errors.ts";
import { open } from "../database.ts";
// status.ts alone, not the module index: that would load the NATS client on every start.
import { formatReplicationStatus } from "../replication/status.ts";
import type { Database, OpenOptions, ReplicateOptions } from "../types.ts";
import type { ServerConfig, ListenAddress } from "./config.ts";
import { startHttpServer } from "./http/index.ts";
import type { HttpServer, WriteForwarding } from "./http/index.ts";
import { createServerMetrics } from "./metrics.ts";
import type { ServerMetrics } from "./metrics.ts";
import { readProcedureModule, registerProcedures } from "./procedures.ts";
import type { TokenRole } from "./auth.ts";
import { startRcpServer } from "./rcp/index.ts";
import type { RcpServer } from "./rcp/index.ts";
import { isLoopbackAddress } from "./origins.ts";
import { loadTlsOptions } from "./tls.ts";
import { createWebSocketGateway } from "./ws/index.ts";
import type { WebSocketGateway } from "./ws/index.ts";

/** A running server. */
export interface RunningServer {
  readonly db: Database;
  /** Bound addresses (the real port when 0 was asked for); undefined when turned off. */
  readonly rcp: ListenAddress | undefined;
  readonly http: ListenAddress | undefined;
  readonly metrics: ServerMetrics;
  /** Stops the listeners, then flushes and closes the database (the log is synced). */
  close(): Promise<void>;
  /**
   * Resolves with the reason to print when the server must stop by itself: its log takes no
   * more commits (`db.failure`). A replicated writer fenced by another writer holds state the
   * shared log does not; a local log that failed may be behind the state in memory. Neither
   * may keep serving reads, and a restart recovers from the log.
   */
  readonly mustStop: Promise<string>;
}

/** How often the server checks whether its log failed (or, replicated, was fenced). */
const failureCheckIntervalMs = 200;

/** What `statebase serve` says when a signal stopped it while it recovered. */
export const recoveryStoppedText =
  "stopped during recovery: nothing was served and the data directory is unchanged; the " +
  "next start recovers it again";

/** Where the server reports what the operator should see. */
export interface ServeHooks {
  warn(text: string): void;
  /**
   * Stops the start: once aborted (SIGTERM during a long recovery), serve() rejects with
   * ABORTED as soon as the recovery notices, the data directory unchanged.
   */
  readonly signal?: AbortSignal;
}

/** Starts every configured listener over one database; resolves when all listen. */
export async function serve(config: ServerConfig, hooks: ServeHooks): Promise<RunningServer> {
  // The lease is written before the HTTP listener binds: it reads the address when it can.
  let advertisedHttp: string | undefined;
  await checkAddressesFree(config);
  const procedures =
    config.module === undefined
      ? undefined
      : await readProcedureModule(config.module, importModule);
  const signal = hooks.signal === undefined ? {} : { signal: hooks.signal };
  const db = await open({ ...openOptionsOf(config, () => advertisedHttp), ...signal });
  const stops: Array<() => Promise<void>> = [];
  let serving = true;
  const local = config.durability !== "memory" && config.replicate === undefined;
  const metrics = createServerMetrics(db, local ? config.data : undefined);
  try {
    const procedureRoles =
      procedures === undefined ? new Map<string, TokenRole>() : registerProcedures(db, procedures);
    const replication = db.replication;
    if (replication !== undefined) hooks.warn(formatReplicationStatus(replication));
    const rcp =
      config.rcp === undefined
        ? undefined
        : await listening("rcp", config.rcp, () => startRcp(db, config, metrics, procedureRoles));
    if (rcp !== undefined) stops.push(() => rcp.close());
    const fault = (error: unknown): void => hooks.warn(describeFault(error));
    const tls = config.tls === undefined ? undefined : loadTlsOptions(config.tls);
    let http: HttpServer | undefined;
    if (config.http !== undefined) {
      const context = { db, procedureRoles };
      const serves = (): boolean => serving && db.failure === undefined;
      const options = { config, context, metrics, tls, fault, serving: serves };
      const started = await startHttp(config.http, options);
      http = started.server;
      stops.push(started.stop);
      advertisedHttp = advertisedHttpOf(config, http.address, hooks);
    }
    stops.push(startTimerTick(db, config.timerTickMs, fault));
    const failure = watchForFailure(db);
    stops.push(failure.stop);
    return {
      mustStop: failure.failed,
      db,
      rcp: rcp?.address,
      http: http?.address,
      metrics,
      close: async () => {
        serving = false;
        await stopAll(stops, db, metrics);
      },
    };
  } catch (error) {
    await stopAll(stops, db, metrics);
    throw error;
  }
}

function openOptionsOf(config: ServerConfig, advertiseHttp: () => string | undefined): OpenOptions {
  // A replicated node keeps its log in JetStream, not in the data directory; memory
  // durability needs no directory; otherwise the data directory is created on open.
  const base: OpenOptions =
    config.replicate !== undefined
      ? { replicate: replicateOptionsOf(config, advertiseHttp), durability: config.durability }
      : config.durability === "memory"
        ? { durability: "memory" }
        : { path: config.data, durability: config.durability };
  const { queryTimeoutMs } = config.limits;
  return {
    ...base,
    ...config.retention,
    ...(queryTimeoutMs === undefined ? {} : { queryTimeoutMs }),
  };
}

function replicateOptionsOf(
  config: ServerConfig,
  advertiseHttp: () => string | undefined,
): ReplicateOptions {
  const url = config.replicate!.split(",");
  // The snapshot settings apply to the object store; the rest of retention is about local
  // log files, which a replicated node does not have.
  const { snapshotsKept, snapshotLogBytes } = config.retention;
  return {
    url,
    advertiseHttp,
    ...(config.replicateStream === undefined ? {} : { stream: config.replicateStream }),
    ...(config.replicateNode === undefined ? {} : { node: config.replicateNode }),
    ...(config.replicateReplicas === undefined ? {} : { replicas: config.replicateReplicas }),
    ...(config.replicateMonitorUrl === undefined ? {} : { monitorUrl: config.replicateMonitorUrl }),
    ...(config.replicateLeaseTtlMs === undefined ? {} : { leaseTtlMs: config.replicateLeaseTtlMs }),
    ...(snapshotsKept === undefined ? {} : { snapshotsKept }),
    ...(snapshotLogBytes === undefined ? {} : { snapshotLogBytes }),
  };
}

/** Addresses that mean "every interface": another node cannot reach this one through them. */
const wildcardHosts: ReadonlySet<string> = new Set(["0.0.0.0", "::", ""]);

/** The HTTP base URL a replicated writer publishes for followers to forward writes to. */
function advertisedHttpOf(
  config: ServerConfig,
  bound: ListenAddress,
  hooks: ServeHooks,
): string | undefined {
  if (config.replicate === undefined) return undefined;
  if (config.advertiseHttp !== undefined) return config.advertiseHttp;
  if (wildcardHosts.has(bound.host)) {
    hooks.warn(
      `http listens on every interface (${bound.host || "*"}); set advertiseHttp ` +
        `(STATEBASE_ADVERTISE_HTTP) so followers can forward writes to this node`,
    );
    return undefined;
  }
  const host = bound.host.includes(":") ? `[${bound.host}]` : bound.host;
  return `${config.tls === undefined ? "http" : "https"}://${host}:${bound.port}`;
}

/** Write forwarding of a replicated node's HTTP server; undefined when it is off. */
function forwardingOf(db: Database, config: ServerConfig): WriteForwarding | undefined {
  const status = db.replication;
  if (status === undefined || !config.forwardWrites) return undefined;
  return { self: status.node, writer: () => db.replication?.writer };
}

/** Listeners stop newest first; the database closes last, which syncs the log. */
async function stopAll(
  stops: Array<() => Promise<void>>,
  db: Database,
  metrics: ServerMetrics,
): Promise<void> {
  for (const stop of stops.reverse()) await stop();
  stops.length = 0;
  metrics.close();
  try {
    // A failed log has said why already (mustStop): there is nothing more it could flush.
    if (db.failure === undefined) await db.flush();
  } finally {
    // A flush that fails must still close the database, or its open connections would keep
    // the process alive.
    await db.close();
  }
}

/** Imports a module by path or file URL (tsx, registered by bin/statebase.js, loads .ts). */
async function importModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(resolve(path)).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    // The registered tsx takes an ES module in a .js or .ts file that no package.json marks
    // "type": "module" for CommonJS, and fails on it; its scoped import loads it as an ES
    // module. (Such a module gets its own copies of what it imports.)
    if (!hasErrorCode(error, "ERR_REQUIRE_CYCLE_MODULE")) throw error;
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  }
}

interface HttpStart {
  readonly config: ServerConfig;
  readonly context: { db: Database; procedureRoles: Map<string, TokenRole> };
  readonly metrics: ServerMetrics;
  readonly tls: ReturnType<typeof loadTlsOptions> | undefined;
  readonly fault: (error: unknown) => void;
  /** False once the server is stopping. */
  readonly serving: () => boolean;
}

/** The HTTP and WebSocket listener; its stop closes the WebSockets first. */
async function startHttp(
  address: ListenAddress,
  options: HttpStart,
): Promise<{ server: HttpServer; stop: () => Promise<void> }> {
  const { config, context, metrics, fault } = options;
  const origins = { allowed: config.allowedOrigins, loopbackOnly: isLoopbackAddress(address.host) };
  const gateway: WebSocketGateway = createWebSocketGateway({
    context,
    metrics,
    tokens: config.tokens,
    limits: config.limits,
    origins,
    fault,
  });
  const server = await listening("http", address, () =>
    startHttpServer({
      context,
      metrics,
      tokens: config.tokens,
      listen: address,
      bodySizeBytesMax: config.limits.httpBodySizeBytesMax,
      requestTimeoutMs: config.limits.requestTimeoutMs,
      tls: options.tls,
      origins,
      onUpgrade: (request, socket, head) => gateway.handleUpgrade(request, socket, head),
      fault,
      serving: options.serving,
      forwarding: forwardingOf(context.db, config),
    }),
  );
  const { httpConnectionsMax } = config.limits;
  if (httpConnectionsMax !== undefined) limitHttpConnections(server, httpConnectionsMax, fault);
  // Sockets go first: an open WebSocket would otherwise hold the HTTP close open.
  const stop = async (): Promise<void> => {
    await gateway.close();
    await server.close();
  };
  return { server, stop };
}

/** Connections dropped between two warnings about them (the first is always said). */
const droppedConnectionsPerWarningMax = 1000;

/**
 * Caps the HTTP listener's connections, WebSockets included: past the cap Node closes a new
 * connection at once (no answer can be sent before a TLS handshake). Said on the first drop
 * and then every thousandth, so that a flood does not flood the trace as well.
 */
function limitHttpConnections(
  http: HttpServer,
  connectionsMax: number,
  fault: (error: unknown) => void,
): void {
  http.server.maxConnections = connectionsMax;
  let dropped = 0;
  http.server.on("drop", () => {
    dropped += 1;
    if (dropped % droppedConnectionsPerWarningMax !== 1) return;
    fault(
      new DbError(
        "LIMIT_EXCEEDED",
        `http: ${dropped} connection(s) closed at once so far: limits.httpConnectionsMax ` +
          `${connectionsMax} connections (WebSockets included) are open`,
      ),
    );
  });
}

/** Why a listener could not bind, as the operator can act on it; other errors pass as they are. */
const listenFailures: Readonly<Record<string, string>> = {
  EADDRINUSE: "another process listens there",
  EADDRNOTAVAIL: "no interface of this machine has that address",
  EACCES: "this user may not bind that port",
};

/**
 * Binds and releases each listener's address before the database opens: recovering a large
 * database takes seconds to minutes, and a port in use should be said at once, not after
 * that. The real bind after recovery still reports a port taken in the meantime.
 */
async function checkAddressesFree(config: ServerConfig): Promise<void> {
  for (const listener of ["rcp", "http"] as const) {
    const address = config[listener];
    if (address === undefined || address.port === 0) continue; // any free port will do
    await listening(listener, address, async () => {
      const probe = createServer();
      probe.listen(address.port, address.host);
      try {
        await once(probe, "listening"); // rejects with the bind error
      } finally {
        if (probe.listening) await new Promise((done) => probe.close(done));
      }
    });
  }
}

/** Runs `start`, turning a failure to bind `address` into an error that says what to change. */
async function listening<T>(
  listener: "rcp" | "http",
  address: { host: string; port: number },
  start: () => Promise<T>,
): Promise<T> {
  try {
    return await start();
  } catch (error) {
    const code = error instanceof Error && "code" in error ? String(error.code) : "";
    const why = listenFailures[code];
    if (why === undefined) throw error;
    const where = `${address.host}:${address.port}`;
    throw new DbError(
      "IO_ERROR",
      `cannot listen for ${listener} on ${where}: ${why} (${code}); choose another address ` +
        `with --${listener} HOST:PORT or STATEBASE_${listener.toUpperCase()}, or turn it off`,
      { listener, address: where },
    );
  }
}

/** The RCP listener, reporting its operations and connections to the metrics. */
async function startRcp(
  db: Database,
  config: ServerConfig,
  metrics: ServerMetrics,
  procedureRoles: ReadonlyMap<string, TokenRole>,
): Promise<RcpServer> {
  return startRcpServer(db, {
    ...config.rcp!,
    tokens: config.tokens,
    procedureRoles,
    ...(config.tls === undefined ? {} : { tls: config.tls }),
    onRequest: (op, code, durationMs) =>
      metrics.observeRequest("rcp", op, code ?? "ok", durationMs / 1000),
    onConnection: (opened) =>
      opened ? metrics.connectionOpened("rcp") : metrics.connectionClosed("rcp"),
  });
}

/**
 * Durable timers are deadlines stored in the state (machines/); this tick only asks the
 * database to fire the due ones, as normal logged commits. Before machines exist the call
 * throws "not built yet" and the tick stops.
 */
function startTimerTick(
  db: Database,
  tickMs: number,
  fault: (error: unknown) => void,
): () => Promise<void> {
  const timer = setInterval(() => {
    try {
      db.machines.fireDueTimers();
    } catch (error) {
      if (error instanceof DbError && /not built yet/.test(error.message)) {
        clearInterval(timer);
        return;
      }
      // A replication follower may not write; the writer fires the timers and we apply them.
      if (error instanceof DbError && error.category === "ReadOnly") return;
      fault(error);
    }
  }, tickMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    return Promise.resolve();
  };
}

/** Resolves with what to print once the database's log fails for good (see db.failure). */
function watchForFailure(db: Database): { failed: Promise<string>; stop: () => Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<string>((resolve) => {
    timer = setInterval(() => {
      const failure = db.failure;
      if (failure === undefined) return;
      clearInterval(timer);
      resolve(failureReason(failure));
    }, failureCheckIntervalMs);
    timer.unref();
  });
  return { failed, stop: () => Promise.resolve(clearInterval(timer)) };
}

function failureReason(failure: DbError): string {
  if (failure.code === "APPEND_FENCED") {
    return (
      "fenced: another writer appended to the shared log first; this node's state may " +
      "differ from it; restart to follow the log"
    );
  }
  return (
    `the log failed (${failure.message}); the state in memory may be ahead of the log; ` +
    `restart to recover from the log`
  );
}

function describeFault(error: unknown): string {
  if (error instanceof DbError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return `server fault: ${error.stack ?? error.message}`;
  return `server fault: ${String(error)}`;
}
