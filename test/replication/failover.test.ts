/**
 * Goal: killing the writer loses no acknowledged commit, and another node takes over.
 * Method: two real node processes (test/support/replica-child.ts) share one stream on the
 * nats-server at NATS_URL. The first becomes the writer and commits as fast as it can; it is
 * SIGKILLed mid-stream. The second must take over holding every step the first reported as
 * acknowledged, with exactly the reference state, and go on writing; a third node (in this
 * process) must converge to the same state.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import { referenceDigest, stateDigest } from "../support/crash-workload.ts";
import { deleteReplicatedLog, eventually, natsUrl, uniqueStream } from "../support/nats.ts";
import { ReplicaProcess } from "../support/replica-process.ts";

const leaseTtlMs = 1500;

test("SIGKILL of the writer loses no acknowledged commit; a follower takes over", async (t) => {
  const stream = uniqueStream("failover");
  t.after(() => deleteReplicatedLog(stream));
  const first = new ReplicaProcess(natsUrl, stream, "first", leaseTtlMs);
  t.after(() => first.kill());
  await first.waitLine(/^writer /);
  const second = new ReplicaProcess(natsUrl, stream, "second", leaseTtlMs);
  t.after(() => second.kill());
  await second.waitLine(/^open follower /);
  await eventually(() => first.ackedMax >= 300, "the first writer commits", 20_000);
  await first.kill();
  const acked = first.ackedMax;
  const killedAt = performance.now();

  const line = await second.waitLine(/^writer /);
  const takeoverMs = performance.now() - killedAt;
  const [, steps, digest] = line.split(" ");
  assert.ok(Number(steps) >= acked, `took over with ${steps} steps; ${acked} were acknowledged`);
  assert.equal(digest, referenceDigest(Number(steps)));
  await eventually(() => second.ackedMax >= Number(steps) + 100, "the new writer commits");
  t.diagnostic(
    `acknowledged before the kill: ${acked}; takeover after ${takeoverMs.toFixed(0)} ms`,
  );

  const third = await open({
    replicate: { url: natsUrl, stream, node: "third", role: "follower" },
  });
  t.after(() => third.close());
  const target = second.ackedMax;
  await eventually(() => third.table("crash::steps").size >= target, "the third node follows");
  const size = third.table("crash::steps").size;
  assert.equal(stateDigest(third), referenceDigest(size));
});

test("a replica child given no lease TTL takes the lease bucket's, as open() does", async (t) => {
  const stream = uniqueStream("child_ttl");
  t.after(() => deleteReplicatedLog(stream));
  // The bucket is made with a TTL shorter than the child's old default of 1500 ms.
  const writer = await open({
    replicate: { url: natsUrl, stream, node: "w", leaseTtlMs: 1200 },
    onMessage: () => undefined,
  });
  t.after(() => writer.close());
  const child = new ReplicaProcess(natsUrl, stream, "child");
  t.after(() => child.kill());
  await child.waitLine(/^open follower /);
});
