/**
 * An in-process RCP server over a real socket on an ephemeral port, for the conformance
 * suite's tests that need to look inside the database or set server options; the
 * process-level tests use server-process.ts (`statebase serve`).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "../../src/database.ts";
import { startRcpServer } from "../../src/server/rcp/index.ts";
import type { RcpServer, RcpServerOptions } from "../../src/server/rcp/index.ts";
import type { Database, OpenOptions } from "../../src/types.ts";
import { WireClient } from "./rcp-wire.ts";
import type { WireConnectOptions } from "./rcp-wire.ts";

export interface TestRcp {
  db: Database;
  server: RcpServer;
  port: number;
  dataDir: string | undefined;
  connect(options?: Partial<WireConnectOptions>): Promise<WireClient>;
  stop(): Promise<void>;
}

export interface TestRcpOptions {
  /** Open the database on a temporary data directory with this durability. */
  durability?: "sync" | "async" | "memory";
  open?: OpenOptions;
  server?: Partial<RcpServerOptions>;
}

export async function startTestRcp(options: TestRcpOptions = {}): Promise<TestRcp> {
  const durability = options.durability ?? "memory";
  const dataDir =
    durability === "memory" ? undefined : await mkdtemp(join(tmpdir(), "statebase-rcp-"));
  const db = await open({
    ...(dataDir === undefined ? {} : { path: dataDir }),
    durability,
    onMessage: () => undefined,
    ...options.open,
  });
  const server = await startRcpServer(db, { host: "127.0.0.1", port: 0, ...options.server });
  const clients: WireClient[] = [];
  return {
    db,
    server,
    port: server.address.port,
    dataDir,
    async connect(connectOptions = {}) {
      const client = await WireClient.connect({ port: server.address.port, ...connectOptions });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) client.socket.destroy();
      await server.close();
      await db.close();
      if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The 3-state order machine of the spec's examples (guard on SHIP). */
export const orderMachine = {
  states: ["created", "paid", "shipped"],
  initial: "created",
  transitions: [
    { from: "created", event: "PAY", to: "paid" },
    { from: "paid", event: "SHIP", to: "shipped", guard: "ctx.ready" },
  ],
};
