/**
 * @module The in-process change feed: commits retained in memory (a bounded ring) and
 * readers that receive them in commit order from any retained `seq`, then live.
 */
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { changeFeedPendingCommitsMax } from "../lib/limits.ts";
import type { Commit } from "./types.ts";

/** A bounded ring of the most recent commits, indexed by `seq`. */
export class CommitRing {
  private readonly ring: Array<Commit | undefined>;
  private newestSeq = 0;
  private count = 0;
  /**
   * `(newestSeq + 1) % capacity`, kept by push instead of dividing per commit; get() checks
   * each commit it finds against the seq asked for.
   */
  private nextIndex = 0;

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 0, "ring capacity must be a whole number");
    this.ring = new Array<Commit | undefined>(capacity);
    this.nextIndex = capacity === 0 ? 0 : 1 % capacity;
  }

  push(commit: Commit): void {
    assert(commit.seq === this.newestSeq + 1, "commits must be gapless");
    this.newestSeq = commit.seq;
    if (this.capacity === 0) return;
    const index = this.nextIndex;
    this.ring[index] = commit;
    this.nextIndex = index + 1 === this.capacity ? 0 : index + 1;
    if (this.count < this.capacity) this.count++;
  }

  /** Forgets everything and continues after `seq` (an engine restored from a snapshot). */
  reset(seq: number): void {
    this.ring.fill(undefined);
    this.newestSeq = seq;
    this.count = 0;
    this.nextIndex = this.capacity === 0 ? 0 : (seq + 1) % this.capacity;
  }

  /** The oldest retained seq, or newest+1 when nothing is retained. */
  get oldestSeq(): number {
    return this.newestSeq - this.count + 1;
  }

  get(seq: number): Commit | undefined {
    if (seq < this.oldestSeq || seq > this.newestSeq || this.count === 0) return undefined;
    const commit = this.ring[seq % this.capacity];
    assert(commit?.seq === seq, "commit ring out of order");
    return commit;
  }
}

/** Options of {@link readChanges}. */
export interface ChangeFeedOptions {
  /** First seq to deliver; default: the next commit. */
  fromSeq?: number;
  /** Ends the iteration when aborted. */
  signal?: AbortSignal;
}

/** What the feed needs from the engine. */
export interface ChangeFeedSource {
  readonly seq: number;
  readonly retained: CommitRing;
  addCommitListener(listener: (commit: Commit) => void): () => void;
}

/**
 * Delivers commits in order from `fromSeq`, first the retained ones, then live. A reader that
 * falls more than {@link changeFeedPendingCommitsMax} commits behind ends with LIMIT_EXCEEDED
 * (it can resume from the last seq it saw) instead of holding memory without bound.
 */
export async function* readChanges(
  source: ChangeFeedSource,
  options: ChangeFeedOptions = {},
): AsyncGenerator<Commit, void, undefined> {
  const fromSeq = options.fromSeq ?? source.seq + 1;
  if (!Number.isInteger(fromSeq) || fromSeq < 1) {
    throw new DbError("INVALID_ARGUMENT", `fromSeq must be a positive integer, got ${fromSeq}`);
  }
  if (fromSeq <= source.seq && fromSeq < source.retained.oldestSeq) {
    throw new DbError(
      "SEQ_NOT_RETAINED",
      `seq ${fromSeq} is no longer retained in memory (oldest is ${source.retained.oldestSeq})`,
      { value: fromSeq },
    );
  }
  const pending: Commit[] = [];
  let wake: (() => void) | undefined;
  let overflow = false;
  const unsubscribe = source.addCommitListener((commit) => {
    if (pending.length >= changeFeedPendingCommitsMax) overflow = true;
    else pending.push(commit);
    wake?.();
  });
  const onAbort = (): void => wake?.();
  options.signal?.addEventListener("abort", onAbort);
  try {
    let next = fromSeq;
    // Retained history first; the listener is already collecting everything newer.
    const retainedUpTo = source.seq;
    for (; next <= retainedUpTo; next++) {
      const commit = source.retained.get(next);
      if (commit === undefined) {
        // The ring moved past us while the reader was slow.
        throw new DbError("SEQ_NOT_RETAINED", `change feed reader lagged behind at seq ${next}`, {
          value: next,
        });
      }
      if (options.signal?.aborted) return;
      yield commit;
    }
    while (!options.signal?.aborted) {
      if (overflow) {
        throw new DbError("LIMIT_EXCEEDED", `change feed reader lagged behind at seq ${next}`, {
          value: next,
        });
      }
      const commit = pending.shift();
      if (commit === undefined) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      if (commit.seq < next) continue; // already delivered from the retained ring
      assert(commit.seq === next, "change feed skipped a commit");
      next++;
      yield commit;
    }
  } finally {
    unsubscribe();
    options.signal?.removeEventListener("abort", onAbort);
  }
}
