/**
 * A replicated database node in its own process, for the failover tests that SIGKILL it. It
 * opens STREAM as NODE; whenever it is the writer it prints `writer <steps>` (with the digest
 * of the state it took over), then commits the crash workload's steps as fast as the log
 * allows, printing `ack <n>` once JetStream acknowledged step n. As a follower it waits.
 *
 * Usage: node --import tsx test/support/replica-child.ts URL STREAM NODE [leaseTtlMs]
 */
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { applyWorkloadStep, stateDigest, workloadSetup } from "./crash-workload.ts";

const [url, stream, node, ttl] = process.argv.slice(2);
const usage = "usage: replica-child.ts URL STREAM NODE [leaseTtlMs]";
if (url === undefined || stream === undefined || node === undefined) throw new Error(usage);
// Given none, open() takes the lease bucket's TTL (or the default when it makes the bucket).
const leaseTtlMs = ttl === undefined ? undefined : Number(ttl);
if (leaseTtlMs !== undefined && !Number.isInteger(leaseTtlMs)) {
  throw new Error(`${usage}: leaseTtlMs ${ttl} is no whole number`);
}
const inFlightMax = 64;

const db = await open({
  replicate: { url, stream, node, ...(leaseTtlMs === undefined ? {} : { leaseTtlMs }) },
  onMessage: (kind, message) => process.stderr.write(`${kind}: ${message}\n`),
});
process.stdout.write(`open ${db.replication?.role} ${db.seq}\n`);

for (;;) {
  if (db.replication?.role !== "writer") {
    await new Promise((resolve) => setTimeout(resolve, 20));
    continue;
  }
  try {
    await writeWhileWriter(db);
  } catch (error) {
    process.stderr.write(`write stopped: ${String(error)}\n`);
  }
}

async function writeWhileWriter(db: Database): Promise<void> {
  if (!db.system("namespaces").some((row) => row.name === "crash")) workloadSetup(db);
  await db.durable();
  let step = db.table("crash::steps").size;
  process.stdout.write(`writer ${step} ${stateDigest(db)}\n`);
  const pending: Array<Promise<void>> = [];
  for (;;) {
    const n = step + 1;
    db.transact((tx) => applyWorkloadStep(tx, n));
    step = n;
    pending.push(db.durable().then(() => void process.stdout.write(`ack ${n}\n`)));
    if (pending.length >= inFlightMax) await Promise.all(pending.splice(0));
  }
}
