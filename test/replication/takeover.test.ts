/**
 * Goal: a node taking over as writer never blocks its lease work on a stalled read, and the
 * history stays one whoever takes over.
 * Method: in-process nodes against the nats-server at NATS_URL; a node reaches NATS through a
 * proxy (test/support/nats-proxy.ts) that can hold back what its log connection receives
 * while its lease connection still answers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { open } from "../../src/index.ts";
import type { Database, DbError } from "../../src/index.ts";
import {
  applyWorkloadStep,
  referenceDigest,
  stateDigest,
  workloadSetup,
} from "../support/crash-workload.ts";
import { deleteReplicatedLog, eventually, natsUrl, uniqueStream } from "../support/nats.ts";
import { startNatsProxy } from "../support/nats-proxy.ts";

const leaseTtlMs = 1200;
const quiet = (): void => undefined;

async function writeSteps(db: Database, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) db.transact((tx) => applyWorkloadStep(tx, n));
  await db.durable();
}

test("a takeover whose read of the stream stalls gives the lease back; ticks go on", async (t) => {
  const stream = uniqueStream("stalled_takeover");
  t.after(() => deleteReplicatedLog(stream));
  const proxy = await startNatsProxy(natsUrl);
  t.after(() => proxy.close());
  const replicate = { stream, leaseTtlMs };
  const first = await open({
    replicate: { ...replicate, url: natsUrl, node: "w" },
    onMessage: quiet,
  });
  const warnings: string[] = [];
  const stalled = await open({
    replicate: { ...replicate, url: proxy.url, node: "f" },
    onMessage: (kind, text) => {
      if (kind === "warning") warnings.push(text);
    },
  });
  t.after(() => stalled.close());
  workloadSetup(first);
  await writeSteps(first, 1, 10);
  await eventually(() => stalled.seq === first.seq, "the follower reads the first steps");
  proxy.hold(0); // its log connection (the first it made) receives nothing from now on
  await first.close(); // hands the lease back: the follower takes it and reads the stream
  await eventually(
    () => warnings.some((w) => /gave the lease back/.test(w)),
    "the stalled takeover gives up",
  );
  const next = await open({
    replicate: { ...replicate, url: natsUrl, node: "g" },
    onMessage: quiet,
  });
  t.after(() => next.close());
  await eventually(() => next.replication?.role === "writer", "a healthy node takes over");
  // The stalled node's lease ticks go on: it reads who writes now.
  await eventually(() => stalled.replication?.writer?.node === "g", "it sees the new writer");
  assert.equal(stalled.replication?.role, "follower");
  await writeSteps(next, 11, 15);
  proxy.release();
  await eventually(() => stalled.seq === next.seq, "it follows once its link recovers", 15_000);
  assert.equal(stateDigest(stalled), referenceDigest(15));
  assert.equal(stateDigest(next), referenceDigest(15));
});

test("a node whose takeovers keep stalling backs off, leaving the lease free", async (t) => {
  const stream = uniqueStream("takeover_backoff");
  t.after(() => deleteReplicatedLog(stream));
  const proxy = await startNatsProxy(natsUrl);
  t.after(() => proxy.close());
  const replicate = { stream, leaseTtlMs };
  const first = await open({
    replicate: { ...replicate, url: natsUrl, node: "w" },
    onMessage: quiet,
  });
  const stalled = await open({
    replicate: { ...replicate, url: proxy.url, node: "f" },
    onMessage: quiet,
  });
  t.after(() => stalled.close());
  workloadSetup(first);
  await writeSteps(first, 1, 3);
  await eventually(() => stalled.seq === first.seq, "the follower reads the first steps");
  // Every write of the lease key, as (when, what, by whom), seen from a connection of our own.
  const nc = await connect({ servers: natsUrl });
  t.after(() => nc.close());
  const kv = await new Kvm(nc).open(`${stream}_lease`);
  const events: Array<{ atMs: number; operation: string; node: string }> = [];
  const watch = await kv.watch({ key: "writer", include: "updates" });
  t.after(() => watch.stop());
  void (async () => {
    for await (const entry of watch) {
      const node = entry.operation === "PUT" ? (entry.json<{ node: string }>().node ?? "") : "";
      // The server's time of each write: what the watch takes to tell us does not count.
      events.push({ atMs: entry.created.getTime(), operation: entry.operation, node });
    }
  })();
  // Its log connection delivers no stream message from now on, yet answers API requests:
  // each claim stalls reading the steps below, while its lease ticks run on.
  proxy.holdDeliveries(0);
  await writeSteps(first, 4, 6);
  await first.close();
  const claims = (): typeof events => events.filter((e) => e.operation === "PUT");
  await eventually(() => claims().length >= 3, "three stalled takeovers", 30_000);
  assert.ok(claims().every((e) => e.node === "f"));
  // After each given-up claim the key stays free (deleted) for at least a whole TTL, so any
  // healthy node, ticking every sixth of it, finds the lease free several times meanwhile.
  for (let index = 2; index < events.length; index++) {
    const [claim, before, after] = [events[index - 2]!, events[index - 1]!, events[index]!];
    if (claim.node !== "f" || before.operation === "PUT" || after.operation !== "PUT") continue;
    const freeMs = after.atMs - before.atMs;
    // Less 1 ms: the server's times are rounded to milliseconds.
    assert.ok(freeMs >= leaseTtlMs - 1, `the lease was taken again after ${freeMs.toFixed(0)} ms`);
  }
  proxy.release();
});

test("nodes whose stream is deleted under them stop, saying so, instead of waiting", async (t) => {
  const stream = uniqueStream("deleted");
  t.after(() => deleteReplicatedLog(stream));
  const replicate = { url: natsUrl, stream, leaseTtlMs };
  const writer = await open({ replicate: { ...replicate, node: "w" }, onMessage: quiet });
  const follower = await open({
    replicate: { ...replicate, node: "f", role: "follower" },
    onMessage: quiet,
  });
  t.after(async () => {
    await follower.close();
    await writer.close();
  });
  workloadSetup(writer);
  await writeSteps(writer, 1, 5);
  await eventually(() => follower.seq === writer.seq, "the follower reads the steps");
  const nc = await connect({ servers: natsUrl });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(stream);
  // Created again at once, empty, as a node opening it would: it is not the same log.
  await jsm.streams.add({ name: stream, subjects: [`${stream}.log`] });
  for (const db of [writer, follower]) {
    await eventually(() => db.failure !== undefined, `${db.replication?.node} stops`);
    assert.equal(db.failure?.code, "IO_ERROR");
    assert.match(db.failure.message, new RegExp(`stream ${stream} was deleted`));
    assert.equal(db.replication?.role, "fenced");
  }
  assert.throws(
    () => writer.transact((tx) => applyWorkloadStep(tx, 6)),
    (e: unknown) => (e as DbError).code === "IO_ERROR",
  );
});

test("a node never takes over a stream created again under its name", async (t) => {
  const stream = uniqueStream("recreated");
  t.after(() => deleteReplicatedLog(stream));
  const replicate = { url: natsUrl, stream, leaseTtlMs };
  const nodes = [
    await open({ replicate: { ...replicate, node: "a" }, onMessage: quiet }),
    await open({ replicate: { ...replicate, node: "b" }, onMessage: quiet }),
  ];
  t.after(async () => {
    for (const db of nodes) await db.close();
  });
  workloadSetup(nodes[0]!);
  await writeSteps(nodes[0]!, 1, 5);
  await eventually(() => nodes[1]!.seq === nodes[0]!.seq, "b reads the steps");
  const nc = await connect({ servers: natsUrl });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(stream);
  await jsm.streams.add({ name: stream, subjects: [`${stream}.log`] });
  // The lease is free at once (as when its key expires): both nodes race for it.
  await (await new Kvm(nc).open(`${stream}_lease`)).delete("writer");
  for (const db of nodes) {
    await eventually(() => db.failure !== undefined, `${db.replication?.node} stops`);
  }
  const state = (await jsm.streams.info(stream)).state;
  assert.equal(state.messages, 0, "nothing was appended to the new stream");
});

test("a writer whose renewal landed but whose answer was lost keeps the lease", async (t) => {
  const stream = uniqueStream("lost_answer");
  t.after(() => deleteReplicatedLog(stream));
  const proxy = await startNatsProxy(natsUrl);
  t.after(() => proxy.close());
  const warnings: string[] = [];
  const writer = await open({
    replicate: { url: proxy.url, stream, node: "w", leaseTtlMs },
    onMessage: (kind, text) => {
      if (kind === "warning") warnings.push(text);
    },
  });
  t.after(() => writer.close());
  workloadSetup(writer);
  await writeSteps(writer, 1, 3);
  // Its lease connection (the second it made) hears nothing: a renewal sent meanwhile lands
  // in the bucket, but its answer comes after the renewal gave up waiting for it.
  proxy.hold(1);
  await new Promise((resolve) => setTimeout(resolve, (leaseTtlMs * 2) / 3));
  proxy.release();
  await eventually(async () => {
    try {
      await writeSteps(writer, 4, 6);
      return true;
    } catch {
      return false;
    }
  }, "the writer writes again");
  assert.deepEqual(
    warnings.filter((w) => /lost the writer lease/.test(w)),
    [],
    "it never stepped down",
  );
  assert.equal(stateDigest(writer), referenceDigest(6));
});
