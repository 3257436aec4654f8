/**
 * Goal: try to break 8298c72 (a follower whose NATS reader fails reads again) and d1cd613 (a
 * node closed while a lease tick retries stops retrying) at the edges their tests left: a
 * reader that fails again and again, and a node closed while a failed reader waits for the
 * next lease tick to be replaced. A closed node must start no reader, say nothing more, leave
 * no rejection unhandled and, once closed, leave no timer of its own running.
 * Method: in-process writer and follower against the nats-server at NATS_URL, with
 * Follower.prototype.start wrapped to record each reader, whose consumer iterator the test
 * stops with an error as the client does when it gives up recreating its consumer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Follower } from "../../src/replication/follower.ts";
import { eventually } from "../support/nats.ts";
import {
  commitStep,
  failReader,
  openReplicatedPair,
  pairLeaseTtlMs,
} from "../support/replication-pair.ts";

test("a reader that fails again and again is replaced each time, and each is said", async (t) => {
  const { writer, follower, readers, warnings } = await openReplicatedPair(t, "reader_fails_again");
  for (let round = 1; round <= 3; round++) {
    const reader = readers.at(-1)!;
    const started = readers.length;
    failReader(reader, `injected failure ${round}`);
    await commitStep(writer, round);
    await eventually(() => follower.seq === writer.seq, `the follower reads again (${round})`);
    assert.equal(readers.length, started + 1, `one new reader in round ${round}`);
    assert.equal(follower.failure, undefined, follower.failure?.message);
  }
  const said = warnings.filter((w) => /node f's reader of stream .* failed: .*injected/.test(w));
  assert.equal(said.length, 3, warnings.join("\n"));
  // Each says the failure of its own reader, and where reading goes on.
  for (let round = 1; round <= 3; round++) {
    assert.match(said[round - 1]!, new RegExp(`injected failure ${round}; reading again from`));
  }
});

test("a follower closed while its failed reader waits for the next tick starts none", async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  t.after(() => process.off("unhandledRejection", onUnhandled));
  const { follower, readers, warnings } = await openReplicatedPair(t, "reader_fails_close");
  failReader(readers[0]!, "injected: gave up");
  // Long enough for the reader to fail, short of the next lease tick (1 s apart), mostly.
  await new Promise((resolve) => setTimeout(resolve, 20));
  await follower.close();
  const started = readers.length;
  const said = warnings.length;
  // Two lease ticks' time: a tick that outlived close would start a reader or say something.
  await new Promise((resolve) => setTimeout(resolve, 2 * (pairLeaseTtlMs / 6) + 300));
  assert.equal(readers.length, started, "no reader started after close");
  assert.deepEqual(warnings.slice(said), [], "nothing said after close");
  assert.deepEqual(unhandled, []);
});

test("a follower closed while retrying a reader's start leaves no retry timer", async (t) => {
  const { writer, follower, readers } = await openReplicatedPair(t, "closed_retry_timer");
  // Every start from now fails as on a lost connection (worth retrying every 250 ms).
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const recording = Follower.prototype.start;
  let failedStarts = 0;
  Follower.prototype.start = function () {
    failedStarts++;
    return Promise.reject(new Error("injected: disconnected"));
  };
  t.after(() => (Follower.prototype.start = recording));
  failReader(readers[0]!, "injected: gave up");
  await commitStep(writer, 1);
  await eventually(() => failedStarts >= 2, "the follower retries starting a reader");
  await writer.close();
  await follower.close();
  // Both nodes closed, no timer may run: the retry's pause (250 ms) is the follower's own.
  assert.deepEqual(
    process.getActiveResourcesInfo().filter((kind) => kind === "Timeout"),
    [],
    process.getActiveResourcesInfo().join(", "),
  );
  const after = failedStarts;
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(failedStarts, after, "no start tried after close");
});

test("a follower whose apply throws stops and starts no new reader", async (t) => {
  const { writer, follower, readers } = await openReplicatedPair(t, "apply_throws");
  // The reader's apply callback throws once, as a commit the engine refuses would.
  const reader = readers[0] as unknown as { options: { onMessage: (...args: never[]) => void } };
  const apply = reader.options.onMessage;
  let throwNext = true;
  reader.options = {
    ...reader.options,
    onMessage: (...args: never[]) => {
      if (throwNext) {
        throwNext = false;
        throw new Error("injected apply failure");
      }
      apply(...args);
    },
  };
  const seq = follower.seq;
  await commitStep(writer, 1);
  await eventually(() => follower.failure !== undefined, "the follower stops");
  assert.match(follower.failure!.message, /injected apply failure/);
  // Two lease ticks: a follower that took this for a read failure would read again.
  await new Promise((resolve) => setTimeout(resolve, 2 * (pairLeaseTtlMs / 6) + 300));
  assert.equal(readers.length, 1, "no new reader");
  assert.equal(follower.seq, seq, "the commit whose apply failed is not applied later");
});
