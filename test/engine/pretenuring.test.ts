/**
 * Goal: nothing a commit carries comes from an object or array literal that V8 could decide to
 * pretenure. The change feed keeps the last 1,024 commits; when one scavenge finds every object
 * of a literal alive, V8 allocates that literal's later objects in the old generation for the
 * rest of the process, and a third of the engine benchmark's runs were 30 % slower for it
 * (docs/performance.md, "Runs in a slow mode").
 * Method: a child process (test/support/pretenuring-child.ts) writes to every primitive and to
 * transactional views in windows of 300 commits, each ended by a forced minor GC, with V8's
 * pretenuring trace on. After the first forced GC (which settles what the setup allocated),
 * the trace must show no first decision to pretenure (`undecided => maybe tenure` or
 * `=> tenure`) a literal of which a window made at least one object per commit. Literals the
 * setup used as much were decided during the setup, and rightly so when their objects live
 * long (a table's row slots, as the machine's history rows are inserted per commit; series
 * keys). Under load,
 * a few sites with about 100 objects, the least V8 decides on, were seen decided in the first
 * window: not per commit, hence the threshold.
 * The trace format is V8's: the test also checks that it saw the statistics lines it parses.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const childPath = fileURLToPath(new URL("../support/pretenuring-child.ts", import.meta.url));
const v8Flags = ["--expose-gc", "--trace-gc", "--trace-pretenuring-statistics"];
/** Commits per window: far fewer than the 1,024 the change feed keeps. */
const windowTransactions = 300;
/** The settling GC and one per window (pretenuring-child.ts). */
const forcedGcCount = 5;
/** `(created, found, ratio) (300, 300, 1.000000) undecided => maybe tenure` */
const decisionPattern =
  /\(created, found, ratio\) \((\d+), \d+, [\d.]+\) undecided => (maybe )?tenure$/;

test("commits and what they carry are never pretenured by V8", async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...v8Flags, "--import", "tsx", childPath, String(windowTransactions)],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  let forced = 0;
  let statistics = 0;
  const decisions: string[] = [];
  for (const line of stdout.split("\n")) {
    // A GC's pretenuring lines come before its own trace line.
    if (/Scavenge.*testing/.test(line)) forced++;
    if (forced === 0) continue;
    if (line.includes("pretenuring: AllocationSite")) statistics++;
    const decision = decisionPattern.exec(line.trim());
    if (decision !== null && Number(decision[1]) >= windowTransactions) decisions.push(line.trim());
  }
  assert.equal(forced, forcedGcCount, "every forced GC is in the trace");
  assert.ok(statistics > 0, "the trace shows V8's pretenuring statistics");
  assert.deepEqual(decisions, [], "no literal kept by the change feed is pretenured");
});
