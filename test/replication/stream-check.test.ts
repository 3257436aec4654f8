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
import type { DbError } from "../../src/index.ts";
import { eventually, natsUrl } from "../support/nats.ts";
import {
  commitStep,
  endReader,
  failReader,
  openReplicatedPair,
  pairLeaseTtlMs,
} from "../support/replication-pair.ts";

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
  const { stream, writer, follower, warnings } = await openReplicatedPair(t, "stale_info");

  const nc = await connect({ servers: natsUrl });
  t.after(() => nc.close());
  const hold = holdStreamInfo((await jetstreamManager(nc)).streams, stream);
  t.after(() => hold.restore());
  await eventually(() => hold.held() === 2, "both nodes' stream checks are answered and held");
  await commitStep(writer, 1);
  await eventually(() => follower.seq === writer.seq, "the follower applies the commit");
  hold.release();
  // Two more lease ticks each, with answers no longer stale.
  await new Promise((resolve) => setTimeout(resolve, 2 * (pairLeaseTtlMs / 6) + 50));

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
  // The next start after `refuseNext` throws once.
  let refuseNext = false;
  const { writer, follower, readers, warnings } = await openReplicatedPair(
    t,
    "restart_fails",
    () => {
      if (refuseNext) {
        refuseNext = false;
        throw new Error("injected: the consumer could not be made");
      }
    },
  );

  // Its reader ends without an error (as the client's does when it gives up): the follower
  // finds it stalled once the writer commits, and the start of a new one fails.
  refuseNext = true;
  await endReader(readers[0]!);
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
  // Once `failing`, every start fails as a lost connection does: worth retrying, until closed.
  let failing = false;
  let failedStarts = 0;
  const { writer, follower, readers } = await openReplicatedPair(t, "closed_retry", () => {
    if (failing) {
      failedStarts++;
      throw new Error("injected: disconnected");
    }
  });

  failing = true;
  await endReader(readers[0]!);
  await commitStep(writer, 1);
  await eventually(() => failedStarts >= 2, "the follower retries starting a reader");
  await follower.close();
  const afterClose = failedStarts;
  // Retries come every 250 ms: four periods without one show the retrying stopped.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.ok(failedStarts <= afterClose + 1, `${failedStarts - afterClose} starts after close`);
});

test("a follower whose reader fails (not its apply) reads again instead of stopping", async (t) => {
  const { writer, follower, readers, warnings } = await openReplicatedPair(t, "reader_fails");

  // The client's reader fails as it does when it gives up recreating its consumer (after 30
  // failed tries with nothing received, a NATS outage of a minute or so).
  failReader(readers[0]!, "injected: the consumer could not be created");
  await commitStep(writer, 1);
  await eventually(() => follower.seq === writer.seq, "the follower reads again");
  assert.equal(follower.failure, undefined, follower.failure?.message);
  assert.ok(
    warnings.some((w) => /node f's reader of stream .* failed: .*injected/.test(w)),
    warnings.join("\n"),
  );
});
