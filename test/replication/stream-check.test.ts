/**
 * Goal: a node's periodic check that its stream is still the one it opened (the lease tick's
 * stream info) never takes a busy stream for a deleted one. The stream's state is answered at
 * one moment and read later: a commit the node publishes or applies in between is newer than
 * the answer, and is no sign that the stream lost messages.
 * Method: in-process writer and follower against the nats-server at NATS_URL; the stream
 * info requests of both nodes are held, once answered, until the writer has committed again
 * and the follower applied that commit, then handed over (stale by one message). Both nodes
 * must go on: the follower still follows, refuses a local write with NOT_WRITER (a 503 over
 * HTTP, where a stopped node answers IO_ERROR, a 500), and the writer still writes. A
 * follower whose reader ends and whose new reader then fails to start (Follower.start patched
 * to throw once) reads again at a later tick, saying what failed; one closed while it retries
 * starting a reader (every start failing as on a lost connection) stops retrying.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import type { StreamInfo } from "@nats-io/jetstream";
import { open } from "../../src/index.ts";
import { Follower } from "../../src/replication/follower.ts";
import type { Database, DbError } from "../../src/index.ts";
import { applyWorkloadStep, workloadSetup } from "../support/crash-workload.ts";
import { deleteReplicatedLog, eventually, natsUrl, uniqueStream } from "../support/nats.ts";

/**
 * Lease ticks (and their stream checks) come every second. Long enough that a loaded machine
 * does not lapse the writer's lease (a lapsed writer refuses commits) while its stream check
 * is held, which these tests are not about.
 */
const leaseTtlMs = 6000;

/** Commits workload step `n` on `writer` once it holds its lease (under load it may lapse). */
async function commitStep(writer: Database, n: number): Promise<void> {
  await eventually(() => writer.replication?.role === "writer", "the writer holds its lease");
  writer.transact((tx) => applyWorkloadStep(tx, n));
  await writer.durable();
}

type StreamInfoFn = (name: string, data?: unknown) => Promise<StreamInfo>;

/**
 * Holds every answered stream info of `stream` until `release` is called; `held` counts the
 * distinct callers (one stream API per node) whose answer is being held.
 */
function holdStreamInfo(streamsApi: object, stream: string) {
  const proto = Object.getPrototypeOf(streamsApi) as { info: StreamInfoFn };
  const original = proto.info;
  const callers = new Set<object>();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  proto.info = async function (this: object, name, data) {
    const info = await original.call(this, name, data);
    if (name !== stream) return info;
    callers.add(this);
    await released;
    return info;
  };
  return {
    held: () => callers.size,
    release,
    restore: () => {
      release();
      proto.info = original;
    },
  };
}

test("a stale answer to the stream check (a commit applied since) stops no node", async (t) => {
  const stream = uniqueStream("stale_info");
  t.after(() => deleteReplicatedLog(stream));
  const warnings: string[] = [];
  const onMessage = (kind: string, text: string) => {
    if (kind === "warning") warnings.push(text);
  };
  const replicate = { url: natsUrl, stream, leaseTtlMs };
  const writer = await open({ replicate: { ...replicate, node: "w" }, onMessage });
  const follower = await open({
    replicate: { ...replicate, node: "f", role: "follower" },
    onMessage,
  });
  t.after(async () => {
    await follower.close();
    await writer.close();
  });
  await eventually(() => writer.replication?.role === "writer", "the writer holds its lease");
  workloadSetup(writer);
  await writer.durable();
  await eventually(() => follower.seq === writer.seq, "the follower reads the setup");

  const nc = await connect({ servers: natsUrl });
  t.after(() => nc.close());
  const hold = holdStreamInfo((await jetstreamManager(nc)).streams, stream);
  t.after(() => hold.restore());
  await eventually(() => hold.held() === 2, "both nodes' stream checks are answered and held");
  await commitStep(writer, 1);
  await eventually(() => follower.seq === writer.seq, "the follower applies the commit");
  hold.release();
  // Two more lease ticks each, with answers no longer stale.
  await new Promise((resolve) => setTimeout(resolve, 2 * (leaseTtlMs / 6) + 50));

  const stops = warnings.filter((w) => /was deleted/.test(w));
  assert.deepEqual(stops, [], "no node took its stream for a deleted one");
  assert.equal(follower.failure, undefined, follower.failure?.message);
  assert.equal(writer.failure, undefined, writer.failure?.message);
  await assert.rejects(follower.admin("create namespace g"), (error: unknown) => {
    assert.equal((error as DbError).code, "NOT_WRITER", String(error));
    return true;
  });
  await commitStep(writer, 2);
  await eventually(() => follower.seq === writer.seq, "the follower still follows");
});

test("a follower whose new reader fails to start keeps trying until it reads", async (t) => {
  const stream = uniqueStream("restart_fails");
  t.after(() => deleteReplicatedLog(stream));
  const warnings: string[] = [];
  const onMessage = (kind: string, text: string) => {
    if (kind === "warning") warnings.push(text);
  };
  const replicate = { url: natsUrl, stream, leaseTtlMs };
  const writer = await open({ replicate: { ...replicate, node: "w" }, onMessage });
  // The follower's readers, as started; the next start after `refuseNext` throws once.
  const readers: Follower[] = [];
  let refuseNext = false;
  // Called with each reader as `this`, below: it is never separated from one.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const start = Follower.prototype.start;
  Follower.prototype.start = async function (this: Follower) {
    if (refuseNext) {
      refuseNext = false;
      throw new Error("injected: the consumer could not be made");
    }
    readers.push(this);
    return start.call(this);
  };
  t.after(() => (Follower.prototype.start = start));
  const follower = await open({
    replicate: { ...replicate, node: "f", role: "follower" },
    onMessage,
  });
  t.after(async () => {
    await follower.close();
    await writer.close();
  });
  await eventually(() => writer.replication?.role === "writer", "the writer holds its lease");
  workloadSetup(writer);
  await writer.durable();
  await eventually(() => follower.seq === writer.seq, "the follower reads the setup");

  // Its reader ends without an error (as the client's does when it gives up): the follower
  // finds it stalled once the writer commits, and the start of a new one fails.
  refuseNext = true;
  await (readers[0] as unknown as { messages: { close(): Promise<void> } }).messages.close();
  await commitStep(writer, 1);
  await eventually(() => !refuseNext, "the follower tries to read again");
  await eventually(() => follower.seq === writer.seq, "the follower reads again");
  assert.equal(follower.failure, undefined, follower.failure?.message);
  assert.ok(
    warnings.some((w) => /node f's lease tick .* injected: the consumer could not be/.test(w)),
    warnings.join("\n"),
  );
});

test("a node closed while its reader's restart is being retried stops retrying", async (t) => {
  const stream = uniqueStream("closed_retry");
  t.after(() => deleteReplicatedLog(stream));
  const replicate = { url: natsUrl, stream, leaseTtlMs };
  const writer = await open({ replicate: { ...replicate, node: "w" }, onMessage: () => {} });
  t.after(() => writer.close());
  // Once `failing`, every start fails as a lost connection does: worth retrying, until closed.
  const readers: Follower[] = [];
  let failing = false;
  let failedStarts = 0;
  // Called with each reader as `this`, below: it is never separated from one.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const start = Follower.prototype.start;
  Follower.prototype.start = async function (this: Follower) {
    if (failing) {
      failedStarts++;
      throw new Error("injected: disconnected");
    }
    readers.push(this);
    return start.call(this);
  };
  t.after(() => (Follower.prototype.start = start));
  const follower = await open({
    replicate: { ...replicate, node: "f", role: "follower" },
    onMessage: () => {},
  });
  await eventually(() => writer.replication?.role === "writer", "the writer holds its lease");
  workloadSetup(writer);
  await writer.durable();
  await eventually(() => follower.seq === writer.seq, "the follower reads the setup");

  failing = true;
  await (readers[0] as unknown as { messages: { close(): Promise<void> } }).messages.close();
  await commitStep(writer, 1);
  await eventually(() => failedStarts >= 2, "the follower retries starting a reader");
  await follower.close();
  const afterClose = failedStarts;
  // Retries come every 250 ms: four periods without one show the retrying stopped.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.ok(failedStarts <= afterClose + 1, `${failedStarts - afterClose} starts after close`);
});

test("a follower whose reader fails (not its apply) reads again instead of stopping", async (t) => {
  const stream = uniqueStream("reader_fails");
  t.after(() => deleteReplicatedLog(stream));
  const warnings: string[] = [];
  const onMessage = (kind: string, text: string) => {
    if (kind === "warning") warnings.push(text);
  };
  const replicate = { url: natsUrl, stream, leaseTtlMs };
  const writer = await open({ replicate: { ...replicate, node: "w" }, onMessage });
  const readers: Follower[] = [];
  // Called with each reader as `this`, below: it is never separated from one.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const start = Follower.prototype.start;
  Follower.prototype.start = async function (this: Follower) {
    readers.push(this);
    return start.call(this);
  };
  t.after(() => (Follower.prototype.start = start));
  const follower = await open({
    replicate: { ...replicate, node: "f", role: "follower" },
    onMessage,
  });
  t.after(async () => {
    await follower.close();
    await writer.close();
  });
  await eventually(() => writer.replication?.role === "writer", "the writer holds its lease");
  workloadSetup(writer);
  await writer.durable();
  await eventually(() => follower.seq === writer.seq, "the follower reads the setup");

  // The client's reader fails as it does when it gives up recreating its consumer (after 30
  // failed tries with nothing received, a NATS outage of a minute or so).
  const messages = (readers[0] as unknown as { messages: { stop(error: Error): void } }).messages;
  messages.stop(new Error("injected: the consumer could not be created"));
  await commitStep(writer, 1);
  await eventually(() => follower.seq === writer.seq, "the follower reads again");
  assert.equal(follower.failure, undefined, follower.failure?.message);
  assert.ok(
    warnings.some((w) => /node f's reader of stream .* failed: .*injected/.test(w)),
    warnings.join("\n"),
  );
});
