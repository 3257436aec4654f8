/**
 * bench/crash: the full-size crash test. A child process commits in `sync` mode and reports
 * every acknowledged seq; this parent SIGKILLs it at random moments (KILLS, default 200),
 * restarts it, and checks after every restart that no acknowledged commit is missing and
 * that the recovered state equals the reference workload's. Then ASYNC_KILLS (default 50)
 * kills in `async` mode report the longest span of commits lost before a kill.
 * Prints progress and a summary.
 *
 * Run from the repository root: `node --import tsx bench/crash.ts` (KILLS=50 for a shorter run).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCrashCycles } from "../test/support/crash-harness.ts";

const kills = Number(process.env.KILLS ?? 200);
const seed = Number(process.env.SEED ?? 2026);
const dir = mkdtempSync(join(tmpdir(), "statebase-crash-bench-"));
const started = performance.now();
let lastPrint = 0;
try {
  const report = await runCrashCycles({
    dir,
    kills,
    seed,
    delayMsMin: 1,
    delayMsMax: 250,
    segmentSizeBytes: 256 * 1024,
    onCycle: (cycle) => {
      const now = performance.now();
      if (now - lastPrint > 5000 || cycle.index === kills - 1) {
        lastPrint = now;
        console.log(
          `kill ${cycle.index + 1}/${kills}: recovered ${cycle.recovered} ` +
            `(acked before: ${cycle.ackedBefore}), acked now ${cycle.ackedNow}`,
        );
      }
    },
  });
  const seconds = (performance.now() - started) / 1000;
  console.log("");
  console.log(`kills:                 ${report.kills} (seed ${seed})`);
  console.log(`acknowledged commits:  ${report.ackedTotal.toLocaleString("en-US")}`);
  console.log(`recovered at the end:  ${report.recoveredFinal.toLocaleString("en-US")}`);
  console.log(`lost acknowledged:     ${report.lostAcknowledged}`);
  console.log(`state vs reference:    equal after every restart`);
  console.log(`elapsed:               ${seconds.toFixed(1)} s`);

  // Async mode: loss must stay within the durability window (10 ms) plus fsync time.
  const asyncKills = Number(process.env.ASYNC_KILLS ?? 50);
  const asyncDir = mkdtempSync(join(tmpdir(), "statebase-crash-async-"));
  try {
    const asyncReport = await runCrashCycles({
      dir: asyncDir,
      kills: asyncKills,
      seed,
      delayMsMin: 20,
      delayMsMax: 250,
      mode: "async",
    });
    console.log("");
    console.log(`async kills:           ${asyncKills} (window 10 ms)`);
    console.log(`longest loss span:     ${asyncReport.lostWindowMsMax} ms before the kill`);
  } finally {
    rmSync(asyncDir, { recursive: true, force: true });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
