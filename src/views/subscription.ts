/**
 * @module In-process subscriptions: an initial snapshot of one object (or query), then one
 * delta per commit that changed it, in commit order, then an end. A subscriber that resumes
 * from a retained `seq` gets the commits after it with no gap and no duplicate (and no
 * snapshot). Delivery is a queue filled by a commit listener that does O(changes) work, so a
 * slow subscriber never slows writers: past `pendingCommitsMax` undelivered deltas it is
 * ended as `lagged` (it may resume from the last seq it saw).
 */
import { DbError } from "../lib/errors.ts";
import { subscriptionPendingCommitsMax } from "../lib/limits.ts";
import { catalogObjectName } from "../engine/index.ts";
import type { Commit, Engine, StoredObject } from "../engine/index.ts";
import { Queue } from "../primitives/index.ts";
import type { QueueMessage } from "../primitives/index.ts";
import type {
  RowDelta,
  SubscribeOptions,
  Subscription,
  SubscriptionMessage,
  SubscriptionTarget,
} from "../types.ts";
import { QueryFeed, rowDelta } from "./query-feed.ts";
import { forEachRow } from "./input-rows.ts";

/** What a subscription follows, resolved: how to read its rows and its deltas per commit. */
interface Feed {
  rows(): Array<Record<string, unknown>>;
  deltas(commit: Commit): RowDelta[];
  /** False for a query: its past cannot be replayed, so it always starts with a snapshot. */
  readonly resumable: boolean;
  /** The objects it reads: dropping one ends the subscription. */
  readonly inputs: ReadonlySet<string>;
}

export interface SubscribeContext {
  readonly engine: Engine;
  /** Confirmed output: resolves when commit `seq` is durable (sync mode). */
  readonly durable: (seq: number) => Promise<void>;
  /** Aborted when the database closes. */
  readonly closing: AbortSignal;
}

/** Starts a subscription; the snapshot (or resumed history) is taken synchronously. */
export function subscribe(
  context: SubscribeContext,
  target: SubscriptionTarget,
  options: SubscribeOptions = {},
): Subscription {
  const feed = resolveFeed(context.engine, target);
  const pendingMax = options.pendingCommitsMax ?? subscriptionPendingCommitsMax;
  if (!Number.isSafeInteger(pendingMax) || pendingMax < 1) {
    throw new DbError("INVALID_ARGUMENT", `pendingCommitsMax must be a positive whole number`, {
      value: String(pendingMax),
    });
  }
  return new LiveSubscription(context, feed, options, pendingMax);
}

function resolveFeed(engine: Engine, target: SubscriptionTarget): Feed {
  if ("query" in target) {
    const query = new QueryFeed(engine, target.query, target.params);
    return {
      rows: () => query.rows(),
      deltas: (commit) => query.apply(commit),
      resumable: false,
      inputs: query.inputs,
    };
  }
  const [name, kind] =
    "table" in target
      ? [target.table, "table"]
      : "view" in target
        ? [target.view, "view"]
        : "queue" in target
          ? [target.queue, "queue"]
          : [`machine::${target.machine}`, "table"];
  const object = engine.catalog.require(name, kind as StoredObject["kind"]);
  const objectName = object.name;
  const shape = object instanceof Queue ? queueRowShape(object) : undefined;
  return {
    rows: () => {
      const rows = rowsOf(engine.catalog.require(objectName));
      return shape === undefined ? rows : rows.map((row) => shape(row)!);
    },
    deltas: (commit) => {
      const out: RowDelta[] = [];
      for (const change of commit.changes) {
        if (change.object !== objectName) continue;
        const { key, before, after } = change;
        out.push(
          shape === undefined
            ? rowDelta(key, before, after)
            : rowDelta(key, shape(before), shape(after)),
        );
      }
      return out;
    },
    resumable: true,
    inputs: new Set([objectName]),
  };
}

/** A queue's stored messages as `from q` shows them (`Queue.rowOf`). */
function queueRowShape(queue: Queue): (message: unknown) => Record<string, unknown> | undefined {
  return (stored) => (stored === undefined ? undefined : queue.rowOf(stored as QueueMessage));
}

function rowsOf(object: StoredObject): Array<Record<string, unknown>> {
  const scannable = object as unknown as { scan?: () => Iterable<Record<string, unknown>> };
  if (typeof scannable.scan === "function" && object.kind !== "ring_buffer") {
    return [...scannable.scan()];
  }
  const rows: Array<Record<string, unknown>> = [];
  forEachRow(object, (_key, row) => rows.push(row));
  return rows;
}

class LiveSubscription implements Subscription {
  private readonly queue: SubscriptionMessage[] = [];
  private deltaCount = 0;
  private ended = false;
  /** Why it ended when an input was dropped: thrown once the queued messages are read. */
  private failure: { seq: number; error: DbError } | undefined;
  private wake: (() => void) | undefined;
  private readonly unsubscribe: () => void;
  private readonly onAbort = (): void => this.close();
  /** The signals {@link onAbort} listens to: left when it ends, or they would keep it alive. */
  private readonly signals: AbortSignal[] = [];

  constructor(
    private readonly context: SubscribeContext,
    private readonly feed: Feed,
    options: SubscribeOptions,
    private readonly pendingMax: number,
  ) {
    const engine = context.engine;
    this.start(options.fromSeq);
    this.unsubscribe = engine.addCommitListener((commit) => this.onCommit(commit));
    if (this.ended) this.unsubscribe(); // lagged already while catching up
    for (const signal of [options.signal, context.closing]) {
      if (signal === undefined) continue;
      if (signal.aborted) this.close();
      if (this.ended) continue;
      signal.addEventListener("abort", this.onAbort, { once: true });
      this.signals.push(signal);
    }
  }

  /** Stops hearing commits and signals: nothing the database holds keeps it reachable. */
  private detach(): void {
    this.unsubscribe?.();
    for (const signal of this.signals) signal.removeEventListener("abort", this.onAbort);
    this.signals.length = 0;
  }

  /** Queues the snapshot, or the retained commits after `fromSeq` when resuming. */
  private start(fromSeq: number | undefined): void {
    const engine = this.context.engine;
    if (fromSeq !== undefined) {
      if (!Number.isSafeInteger(fromSeq) || fromSeq < 0) {
        throw new DbError("INVALID_ARGUMENT", `fromSeq must be a seq in [0, ${engine.seq}]`, {
          value: String(fromSeq),
        });
      }
      if (fromSeq > engine.seq) throw aheadOfLog(fromSeq, engine.seq);
      const retained = fromSeq + 1 >= engine.retained.oldestSeq || fromSeq === engine.seq;
      if (retained && this.feed.resumable) {
        for (let seq = fromSeq + 1; seq <= engine.seq; seq++)
          this.onCommit(engine.retained.get(seq)!);
        return;
      }
    }
    this.queue.push({ type: "snapshot", seq: engine.seq, rows: this.feed.rows() });
  }

  private onCommit(commit: Commit): void {
    if (this.ended) return;
    // Changes after a drop of an input belong to whatever now has its name: not fed.
    const dropIndex = this.dropIndex(commit);
    const fed = dropIndex < 0 ? commit : { ...commit, changes: commit.changes.slice(0, dropIndex) };
    const changes = this.feed.deltas(fed);
    if (changes.length > 0) {
      if (this.deltaCount >= this.pendingMax) {
        this.end("lagged", commit.seq - 1);
        return;
      }
      this.deltaCount++;
      this.queue.push({ type: "delta", seq: commit.seq, changes });
      this.wake?.();
    }
    if (dropIndex >= 0) this.endDropped(commit, commit.changes[dropIndex]!.key as string);
  }

  /** Where `commit` drops an object the subscription reads, or -1. */
  private dropIndex(commit: Commit): number {
    // A loop, not findIndex with a closure: this runs for every commit and subscription.
    const changes = commit.changes;
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i]!;
      if (change.object !== catalogObjectName || change.kind !== "drop") continue;
      if (this.feed.inputs.has(change.key as string)) return i;
    }
    return -1;
  }

  /**
   * Ends the subscription with UNKNOWN_OBJECT, thrown once the queued messages are read: the
   * object's rows are gone, and one re-created under its name would feed a stale image.
   */
  private endDropped(commit: Commit, name: string): void {
    const error = new DbError(
      "UNKNOWN_OBJECT",
      `${name} was dropped at seq ${commit.seq}, which ends the subscription`,
      { object: name },
    );
    this.failure = { seq: commit.seq, error };
    this.ended = true;
    this.detach();
    this.wake?.();
  }

  close(): void {
    this.end("closed", this.context.engine.seq);
  }

  private end(reason: "lagged" | "closed", seq: number): void {
    if (this.ended) return;
    this.ended = true;
    this.detach();
    this.queue.push({ type: "end", seq, reason });
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SubscriptionMessage> {
    for (;;) {
      const message = this.queue.shift();
      if (message === undefined && this.failure !== undefined) {
        await this.context.durable(this.failure.seq);
        throw this.failure.error;
      }
      if (message === undefined) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      if (message.type === "delta") this.deltaCount--;
      // Confirmed output: never show a subscriber a commit a crash could take back.
      if (message.type !== "end") await this.context.durable(message.seq);
      yield message;
      if (message.type === "end") return;
    }
  }
}

/**
 * A resume from a seq this database never reached: what the subscriber saw is not here (a
 * `memory` server restarted, or data restored from an older backup), so resuming would skip.
 */
function aheadOfLog(fromSeq: number, lastSeq: number): DbError {
  return new DbError(
    "INVALID_ARGUMENT",
    `fromSeq ${fromSeq} is after this database's last commit (${lastSeq}): it does not hold ` +
      `what the subscriber saw (restarted without its data, or restored from an older ` +
      `backup); subscribe without fromSeq for a fresh snapshot`,
    { value: String(fromSeq) },
  );
}
