/**
 * Goal: issue 5's fuzzing acceptance, reduced for `npm test`: random and mutated frames,
 * requests and machine definitions never crash `statebase serve` nor corrupt its log.
 * Method: test/support/rcp-fuzz.ts sends a few thousand seeded fast-check inputs to a real
 * server process, checks PING on fresh connections along the way and a valid workload after,
 * then SIGKILLs it, runs `statebase verify` and compares the state read over RCP before the
 * kill and after the restart. bench/rcp-fuzz.ts runs the same with 100,000 inputs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RcpClient } from "../../src/protocol/index.ts";
import { runRcpFuzz } from "../support/rcp-fuzz.ts";
import { startServer } from "../support/server-process.ts";

const inputCount = 2000;

test("fuzzed frames and definitions leave the server answering and the log intact", async () => {
  const report = await runRcpFuzz({ inputs: inputCount, seed: 5, parallel: 8 });
  assert.ok(report.inputs >= inputCount);
  assert.ok(report.kinds.valid! > 0 && report.kinds["bit-flip"]! > 0);
  assert.ok(report.probesAnswered > 0, "some cases kept the stream in sync");
  assert.ok(report.healthChecks > 0);
});

test("WATCH_ALL from an offset beyond the log end, under writes, is survived", async () => {
  const server = await startServer({ args: ["--durability", "sync", "--http", "off"] });
  try {
    const address = { host: "127.0.0.1", port: server.rcp.port };
    const admin = await RcpClient.connect(address);
    const definition = {
      states: ["x"],
      initial: "x",
      transitions: [{ from: "x", event: "E", to: "x" }],
    };
    await admin.request("PUT_MACHINE", { machine: "m", version: 1, definition });
    await admin.request("CREATE_INSTANCE", { instance_id: "i", machine: "m", version: 1 });
    let writing = true;
    const writer = await RcpClient.connect(address);
    const writers = Array.from({ length: 16 }, async () => {
      while (writing) await writer.request("APPLY_EVENT", { instance_id: "i", event: "E" });
    });
    for (let i = 0; i < 200; i++) await admin.request("WATCH_ALL", { from_offset: 1_000_000 });
    writing = false;
    await Promise.all(writers);
    assert.deepEqual(await admin.request("PING"), { pong: true });
  } finally {
    await server.kill();
  }
});
