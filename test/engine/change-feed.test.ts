/**
 * Goal: the commit ring keeps exactly the newest `capacity` commits and finds each by its seq,
 * across wrap-around and after a reset to a snapshot's seq (where the next slot is not seq 1's).
 * Method: rings of several capacities, including ones that do not divide the seqs pushed,
 * are filled past their capacity, and every seq is asked for: retained ones come back, older
 * and newer ones are undefined.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { CommitRing } from "../../src/engine/change-feed.ts";
import type { Commit } from "../../src/engine/index.ts";

function commitAt(seq: number): Commit {
  return { seq, ts: seq, origin: { kind: "api" }, changes: [] };
}

function checkRing(ring: CommitRing, newest: number): void {
  const oldest = Math.max(1, newest - ring.capacity + 1);
  for (let seq = 1; seq <= newest + 2; seq++) {
    const expected = seq >= oldest && seq <= newest && ring.capacity > 0 ? seq : undefined;
    assert.equal(
      ring.get(seq)?.seq,
      expected,
      `seq ${seq} of ${newest}, capacity ${ring.capacity}`,
    );
  }
}

test("a ring keeps the newest commits by seq across wrap-around", () => {
  for (const capacity of [0, 1, 2, 3, 7]) {
    const ring = new CommitRing(capacity);
    for (let seq = 1; seq <= 20; seq++) {
      ring.push(commitAt(seq));
      checkRing(ring, seq);
    }
  }
});

test("after a reset to a snapshot's seq, commits go on from the slot of the next seq", () => {
  for (const capacity of [1, 3, 4, 7]) {
    for (const snapshotSeq of [0, 5, 6, 100]) {
      const ring = new CommitRing(capacity);
      for (let seq = 1; seq <= 9; seq++) ring.push(commitAt(seq));
      ring.reset(snapshotSeq);
      assert.equal(ring.get(snapshotSeq), undefined, "nothing retained after a reset");
      for (let seq = snapshotSeq + 1; seq <= snapshotSeq + 10; seq++) {
        ring.push(commitAt(seq));
        assert.equal(ring.oldestSeq, Math.max(snapshotSeq + 1, seq - capacity + 1));
        for (let back = 0; back < Math.min(capacity, seq - snapshotSeq); back++) {
          assert.equal(ring.get(seq - back)?.seq, seq - back);
        }
      }
    }
  }
});
