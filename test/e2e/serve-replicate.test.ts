/**
 * Goal: `statebase serve --replicate NATS_URL` keeps its log in JetStream: a node serves
 * reads and writes as the writer, and a second node started with the same URL (and stream)
 * follows the first one's commits and refuses writes.
 * Method: the NATS server at NATS_URL (default nats://127.0.0.1:4222; the test fails, never
 * skips, without one), a unique stream per run, two real server processes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { AccessError, connect } from "../../src/client/index.ts";
import { deleteReplicatedLog, eventually, natsUrl, uniqueStream } from "../support/nats.ts";
import { startServer } from "../support/server-process.ts";

test("two nodes with the same --replicate URL share one log", async () => {
  const stream = uniqueStream("serve");
  const env = { STATEBASE_REPLICATE_STREAM: stream };
  const first = await startServer({ args: ["--replicate", natsUrl, "--rcp", "off"], env });
  let second: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    assert.match(first.readyLine, /data=jetstream replicate=\S+ durability=sync/);
    const writer = await connect(`http://127.0.0.1:${first.http.port}`, { transport: "http" });
    await writer.admin(
      "create namespace r; create table r::kv { k: utf8, v: int8 } with { primary_key: { k } }",
    );
    await writer.command('insert r::kv [{ k: "a", v: 1 }]');
    second = await startServer({ args: ["--replicate", natsUrl, "--rcp", "off"], env });
    const follower = await connect(`http://127.0.0.1:${second.http.port}`, { transport: "http" });
    await writer.command('insert r::kv [{ k: "b", v: 2 }]');
    await eventually(async () => {
      const { frames } = await follower.query("from r::kv").catch(() => ({ frames: [[]] }));
      return frames[0]?.length === 2;
    }, "the follower to apply the writer's commits");
    await assert.rejects(follower.command('insert r::kv [{ k: "c", v: 3 }]'), (error) => {
      assert.ok(error instanceof AccessError, String(error));
      assert.equal(error.code, "NOT_WRITER");
      return true;
    });
    await writer.close();
    await follower.close();
  } finally {
    await second?.stop();
    assert.equal(await first.stop(), 0, first.output());
    await deleteReplicatedLog(stream);
  }
});
