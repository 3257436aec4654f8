/**
 * Goal: no acknowledged commit is ever lost, and recovered state is exactly the reference
 * state, when the process dies at a random moment (the reduced form of bench/crash).
 * Method: test/support/crash-harness.ts runs a child process that commits in `sync` mode and
 * reports each durable seq; the parent SIGKILLs it at random moments and restarts it; every
 * restart must recover at least the acknowledged commits and the reference state.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCrashCycles } from "../support/crash-harness.ts";

test("SIGKILL at random moments loses no acknowledged commit (8 kills)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "statebase-crash-"));
  try {
    const report = await runCrashCycles({
      dir,
      kills: 8,
      seed: 7,
      delayMsMin: 5,
      delayMsMax: 120,
      segmentSizeBytes: 64 * 1024, // small segments: kills also land around rollovers
    });
    assert.equal(report.lostAcknowledged, 0);
    assert.ok(report.ackedTotal > 0, "the child acknowledged nothing");
    assert.ok(report.recoveredFinal >= report.ackedTotal);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("async mode: a SIGKILL loses only the commits of the last window (5 kills)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "statebase-crash-async-"));
  try {
    const report = await runCrashCycles({
      dir,
      kills: 5,
      seed: 9,
      delayMsMin: 20,
      delayMsMax: 150,
      mode: "async",
      // The window is 10 ms; the rest is fsync time and scheduling noise on a shared machine.
      asyncLossBoundMs: 10 + asyncSlackMs,
    });
    assert.ok(report.recoveredFinal > 0);
    assert.ok(report.lostWindowMsMax <= 10 + asyncSlackMs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Allowance beyond the 10 ms window for the fsync itself and a busy 2-core machine. */
const asyncSlackMs = 240;
