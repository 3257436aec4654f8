/**
 * The process that the crash harness kills. It opens a database in `sync` mode, reports the
 * state it recovered, then commits the reference workload as fast as it can, printing
 * `ack <n>` for each commit once `db.durable` says it is on disk. It never stops by itself.
 *
 * In `async` mode it prints `commit <n> <unix ms>` right after each commit instead (nothing
 * waits for the disk), so the parent can check that only the last window was lost.
 *
 * Usage: node --import tsx test/support/crash-child.ts DIR [segmentSizeBytes] [sync|async]
 */
import { open } from "../../src/index.ts";
import { applyWorkloadStep, stateDigest, workloadSetup } from "./crash-workload.ts";

const [dir, segmentSize, mode = "sync"] = process.argv.slice(2);
if (dir === undefined) throw new Error("usage: crash-child.ts DIR");
const inFlightMax = 32;

export const asyncWindowMs = 10;
const db = await open({
  path: dir,
  durability: mode === "async" ? "async" : "sync",
  durabilityWindowMs: asyncWindowMs,
  ...(segmentSize === undefined || segmentSize === "-"
    ? {}
    : { segmentSizeBytes: Number(segmentSize) }),
  onMessage: (kind, message) => process.stderr.write(`${kind}: ${message}\n`),
});
workloadSetup(db);
await db.durable();
const recovered = db.table("crash::steps").size;
process.stdout.write(`state ${recovered} ${stateDigest(db)}\n`);

let step = recovered;
if (mode === "async") {
  for (;;) {
    step += 1;
    const n = step;
    db.transact((tx) => applyWorkloadStep(tx, n));
    process.stdout.write(`commit ${n} ${Date.now()}\n`);
    // Yield now and then: the log's timer and IO run on the event loop.
    if (n % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}
const inFlight = new Set<Promise<void>>();
for (;;) {
  step += 1;
  const n = step;
  db.transact((tx) => applyWorkloadStep(tx, n));
  const done = db.durable().then(() => {
    process.stdout.write(`ack ${n}\n`);
  });
  inFlight.add(done);
  void done.finally(() => inFlight.delete(done));
  if (inFlight.size >= inFlightMax) await Promise.race(inFlight);
}
