/**
 * Goal: a nats-server of a test's own that it may stop and start again (the shared one at
 * NATS_URL must stay up for everyone else).
 * Method: /usr/sbin/nats-server (or NATS_SERVER) with -js on a free loopback port and a
 * temporary store directory; `restart` kills it (SIGKILL, or SIGTERM) and starts it again on
 * the same port and store, ready once JetStream answers.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort } from "./free-port.ts";

const serverPath = process.env["NATS_SERVER"] ?? "/usr/sbin/nats-server";
const readyTimeoutMs = 20_000;

export interface PrivateNats {
  readonly url: string;
  /** Stops the server (it is down until `start`). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and store; resolves once JetStream answers. */
  start(): Promise<void>;
  /** Stops it for good and removes its store. */
  dispose(): Promise<void>;
}

export async function startPrivateNats(): Promise<PrivateNats> {
  const dir = await mkdtemp(join(tmpdir(), "statebase-nats-one-"));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const nats: PrivateNats = {
    url,
    async stop(signal = "SIGKILL") {
      const running = child;
      child = undefined;
      if (running === undefined || running.exitCode !== null) return;
      const gone = new Promise((done) => running.once("exit", done));
      running.kill(signal);
      await gone;
    },
    async start() {
      const args = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir];
      child = spawn(serverPath, args, { stdio: "ignore" });
      await waitReady(url);
    },
    async dispose() {
      await nats.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await nats.start();
  return nats;
}

async function waitReady(url: string): Promise<void> {
  const started = performance.now();
  for (;;) {
    try {
      const nc = await connect({ servers: url, timeout: 1000 });
      try {
        await (await jetstreamManager(nc)).streams.list().next();
        return;
      } finally {
        await nc.close();
      }
    } catch (error) {
      if (performance.now() - started > readyTimeoutMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
