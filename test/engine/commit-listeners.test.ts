/**
 * Goal: every commit listener sees every commit, even when a listener unsubscribes itself or
 * another listener while a commit is being published (a lagged subscription does exactly
 * that). Found through the server's subscription tests: one healthy subscriber missed the
 * commit at which a slow one was cut off.
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
