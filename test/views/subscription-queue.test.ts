/**
 * Goal: a queue subscription's rows are the queue's rows as RQL reads them (`from q`: the
 * body's columns, or `id` and `body`, then state, attempts, available_at, enqueued_at), in
 * the snapshot and in every delta, so a client can query and subscribe and apply one to
 * the other. Method: an embedded database; each message compared with `from q`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Subscription, SubscriptionMessage } from "../../src/index.ts";

async function take(subscription: Subscription, count: number): Promise<SubscriptionMessage[]> {
  const out: SubscriptionMessage[] = [];
  for await (const message of subscription) {
    out.push(message);
    if (out.length === count) break;
  }
  return out;
}

for (const columns of ["{ id: uuid7, job: utf8 }", ""]) {
  const name = `queue subscription rows are the rows of from q (columns: ${columns || "none"})`;
  test(name, async () => {
    // They were the stored messages: body nested, availableAt, dedupKey, order.
    const db = await open();
    try {
      await db.admin(`create namespace app; create queue app::q ${columns}`);
      await db.command("insert app::q [{ job: 'a' }]");
      const subscription = db.subscribe({ queue: "app::q" });
      const [snapshot] = await take(subscription, 1);
      const rows = async () => (await db.query("from app::q")).frames[0];
      assert.deepEqual(snapshot?.type === "snapshot" && snapshot.rows, await rows());
      await db.command("insert app::q [{ job: 'b' }]");
      await db.command("queue app::q claim 1");
      const [inserted, claimed] = await take(subscription, 2);
      const now = await rows();
      assert.deepEqual(inserted?.type === "delta" && inserted.changes[0]?.row, now?.[1]);
      assert.deepEqual(claimed?.type === "delta" && claimed.changes[0]?.row, now?.[0]);
      assert.equal(claimed?.type === "delta" && claimed.changes[0]?.before?.["state"], "ready");
      subscription.close();
    } finally {
      await db.close();
    }
  });
}
