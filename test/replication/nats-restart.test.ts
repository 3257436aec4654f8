/**
 * Goal: a node keeps working through a restart of its NATS server, and says the truth about
 * itself meanwhile.
 * Method: a nats-server of the test's own (private-nats.ts) is killed and started again while
 * a writer and a follower use it; the follower must apply what the writer commits afterwards
 * within a few seconds (not after the consumer's 30 s pull expiry), and the writer must not
 * call itself the writer while it refuses writes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open, DbError } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { applyWorkloadStep, referenceDigest, stateDigest } from "../support/crash-workload.ts";
import { workloadSetup } from "../support/crash-workload.ts";
import { eventually } from "../support/nats.ts";
import { startPrivateNats } from "../support/private-nats.ts";

const leaseTtlMs = 1500;
/**
 * How long a follower may take to apply commits made after its server came back. Quiet, it
 * takes 0 to 1.5 s (a reconnect, then a stalled reader found and restarted: followerStallMsMax
 * plus a lease tick); a loaded machine stretches each step. The defect this catches waits for
 * the consumer's pull to expire, 30 s or more, so the bound stays well short of that.
 */
const catchUpMsMax = 15_000;

/** How long `commitSteps` waits for a writer among its nodes. */
const writerWaitMsMax = 20_000;

/**
 * Commits steps `from`..`to` on whichever of `dbs` is the writer, retrying NOT_WRITER; returns
 * the node that committed the last one.
 */
async function commitSteps(dbs: Database[], from: number, to: number): Promise<Database> {
  const started = performance.now();
  let last: Database | undefined;
  for (let n = from; n <= to;) {
    if (performance.now() - started > writerWaitMsMax) throw new Error(`no writer for step ${n}`);
    const writer = dbs.find((db) => db.replication?.role === "writer");
    try {
      if (writer === undefined) throw new DbError("NOT_WRITER", "no writer yet");
      writer.transact((tx) => applyWorkloadStep(tx, n));
      await writer.durable();
      last = writer;
      n++;
    } catch (error) {
      if (!(error instanceof DbError) || error.code !== "NOT_WRITER") throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return last!;
}

for (const signal of ["SIGKILL", "SIGTERM"] as const) {
  test(`a follower catches up within seconds after its NATS restarts (${signal})`, async (t) => {
    const nats = await startPrivateNats();
    t.after(() => nats.dispose());
    const replicate = { url: nats.url, stream: "restart", leaseTtlMs };
    // What each node said, with when (ms after the test began): a failure shows the path taken.
    const began = performance.now();
    const said: string[] = [];
    const onMessage = (kind: string, text: string) => {
      said.push(`${(performance.now() - began).toFixed(0)} ms ${kind}: ${text}`);
    };
    const writer = await open({ replicate: { ...replicate, node: "w" }, onMessage });
    const follower = await open({
      replicate: { ...replicate, node: "f", role: "follower" },
      onMessage,
    });
    t.after(async () => {
      await follower.close();
      await writer.close();
    });
    workloadSetup(writer);
    await commitSteps([writer], 1, 10);
    await eventually(() => follower.seq === writer.seq, "the follower reads the first steps");

    await nats.stop(signal);
    await nats.start();
    const startedAt = performance.now();
    // More messages than the follower had read before: the client's pull after the restart
    // asked for only as many as were read (its count of those still owed was never reset).
    const last = await commitSteps([writer], 11, 60);
    const committedAt = performance.now();
    await eventually(
      () => follower.seq === last.seq,
      "the follower applies the steps committed after the restart",
      catchUpMsMax,
    ).catch((error: unknown) => {
      const { seq, replication } = follower;
      const where =
        `it applied ${seq} of ${last.seq}, stream message ${replication?.streamSeq}, lag ` +
        `${replication?.lagCommits}, role ${replication?.role}; the writer committed ` +
        `${(committedAt - startedAt).toFixed(0)} ms after NATS was back`;
      throw new Error(`${String(error)} (${where}); the nodes said:\n${said.join("\n")}`);
    });
    t.diagnostic(`caught up ${(performance.now() - committedAt).toFixed(0)} ms after the commit`);
    assert.equal(stateDigest(follower), referenceDigest(60));
    assert.equal(follower.replication?.lagCommits, 0);
  });
}

test("a writer whose NATS server is down says it is not the writer, once, and why", async (t) => {
  const nats = await startPrivateNats();
  t.after(() => nats.dispose());
  const warnings: string[] = [];
  const writer = await open({
    replicate: { url: nats.url, stream: "down", node: "w", leaseTtlMs },
    onMessage: (kind, text) => {
      if (kind === "warning") warnings.push(text);
    },
  });
  t.after(() => writer.close());
  workloadSetup(writer);
  await commitSteps([writer], 1, 3);
  assert.equal(writer.replication?.role, "writer");

  await nats.stop();
  // The lease lapses by the writer's own clock within the TTL: it refuses writes from then on.
  await eventually(() => writer.replication?.role !== "writer", "the role stops saying writer");
  assert.equal(writer.replication?.role, "follower");
  assert.throws(
    () => writer.transact((tx) => applyWorkloadStep(tx, 4)),
    (e: unknown) =>
      e instanceof DbError &&
      e.code === "NOT_WRITER" &&
      /node w cannot renew its writer lease on stream down/.test(e.message),
  );
  await new Promise((resolve) => setTimeout(resolve, 2 * leaseTtlMs));
  const leaseWarnings = warnings.filter((w) => /lease/.test(w));
  assert.equal(leaseWarnings.length, 1, `one warning for the outage: ${leaseWarnings.join("; ")}`);

  await nats.start();
  const last = await commitSteps([writer], 4, 6);
  assert.equal(last, writer);
  assert.equal(stateDigest(writer), referenceDigest(6));
});
