/**
 * bench/rcp-fuzz: the full-size RCP fuzz run of issue 5. INPUTS (default 100,000) seeded
 * fast-check inputs (valid and broken frames, JSON lines, random ops and params, random and
 * mutated machine definitions, random bytes) go to a real `statebase serve --durability
 * sync` process, one connection per case. test/support/rcp-fuzz.ts checks that PING keeps
 * answering, that a valid workload still works, that `statebase verify` passes after a
 * SIGKILL and that the state after the restart equals the state before. Prints totals.
 *
 * Run from the repository root: `node --import tsx bench/rcp-fuzz.ts` (INPUTS, SEED and
 * PARALLEL are read from the environment).
 */
import { runRcpFuzz } from "../test/support/rcp-fuzz.ts";

const inputs = Number(process.env.INPUTS ?? 100_000);
const seed = Number(process.env.SEED ?? 2026);
const started = performance.now();
let lastPrint = 0;
const report = await runRcpFuzz({
  inputs,
  seed,
  parallel: Number(process.env.PARALLEL ?? 16),
  onProgress: (sent) => {
    const now = performance.now();
    if (now - lastPrint > 5000) {
      lastPrint = now;
      console.log(`${sent.toLocaleString("en-US")} inputs sent`);
    }
  },
});
const seconds = (performance.now() - started) / 1000;
const count = (n: number): string => n.toLocaleString("en-US");
console.log("");
console.log(`inputs:                 ${count(report.inputs)} in ${count(report.cases)} cases`);
for (const [kind, n] of Object.entries(report.kinds).sort((a, b) => b[1] - a[1])) {
  console.log(`  ${kind.padEnd(21)}${count(n)}`);
}
console.log(`probes still answered:  ${count(report.probesAnswered)} cases`);
console.log(`fuzz requests answered ok: ${count(report.okAnswers)}`);
console.log(`health checks (PING):   ${report.healthChecks}, all answered`);
console.log(`valid writes:           ${report.validWrites}, all acknowledged and retried`);
console.log(`log records:            ${count(report.logRecords)}, verify exit 0`);
console.log(`state after restart:    equal to the state before the kill`);
console.log(`elapsed:                ${seconds.toFixed(1)} s (seed ${seed})`);
