/**
 * The Redis peer of the benchmarks: a private redis-server on a free port with
 * `appendfsync always` (durability equal to Statebase's `sync`), in its own temporary
 * directory, so the system Redis on 6379 is never touched. Also a client with one Lua
 * script defined as a command, retried while the server starts.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

/** How long a client waits for a starting redis-server to accept connections. */
const redisReadyMsMax = 10_000;

export interface RedisServer {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts redis-server with the append-only file fsynced on every write, and checks it. */
export async function startRedisServer(): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), "statebase-bench-redis-"));
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""];
  args.push("--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no");
  const child = spawn("redis-server", args, { stdio: "ignore" });
  const probe = await connectRedis(port);
  const config = (await probe.config("GET", "appendfsync")) as string[];
  await probe.quit();
  if (config[1] !== "always") throw new Error(`redis appendfsync is ${config[1]}`);
  return {
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A client; with `script`, its Lua is defined as the command `script.name`. */
export async function connectRedis(
  port: number,
  script?: { name: string; lua: string },
): Promise<Redis> {
  const deadline = performance.now() + redisReadyMsMax;
  for (;;) {
    const client = new Redis({
      port,
      host: "127.0.0.1",
      lazyConnect: true,
      maxRetriesPerRequest: 0,
    });
    // Refused connects while redis-server starts are retried here, not reported.
    const ignore = (): void => undefined;
    client.on("error", ignore);
    try {
      await client.connect();
      client.off("error", ignore);
      await client.ping();
      if (script !== undefined) {
        client.defineCommand(script.name, { numberOfKeys: 2, lua: script.lua });
      }
      return client;
    } catch (error) {
      client.disconnect();
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
