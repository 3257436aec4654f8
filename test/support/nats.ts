/**
 * Goal: give replication tests a NATS server and a private log each.
 * Method: NATS_URL (default nats://127.0.0.1:4222) must answer, or the test fails (it never
 * skips); each test gets a unique stream name and removes its stream, lease bucket and
 * snapshot bucket afterwards.
 */
import { randomUUID } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";

export const natsUrl = process.env["NATS_URL"] ?? "nats://127.0.0.1:4222";

/** A stream name no other test uses. */
export function uniqueStream(prefix: string): string {
  return `t_${prefix}_${randomUUID().slice(0, 8)}`;
}

/** Deletes the stream and the two buckets a replicated database made for it. */
export async function deleteReplicatedLog(stream: string, url = natsUrl): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of [stream, `KV_${stream}_lease`, `OBJ_${stream}_snapshots`]) {
      await jsm.streams.delete(name).catch(() => false);
    }
  } finally {
    await nc.close();
  }
}

/** Polls `check` until it holds or `timeoutMs` passes (then fails with `what`). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
