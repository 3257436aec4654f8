/**
 * Goal: a follower's reader holds a bounded number of bytes ahead of its apply loop, however
 * large the stream's messages are.
 * Method: a Follower reads a stream of the nats-server at NATS_URL through a proxy
 * (test/support/nats-proxy.ts) that holds back everything the server sends, so nothing is
 * read: what the server then delivers is what the reader asked for. The consumer's delivered
 * count, read on another connection once it settles, must stay within the byte bound.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Follower } from "../../src/replication/follower.ts";
import { deleteReplicatedLog, eventually, natsUrl, uniqueStream } from "../support/nats.ts";
import { startNatsProxy } from "../support/nats-proxy.ts";

const messageSizeBytes = 100 * 1024;
const messageCount = 40;
const bufferBytesMax = 1024 * 1024;

test("a follower asks for no more bytes than its buffer bound while behind", async (t) => {
  const stream = uniqueStream("follower_bytes");
  t.after(() => deleteReplicatedLog(stream));
  const spy = await connect({ servers: natsUrl });
  t.after(() => spy.close());
  const jsm = await jetstreamManager(spy);
  await jsm.streams.add({ name: stream, subjects: [`${stream}.log`] });
  const proxy = await startNatsProxy(natsUrl);
  t.after(() => proxy.close());
  const nc = await connect({ servers: proxy.url });
  t.after(() => nc.close());
  let applied = 0;
  const follower = new Follower({
    js: jetstream(nc),
    stream,
    startStreamSeq: 1,
    bufferBytesMax,
    messageSizeBytesMax: nc.info!.max_payload,
    onMessage: () => applied++,
    onStop: (error) => assert.fail(String(error)),
    onReadFailure: (error) => assert.fail(String(error)),
  });
  await follower.start();
  t.after(() => follower.stop());
  proxy.hold(0);
  const js = jetstream(spy);
  for (let n = 0; n < messageCount; n++) {
    await js.publish(`${stream}.log`, new Uint8Array(messageSizeBytes));
  }
  const consumerInfo = async () => {
    for await (const info of jsm.consumers.list(stream)) return info;
    throw new Error("no consumer");
  };
  // Settled: the reader's requests are used up (none waits), or it was sent everything.
  await eventually(async () => {
    const info = await consumerInfo();
    return info.num_waiting === 0 || info.delivered.stream_seq === messageCount;
  }, "the server has sent what the reader asked for");
  const delivered = (await consumerInfo()).delivered.stream_seq;
  assert.ok(delivered >= 1, "it reads at all");
  assert.ok(
    delivered * messageSizeBytes <= bufferBytesMax,
    `${delivered} messages of ${messageSizeBytes} bytes were sent ahead of the apply loop`,
  );
  proxy.release();
  await eventually(() => applied === messageCount, "it reads them all once released");
});
