/**
 * @module The writer's side of the replicated log: the records of the commits made in one
 * event-loop turn are published as one message (group commit), with the expected last stream
 * sequence (the message this writer appended or applied before it) and the hash of its last
 * record as message id, so a retried publish is deduplicated and a publish on top of someone
 * else's message is refused. Publishes are pipelined: each message goes out without waiting
 * for the one before, in commit order, and acknowledgements are processed in that order.
 *
 * Mid-pipeline refusals: a refused publish may only mean an earlier one of ours had not landed
 * yet (it timed out and is being retried). So a refusal counts as a fence only for a publish
 * sent after every earlier commit was acknowledged; anything else is sent again once its
 * predecessors are confirmed. A fence fails every later commit too: they were built on the
 * refused one. Even when such a later publish lands (its expected sequence matching someone
 * else's message), readers skip it because its prev_hash does not continue the chain.
 */
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { assertionFailed } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { replicationBatchCommitsMax, replicationInFlightCommitsMax } from "../lib/limits.ts";
import type { Commit } from "../engine/index.ts";
import { encodeRecord } from "../log/index.ts";
import { isTransient, isWrongLastSequence } from "./nats-errors.ts";

/** The end of the history a writer builds on: the last record's hash and stream sequence. */
export interface ChainHead {
  hash: Uint8Array;
  streamSeq: number;
}

export interface PublisherOptions {
  readonly js: JetStreamClient;
  readonly subject: string;
  readonly stream: string;
  /** The last commit applied, with its record hash and stream sequence. */
  readonly seq: number;
  readonly head: ChainHead;
  /** The server's largest message (`max_payload`): a larger commit is refused. */
  readonly messageSizeBytesMax: number;
  /** How long one publish waits for its acknowledgement before it is sent again. */
  readonly publishTimeoutMs: number;
  /** How long a commit may stay unacknowledged through retries before the log fails. */
  readonly retryDeadlineMs: number;
  /** Called once when the publisher stops for good (fenced or failed). */
  readonly onFailure: (error: DbError) => void;
  /**
   * After a refused append at stream sequence `streamSeq` + 1: the stream's last sequence when
   * no message after `streamSeq` continues the chain at commit `seq` (whose record follows
   * `prevHash`), so every reader skips them; undefined when one does (another writer's).
   */
  readonly lastSkippable: (
    streamSeq: number,
    seq: number,
    prevHash: Uint8Array,
  ) => Promise<number | undefined>;
}

type Outcome = { ack: PubAck } | { error: unknown };

interface InFlight {
  readonly seq: number;
  readonly bytes: Uint8Array;
  readonly msgId: string;
  /** The stream sequence this commit's message must follow. */
  expect: number;
  /** Sent when every earlier commit was acknowledged: a refusal then is a real fence. */
  afterConfirmed: boolean;
  outcome: Promise<Outcome>;
  readonly firstSentMs: number;
}

interface Waiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Pause before re-sending after a transient failure (a leader election, a reconnect). */
const retryPauseMs = 100;

export class Publisher {
  private readonly pipeline: InFlight[] = [];
  private pipelineHead = 0;
  private readonly waiters: Waiter[] = [];
  private waitersHead = 0;
  private draining = false;
  /** Records appended in this event-loop turn, not yet published. */
  private batch: { records: Uint8Array[]; sizeBytes: number } = { records: [], sizeBytes: 0 };
  /** Hash of the last appended record: the next one chains to it; a batch's message id. */
  private batchHash: Uint8Array;
  private sealScheduled: NodeJS.Immediate | undefined;
  private failure: DbError | undefined;
  /** Last commit (and its stream sequence) JetStream acknowledged. */
  durableSeq: number;
  durableStreamSeq: number;
  /** Last commit appended and the head of the chain after it. */
  appendedSeq: number;
  readonly head: ChainHead;
  bytesPublished = 0;

  constructor(private readonly options: PublisherOptions) {
    this.durableSeq = options.seq;
    this.appendedSeq = options.seq;
    this.durableStreamSeq = options.head.streamSeq;
    this.head = { hash: options.head.hash, streamSeq: options.head.streamSeq };
    this.batchHash = options.head.hash;
  }

  get inFlight(): number {
    return this.pipeline.length - this.pipelineHead;
  }

  get failed(): DbError | undefined {
    return this.failure;
  }

  /**
   * Encodes `commit` onto the chain and adds it to the open batch, which is published at the
   * end of this event-loop turn (or at once when full). Throws once the log has failed.
   */
  append(commit: Commit): void {
    if (this.failure !== undefined) throw this.failure;
    if (commit.seq !== this.appendedSeq + 1)
      assertionFailed(`publish of ${commit.seq} after ${this.appendedSeq}`);
    if (this.appendedSeq - this.durableSeq >= replicationInFlightCommitsMax) {
      throw new DbError(
        "LIMIT_EXCEEDED",
        `${this.appendedSeq - this.durableSeq} commits await JetStream acknowledgement; ` +
          `await db.writable() first`,
      );
    }
    const { bytes, hash } = encodeRecord(commit, this.batchHash);
    if (bytes.length > this.options.messageSizeBytesMax) {
      // Refused before anything was published: the transaction rolls back, the log goes on.
      throw new DbError(
        "LIMIT_EXCEEDED",
        `commit ${commit.seq} is ${bytes.length} bytes; the NATS server takes messages of at ` +
          `most ${this.options.messageSizeBytesMax} bytes (its max_payload)`,
        { value: bytes.length },
      );
    }
    const batch = this.batch;
    const full =
      batch.records.length >= replicationBatchCommitsMax ||
      batch.sizeBytes + bytes.length > this.options.messageSizeBytesMax;
    if (full) this.sealBatch();
    this.batch.records.push(bytes);
    this.batch.sizeBytes += bytes.length;
    this.batchHash = hash;
    this.appendedSeq = commit.seq;
    this.bytesPublished += bytes.length;
    // One message per event-loop turn: every commit made in this turn shares it.
    this.sealScheduled ??= setImmediate(() => this.sealBatch());
  }

  /**
   * Publishes the open batch as one message now. After this, `head` names the message holding
   * the last appended commit (a snapshot records that position).
   */
  sealBatch(): void {
    if (this.sealScheduled !== undefined) clearImmediate(this.sealScheduled);
    this.sealScheduled = undefined;
    const batch = this.batch;
    if (batch.records.length === 0 || this.failure !== undefined) return;
    this.batch = { records: [], sizeBytes: 0 };
    const bytes = batch.records.length === 1 ? batch.records[0]! : Buffer.concat(batch.records);
    const entry: InFlight = {
      seq: this.appendedSeq,
      bytes,
      msgId: Buffer.from(this.batchHash).toString("hex"),
      expect: this.head.streamSeq,
      afterConfirmed: this.inFlight === 0,
      outcome: Promise.resolve({ error: undefined }),
      firstSentMs: performance.now(),
    };
    entry.outcome = this.send(entry);
    this.pipeline.push(entry);
    this.head.hash = this.batchHash;
    this.head.streamSeq += 1;
    if (!this.draining) void this.drain();
  }

  /** Resolves when commit `seq` is acknowledged; rejects when the log fails before that. */
  waitDurable(seq: number): Promise<void> {
    if (seq <= this.durableSeq) return Promise.resolve();
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (seq > this.appendedSeq)
      assertionFailed(`waiting for commit ${seq} that was never published`);
    return new Promise<void>((resolve, reject) => {
      const waiter = { seq, resolve, reject };
      const last = this.waiters[this.waiters.length - 1];
      if (last === undefined || last.seq <= seq) this.waiters.push(waiter);
      else {
        let at = this.waiters.length;
        while (at > this.waitersHead && this.waiters[at - 1]!.seq > seq) at--;
        this.waiters.splice(at, 0, waiter);
      }
    });
  }

  /** Resolves when the in-flight commits are below half the limit (back-pressure). */
  async writable(): Promise<void> {
    const allowed = replicationInFlightCommitsMax / 2;
    if (this.appendedSeq - this.durableSeq < allowed) return;
    await this.waitDurable(this.appendedSeq - allowed + 1);
  }

  /** Stops for good: every commit not yet acknowledged fails with `error`. */
  fail(error: DbError): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    if (this.sealScheduled !== undefined) clearImmediate(this.sealScheduled);
    this.batch = { records: [], sizeBytes: 0 };
    this.pipeline.length = 0;
    this.pipelineHead = 0;
    for (let i = this.waitersHead; i < this.waiters.length; i++) this.waiters[i]!.reject(error);
    this.waiters.length = 0;
    this.waitersHead = 0;
    this.options.onFailure(error);
  }

  private send(entry: InFlight): Promise<Outcome> {
    const { js, subject, publishTimeoutMs } = this.options;
    // js.publish writes to the connection before its first await, so messages leave in
    // commit order even though their acknowledgements are awaited later.
    return js
      .publish(subject, entry.bytes, {
        msgID: entry.msgId,
        expect: { lastSequence: entry.expect },
        timeout: publishTimeoutMs,
      })
      .then(
        (ack) => ({ ack }),
        (error: unknown) => ({ error }),
      );
  }

  /** Processes acknowledgements in commit order; retries what may be retried. */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.inFlight > 0 && this.failure === undefined) {
        const entry = this.pipeline[this.pipelineHead]!;
        const outcome = await entry.outcome;
        if (this.failure !== undefined) return;
        if ("ack" in outcome) this.confirm(entry, outcome.ack);
        else await this.retryOrFail(entry, outcome.error);
      }
    } finally {
      this.draining = false;
    }
  }

  private confirm(entry: InFlight, ack: PubAck): void {
    if (ack.seq !== entry.expect + 1) {
      // A duplicate of our message id stored elsewhere: the history is not ours.
      this.fail(this.fenced(entry, `it was found at stream sequence ${ack.seq}`));
      return;
    }
    this.pipelineHead++;
    if (this.pipelineHead === this.pipeline.length || this.pipelineHead >= 4096) {
      this.pipeline.splice(0, this.pipelineHead);
      this.pipelineHead = 0;
    }
    this.durableSeq = entry.seq;
    this.durableStreamSeq = ack.seq;
    this.resolveWaiters();
  }

  private async retryOrFail(entry: InFlight, error: unknown): Promise<void> {
    const refused = isWrongLastSequence(error);
    if (refused && entry.afterConfirmed) {
      await this.passSkippable(entry);
      return;
    }
    if (!refused && !isTransient(error)) {
      this.fail(new DbError("IO_ERROR", `publishing commit ${entry.seq}: ${String(error)}`));
      return;
    }
    if (performance.now() - entry.firstSentMs > this.options.retryDeadlineMs) {
      const message = `commit ${entry.seq} not acknowledged by JetStream in time: ${String(error)}`;
      this.fail(new DbError("IO_ERROR", message, { seq: entry.seq }));
      return;
    }
    if (!refused) await new Promise((resolve) => setTimeout(resolve, retryPauseMs));
    if (this.failure !== undefined) return;
    // Every earlier commit is acknowledged now: a refusal of this send is a real fence. The
    // commits behind it most likely failed the same way, so they go again too, in order,
    // instead of one round trip each; their earlier outcomes are no longer looked at.
    entry.afterConfirmed = true;
    for (let i = this.pipelineHead; i < this.pipeline.length; i++) {
      const resent = this.pipeline[i]!;
      resent.outcome = this.send(resent);
    }
  }

  /**
   * The append of the pipeline's head was refused with every earlier one acknowledged. Only a
   * message that continues the chain is another writer's: the messages a fenced writer's
   * pipeline left, or garbage, are skipped by every reader, so the pipeline goes on top of
   * them (a writer fenced by them would take every node down with it).
   */
  private async passSkippable(entry: InFlight): Promise<void> {
    const prevHash = entry.bytes.subarray(16, 48); // the first record's prev_hash
    let last: number | undefined;
    try {
      last = await this.options.lastSkippable(entry.expect, this.durableSeq + 1, prevHash);
    } catch (error) {
      if (!isTransient(error)) {
        this.fail(
          new DbError("IO_ERROR", `reading what refused commit ${entry.seq}: ${String(error)}`),
        );
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, retryPauseMs));
      last = entry.expect; // not read: sent again as it is, to be refused and read again
    }
    if (this.failure !== undefined) return;
    if (last === undefined) {
      this.fail(this.fenced(entry, "another writer appended to the stream first"));
      return;
    }
    if (performance.now() - entry.firstSentMs > this.options.retryDeadlineMs) {
      const message = `commit ${entry.seq} not acknowledged by JetStream in time`;
      this.fail(new DbError("IO_ERROR", message, { seq: entry.seq }));
      return;
    }
    const skipped = Math.max(0, last - entry.expect);
    for (let i = this.pipelineHead; i < this.pipeline.length; i++) {
      const resent = this.pipeline[i]!;
      resent.expect += skipped;
      resent.outcome = this.send(resent);
    }
    this.head.streamSeq += skipped;
  }

  private fenced(entry: InFlight, why: string): DbError {
    return new DbError(
      "APPEND_FENCED",
      `commit ${entry.seq} was refused by stream ${this.options.stream}: ${why}; ` +
        `this node's unacknowledged commits are void and it must be reopened`,
      { seq: entry.seq, streamSeq: entry.expect + 1 },
    );
  }

  private resolveWaiters(): void {
    const waiters = this.waiters;
    while (this.waitersHead < waiters.length && waiters[this.waitersHead]!.seq <= this.durableSeq) {
      waiters[this.waitersHead++]!.resolve();
    }
    if (this.waitersHead === waiters.length || this.waitersHead >= 4096) {
      waiters.splice(0, this.waitersHead);
      this.waitersHead = 0;
    }
  }
}
