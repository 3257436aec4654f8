/**
 * Goal: issue 5's crash acceptance, reduced for `npm test`: with `statebase serve` in sync
 * durability, every acknowledged APPLY_EVENT survives a SIGKILL, a retry with its
 * idempotency key answers the original result (`applied: false`), a request cut off by the
 * kill is applied exactly once, and durable timers fire exactly once across restarts.
 * Method: test/support/rcp-crash.ts runs a real server process, four RCP connections and a
 * few seeded random kills, checking the log and instances over RCP after each restart.
 * bench/rcp-crash.ts runs the same harness with hundreds of kills.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runRcpCrash } from "../support/rcp-crash.ts";

// Every kill costs a server start (3-6 s on the shared 2-core machine), which is what keeps
// this at three in npm test; bench/rcp-crash.ts runs 200.
const killCount = 3;

test("acknowledged events, idempotent retries and timers survive SIGKILLs", async () => {
  const report = await runRcpCrash({
    kills: killCount,
    seed: 5,
    connections: 4,
    instances: 16,
    killDelayMsMin: 100,
    killDelayMsMax: 400,
    timerMs: 150,
  });
  assert.equal(report.kills, killCount);
  assert.ok(report.acknowledged > 0, "the workload made progress");
  assert.ok(report.timersFired > 0, "timers fired");
});
