/**
 * Goal: with an R3 stream, losing one NATS node during writes loses no acknowledged commit.
 * Method: a three-node nats-server cluster on loopback ports (test/support/nats-cluster.ts);
 * a writer connected to all three commits the crash workload, pipelined, and records every
 * step JetStream acknowledged. The node leading the stream is SIGKILLed mid-write; writing
 * goes on through the leader election. A node opened afterwards must hold every
 * acknowledged step and exactly the reference state.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { DbError, open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import {
  applyWorkloadStep,
  referenceDigest,
  stateDigest,
  workloadSetup,
} from "../support/crash-workload.ts";
import { eventually } from "../support/nats.ts";
import { startNatsCluster } from "../support/nats-cluster.ts";

/** How long writes may pause after a NATS node dies, for the test (not a product limit). */
const writesResumeMsMax = 60_000;

/** Commits steps until `stop()` says so; returns the highest step acknowledged. */
function writeUntil(
  db: Database,
  stop: () => boolean,
): { acked: () => number; done: Promise<void> } {
  let acked = 0;
  let failure: Error | undefined;
  const done = (async () => {
    while (!stop()) {
      try {
        const pending: Array<Promise<void>> = [];
        for (let i = 0; i < 32; i++) {
          const n = db.table("crash::steps").size + 1;
          db.transact((tx) => applyWorkloadStep(tx, n));
          pending.push(db.durable().then(() => void (acked = Math.max(acked, n))));
        }
        await Promise.all(pending);
      } catch (error) {
        // Lease renewals may stall through the election: wait until this node writes again.
        if (!(error instanceof DbError) || error.code !== "NOT_WRITER") throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  })();
  done.catch(
    (error: unknown) => (failure = error instanceof Error ? error : new Error(String(error))),
  );
  // A loop that died says why at once, instead of as a timeout of whoever waits on it.
  const ackedOrThrow = (): number => {
    if (failure !== undefined) throw failure;
    return acked;
  };
  return { acked: ackedOrThrow, done };
}

test("an R3 stream loses no acknowledged commit when a NATS node dies", async (t) => {
  const cluster = await startNatsCluster(3);
  t.after(() => cluster.stop());
  const stream = "cluster_log";
  const replicate = { url: cluster.urls, stream, replicas: 3 };
  const writer = await open({ replicate: { ...replicate, node: "w" }, onMessage: () => {} });
  t.after(() => writer.close());
  assert.equal(writer.replication?.streamReplicas, 3);
  workloadSetup(writer);
  await writer.durable();
  let stopping = false;
  const writing = writeUntil(writer, () => stopping);
  await eventually(() => writing.acked() >= 500, "writes are acknowledged", 20_000);

  const nc = await connect({ servers: cluster.urls });
  const leader = (await (await jetstreamManager(nc)).streams.info(stream)).cluster?.leader;
  await nc.close();
  assert.ok(leader !== undefined, "the R3 stream has a leader");
  await cluster.kill(leader);
  const ackedAtKill = writing.acked();
  const killedAt = performance.now();
  // The pause is JetStream's: its lease bucket answers "jetstream is not enabled" until the
  // survivors elect new leaders. 15 runs on a 2-core machine paused 4.5 to 22.5 s.
  await eventually(() => writing.acked() >= ackedAtKill + 500, "writes go on", writesResumeMsMax);
  stopping = true;
  await writing.done;
  const acked = writing.acked();
  const resumedMs = (performance.now() - killedAt).toFixed(0);
  t.diagnostic(
    `killed ${leader} at ${ackedAtKill} acknowledged steps; writes resumed in ${resumedMs} ms`,
  );

  const survivors = cluster.nodes.filter((n) => n.name !== leader).map((n) => n.url);
  const late = await open({
    replicate: { url: survivors, stream, node: "late", role: "follower" },
    onMessage: () => {},
  });
  t.after(() => late.close());
  const size = late.table("crash::steps").size;
  assert.ok(size >= acked, `the stream holds ${size} steps; ${acked} were acknowledged`);
  assert.equal(stateDigest(late), referenceDigest(size));
});
