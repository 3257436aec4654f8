/**
 * @module A resume a replicated follower cannot serve yet. A client that saw commit N on
 * another node (its socket moved, or a balancer chose again) resumes with `fromSeq` N; a
 * follower that has not applied N yet will, from the same stream, in moments. Refusing it
 * (a `fromSeq` after the last commit means "this database lost what you saw") ended the
 * subscription for good, so the session waits a bounded time for the follower first.
 */
import type { Database } from "../../types.ts";

/** Whether `db` is a replicated follower that has not applied `fromSeq` yet. */
export function followerBehind(db: Database, fromSeq: number | undefined): fromSeq is number {
  return fromSeq !== undefined && fromSeq > db.seq && db.replication?.role === "follower";
}

/**
 * Resolves once `db` has applied commit `seq`, or after `timeoutMs` (the subscribe then
 * refuses as before: the stream does not reach that seq, or the follower is stuck).
 */
export function waitForSeq(db: Database, seq: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      removeListener();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    // A wait never holds a shutting-down server open.
    timer.unref();
    const removeListener = db.addCommitListener((commit) => {
      if (commit.seq >= seq) done();
    });
    if (db.seq >= seq) done();
  });
}
