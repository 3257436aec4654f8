/**
 * Goal: snapshots in the object store say the truth about the state they hold, and a node
 * meets a missing or damaged snapshot object with a clear outcome, never a crash.
 * Method: in-process replicated nodes against the nats-server at NATS_URL, each test on its own
 * stream; the objects are read (and damaged) with the NATS client directly.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { Objm } from "@nats-io/obj";
import { open, createManualClock } from "../../src/index.ts";
import type { Clock, ReplicateOptions } from "../../src/index.ts";
import { decodeSnapshot } from "../../src/log/index.ts";
import { applyWorkloadStep, workloadSetup } from "../support/crash-workload.ts";
import { deleteReplicatedLog, natsUrl, uniqueStream } from "../support/nats.ts";

const quiet = (): void => undefined;
const hourMs = 3_600_000;

function replicated(stream: string, node: string, clock: Clock, extra?: Partial<ReplicateOptions>) {
  return open({ replicate: { url: natsUrl, stream, node, ...extra }, clock, onMessage: quiet });
}

/** The commit times stamped in the stream's snapshot objects, newest (highest seq) first. */
async function storedSnapshotTimes(stream: string): Promise<number[]> {
  const nc = await connect({ servers: natsUrl });
  try {
    const store = await new Objm(nc).open(`${stream}_snapshots`);
    const names = (await store.list())
      .map((info) => info.name)
      .sort()
      .reverse();
    const times: number[] = [];
    for (const name of names) {
      const bytes = await store.getBlob(name);
      assert.ok(bytes !== null, `object ${name} reads back`);
      times.push(decodeSnapshot(bytes, name).ts);
    }
    return times;
  } finally {
    await nc.close();
  }
}

test("a snapshot taken right after a restart from a snapshot keeps its state's time", async (t) => {
  const stream = uniqueStream("snap_ts");
  t.after(() => deleteReplicatedLog(stream));
  const clock = createManualClock(1_800_000_000_000);
  const first = await replicated(stream, "a", clock);
  workloadSetup(first);
  for (let n = 1; n <= 5; n++) {
    clock.advance(1000);
    first.transact((tx) => applyWorkloadStep(tx, n));
  }
  await first.durable();
  const stateTs = clock.now();
  await first.snapshot();
  await first.close();
  clock.advance(hourMs);
  // Restored from that snapshot, no commit since: the state is an hour old, not new.
  const again = await replicated(stream, "a", clock);
  t.after(() => again.close());
  assert.equal(again.seq, 6);
  await again.snapshot();
  assert.deepEqual(await storedSnapshotTimes(stream), [stateTs, stateTs]);
});
