/**
 * Goal: in `sync` durability an answer leaves only once its commit is on disk, yet the
 * requests a client pipelines on one connection share group commits instead of paying one
 * fsync each (decision 14 and DESIGN.md "confirmed output").
 * Method: an in-process server over a sync database in a temporary directory; 32 pipelined
 * APPLY_EVENTs on one connection, then the log's own counters: every answered offset is
 * durable and the fsync count grew by far less than the number of requests.
 */
import { once } from "node:events";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startTestRcp } from "../../support/rcp-server.ts";
import type { TestRcp } from "../../support/rcp-server.ts";
import { requestFrame } from "../../support/rcp-wire.ts";

let rcp: TestRcp;

before(async () => {
  rcp = await startTestRcp({ durability: "sync" });
});

after(async () => {
  await rcp.stop();
});

test("pipelined writes are answered in order, durable, sharing fsyncs", async () => {
  const client = await rcp.connect();
  const loop = {
    states: ["a"],
    initial: "a",
    transitions: [{ from: "a", event: "T", to: "a" }],
  };
  await client.ok("PUT_MACHINE", { machine: "loop", version: 1, definition: loop });
  await client.ok("CREATE_INSTANCE", { machine: "loop", version: 1, instance_id: "p" });
  const before = (await rcp.db.logStats())!;
  const ids = Array.from({ length: 32 }, (_, n) =>
    client.send("APPLY_EVENT", { instance_id: "p", event: "T", payload: { n } }),
  );
  await client.waitFor((m) => m.id === ids.at(-1));
  const answers = client.messages.filter((m) => ids.includes(m.id as string));
  assert.deepEqual(
    answers.map((m) => m.id as string),
    ids,
  );
  const offsets = answers.map((m) => m.result.wal_offset as number);
  assert.deepEqual(
    offsets,
    offsets.map((_, i) => offsets[0]! + i),
  );
  const after = (await rcp.db.logStats())!;
  assert.ok(after.durableSeq >= offsets.at(-1)!, "every answered commit is durable");
  const fsyncs = after.fsyncCount - before.fsyncCount;
  assert.ok(fsyncs < 32, `32 pipelined writes took ${fsyncs} fsyncs`);
});

test("an answer waiting for the disk keeps its wire mode when HELLO then changes it", async () => {
  // One chunk: the write's answer waits for its fsync while HELLO switches output to lines.
  // rstmdb switches after HELLO: the write's answer is a frame, HELLO's is a line.
  const socket = connect({ host: "127.0.0.1", port: rcp.port });
  await once(socket, "connect");
  const definition = { states: ["a"], initial: "a", transitions: [] };
  socket.write(
    Buffer.concat([
      requestFrame("w", "PUT_MACHINE", { machine: "mode", version: 1, definition }),
      requestFrame("h", "HELLO", { protocol_version: 1, wire_modes: ["jsonl"] }),
    ]),
  );
  let bytes = Buffer.alloc(0);
  while (!bytes.includes('"id":"h"') || bytes.at(-1) !== 0x0a) {
    const [chunk] = (await once(socket, "data")) as [Buffer];
    bytes = Buffer.concat([bytes, chunk]);
  }
  socket.destroy();
  assert.equal(bytes.toString("latin1", 0, 4), "RCPX", "the write's answer is a frame");
  const payloadEnd = 18 + bytes.readUInt32BE(10);
  const write = JSON.parse(bytes.toString("utf8", 18, payloadEnd)) as Record<string, unknown>;
  assert.equal(write.id, "w");
  assert.equal(write.status, "ok");
  const line = bytes.toString("utf8", payloadEnd);
  assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"), "HELLO's answer is a line");
  const hello = JSON.parse(line) as { id: string; result: { wire_mode: string } };
  assert.equal(hello.id, "h");
  assert.equal(hello.result.wire_mode, "jsonl");
});
