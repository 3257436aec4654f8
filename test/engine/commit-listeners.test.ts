/**
 * Goal: every commit listener sees every commit, even when a listener unsubscribes itself or
 * another listener while a commit is being published (a lagged subscription does exactly
 * that). Found through the server's subscription tests: one healthy subscriber missed the
 * commit at which a slow one was cut off. A listener that commits (an audit write) must not
 * make the listeners after it, or the change feed, see the seqs out of order.
 * Method: three listeners on an embedded database; the first unsubscribes itself on the
 * second commit, and another listener is added during a commit; count what each one saw.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";

test("unsubscribing during a commit never makes the others miss it", async () => {
  const db = await open();
  db.createNamespace("app");
  db.createCounter("app::hits");
  const seen: Record<string, number[]> = { a: [], b: [], c: [], late: [] };
  const stopA = db.addCommitListener((commit) => {
    seen["a"]!.push(commit.seq);
    if (seen["a"]!.length === 2) stopA();
  });
  db.addCommitListener((commit) => {
    seen["b"]!.push(commit.seq);
    if (seen["b"]!.length === 1) db.addCommitListener((later) => seen["late"]!.push(later.seq));
  });
  db.addCommitListener((commit) => seen["c"]!.push(commit.seq));
  const start = db.seq;
  for (let i = 0; i < 4; i++) db.counter("app::hits").add(1);
  const seqs = [1, 2, 3, 4].map((n) => start + n);
  assert.deepEqual(seen["a"], seqs.slice(0, 2));
  assert.deepEqual(seen["b"], seqs);
  assert.deepEqual(seen["c"], seqs, "the listener after the one that left saw every commit");
  assert.deepEqual(seen["late"], seqs.slice(1), "a listener added during a commit starts after it");
  await db.close();
});

test("a listener that commits: every listener still sees commits in seq order", async () => {
  const db = await open();
  db.createNamespace("app");
  db.createCounter("app::hits");
  db.createCounter("app::audits");
  const start = db.seq;
  const feed = db.changes()[Symbol.asyncIterator]();
  const first = feed.next();
  // An audit listener that writes on every hit: its commit is made while the hit is published.
  db.addCommitListener((commit) => {
    if (commit.changes.some((change) => change.object === "app::hits")) {
      db.counter("app::audits").add(1);
    }
  });
  const later: number[] = [];
  db.addCommitListener((commit) => later.push(commit.seq));
  db.counter("app::hits").add(1);
  db.counter("app::hits").add(1);
  assert.deepEqual(
    later,
    [1, 2, 3, 4].map((n) => start + n),
    "the later listener's order",
  );
  const fed = [(await first).value.seq];
  for (let i = 0; i < 3; i++) fed.push((await feed.next()).value.seq);
  assert.deepEqual(
    fed,
    [1, 2, 3, 4].map((n) => start + n),
    "the change feed's order",
  );
  await feed.return?.();
  await db.close();
});

test("a listener added while a listener's commit waits starts after that commit", async () => {
  const db = await open();
  db.createNamespace("app");
  db.createCounter("app::hits");
  db.createCounter("app::audits");
  db.addCommitListener((commit) => {
    if (commit.changes.some((change) => change.object === "app::hits")) {
      db.counter("app::audits").add(1);
    }
  });
  const late: number[] = [];
  let seqAtAdd = 0;
  db.addCommitListener(() => {
    if (seqAtAdd !== 0) return;
    // The audit commit is made (db.seq counts it) but not yet shown to this listener.
    seqAtAdd = db.seq;
    db.addCommitListener((commit) => late.push(commit.seq));
  });
  db.counter("app::hits").add(1);
  db.counter("app::hits").add(1);
  assert.deepEqual(late, [seqAtAdd + 1, seqAtAdd + 2], "only commits after db.seq at its adding");
  await db.close();
});
