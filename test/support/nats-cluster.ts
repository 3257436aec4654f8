/**
 * Goal: a three-node NATS cluster with JetStream on loopback ports, for replication tests
 * that kill a NATS node.
 * Method: /usr/sbin/nats-server (or NATS_SERVER) three times with -js, --cluster and
 * --routes, each with its own temporary store directory and free ports; ready once a
 * replicated (R3) stream can be created.
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

export interface ClusterNode {
  readonly name: string;
  readonly url: string;
  readonly process: ChildProcess;
}

export interface NatsCluster {
  readonly nodes: ClusterNode[];
  readonly urls: string[];
  kill(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const dir = await mkdtemp(join(tmpdir(), "statebase-nats-"));
  const ports = await Promise.all(
    Array.from({ length: size }, async () => ({
      client: await freePort(),
      route: await freePort(),
    })),
  );
  const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`).join(",");
  const nodes = ports.map((p, i): ClusterNode => {
    const name = `n${i + 1}`;
    const args = ["-a", "127.0.0.1", "-p", String(p.client), "-js", "-sd", join(dir, name)];
    args.push("-n", name, "--cluster_name", "statebase-test");
    args.push("--cluster", `nats://127.0.0.1:${p.route}`, "--routes", routes);
    const child = spawn(serverPath, args, { stdio: "ignore" });
    return { name, url: `nats://127.0.0.1:${p.client}`, process: child };
  });
  const exited = new Set<string>();
  for (const node of nodes) node.process.on("exit", () => exited.add(node.name));
  const cluster: NatsCluster = {
    nodes,
    urls: nodes.map((n) => n.url),
    async kill(name) {
      const node = nodes.find((n) => n.name === name);
      if (node === undefined || exited.has(name)) return;
      const gone = new Promise((done) => node.process.once("exit", done));
      node.process.kill("SIGKILL");
      await gone;
    },
    async stop() {
      for (const node of nodes) await cluster.kill(node.name);
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitForReplicatedStreams(cluster.urls);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** Waits until the cluster has a JetStream meta leader and can place an R3 stream. */
async function waitForReplicatedStreams(urls: string[]): Promise<void> {
  const started = performance.now();
  for (;;) {
    try {
      const nc = await connect({ servers: urls, timeout: 1000 });
      try {
        const jsm = await jetstreamManager(nc);
        await jsm.streams.add({ name: "probe", subjects: ["probe.x"], num_replicas: 3 });
        await jsm.streams.delete("probe");
        return;
      } finally {
        await nc.close();
      }
    } catch (error) {
      if (performance.now() - started > 30_000) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
