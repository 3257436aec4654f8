/**
 * An in-process HTTP + WebSocket server over a scripted database, for testing the protocol
 * layer by itself: the fake answers RQL from a table of canned results, runs procedures
 * given as plain functions, and publishes deltas when a test calls `publish`, keeping a
 * history so subscriptions can resume from a seq. Real-database behaviour is covered by the
 * e2e tests (test/e2e), which start the real server process.
 */
import type { Duplex } from "node:stream";
import { DbError } from "../../src/lib/errors.ts";
import { startHttpServer } from "../../src/server/http/index.ts";
import type { HttpServer } from "../../src/server/http/index.ts";
import { createServerMetrics } from "../../src/server/metrics.ts";
import type { ServerMetrics } from "../../src/server/metrics.ts";
import { createWebSocketGateway } from "../../src/server/ws/index.ts";
import type { TokenEntry, TokenRole } from "../../src/server/auth.ts";
import type { ServerConfig } from "../../src/server/config.ts";
import type {
  Database,
  QueryResult,
  RowDelta,
  SubscribeOptions,
  Subscription,
  SubscriptionMessage,
} from "../../src/types.ts";

type Entry = "query" | "command" | "admin";

/** A scripted stand-in for the parts of Database the protocol layer uses. */
export class FakeDatabase {
  seq = 0;
  /** RQL text → result (or an error to throw, or a promise that never settles). */
  readonly answers = new Map<string, QueryResult | Error | "hang">();
  readonly procedures = new Map<string, (args: unknown) => unknown>();
  /** Every RQL request received, with its entry point. */
  readonly received: Array<{ entry: Entry; rql: string; params: unknown }> = [];
  readonly rows: Array<Record<string, unknown>> = [];
  /**
   * Ends this many subscriptions as `lagged` (as a reader too slow for pendingCommitsMax is):
   * each live one at its next commit, without it, and each resume (`fromSeq`) at once.
   */
  forceLagged = 0;
  /** Thrown by the next subscribe with `fromSeq` (a resume the server refuses), then cleared. */
  resumeError: Error | undefined;
  /** Rejects the requests left hanging, so the listener can close. */
  readonly hanging: Array<() => void> = [];
  private readonly history: Array<{ seq: number; changes: RowDelta[] }> = [];
  private readonly listeners = new Set<(seq: number, changes: RowDelta[]) => void>();
  private readonly commitListeners = new Set<(commit: { seq: number }) => void>();

  query = (rql: string, params?: unknown) => this.answer("query", rql, params);
  command = (rql: string, params?: unknown) => this.answer("command", rql, params);
  admin = (rql: string, params?: unknown) => this.answer("admin", rql, params);

  call(name: string, args?: unknown): Promise<unknown> {
    const run = this.procedures.get(name);
    if (run === undefined) {
      return Promise.reject(new DbError("UNKNOWN_PROCEDURE", `no procedure ${name}`));
    }
    try {
      return Promise.resolve(run(args));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Commits `changes` as the next seq and delivers them to every subscription. */
  publish(changes: RowDelta[]): number {
    this.seq += 1;
    this.history.push({ seq: this.seq, changes });
    for (const listener of this.listeners) listener(this.seq, changes);
    for (const listener of this.commitListeners) listener({ seq: this.seq });
    return this.seq;
  }

  subscribe(target: unknown, options: SubscribeOptions = {}): Subscription {
    if ((target as { table?: string }).table === "missing") {
      throw new DbError("UNKNOWN_OBJECT", "no table missing");
    }
    if (options.fromSeq !== undefined && this.resumeError !== undefined) {
      const error = this.resumeError;
      this.resumeError = undefined;
      throw error;
    }
    const queue: SubscriptionMessage[] = [];
    let wake: (() => void) | undefined;
    let closed = false;
    const push = (message: SubscriptionMessage): void => {
      queue.push(message);
      wake?.();
    };
    const limit = options.pendingCommitsMax ?? Infinity;
    let lastSeq = options.fromSeq ?? this.seq;
    // Replayed history does not count toward the limit: a real subscription reads it lazily.
    let replayed = Infinity;
    const listener = (seq: number, changes: RowDelta[]): void => {
      const forced = replayed !== Infinity && this.forceLagged > 0;
      if (forced) this.forceLagged -= 1;
      if (forced || queue.length - replayed >= limit) {
        push({ type: "end", seq: lastSeq, reason: "lagged" });
        this.listeners.delete(listener);
        return;
      }
      lastSeq = seq;
      push({ type: "delta", seq, changes });
    };
    if (options.fromSeq === undefined) {
      push({ type: "snapshot", seq: this.seq, rows: this.rows });
      replayed = 0;
    } else if (this.forceLagged > 0) {
      this.forceLagged -= 1;
      push({ type: "end", seq: options.fromSeq, reason: "lagged" });
    } else {
      for (const c of this.history) if (c.seq > options.fromSeq) listener(c.seq, c.changes);
      replayed = queue.length;
    }
    this.listeners.add(listener);
    const close = (): void => {
      closed = true;
      this.listeners.delete(listener);
      wake?.();
    };
    return {
      close,
      async *[Symbol.asyncIterator]() {
        while (true) {
          const message = queue.shift();
          if (message !== undefined) {
            yield message;
            if (message.type === "end") return;
            continue;
          }
          if (closed) return;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      },
    };
  }

  addCommitListener(listener: (commit: { seq: number }) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  async durable(): Promise<void> {}

  private async answer(entry: Entry, rql: string, params: unknown): Promise<QueryResult> {
    this.received.push({ entry, rql, params });
    const answer = this.answers.get(rql);
    if (answer === "hang") {
      return new Promise((_, reject) => this.hanging.push(() => reject(new Error("stopped"))));
    }
    if (answer instanceof Error) throw answer;
    if (answer === undefined) throw new DbError("RQL_PARSE", `cannot parse ${rql}`, { line: 1 });
    return answer;
  }
}

/** HTTP and WebSocket serving a database on an ephemeral port ({@link serveDatabase}). */
export interface ServedDatabase {
  url: string;
  port: number;
  metrics: ServerMetrics;
  http: HttpServer;
  /** What the server reported as faults, unless {@link ServeOptions.fault} took them. */
  faults: unknown[];
  /** Cuts every WebSocket connection at the TCP level (a network failure). */
  dropConnections(): void;
  close(): Promise<void>;
}

export interface TestServer extends ServedDatabase {
  db: FakeDatabase;
}

export interface TestServerOptions {
  tokens?: TokenEntry[];
  limits?: Partial<ServerConfig["limits"]>;
  procedureRoles?: Map<string, TokenRole>;
  /** Origins besides the server's own whose pages may call it (default none). */
  allowedOrigins?: string[];
}

export interface ServeOptions extends TestServerOptions {
  /** Where the server's faults go (default: kept in {@link ServedDatabase.faults}). */
  fault?: (error: unknown) => void;
}

/** The limits a test server has unless a test sets its own. */
export const testServerLimits: ServerConfig["limits"] = {
  httpBodySizeBytesMax: 64 * 1024,
  wsMessageSizeBytesMax: 64 * 1024,
  wsBufferedSizeBytesMax: 1024 * 1024,
  wsConnectionsMax: 100,
  subscriptionPendingCommitsMax: 1_000,
  requestTimeoutMs: 10_000,
  stallMsMax: 60_000,
};

/** Starts HTTP and WebSocket on an ephemeral port over a new FakeDatabase. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const fake = new FakeDatabase();
  const served = await serveDatabase(fake as unknown as Database, options);
  return {
    ...served,
    db: fake,
    close: async () => {
      for (const release of fake.hanging.splice(0)) release();
      await new Promise((resolve) => setImmediate(resolve));
      await served.close();
    },
  };
}

/** Starts HTTP and WebSocket on an ephemeral port over `db`, a real database or a fake. */
export async function serveDatabase(
  db: Database,
  options: ServeOptions = {},
): Promise<ServedDatabase> {
  const metrics = createServerMetrics(db, undefined);
  const context = { db, procedureRoles: options.procedureRoles ?? new Map() };
  const tokens = options.tokens ?? [];
  const limits = { ...testServerLimits, ...options.limits };
  const faults: unknown[] = [];
  const fault = options.fault ?? ((error: unknown): void => void faults.push(error));
  // It listens on 127.0.0.1: its own origin has a loopback name (origins.ts).
  const origins = { allowed: options.allowedOrigins ?? [], loopbackOnly: true };
  const gateway = createWebSocketGateway({
    context,
    metrics,
    tokens,
    limits,
    origins,
    fault,
  });
  const sockets = new Set<Duplex>();
  const http = await startHttpServer({
    context,
    metrics,
    tokens,
    listen: { host: "127.0.0.1", port: 0 },
    bodySizeBytesMax: limits.httpBodySizeBytesMax,
    requestTimeoutMs: limits.requestTimeoutMs,
    tls: undefined,
    origins,
    onUpgrade: (request, socket, head) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      gateway.handleUpgrade(request, socket, head);
    },
    fault,
    serving: () => true,
  });
  return {
    url: `http://127.0.0.1:${http.address.port}`,
    port: http.address.port,
    metrics,
    http,
    faults,
    dropConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      http.server.closeAllConnections();
      await gateway.close();
      await http.close();
      metrics.close();
    },
  };
}
