/**
 * Goal: in `async` durability the RCP server keeps the loss bound when the disk falls behind:
 * a request that arrives while the oldest commit not on disk is older than the window waits
 * until the log has caught up (DESIGN.md, durability modes).
 * Method: an in-process server over an async database with a manual clock; a commit is made
 * and the clock moved 50 ms past it without flushing; an APPLY_EVENT sent then must be
 * answered only after that commit is durable.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createManualClock } from "../../../src/index.ts";
import { startTestRcp } from "../../support/rcp-server.ts";
import type { TestRcp } from "../../support/rcp-server.ts";

const clock = createManualClock();
let rcp: TestRcp;

before(async () => {
  rcp = await startTestRcp({ durability: "async", open: { clock, durabilityWindowMs: 10 } });
});

after(async () => {
  await rcp.stop();
});

test("async: a request waits while the log is behind its window", async () => {
  const client = await rcp.connect();
  const loop = { states: ["a"], initial: "a", transitions: [{ from: "a", event: "T", to: "a" }] };
  await client.ok("PUT_MACHINE", { machine: "loop", version: 1, definition: loop });
  await client.ok("CREATE_INSTANCE", { machine: "loop", version: 1, instance_id: "p" });
  await rcp.db.flush();
  rcp.db.createCounter("default::n");
  const behind = rcp.db.seq;
  let behindDurable = false;
  void rcp.db.durable(behind).then(() => (behindDurable = true));
  clock.advance(50); // the commit is now 50 ms old and still not on disk
  const id = client.send("APPLY_EVENT", { instance_id: "p", event: "T", payload: {} });
  const answer = await client.waitFor((m) => m.id === id);
  assert.equal(answer.status, "ok");
  assert.equal(behindDurable, true, "answered before the lagging commit was on disk");
});
