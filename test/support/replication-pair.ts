/**
 * A replicated writer and follower on a new stream of the nats-server at NATS_URL, in this
 * process, for tests of how a follower's reader fails and recovers: each reader the follower
 * starts is recorded, and a hook may refuse a start.
 */
import type { TestContext } from "node:test";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { Follower } from "../../src/replication/follower.ts";
import { applyWorkloadStep, workloadSetup } from "./crash-workload.ts";
import { deleteReplicatedLog, eventually, natsUrl, uniqueStream } from "./nats.ts";

/**
 * Lease ticks (and their stream checks) every second: long enough that a loaded machine does
 * not lapse the writer's lease (a lapsed writer refuses commits), which these tests are not
 * about.
 */
export const pairLeaseTtlMs = 6000;

export interface ReplicatedPair {
  stream: string;
  writer: Database;
  follower: Database;
  /** The follower's readers, in the order they started. */
  readers: Follower[];
  /** What both nodes said as warnings. */
  warnings: string[];
}

/**
 * Opens the pair, commits the workload's setup and waits for the follower to read it. Both
 * close after the test. `beforeStart` runs before each reader starts; a throw refuses it.
 */
export async function openReplicatedPair(
  t: TestContext,
  name: string,
  beforeStart: () => void = () => undefined,
): Promise<ReplicatedPair> {
  const stream = uniqueStream(name);
  t.after(() => deleteReplicatedLog(stream));
  const warnings: string[] = [];
  const onMessage = (kind: string, text: string) => {
    if (kind === "warning") warnings.push(text);
  };
  const replicate = { url: natsUrl, stream, leaseTtlMs: pairLeaseTtlMs };
  const writer = await open({ replicate: { ...replicate, node: "w" }, onMessage });
  t.after(() => writer.close());
  const readers: Follower[] = [];
  // Called with each reader as `this`, below: it is never separated from one.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const start = Follower.prototype.start;
  Follower.prototype.start = async function (this: Follower) {
    beforeStart();
    readers.push(this);
    return start.call(this);
  };
  t.after(() => (Follower.prototype.start = start));
  const follower = await open({
    replicate: { ...replicate, node: "f", role: "follower" },
    onMessage,
  });
  t.after(() => follower.close());
  await eventually(() => writer.replication?.role === "writer", "the writer holds its lease");
  workloadSetup(writer);
  await writer.durable();
  await eventually(() => follower.seq === writer.seq, "the follower reads the setup");
  return { stream, writer, follower, readers, warnings };
}

/** Commits workload step `n` on `writer` once it holds its lease (under load it may lapse). */
export async function commitStep(writer: Database, n: number): Promise<void> {
  await eventually(() => writer.replication?.role === "writer", "the writer holds its lease");
  writer.transact((tx) => applyWorkloadStep(tx, n));
  await writer.durable();
}

/** Fails a reader's consumer iterator as the client does when it gives up recreating it. */
export function failReader(reader: Follower, why: string): void {
  (reader as unknown as { messages: { stop(error: Error): void } }).messages.stop(new Error(why));
}

/** Ends a reader's consumer iterator without an error, as the client's can when it gives up. */
export async function endReader(reader: Follower): Promise<void> {
  await (reader as unknown as { messages: { close(): Promise<void> } }).messages.close();
}
