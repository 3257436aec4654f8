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
import type { Commit, Engine, StoredObject } from "../engine/index.ts";
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
    return { rows: () => query.rows(), deltas: (commit) => query.apply(commit), resumable: false };
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
  return {
    rows: () => rowsOf(engine.catalog.require(objectName)),
    deltas: (commit) => {
      const out: RowDelta[] = [];
      for (const change of commit.changes) {
        if (change.object === objectName)
          out.push(rowDelta(change.key, change.before, change.after));
      }
      return out;
    },
    resumable: true,
  };
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
  private wake: (() => void) | undefined;
  private readonly unsubscribe: () => void;
  private readonly onAbort = (): void => this.close();

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
      if (signal?.aborted === true) this.close();
      signal?.addEventListener("abort", this.onAbort, { once: true });
    }
  }

  /** Queues the snapshot, or the retained commits after `fromSeq` when resuming. */
  private start(fromSeq: number | undefined): void {
    const engine = this.context.engine;
    if (fromSeq !== undefined) {
      if (!Number.isSafeInteger(fromSeq) || fromSeq < 0 || fromSeq > engine.seq) {
        throw new DbError("INVALID_ARGUMENT", `fromSeq must be a seq in [0, ${engine.seq}]`, {
          value: String(fromSeq),
        });
      }
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
    const changes = this.feed.deltas(commit);
    if (changes.length === 0) return;
    if (this.deltaCount >= this.pendingMax) {
      this.end("lagged", commit.seq - 1);
      return;
    }
    this.deltaCount++;
    this.queue.push({ type: "delta", seq: commit.seq, changes });
    this.wake?.();
  }

  close(): void {
    this.end("closed", this.context.engine.seq);
  }

  private end(reason: "lagged" | "closed", seq: number): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe?.();
    this.queue.push({ type: "end", seq, reason });
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SubscriptionMessage> {
    for (;;) {
      const message = this.queue.shift();
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
