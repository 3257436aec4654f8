/**
 * Goal: a database replicated through JetStream behaves as one history on every node.
 * Method: in-process writer and followers against the real nats-server at NATS_URL (the test
 * fails when it is unreachable), each test on its own stream: convergence under pipelined
 * writes, refused follower writes, identical commit listeners, a restarted follower catching
 * up, a stale writer fenced, and a new node starting from an object-store snapshot.
 */
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { open, DbError } from "../../src/index.ts";
import { encodeRecord } from "../../src/log/index.ts";
import type { Commit, Database, ReplicateOptions } from "../../src/index.ts";
import {
  applyWorkloadStep,
  referenceDigest,
  stateDigest,
  workloadSetup,
} from "../support/crash-workload.ts";
import { deleteReplicatedLog, eventually, natsUrl, uniqueStream } from "../support/nats.ts";

const quiet = (): void => undefined;

function replicated(stream: string, node: string, extra: Partial<ReplicateOptions> = {}) {
  return open({ replicate: { url: natsUrl, stream, node, ...extra }, onMessage: quiet });
}

/** A writer and a follower on a new stream; both closed and the stream deleted after `t`. */
async function writerAndFollower(t: TestContext, prefix: string) {
  const stream = uniqueStream(prefix);
  t.after(() => deleteReplicatedLog(stream));
  const writer = await replicated(stream, "w");
  const follower = await replicated(stream, "f");
  t.after(async () => {
    await follower.close();
    await writer.close();
  });
  return { writer, follower };
}

/** Commits `count` workload steps from `from`, pipelined: waits only for the last one. */
async function writeSteps(db: Database, from: number, count: number): Promise<void> {
  let last: Promise<void> = Promise.resolve();
  for (let n = from; n < from + count; n++) {
    db.transact((tx) => applyWorkloadStep(tx, n));
    last = db.durable();
    if (n % 64 === 0) await db.writable();
  }
  await last;
}

test("a writer and two followers converge; followers refuse writes", async (t) => {
  const stream = uniqueStream("converge");
  t.after(() => deleteReplicatedLog(stream));
  const writer = await replicated(stream, "w");
  const followers = [await replicated(stream, "f1"), await replicated(stream, "f2")];
  t.after(async () => {
    for (const db of [writer, ...followers]) await db.close();
  });
  assert.equal(writer.replication?.role, "writer");
  for (const f of followers) assert.equal(f.replication?.role, "follower");
  workloadSetup(writer);
  // Two clients writing at once: their commits interleave on the one writer.
  await Promise.all([writeSteps(writer, 1, 300), writeSteps(writer, 301, 300)]);
  for (const f of followers) {
    await eventually(() => f.seq === writer.seq, `follower ${f.replication?.node} catches up`);
    assert.equal(stateDigest(f), stateDigest(writer));
    assert.equal(f.replication?.lagCommits, 0);
  }
  assert.equal(writer.replication?.durableSeq, writer.seq);
  assert.throws(
    () => followers[0]!.transact((tx) => applyWorkloadStep(tx, 9999)),
    (error: unknown) => error instanceof DbError && error.code === "NOT_WRITER",
  );
  assert.equal(followers[0]!.table("crash::steps").get(9999), undefined);
});

test("commit listeners on a follower see the writer's commits in the same order", async (t) => {
  const { writer, follower } = await writerAndFollower(t, "listeners");
  const seen: { writer: Commit[]; follower: Commit[] } = { writer: [], follower: [] };
  writer.addCommitListener((c) => seen.writer.push(c));
  follower.addCommitListener((c) => seen.follower.push(c));
  workloadSetup(writer);
  await writeSteps(writer, 1, 200);
  await eventually(() => follower.seq === writer.seq, "follower catches up");
  const shape = (c: Commit) => JSON.stringify([c.seq, c.ts, c.origin, c.changes], bigints);
  assert.deepEqual(seen.follower.map(shape), seen.writer.map(shape));
  assert.equal(seen.writer.length, 201);
});

function bigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? `${value}n` : value;
}

test("a follower restarted mid-stream catches up", async (t) => {
  const stream = uniqueStream("restart");
  t.after(() => deleteReplicatedLog(stream));
  const writer = await replicated(stream, "w");
  t.after(() => writer.close());
  workloadSetup(writer);
  await writeSteps(writer, 1, 100);
  const first = await replicated(stream, "f");
  await eventually(() => first.seq === writer.seq, "follower reads the first part");
  await first.close();
  await writeSteps(writer, 101, 150);
  const again = await replicated(stream, "f");
  t.after(() => again.close());
  // open() returns once the node has read the stream as it was at open.
  assert.equal(again.seq, writer.seq);
  assert.equal(stateDigest(again), referenceDigest(250));
});

/**
 * The lease expires while the stale writer is paused (modelled by deleting the key), and
 * `next` takes over.
 */
async function leaseExpires(stream: string, next: Database): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  await (await new Kvm(nc).open(`${stream}_lease`)).delete("writer");
  await nc.close();
  await eventually(() => next.replication?.role === "writer", "the other node takes over");
}

test("a stale writer's append is refused and the history does not fork", async (t) => {
  const stream = uniqueStream("fence");
  t.after(() => deleteReplicatedLog(stream));
  // The stale writer renews rarely, so it still believes it holds the lease.
  const stale = await replicated(stream, "stale", { leaseTtlMs: 60_000 });
  const next = await replicated(stream, "next", { leaseTtlMs: 600 });
  const watcher = await replicated(stream, "watcher", { role: "follower" });
  t.after(async () => {
    for (const db of [stale, next, watcher]) await db.close();
  });
  workloadSetup(stale);
  await writeSteps(stale, 1, 10);
  await leaseExpires(stream, next);
  next.transact((tx) => applyWorkloadStep(tx, 11));
  await next.durable();
  // The stale writer commits locally, but JetStream refuses the append.
  stale.transact((tx) => applyWorkloadStep(tx, 1000));
  await assert.rejects(stale.durable(), (e: unknown) => (e as DbError).code === "APPEND_FENCED");
  assert.equal(stale.replication?.role, "fenced");
  assert.throws(
    () => stale.transact((tx) => applyWorkloadStep(tx, 1001)),
    (e: unknown) => (e as DbError).code === "APPEND_FENCED",
  );
  await writeSteps(next, 12, 5);
  await eventually(() => watcher.seq === next.seq, "watcher follows the new writer");
  assert.equal(stateDigest(watcher), referenceDigest(16));
  assert.equal(stateDigest(next), referenceDigest(16));
});

test("a stale writer's append right after a takeover fences it, not the new writer", async (t) => {
  const stream = uniqueStream("takeover");
  t.after(() => deleteReplicatedLog(stream));
  // The stale writer renews rarely, so it still believes it holds the lease.
  const stale = await replicated(stream, "stale", { leaseTtlMs: 60_000 });
  const next = await replicated(stream, "next", { leaseTtlMs: 600 });
  t.after(async () => {
    for (const db of [stale, next]) await db.close();
  });
  workloadSetup(stale);
  await writeSteps(stale, 1, 10);
  await leaseExpires(stream, next);
  // As a commit its client held through a reconnect: it lands before the new writer's first.
  stale.transact((tx) => applyWorkloadStep(tx, 1000));
  await assert.rejects(stale.durable(), (e: unknown) => (e as DbError).code === "APPEND_FENCED");
  assert.equal(stale.replication?.role, "fenced");
  await writeSteps(next, 11, 5);
  assert.equal(next.replication?.role, "writer");
  assert.equal(stateDigest(next), referenceDigest(15));
  const late = await replicated(stream, "late", { role: "follower" });
  t.after(() => late.close());
  assert.equal(stateDigest(late), referenceDigest(15));
});

test("a new node starts from the newest object-store snapshot plus the stream tail", async (t) => {
  const stream = uniqueStream("snapshot");
  t.after(() => deleteReplicatedLog(stream));
  const writer = await replicated(stream, "w", { snapshotsKept: 1 });
  t.after(() => writer.close());
  workloadSetup(writer);
  await writeSteps(writer, 1, 200);
  const first = await writer.snapshot();
  await writeSteps(writer, 201, 50);
  const second = await writer.snapshot();
  const secondStreamSeq = writer.replication!.streamSeq; // the message holding commit second.seq
  assert.ok(second.seq > first.seq && second.sizeBytes > 0);
  await writeSteps(writer, 251, 30);
  const nc = await connect({ servers: natsUrl });
  const state = (await (await jetstreamManager(nc)).streams.info(stream)).state;
  await nc.close();
  // Retention follows the snapshots: the stream before the oldest kept one is purged.
  assert.equal(state.first_seq, secondStreamSeq + 1);
  assert.ok(secondStreamSeq > 1);
  const late = await replicated(stream, "late");
  t.after(() => late.close());
  assert.equal(late.replication?.snapshotSeq, second.seq);
  assert.equal(late.seq, writer.seq);
  assert.equal(stateDigest(late), referenceDigest(280));
});

test("subscriptions on a follower see the same deltas in the same order", async (t) => {
  const { writer, follower } = await writerAndFollower(t, "subscribe");
  workloadSetup(writer);
  await writer.durable();
  await eventually(() => follower.seq === writer.seq, "follower has the tables");
  const collect = async (db: Database, until: () => number): Promise<string[]> => {
    const seen: string[] = [];
    const subscription = db.subscribe({ table: "crash::balance" });
    for await (const message of subscription) {
      seen.push(JSON.stringify(message, bigints));
      if (message.type === "delta" && message.seq >= until()) break;
    }
    subscription.close();
    return seen;
  };
  // Known before writing: the last delta may be delivered before writeSteps returns.
  const target = writer.seq + 100;
  const onWriter = collect(writer, () => target);
  const onFollower = collect(follower, () => target);
  await writeSteps(writer, 1, 100);
  assert.equal(writer.seq, target);
  const [a, b] = await Promise.all([onWriter, onFollower]);
  assert.equal(a.length, 101); // the snapshot, then one delta per commit
  assert.deepEqual(b, a);
});

test("a commit larger than the NATS message limit is refused and rolled back", async (t) => {
  const stream = uniqueStream("large");
  t.after(() => deleteReplicatedLog(stream));
  const writer = await replicated(stream, "w");
  t.after(() => writer.close());
  workloadSetup(writer);
  const big = "x".repeat(2 * 1024 * 1024);
  assert.throws(
    () => writer.transact((tx) => tx.table("crash::steps").insert({ n: 1, value: big })),
    (e: unknown) => (e as DbError).code === "LIMIT_EXCEEDED",
  );
  assert.equal(writer.table("crash::steps").get(1), undefined);
  await writeSteps(writer, 1, 3);
  assert.equal(writer.replication?.role, "writer");
  assert.equal(stateDigest(writer), referenceDigest(3));
});

test("open refuses bad replicate options and an unreachable NATS server", async () => {
  const refused = (code: string) => (e: unknown) => (e as DbError).code === code;
  await assert.rejects(open({ replicate: { url: [] } }), refused("INVALID_ARGUMENT"));
  // The NATS client would dial it, dropping the scheme: refused here as serve's config does.
  await assert.rejects(
    open({ replicate: { url: "http://127.0.0.1:8222" } }),
    refused("INVALID_ARGUMENT"),
  );
  await assert.rejects(
    open({ replicate: { url: natsUrl, leaseTtlMs: 1.5 } }),
    refused("INVALID_ARGUMENT"),
  );
  await assert.rejects(
    open({ path: "/tmp/never-created", replicate: { url: natsUrl } }),
    refused("INVALID_ARGUMENT"),
  );
  await assert.rejects(open({ replicate: { url: "nats://127.0.0.1:1" } }), refused("IO_ERROR"));
});

test("open names each replicate option given a wrong value, before dialling", async () => {
  const unreachable = "nats://127.0.0.1:1"; // refused before it is dialled, or IO_ERROR
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ role: "leader" }, /replicate\.role must be auto or follower, got leader/],
    [{ node: "" }, /replicate\.node must be a name of 1 to 128 characters/],
    [{ node: 7 }, /replicate\.node must be a name of 1 to 128 characters/],
    [{ purgeLog: "no" }, /replicate\.purgeLog must be true or false/],
    [{ monitorUrl: 5 }, /replicate\.monitorUrl must be an http\(s\) URL/],
    [{ monitorUrl: "nats://127.0.0.1:8222" }, /replicate\.monitorUrl must be an http\(s\) URL/],
  ];
  for (const [extra, message] of cases) {
    const replicate = { url: unreachable, ...extra } as unknown as ReplicateOptions;
    await assert.rejects(
      open({ replicate, onMessage: quiet }),
      (e: unknown) => (e as DbError).code === "INVALID_ARGUMENT" && message.test(String(e)),
      JSON.stringify(extra),
    );
  }
});

test("a node timing the lease longer than its bucket is refused; shorter, warned", async (t) => {
  const stream = uniqueStream("ttl");
  t.after(() => deleteReplicatedLog(stream));
  const first = await replicated(stream, "a", { leaseTtlMs: 1500 });
  t.after(() => first.close());
  // It would write on after its key expired and another node took over.
  await assert.rejects(
    replicated(stream, "b", { leaseTtlMs: 60_000 }),
    (e: unknown) =>
      (e as DbError).code === "INVALID_ARGUMENT" &&
      /replicate\.leaseTtlMs is 60000 but the lease bucket .* has a TTL of 1500 ms/.test(String(e)),
  );
  const warnings: string[] = [];
  const shorter = await open({
    replicate: { url: natsUrl, stream, node: "c", role: "follower", leaseTtlMs: 600 },
    onMessage: (_kind, text) => warnings.push(text),
  });
  t.after(() => shorter.close());
  assert.ok(warnings.some((w) => /leaseTtlMs is 600 but .* TTL of 1500 ms/.test(w)));
  const unset = await replicated(stream, "d", { role: "follower" });
  t.after(() => unset.close());
  assert.equal(unset.replication?.role, "follower");
});

test("a follower reads the writer's view rows, kept by the replicated commits", async (t) => {
  const { writer, follower } = await writerAndFollower(t, "views");
  await writer.admin(`create namespace v;
    create table v::orders { id: int8, who: utf8, total: int8 } with { primary_key: { id } };
    create view v::by_who { who: utf8, n: int8, total: int8 } as {
      from v::orders aggregate { n: math::count(id), total: math::sum(total) } by { who }
    }`);
  await writer.command("insert v::orders [(1, 'ada', 10), (2, 'bob', 5), (3, 'ada', 7)]");
  await writer.command("update v::orders { total: 1 } filter { id == 2 }");
  await writer.command("delete v::orders filter { id == 1 }");
  await eventually(() => follower.seq === writer.seq, "the follower catches up");
  const read = async (db: Database) => (await db.query("from v::by_who sort { who }")).frames[0];
  assert.deepEqual(await read(writer), [
    { who: "ada", n: 1, total: 7 },
    { who: "bob", n: 1, total: 1 },
  ]);
  assert.deepEqual(await read(follower), await read(writer));
});

test("a message that is not a log record, published by another, is skipped by all", async (t) => {
  const stream = uniqueStream("garbage");
  t.after(() => deleteReplicatedLog(stream));
  const warnings: string[] = [];
  const writer = await replicated(stream, "w", { leaseTtlMs: 600 });
  const follower = await open({
    replicate: { url: natsUrl, stream, node: "f", leaseTtlMs: 600 },
    onMessage: (_kind, text) => warnings.push(text),
  });
  t.after(async () => {
    await follower.close();
    await writer.close();
  });
  workloadSetup(writer);
  await writeSteps(writer, 1, 5);
  const nc = await connect({ servers: natsUrl });
  nc.publish(`${stream}.log`, new TextEncoder().encode("not a record"));
  await nc.flush();
  await nc.close();
  // The message continues no history: the writer appends on top of it and goes on.
  await writeSteps(writer, 6, 5);
  assert.equal(writer.replication?.role, "writer");
  await eventually(() => follower.seq === writer.seq, "the follower goes on past it");
  assert.ok(warnings.some((w) => /message \d+ is not a log record \(.*\); skipped/.test(w)));
  const late = await replicated(stream, "late", { role: "follower" });
  t.after(() => late.close());
  assert.equal(late.seq, writer.seq);
  assert.equal(stateDigest(late), referenceDigest(10));
});

test("open fails, naming the message, on a record in the stream it cannot apply", async (t) => {
  const stream = uniqueStream("unappliable");
  t.after(() => deleteReplicatedLog(stream));
  await (await replicated(stream, "w")).close();
  // A record that continues the chain (the first, after the zero hash) of an unknown object.
  const change = { object: "nope::t", kind: "insert", key: 1, before: undefined, after: {} };
  const commit = { seq: 1, ts: 1, origin: { kind: "api" }, changes: [change] };
  const nc = await connect({ servers: natsUrl });
  await jetstream(nc).publish(`${stream}.log`, encodeRecord(commit, new Uint8Array(32)).bytes);
  await nc.close();
  await assert.rejects(
    replicated(stream, "late"),
    (e: unknown) =>
      (e as DbError).code === "CORRUPT" &&
      /message 2: commit 1 cannot be applied: unknown object "nope::t"/.test(String(e)),
  );
});

test("a record left by a stale writer's pipeline does not fence the writer", async (t) => {
  const { writer, follower } = await writerAndFollower(t, "stale_pipeline");
  workloadSetup(writer);
  await writeSteps(writer, 1, 5);
  // A valid record that does not continue the chain, as a fenced writer's later publishes
  // land on top of the new writer's messages.
  const commit = { seq: writer.seq + 1, ts: 1, origin: { kind: "api" }, changes: [] };
  const nc = await connect({ servers: natsUrl });
  const stream = writer.replication!.stream;
  await jetstream(nc).publish(`${stream}.log`, encodeRecord(commit, new Uint8Array(32)).bytes);
  await nc.close();
  await writeSteps(writer, 6, 5);
  assert.equal(writer.replication?.role, "writer");
  await eventually(() => follower.seq === writer.seq, "the follower catches up");
  assert.equal(stateDigest(follower), referenceDigest(10));
});

test("open refuses durability memory with replicate, before it reaches NATS", async () => {
  // Unreachable on purpose: the refusal must come first, from the options alone.
  const replicate = { url: "nats://127.0.0.1:1", stream: uniqueStream("memory") };
  await assert.rejects(
    open({ replicate, durability: "memory", onMessage: quiet }),
    (e: unknown) =>
      (e as DbError).code === "INVALID_ARGUMENT" &&
      /durability "memory" does not go with replicate/.test(String(e)),
  );
});

test("a stream discarding what it delivers is refused; one with limits, warned", async (t) => {
  const nc = await connect({ servers: natsUrl });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const queue = uniqueStream("workqueue");
  t.after(() => deleteReplicatedLog(queue));
  await jsm.streams.add({ name: queue, subjects: [`${queue}.log`], retention: "workqueue" });
  await assert.rejects(
    replicated(queue, "a"),
    (e: unknown) =>
      (e as DbError).code === "INVALID_ARGUMENT" &&
      new RegExp(`stream ${queue} has retention workqueue`).test(String(e)),
  );
  const aging = uniqueStream("max_age");
  t.after(() => deleteReplicatedLog(aging));
  const dayNs = 24 * 3600 * 1e9;
  await jsm.streams.add({ name: aging, subjects: [`${aging}.log`], max_age: dayNs });
  const warnings: string[] = [];
  const db = await open({
    replicate: { url: natsUrl, stream: aging, node: "a" },
    onMessage: (_kind, text) => warnings.push(text),
  });
  t.after(() => db.close());
  assert.ok(
    warnings.some((w) => new RegExp(`stream ${aging} discards messages: max_age 86400 s`).test(w)),
    warnings.join("\n"),
  );
});

test("open names replicas the NATS server cannot hold, with a DbError code", async (t) => {
  const stream = uniqueStream("r3");
  t.after(() => deleteReplicatedLog(stream));
  // The shared nats-server is a single server: it holds one replica only.
  await assert.rejects(
    replicated(stream, "a", { replicas: 3 }),
    (e: unknown) =>
      e instanceof DbError &&
      e.code === "INVALID_ARGUMENT" &&
      /replicate\.replicas is 3 but .*replicas > 1 not supported/.test(e.message),
  );
});
