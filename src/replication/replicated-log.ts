/**
 * @module A database's log kept in a NATS JetStream stream (DESIGN.md, "Scale-out"). On open,
 * a node loads the newest snapshot from the object store and applies the stream after it.
 * Then it is either the writer (it holds the lease in the KV bucket and publishes each commit
 * with a fenced append, publisher.ts) or a follower (it applies the stream as it grows, with
 * an ordered consumer, follower.ts, and refuses local writes with NOT_WRITER). Followers race
 * for the lease when it expires and take over once they have applied the whole stream.
 *
 * History is the chain of records from the stream in stream order whose prev_hash is the
 * hash of the record before: a record that does not continue the chain (left by a fenced
 * writer's pipeline) is skipped by every reader alike, so no two nodes ever disagree.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager, StreamState } from "@nats-io/jetstream";
import type { ObjectStore } from "@nats-io/obj";
import { assert } from "../lib/assert.ts";
import { bytesEqual } from "../lib/bytes.ts";
import { DbError } from "../lib/errors.ts";
import {
  replicatedSnapshotsKeptMax,
  snapshotLogBytesDefault,
  snapshotsKeptDefault,
} from "../lib/limits.ts";
import type { Commit, Engine } from "../engine/index.ts";
import { encodeRecord, readRecord, recordHashIsValid, restoreSnapshot } from "../log/index.ts";
import type { LogRecord } from "../log/index.ts";
import type { Durability, ReplicateOptions, ReplicationStatus } from "../types.ts";
import { Follower } from "./follower.ts";
import { WriterLease } from "./lease.ts";
import type { LeaseHolder } from "./lease.ts";
import type { LogBackend } from "./log-backend.ts";
import { Publisher } from "./publisher.ts";
import type { ChainHead } from "./publisher.ts";
import { isStreamNotFound, isWrongLastSequence } from "./nats-errors.ts";
import {
  connectLog,
  leaseTtlMsMax,
  leaseTtlMsMin,
  retryTransient,
  type LogConnection,
} from "./stream-setup.ts";
import {
  downloadSnapshot,
  listStoredSnapshots,
  pruneSnapshots,
  uploadSnapshot,
} from "./snapshot-store.ts";

export type Reporter = (kind: "warning" | "progress", message: string) => void;

/** NATS's default `max_payload`, for a server that did not say its own. */
const natsMessageBytesMaxDefault = 1024 * 1024;
/** Room kept in each message for the NATS headers of a publish. */
const messageHeaderBytesMax = 1024;
/** How long one publish waits for JetStream's acknowledgement before it is sent again. */
const publishTimeoutMs = 5000;
/** How long a commit may stay unacknowledged (through leader elections) before the log fails. */
const publishRetryDeadlineMs = 60_000;
/** Lease ticks (renewals, the follower's checks) per lease TTL. */
const leaseTicksPerTtl = 6;
/** How long a follower may read nothing while the stream holds more before it reads again. */
const followerStallMsMax = 1000;

/**
 * How long a node taking over may take to read the stream to its end and append its takeover
 * record, as a part of the lease TTL: it does not renew the lease meanwhile, and the lease
 * tick it runs in (renewals, the follower's stall check) waits for it.
 */
const takeoverTtlFractionMax = 1 / 2;

/**
 * A node whose claim ran out of that time leaves the lease free for this many TTLs before it
 * tries again, doubling with each claim it gives up in a row up to the most: retrying at every
 * tick, it would hold the lease for half of each TTL, and a healthy node ticking meanwhile
 * would find it taken, tick after tick.
 */
const takeoverBackoffTtlsMin = 1;
const takeoverBackoffTtlsMax = 8;

/** Origin kind of the record a new writer appends when it takes over (see claimStream). */
const takeoverOriginKind = "statebase.takeover";

type Role = ReplicationStatus["role"];

interface StreamWaiter {
  readonly streamSeq: number;
  readonly resolve: () => void;
  readonly reject: (error: DbError) => void;
}

/** Opens the replicated log for `engine` (empty): recovers, then follows or writes. */
export async function openReplicatedLog(
  engine: Engine,
  options: ReplicateOptions,
  report: Reporter,
  durability: Durability,
): Promise<LogBackend> {
  assert(engine.seq === 0, "the replicated log must start from an empty engine");
  checkReplicatedDurability(durability);
  checkReplicateOptions(options);
  const connection = await connectLog(options);
  if (connection.leaseBucketTtlMs !== connection.leaseTtlMs) {
    report(
      "warning",
      `replicate.leaseTtlMs is ${connection.leaseTtlMs} but the lease bucket of stream ` +
        `${connection.stream} has a TTL of ${connection.leaseBucketTtlMs} ms: this node ` +
        `renews more often, and a writer that dies holds the lease for the bucket's TTL`,
    );
  }
  if (connection.streamLimits !== undefined) report("warning", connection.streamLimits);
  const log = new ReplicatedLog(engine, connection, options, report);
  try {
    await log.recover();
  } catch (error) {
    await connection.nc.close();
    await connection.leaseNc.close();
    throw error;
  }
  return log;
}

/** Whole-number options and their allowed ranges (inclusive). */
const replicateOptionRanges: ReadonlyArray<readonly [keyof ReplicateOptions, number, number]> = [
  ["leaseTtlMs", leaseTtlMsMin, leaseTtlMsMax],
  ["snapshotLogBytes", 0, Number.MAX_SAFE_INTEGER],
  ["snapshotsKept", 1, replicatedSnapshotsKeptMax],
];

/**
 * The NATS client drops any scheme it is given, so `http://host:8222` (the monitoring port)
 * would be dialled as a NATS server and fail later, unclearly; only NATS's own are taken.
 */
const natsUrlPattern = /^((nats|tls):\/\/)?[^\s/]+\/?$/;

/** Whether `url` names a NATS server: `nats://HOST:PORT`, `tls://HOST:PORT` or `HOST:PORT`. */
export function isNatsUrl(url: string): boolean {
  return natsUrlPattern.test(url);
}

/**
 * A replicated log is the stream, never local memory: `memory` would promise that nothing is
 * kept while every commit is stored in JetStream, and acknowledge as `async` does, silently.
 */
export function checkReplicatedDurability(durability: Durability): void {
  if (durability !== "memory") return;
  throw new DbError(
    "INVALID_ARGUMENT",
    `durability "memory" does not go with replicate: a replicated database keeps every commit ` +
      `in its JetStream stream; choose sync (a commit is acknowledged once JetStream stored ` +
      `it) or async (acknowledged at once, stored moments later)`,
    { value: durability },
  );
}

function checkReplicateOptions(options: ReplicateOptions): void {
  const urls = typeof options.url === "string" ? [options.url] : options.url;
  if (!Array.isArray(urls) || urls.length === 0 || urls.some((u) => typeof u !== "string" || !u)) {
    throw new DbError("INVALID_ARGUMENT", "replicate.url must name at least one NATS server");
  }
  const other = (urls as readonly string[]).find((url) => !isNatsUrl(url));
  if (other !== undefined) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `replicate.url: ${other} is no NATS URL: give nats://HOST:PORT, tls://HOST:PORT or HOST:PORT`,
      { value: other },
    );
  }
  checkReplicateChoices(options);
  for (const [name, min, max] of replicateOptionRanges) {
    const value = options[name];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `replicate.${name} must be a whole number in [${min}, ${max}], got ${String(value)}`,
        { value: String(value) },
      );
    }
  }
}

/** Longest node name: it travels in the lease value and in the NATS connection's name. */
const nodeNameLengthMax = 128;

/** The options that are a choice or a name: a wrong one is refused, never taken as a default. */
function checkReplicateChoices(options: ReplicateOptions): void {
  const refuse = (message: string, value: unknown): never => {
    throw new DbError("INVALID_ARGUMENT", message, { value: String(value) });
  };
  const { role, node, purgeLog, monitorUrl, advertiseHttp } = options;
  if (role !== undefined && role !== "auto" && role !== "follower") {
    refuse(`replicate.role must be auto or follower, got ${String(role)}`, role);
  }
  if (node !== undefined && !isNodeName(node)) {
    refuse(`replicate.node must be a name of 1 to ${nodeNameLengthMax} characters`, node);
  }
  if (purgeLog !== undefined && typeof purgeLog !== "boolean") {
    refuse(`replicate.purgeLog must be true or false, got ${String(purgeLog)}`, purgeLog);
  }
  if (monitorUrl !== undefined && !isHttpUrl(monitorUrl)) {
    refuse(`replicate.monitorUrl must be an http(s) URL of NATS monitoring`, monitorUrl);
  }
  if (advertiseHttp !== undefined && !["string", "function"].includes(typeof advertiseHttp)) {
    refuse("replicate.advertiseHttp must be a URL or a function", advertiseHttp);
  }
}

function isNodeName(node: unknown): boolean {
  return typeof node === "string" && node.trim() !== "" && node.length <= nodeNameLengthMax;
}

function isHttpUrl(url: unknown): boolean {
  return typeof url === "string" && /^https?:\/\/[^\s/]+/.test(url);
}

class ReplicatedLog implements LogBackend {
  readonly kind = "jetstream";
  private role: Role = "follower";
  private readonly head: ChainHead = { hash: new Uint8Array(32), streamSeq: 0 };
  private publisher: Publisher | undefined;
  private follower: Follower | undefined;
  private readonly lease: WriterLease;
  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;
  private readonly store: ObjectStore;
  private readonly nc: NatsConnection;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private failed: DbError | undefined;
  private lagCommits = 0;
  private lagMs = 0;
  private snapshotSeq = 0;
  private snapshotting: Promise<{ seq: number; sizeBytes: number }> | undefined;
  private bytesAtLastSnapshot = 0;
  /** The commit time of the snapshot recovery loaded; undefined when it loaded none. */
  private restoredTs: number | undefined;
  private streamWaiters: StreamWaiter[] = [];
  /** The lease holder as a follower last read it: where its server forwards writes. */
  private writerSeen: LeaseHolder | undefined;
  /** Why the writer's lease lapsed (NATS did not answer its renewals); undefined while held. */
  private leaseFailure: string | undefined;
  /** Takeovers given up in a row (see giveUpTakeover) since another node held the lease. */
  private takeoverGivenUpCount = 0;
  /** When (performance.now()) this node may try to take the lease again after giving up. */
  private takeoverRetryAtMs = 0;
  /** Why the follower's reader failed (the NATS client gave up); undefined while it reads. */
  private readFailure: string | undefined;
  /** The follower's position at a lease tick and since when it has not moved. */
  private followed = { streamSeq: 0, sinceMs: 0 };

  constructor(
    private readonly engine: Engine,
    private readonly connection: LogConnection,
    private readonly options: ReplicateOptions,
    private readonly report: Reporter,
  ) {
    this.js = connection.js;
    this.jsm = connection.jsm;
    this.store = connection.store;
    this.nc = connection.nc;
    const advertise = options.advertiseHttp;
    this.lease = new WriterLease({
      kv: connection.kv,
      node: connection.node,
      ttlMs: this.leaseTtlMs,
      advertiseHttp: typeof advertise === "function" ? advertise : () => advertise,
    });
  }

  private get leaseTtlMs(): number {
    return this.connection.leaseTtlMs;
  }

  /** Snapshot plus stream tail, then the first election and the periodic lease work. */
  async recover(): Promise<void> {
    const startStreamSeq = await this.restoreNewestSnapshot();
    const state = await this.streamState();
    // A stream purged whole holds no message, and the next one it takes follows its last.
    const firstSeq = state.messages > 0 ? state.first_seq : state.last_seq + 1;
    if (firstSeq > startStreamSeq) {
      throw new DbError(
        "SEQ_NOT_RETAINED",
        `stream ${this.connection.stream} starts at ${firstSeq} but no snapshot covers ` +
          `the messages before it; restore a snapshot into the object store`,
        { value: firstSeq },
      );
    }
    this.head.streamSeq = startStreamSeq - 1;
    this.engine.setCommitPreparer((commit) => this.prepare(commit));
    await this.startFollowing();
    await this.waitStreamSeq(state.last_seq);
    if (this.options.role !== "follower") await this.tryTakeOver();
    await this.refreshWriter();
    this.schedule();
  }

  private async streamState(): Promise<StreamState> {
    const stream = this.connection.stream;
    const info = await retryTransient(`reading stream ${stream}`, () =>
      this.jsm.streams.info(stream),
    );
    return info.state;
  }

  // ---- LogBackend ----

  waitDurable(seq: number): Promise<void> {
    if (this.publisher !== undefined) return this.publisher.waitDurable(seq);
    if (this.failed !== undefined && seq > this.engine.seq) return Promise.reject(this.failed);
    // A follower's commits came from the stream: applied means durable.
    return Promise.resolve();
  }

  async flush(): Promise<void> {
    await this.waitDurable(this.engine.seq);
  }

  failure(): DbError | undefined {
    return this.failed;
  }

  async writable(): Promise<void> {
    await this.publisher?.writable();
  }

  snapshot(): Promise<{ seq: number; sizeBytes: number }> {
    this.snapshotting ??= this.takeSnapshot().finally(() => (this.snapshotting = undefined));
    return this.snapshotting;
  }

  status(): ReplicationStatus {
    const publisher = this.publisher;
    // A writer whose lease lapsed by its own clock (NATS did not answer its renewals) takes
    // no writes until a renewal succeeds: it is not the writer, whatever it was before.
    const lapsed = this.role === "writer" && !this.lease.held;
    const role = lapsed ? "follower" : this.role;
    return {
      role,
      node: this.connection.node,
      stream: this.connection.stream,
      appliedSeq: this.engine.seq,
      durableSeq: publisher?.durableSeq ?? this.engine.seq,
      streamSeq: publisher?.head.streamSeq ?? this.head.streamSeq,
      lagCommits: publisher !== undefined ? 0 : this.lagCommits,
      lagMs: publisher !== undefined ? 0 : this.lagMs,
      streamReplicas: this.connection.streamReplicas,
      leaseTtlMs: this.connection.leaseTtlMs,
      serverVersion: this.connection.serverVersion,
      serverSync: this.connection.serverSync,
      snapshotSeq: this.snapshotSeq,
      // A lapsed writer knows no holder: its key may have expired and another node taken it.
      writer: lapsed ? undefined : role === "writer" ? this.lease.own() : this.writerSeen,
    };
  }

  async close(): Promise<void> {
    if (this.role === "closed") return;
    const wasWriter = this.role === "writer";
    this.role = "closed";
    if (this.timer !== undefined) clearInterval(this.timer);
    // A renewal in flight may wait for a NATS leader election; closing need not.
    await Promise.race([this.ticking, delay(this.leaseTtlMs / 3)]);
    await this.snapshotting?.catch(() => undefined); // its error went to its own caller
    if (wasWriter) await this.publisher?.waitDurable(this.publisher.appendedSeq).catch(() => {});
    await this.follower?.stop();
    // Handing the lease back lets a follower take over at once instead of after the TTL.
    if (wasWriter && this.failed === undefined) {
      await Promise.race([this.lease.release().catch(() => {}), delay(this.leaseTtlMs / 3)]);
    }
    // Everything this node published is acknowledged or failed: nothing is left to drain.
    await this.nc.close();
    await this.connection.leaseNc.close();
  }

  // ---- Commits ----

  /** The engine's commit preparer: only the writer may commit, and it publishes at once. */
  private prepare(commit: Commit): void {
    if (this.failed !== undefined) throw this.failed;
    const publisher = this.publisher;
    if (this.role === "writer" && !this.lease.held) throw this.leaseLapsed();
    if (this.role !== "writer" || publisher === undefined) {
      throw new DbError(
        "NOT_WRITER",
        `node ${this.connection.node} follows stream ${this.connection.stream} and does not ` +
          `write; send writes to the node holding the writer lease`,
        { node: this.connection.node, stream: this.connection.stream },
      );
    }
    publisher.append(commit);
    this.maybeSnapshot(publisher);
  }

  private leaseLapsed(): DbError {
    const { node, stream } = this.connection;
    const why = this.leaseFailure === undefined ? "" : ` (${this.leaseFailure})`;
    return new DbError(
      "NOT_WRITER",
      `node ${node} cannot renew its writer lease on stream ${stream}${why}: it takes no ` +
        `writes until NATS answers; another node may take over meanwhile`,
      { node, stream },
    );
  }

  /** A follower's handler of one stream message: applies the records that extend the chain. */
  private onMessage(data: Uint8Array, streamSeq: number, pending: number): void {
    if (streamSeq <= this.head.streamSeq) return; // redelivered after a consumer reset
    if (streamSeq !== this.head.streamSeq + 1) {
      // Only a purge makes the stream skip: retention removed what this node had not read.
      throw new DbError(
        "SEQ_NOT_RETAINED",
        `stream ${this.connection.stream} was purged past message ${this.head.streamSeq + 1} ` +
          `before this node read it; reopen the node to start from the newest snapshot`,
        { streamSeq },
      );
    }
    for (const record of this.readMessage(data, streamSeq)) {
      if (record.seq !== this.engine.seq + 1 || !bytesEqual(record.prevHash, this.head.hash)) {
        continue; // left by a fenced writer: not part of the history
      }
      this.applyRecord(record, streamSeq);
      this.head.hash = record.hash;
      this.lagMs = Math.max(0, this.engine.clock.now() - record.ts);
    }
    this.head.streamSeq = streamSeq;
    this.lagCommits = pending;
    this.wakeStreamWaiters();
  }

  /**
   * The records of one stream message; none when any part of it is not a valid record. Anyone
   * allowed to publish on the subject can append such a message: it cannot continue the chain,
   * so every reader skips it alike (a node that stopped on it could never open again).
   */
  private readMessage(data: Uint8Array, streamSeq: number): LogRecord[] {
    const records: LogRecord[] = [];
    for (let offset = 0; offset < data.length;) {
      const read = readRecord(data, offset);
      const valid = read.kind === "record" && recordHashIsValid(data, offset, read.sizeBytes);
      if (!valid) {
        const why =
          read.kind === "damaged"
            ? read.reason
            : read.kind === "end"
              ? "zero bytes"
              : "hash mismatch";
        this.report(
          "warning",
          `stream ${this.connection.stream} message ${streamSeq} is not a log record ` +
            `(${why} at byte ${offset}); skipped`,
        );
        return [];
      }
      records.push(read.record);
      offset += read.sizeBytes;
    }
    return records;
  }

  /** Applies a record that continues the chain; one the engine refuses stops this node. */
  private applyRecord(record: LogRecord, streamSeq: number): void {
    try {
      this.engine.applyCommit(record);
    } catch (error) {
      if (!(error instanceof DbError)) throw error;
      throw new DbError(
        "CORRUPT",
        `stream ${this.connection.stream} message ${streamSeq}: commit ${record.seq} cannot be ` +
          `applied: ${error.message}`,
        { streamSeq, seq: record.seq },
      );
    }
  }

  // ---- Roles ----

  private async startFollowing(): Promise<void> {
    this.readFailure = undefined;
    this.follower = new Follower({
      js: this.js,
      stream: this.connection.stream,
      startStreamSeq: this.head.streamSeq + 1,
      messageSizeBytesMax: this.nc.info?.max_payload ?? natsMessageBytesMaxDefault,
      onMessage: (data, streamSeq, pending) => this.onMessage(data, streamSeq, pending),
      onStop: (error) => this.stopFor(toDbError(error, "following the stream")),
      // Said, and a new reader started, at the next lease tick (checkFollowing).
      onReadFailure: (error) => (this.readFailure = String(error)),
    });
    const follower = this.follower;
    await retryTransient(
      "following the stream",
      () => follower.start(),
      () => this.role === "closed",
    );
  }

  /**
   * Resolves once every stream message up to `streamSeq` has been read; rejects if reading
   * stopped first (open then fails with the reason instead of waiting forever).
   */
  private waitStreamSeq(streamSeq: number): Promise<void> {
    if (this.head.streamSeq >= streamSeq) return Promise.resolve();
    if (this.failed !== undefined) return Promise.reject(this.failed);
    return new Promise((resolve, reject) =>
      this.streamWaiters.push({ streamSeq, resolve, reject }),
    );
  }

  private wakeStreamWaiters(): void {
    if (this.streamWaiters.length === 0) return;
    const ready = this.streamWaiters.filter((w) => w.streamSeq <= this.head.streamSeq);
    this.streamWaiters = this.streamWaiters.filter((w) => w.streamSeq > this.head.streamSeq);
    for (const waiter of ready) waiter.resolve();
  }

  /** Takes the lease when it is free, reads the stream to its end, then writes. */
  private async tryTakeOver(): Promise<void> {
    if (performance.now() < this.takeoverRetryAtMs) return; // backing off: see giveUpTakeover
    if (!(await this.lease.acquire())) {
      this.takeoverGivenUpCount = 0;
      return;
    }
    const claimMsMax = this.leaseTtlMs * takeoverTtlFractionMax;
    const claimed = await this.claimStream(performance.now() + claimMsMax);
    if (this.role !== "follower" || this.failed !== undefined) return;
    if (!claimed) {
      await this.giveUpTakeover(claimMsMax);
      return;
    }
    this.takeoverGivenUpCount = 0;
    await this.follower?.stop();
    this.follower = undefined;
    if (this.role !== "follower" || this.failed !== undefined) return;
    this.publisher = new Publisher({
      js: this.js,
      subject: this.connection.subject,
      stream: this.connection.stream,
      seq: this.engine.seq,
      head: this.head,
      // Headers (message id, expected sequence) travel in the same message.
      messageSizeBytesMax:
        (this.nc.info?.max_payload ?? natsMessageBytesMaxDefault) - messageHeaderBytesMax,
      publishTimeoutMs,
      retryDeadlineMs: publishRetryDeadlineMs,
      onFailure: (error) => this.stopFor(error),
      lastSkippable: (streamSeq, seq, prevHash) => this.lastSkippable(streamSeq, seq, prevHash),
    });
    this.bytesAtLastSnapshot = 0;
    this.role = "writer";
    this.report(
      "progress",
      `node ${this.connection.node} is the writer from commit ${this.engine.seq}`,
    );
  }

  /**
   * Reads the stream to its end, then appends a takeover record there, with that end as the
   * expected last sequence. The record continues no chain, so every reader skips it, but a
   * writer whose refused append finds it is fenced. A message the previous writer handed its
   * client before its lease lapsed can land long after (the client holds it through a
   * reconnect): without the record it landed before this writer's first commit, which it
   * fenced, leaving no writer; now it is refused and fences the old writer.
   */
  private async claimStream(deadlineMs: number): Promise<boolean> {
    // Past the deadline each step is abandoned, not awaited: a takeover record it still
    // appends continues no chain and is skipped by every reader, like any other.
    for (;;) {
      // Checked to be the stream this node opened: one created again under its name is not
      // this node's log to take over (nor is its end the end of this node's history).
      const state = await beforeDeadline(this.checkedStreamState(), deadlineMs);
      if (state === pastDeadline || state === undefined) return false;
      const read = await beforeDeadline(this.waitStreamSeq(state.last_seq), deadlineMs);
      if (read === pastDeadline) {
        // Nothing else waits for the follower within a lease tick: these waiters are ours.
        this.streamWaiters = this.streamWaiters.filter((w) => w.streamSeq !== state.last_seq);
        return false;
      }
      if (this.role !== "follower" || this.failed !== undefined) return false;
      const claimed = await beforeDeadline(this.appendTakeover(state.last_seq), deadlineMs);
      if (claimed === pastDeadline) return false;
      if (claimed === undefined) continue; // someone appended meanwhile: read that too
      // Read or not by the follower: nothing can be between `last` and the record.
      this.head.streamSeq = Math.max(this.head.streamSeq, claimed);
      return true;
    }
  }

  /**
   * The claim took longer than `claimMsMax` (the stream was slow to read or NATS to answer):
   * this node lets the lease go, so that any node may take it at once, and leaves it free for
   * a back-off (takeoverBackoffTtlsMin TTLs, doubling while it keeps giving up) before it tries
   * again. Said once until another node holds the lease or a takeover succeeds.
   */
  private async giveUpTakeover(claimMsMax: number): Promise<void> {
    await Promise.race([this.lease.release().catch(() => {}), delay(this.leaseTtlMs / 3)]);
    this.takeoverGivenUpCount++;
    const backoffTtls = Math.min(
      takeoverBackoffTtlsMin * 2 ** (this.takeoverGivenUpCount - 1),
      takeoverBackoffTtlsMax,
    );
    // Counted from after the release: the key stays free for the whole back-off.
    this.takeoverRetryAtMs = performance.now() + backoffTtls * this.leaseTtlMs;
    if (this.takeoverGivenUpCount > 1) return;
    const { node, stream } = this.connection;
    this.report(
      "warning",
      `node ${node} took the writer lease of stream ${stream} but could not read the stream ` +
        `to its end within ${claimMsMax} ms (it has read to message ${this.head.streamSeq}); ` +
        `it gave the lease back and leaves it free for ${backoffTtls * this.leaseTtlMs} ms ` +
        `(twice as long each time it gives up again, up to ${takeoverBackoffTtlsMax} TTLs) ` +
        `before trying again`,
    );
  }

  /** Appends the takeover record after message `last`; undefined when the stream moved on. */
  private async appendTakeover(last: number): Promise<number | undefined> {
    const { node, subject } = this.connection;
    // Any prev_hash but the head's: no reader takes the record as the next commit.
    const notHead = this.head.hash.map((byte) => byte ^ 0xff);
    const commit = {
      seq: this.engine.seq + 1,
      ts: this.engine.clock.now(),
      origin: { kind: takeoverOriginKind, detail: { node } },
      changes: [],
    };
    const { bytes, hash } = encodeRecord(commit, notHead);
    const msgID = `takeover-${Buffer.from(hash).toString("hex")}`;
    try {
      const ack = await retryTransient(
        "appending the takeover record",
        () => this.js.publish(subject, bytes, { msgID, expect: { lastSequence: last } }),
        () => this.role === "closed",
      );
      return ack.seq;
    } catch (error) {
      if (isWrongLastSequence(error)) return undefined;
      throw error;
    }
  }

  /**
   * The stream's last sequence when no message after `streamSeq` holds commit `seq` following
   * `prevHash` (so every reader skips them all); undefined when one does.
   */
  private async lastSkippable(
    streamSeq: number,
    seq: number,
    prevHash: Uint8Array,
  ): Promise<number | undefined> {
    const stream = this.connection.stream;
    const last = (await this.streamState()).last_seq;
    for (let at = streamSeq + 1; at <= last; at++) {
      const message = await this.jsm.streams.getMessage(stream, { seq: at });
      if (message === null) continue;
      for (const record of this.readMessage(message.data, at)) {
        if (record.seq === seq && bytesEqual(record.prevHash, prevHash)) return undefined;
        if (record.origin.kind === takeoverOriginKind) return undefined; // another took over
      }
    }
    return last;
  }

  /**
   * Renews the writer's lease. A renewal NATS did not answer is said once, when the lease
   * lapses by this node's clock, and again when a renewal succeeds, instead of at every tick
   * of an outage.
   */
  private async renewLease(): Promise<"renewed" | "lost" | "unanswered"> {
    let renewed: boolean;
    try {
      renewed = await this.lease.renew();
    } catch (error) {
      if (this.lease.held || this.leaseFailure !== undefined) return "unanswered";
      this.leaseFailure = String(error);
      this.report("warning", this.leaseLapsed().message);
      return "unanswered";
    }
    if (renewed && this.leaseFailure !== undefined) {
      const { node, stream } = this.connection;
      this.report("progress", `node ${node} renewed its writer lease on stream ${stream}`);
    }
    this.leaseFailure = undefined;
    return renewed ? "renewed" : "lost";
  }

  /** The lease was lost without a fence: finish publishing, then follow from there. */
  private async stepDown(): Promise<void> {
    const publisher = this.publisher;
    assert(publisher !== undefined, "step down without a publisher");
    this.role = "follower";
    await publisher.waitDurable(publisher.appendedSeq).catch(() => undefined);
    if (publisher.failed !== undefined) return; // stopFor already made this node fenced
    this.head.hash = publisher.head.hash;
    this.head.streamSeq = publisher.head.streamSeq;
    this.publisher = undefined;
    this.report("warning", `node ${this.connection.node} lost the writer lease; following`);
    await this.startFollowing();
  }

  /** Stops this node for good: fenced by another writer, or the log failed. */
  private stopFor(error: DbError): void {
    if (this.failed !== undefined) return;
    this.failed = error;
    if (this.role !== "closed") this.role = "fenced";
    this.lease.drop();
    for (const waiter of this.streamWaiters) waiter.reject(error);
    this.streamWaiters = [];
    this.report("warning", error.message);
    void this.follower?.stop();
  }

  // ---- The periodic lease work ----

  /** Lease work at a fixed rate; a tick still running (a slow renewal) skips the next one. */
  private schedule(): void {
    this.timer = setInterval(() => {
      if (this.ticking !== undefined) return;
      if (this.role !== "writer" && this.role !== "follower") return;
      this.ticking = this.tick()
        .catch((error: unknown) => this.reportTickFailure(error))
        .finally(() => (this.ticking = undefined));
    }, this.leaseTtlMs / leaseTicksPerTtl);
    this.timer.unref();
  }

  /** A tick's step failed (NATS refused, a reader did not start): the next tick goes on. */
  private reportTickFailure(error: unknown): void {
    if (this.role === "closed") return; // cut short by close(): its connections are gone
    const { node, stream } = this.connection;
    this.report(
      "warning",
      `node ${node}'s lease tick on stream ${stream} (as ${this.role}) failed; the next one ` +
        `tries again in ${this.leaseTtlMs / leaseTicksPerTtl} ms: ${String(error)}`,
    );
  }

  private async tick(): Promise<void> {
    if (this.role === "writer") {
      const renewal = await this.renewLease();
      if (renewal === "renewed") await this.checkedStreamState();
      if (renewal !== "lost") return; // when unanswered, the next tick asks again
      await this.stepDown();
      // The lease has most often just expired (NATS was electing a leader and could not
      // renew it): this node may take it back at once instead of one tick later.
    }
    if (this.role === "follower") {
      if (this.options.role !== "follower") await this.tryTakeOver();
      await this.refreshWriter();
      await this.checkFollowing();
    }
  }

  /**
   * Measures a follower's lag against the stream's end, and starts its reader again when it
   * read nothing for `followerStallMsMax` while the stream held more. After its NATS server
   * restarts, the client recreates the ordered consumer but asks it for only as many messages
   * as it had read before (its count of messages still owed is never reset): past those, the
   * reader waits silently for its pull to expire, 30 s or more, with the lag it last saw, 0.
   */
  private async checkFollowing(): Promise<void> {
    if (this.role !== "follower" || this.follower === undefined) return;
    const { node, stream } = this.connection;
    if (this.readFailure !== undefined) {
      await this.followAgain(
        `node ${node}'s reader of stream ${stream} failed: ${this.readFailure}`,
      );
      return;
    }
    const state = await this.checkedStreamState();
    if (state === undefined) return; // NATS did not answer: the next lease tick asks again
    const last = state.last_seq;
    if (this.role !== "follower" || this.follower === undefined) return;
    const now = performance.now();
    const at = this.head.streamSeq;
    this.lagCommits = Math.max(0, last - at);
    if (this.lagCommits === 0 || at !== this.followed.streamSeq) {
      this.followed = { streamSeq: at, sinceMs: now };
      return;
    }
    if (now - this.followed.sinceMs < followerStallMsMax) return;
    this.followed = { streamSeq: at, sinceMs: now };
    await this.followAgain(
      `node ${node} read nothing of stream ${stream} for ${followerStallMsMax} ms while ` +
        `${this.lagCommits} messages wait`,
    );
  }

  /** Stops the follower's reader, saying `why`, and starts one after the last message read. */
  private async followAgain(why: string): Promise<void> {
    this.report("warning", `${why}; reading again from message ${this.head.streamSeq + 1}`);
    const stopped = this.follower;
    this.follower = undefined;
    await stopped?.stop();
    if (this.role === "follower" && this.failed === undefined) await this.startFollowing();
  }

  /**
   * The stream's state; undefined when NATS did not answer, or when the stream is not the one
   * this node opened any more: deleted, or created again under its name (another creation
   * time, or it ends before what this node read or wrote). The commits this node applied are
   * then in no log, so it stops for good instead of following or writing on nothing.
   */
  private async checkedStreamState(): Promise<StreamState | undefined> {
    const { stream, streamCreated, node } = this.connection;
    // Read before asking: the stream held every message up to here when the question left,
    // so its answer ends at or after it. A message published or applied while the answer is
    // on its way is newer than the answer, and no sign of a stream that lost messages.
    const position = this.publisher?.durableStreamSeq ?? this.head.streamSeq;
    let info;
    try {
      info = await this.jsm.streams.info(stream);
    } catch (error) {
      if (!isStreamNotFound(error)) return undefined;
      info = undefined;
    }
    const same =
      info !== undefined && info.created === streamCreated && info.state.last_seq >= position;
    if (same || this.failed !== undefined || this.role === "closed") return info?.state;
    const since = info === undefined ? "" : " (a stream of that name was created again since)";
    const error = new DbError(
      "IO_ERROR",
      `stream ${stream} was deleted while node ${node} used it${since}: the commits this ` +
        `node applied are in no log any more; it stops, and must be reopened once the ` +
        `stream holds the log again`,
      { stream, node },
    );
    if (this.publisher !== undefined) this.publisher.fail(error);
    else this.stopFor(error);
    return undefined;
  }

  /** A follower rereads who holds the lease, so its server knows where to forward writes. */
  private async refreshWriter(): Promise<void> {
    if (this.role !== "follower") return;
    try {
      this.writerSeen = await this.lease.holder();
    } catch {
      // NATS did not answer: keep the last answer; the next lease tick asks again.
    }
  }

  // ---- Snapshots ----

  private maybeSnapshot(publisher: Publisher): void {
    const threshold = this.options.snapshotLogBytes ?? snapshotLogBytesDefault;
    if (threshold <= 0 || this.snapshotting !== undefined) return;
    if (publisher.bytesPublished - this.bytesAtLastSnapshot < threshold) return;
    this.bytesAtLastSnapshot = publisher.bytesPublished;
    // Deferred: a snapshot starts at a commit boundary, never inside the committing transaction.
    queueMicrotask(() => {
      this.snapshot().catch((error: unknown) => {
        this.report("warning", `background snapshot failed: ${String(error)}`);
      });
    });
  }

  private async takeSnapshot(): Promise<{ seq: number; sizeBytes: number }> {
    // Position and image are taken in the same synchronous step: both are of commit `seq`.
    const seq = this.engine.seq;
    this.publisher?.sealBatch(); // so the head names the message that holds commit `seq`
    const head = this.publisher?.head ?? this.head;
    const position = { hash: head.hash.slice(), streamSeq: head.streamSeq };
    const durable = this.waitDurable(seq);
    durable.catch(() => undefined); // awaited by uploadSnapshot; this only marks it handled
    const upload = uploadSnapshot(this.engine, this.store, position, durable, this.restoredTs);
    const { stored, sizeBytes } = await upload;
    assert(stored.seq === seq, "snapshot seq moved");
    this.snapshotSeq = Math.max(this.snapshotSeq, seq);
    const oldest = await pruneSnapshots(
      this.store,
      this.options.snapshotsKept ?? snapshotsKeptDefault,
    );
    if (this.options.purgeLog !== false && oldest !== undefined && oldest.streamSeq > 0) {
      await this.jsm.streams.purge(this.connection.stream, { seq: oldest.streamSeq + 1 });
    }
    return { seq, sizeBytes };
  }

  /** Loads the newest snapshot that reads back intact; returns the first stream seq after it. */
  private async restoreNewestSnapshot(): Promise<number> {
    const listed = await retryTransient("listing snapshots", () => listStoredSnapshots(this.store));
    for (const stored of listed) {
      let image;
      try {
        image = await downloadSnapshot(this.store, stored);
      } catch (error) {
        // Damaged, or unreadable after its tries (NATS failing, chunks that never came).
        const unusable = error instanceof DbError && ["CORRUPT", "IO_ERROR"].includes(error.code);
        if (!unusable) throw error;
        this.report("warning", `${error.message}; trying an older snapshot`);
        continue;
      }
      if (image === undefined) continue;
      restoreSnapshot(this.engine, image);
      this.head.hash = image.hash;
      this.snapshotSeq = image.seq;
      this.restoredTs = image.ts;
      return stored.streamSeq + 1;
    }
    return 1;
  }
}

const pastDeadline = Symbol("past deadline");

/**
 * What `promise` resolves to, or `pastDeadline` when `deadlineMs` (performance.now()) comes
 * first; a rejection after that is marked handled, since nobody awaits it any more.
 */
async function beforeDeadline<T>(
  promise: Promise<T>,
  deadlineMs: number,
): Promise<T | typeof pastDeadline> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<typeof pastDeadline>((resolve) => {
    timer = setTimeout(() => resolve(pastDeadline), Math.max(0, deadlineMs - performance.now()));
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function toDbError(error: unknown, what: string): DbError {
  if (error instanceof DbError) return error;
  return new DbError("IO_ERROR", `${what}: ${String(error)}`);
}
