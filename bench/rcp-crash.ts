/**
 * bench/rcp-crash: the full-size RCP crash test of issue 5. A real `statebase serve
 * --durability sync` process takes APPLY_EVENTs with idempotency keys from several RCP
 * connections and is SIGKILLed at seeded random moments (KILLS, default 200), then restarted
 * on the same data directory. After every restart test/support/rcp-crash.ts checks that
 * every acknowledged event is in the log, that retries answer the original result with
 * `applied: false`, that requests cut off by a kill were applied at most once, and that no
 * durable timer fired twice; at the end every pending timer must have fired. Prints totals.
 *
 * Run from the repository root: `node --import tsx bench/rcp-crash.ts` (KILLS=20 for a
 * shorter run; SEED, CONNECTIONS and INSTANCES are read too).
 */
import { runRcpCrash } from "../test/support/rcp-crash.ts";

const kills = Number(process.env.KILLS ?? 200);
const seed = Number(process.env.SEED ?? 2026);
const started = performance.now();
let lastPrint = 0;
const report = await runRcpCrash({
  kills,
  seed,
  connections: Number(process.env.CONNECTIONS ?? 8),
  instances: Number(process.env.INSTANCES ?? 64),
  killDelayMsMin: 50,
  killDelayMsMax: 1500,
  timerMs: 200,
  onCycle: (cycle) => {
    const now = performance.now();
    if (now - lastPrint > 5000 || cycle.index === kills - 1) {
      lastPrint = now;
      console.log(
        `kill ${cycle.index + 1}/${kills}: acknowledged ${cycle.acknowledged}, ` +
          `cut off ${cycle.cutOff}, log records ${cycle.walRecords}`,
      );
    }
  },
});
const seconds = (performance.now() - started) / 1000;
const count = (n: number): string => n.toLocaleString("en-US");
console.log("");
console.log(`kills:                        ${report.kills} (seed ${seed})`);
console.log(`acknowledged APPLY_EVENTs:    ${count(report.acknowledged)}, all in the log`);
console.log(`idempotent retries:           ${count(report.acknowledged)}, all applied:false`);
console.log(`refused (guard, transition):  ${count(report.refused)}`);
console.log(
  `cut off by a kill:            ${count(report.cutOff)} ` +
    `(${count(report.cutOffApplied)} were in the log; their retries did not reapply)`,
);
console.log(`timers fired:                 ${count(report.timersFired)}, none twice`);
console.log(`  of them across a restart:   ≥ ${count(report.timersAcrossRestart)}`);
console.log(`log records at the end:       ${count(report.walRecords)}`);
console.log(`elapsed:                      ${seconds.toFixed(1)} s`);
