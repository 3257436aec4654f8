/**
 * @module The log writer: appends commit records to segment files with group commit. Commits
 * are encoded synchronously in commit order (the hash chain needs that order); a single
 * flush loop writes everything pending with one write and one fsync, so every commit that
 * waited during a flush shares the next fsync. In `sync` mode a flush starts at once; in
 * `async` mode within the durability window. After an IO failure the writer refuses
 * everything: after a failed fsync the page cache can no longer be trusted.
 */
import { assert, assertionFailed } from "../lib/assert.ts";
import { dataViewOf } from "../lib/bytes.ts";
import { DbError } from "../lib/errors.ts";
import type { Commit } from "../engine/index.ts";
import type { Storage, StorageFile } from "../storage/index.ts";
import { encodeRecord, encodeRecordAt, recordSeqAt, recordSizeAt } from "./record.ts";
import type { LogTail } from "./recovery.ts";
import {
  encodeSegmentHeader,
  segmentHeaderSizeBytes,
  segmentName,
  spareSegmentName,
} from "./segment.ts";

export type FlushPolicy = "immediate" | "window";

/** Zeros written per call while preparing the spare segment. */
const spareFillChunkBytes = 1024 * 1024;
/**
 * Records wait for their flush in chunks of this size, each encoded straight into one: no
 * buffer, copy or object per record, and nothing per record for the collector to trace while
 * a loop that never yields piles up a second of commits. A record larger than a chunk gets a
 * chunk of its own size.
 */
const pendingChunkSizeBytes = 1024 * 1024;
/**
 * Written chunks kept for reuse, at most. First touching fresh memory is page faults, which
 * cost more than the write itself once groups grew large; and V8 counts every chunk as
 * external memory, starting a mark-compact whenever that has grown by 64 MB since the last
 * one. A loop that never yields piles up a second of commits (60-120 MiB) before its flush:
 * when two chunks were kept, every pile was allocated afresh, and three rounds of 300,000
 * transfers took 14 mark-compacts instead of 5, 9-10 % of the loop's CPU. So a pile's
 * chunks are kept for the next one, up to this many.
 */
const pendingChunksFreeMax = 64;
/**
 * Free chunks kept once a flush takes less than a chunk of records: commits no longer pile
 * up, so the memory of an earlier pile is given back.
 */
const pendingChunksFreeQuietMax = 2;
/**
 * A group of one commit is synced in the committing thread (`writeAndSync`'s `inline`) only
 * while syncs take no longer than this on average: a slower disk would stall every connection
 * meanwhile (a quiet disk takes 0.1-0.5 ms; under other processes' IO this VM's took 2-10 ms).
 */
const inlineSyncDurationMsMax = 1;
/**
 * The weight of the newest sync in the moving average of sync durations. An average, not the
 * last sync: one slow sync in a hundred would otherwise turn inline syncs off most of the time,
 * while a disk that stays slow raises the average within a few syncs.
 */
const syncDurationWeight = 1 / 8;

export interface WALOptions {
  storage: Storage;
  tail: LogTail;
  segmentSizeBytes: number;
  /** How long `window` commits may wait before their flush starts. */
  windowMs: number;
  /** Clock for the durability lag (the engine's). */
  now?: () => number;
  /** The used bytes of segments recovery read (recovery.ts), for {@link WAL.usedBytesOf}. */
  segmentUsedBytes?: ReadonlyMap<string, number>;
}

/** A buffer of encoded records, filled up to `used`. */
interface Chunk {
  readonly bytes: Buffer;
  readonly view: DataView;
  used: number;
}

/** Bytes `from` up to `to` of a chunk: whole records, taken into one flush. */
interface Slice {
  readonly chunk: Chunk;
  readonly from: number;
  readonly to: number;
}

/** Everyone waiting for one flush shares one promise: no allocation per waiting commit. */
interface Group {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** The bytes of records a flush took. */
function batchSizeBytes(batch: readonly Slice[]): number {
  let sizeBytes = 0;
  for (const slice of batch) sizeBytes += slice.to - slice.from;
  assert(sizeBytes > 0, "a flush took no records");
  return sizeBytes;
}

function createGroup(): Group {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A group nobody ends up awaiting must not report an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Statistics for metrics, benchmarks and `INFO`. */
export interface WALStats {
  appendedSeq: number;
  durableSeq: number;
  flushCount: number;
  bytesWritten: number;
  segmentCount: number;
}

export class WAL {
  private readonly storage: Storage;
  private readonly segmentSizeBytes: number;
  private readonly windowMs: number;
  private file: StorageFile | undefined;
  private segmentFirstSeq: number;
  private offset: number;
  /** The hash of the last appended record; copied, since its bytes move on (a chunk). */
  private readonly lastHash = new Uint8Array(32);
  /**
   * Chunks holding records not yet taken into a flush: those of the first from
   * `takenOffset` on, all of the others. The last one is where appends go.
   */
  private chunks: Chunk[] = [];
  private takenOffset = 0;
  /** The last seq taken into a flush; records after it are pending. */
  private takenSeq: number;
  /** When the first pending record was appended, for the durability lag. */
  private firstPendingAt = 0;
  private readonly freeChunks: Chunk[] = [];
  /** Waiters for records not yet taken into a flush. */
  private openGroup: Group | undefined;
  /** Waiters for the flush in progress, which covers records up to `inFlightSeq`. */
  private inFlightGroup: Group | undefined;
  private inFlightSeq = 0;
  private flushing: Promise<void> | undefined;
  /**
   * The moving average of how long a run's write and sync took, in ms, inline or not. A disk's
   * latency is measured on the monotonic clock (`performance.now()`), not the engine's: that
   * one stamps commits (a fake clock in tests, whole milliseconds).
   */
  private syncDurationMsAverage = 0;
  /** Whether the last group taken into a flush held one commit (true before the first). */
  private lastGroupLone = true;
  /** Whether a kick is queued for the end of this event-loop turn ({@link kickSoon}). */
  private kickQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private failureValue: DbError | undefined;
  private closed = false;
  private readonly now: () => number;
  /** Append time of the oldest record not yet durable. */
  private undurableSince: number | undefined;
  /** The recovered last segment, opened at the first flush. */
  private tailSegment: string | undefined;
  /**
   * The next segment, being zero-filled in the background (resolving to undefined when that
   * failed: the rollover then makes a sparse file, as for the first segment). Written zeros
   * preallocate it on disk, so flushes into it do not also allocate blocks, which made each
   * fdatasync about a third slower.
   */
  private spare: Promise<StorageFile | undefined> | undefined;
  /** Whether {@link spare} has settled, so that taking it costs no wait. */
  private spareReady = false;
  readonly stats: WALStats;
  /** Header and record bytes of segments no longer written: from recovery and rollovers. */
  private readonly closedUsedBytes: Map<string, number>;

  constructor(options: WALOptions) {
    assert(options.windowMs >= 0, "window must not be negative");
    this.storage = options.storage;
    this.segmentSizeBytes = options.segmentSizeBytes;
    this.windowMs = options.windowMs;
    this.now = options.now ?? (() => 0);
    this.segmentFirstSeq = options.tail.segmentFirstSeq;
    this.offset = options.tail.offset;
    assert(options.tail.lastHash.length === 32, "the log tail's hash must be 32 bytes");
    this.lastHash.set(options.tail.lastHash);
    this.takenSeq = options.tail.lastSeq;
    this.stats = {
      appendedSeq: options.tail.lastSeq,
      durableSeq: options.tail.lastSeq,
      flushCount: 0,
      bytesWritten: 0,
      segmentCount: 0,
    };
    this.tailSegment = options.tail.segment;
    this.closedUsedBytes = new Map(options.segmentUsedBytes);
  }

  /**
   * The bytes of `names`' headers and records, in order (segments are preallocated, so their
   * files are larger); undefined for a segment this log never read or wrote. Forgets the
   * segments not named (retention removed them).
   */
  usedBytesOf(names: readonly string[]): Array<number | undefined> {
    const current = segmentName(this.segmentFirstSeq);
    const listed = new Set(names);
    for (const name of this.closedUsedBytes.keys()) {
      if (!listed.has(name)) this.closedUsedBytes.delete(name);
    }
    return names.map((name) =>
      name === current && this.offset > 0 ? this.offset : this.closedUsedBytes.get(name),
    );
  }

  /** Encodes `commit` and queues it; a flush starts now or within the window. */
  append(commit: Commit, policy: FlushPolicy): void {
    this.throwIfUnusable();
    if (commit.seq !== this.stats.appendedSeq + 1)
      assertionFailed(`log append of ${commit.seq} after ${this.stats.appendedSeq}`);
    this.encode(commit);
    // The clock is read only by a record that starts a wait (the first not yet durable, or
    // the first not yet taken into a flush): commits that pile up between two flushes, as in
    // a loop that never yields, read it once, not once each.
    const startsUndurable = this.stats.durableSeq === this.stats.appendedSeq;
    const startsPending = this.takenSeq === this.stats.appendedSeq;
    if (startsUndurable || startsPending) {
      const at = this.now();
      if (startsUndurable) this.undurableSince = at;
      if (startsPending) this.firstPendingAt = at;
    }
    this.stats.appendedSeq = commit.seq;
    if (policy === "immediate" || this.windowMs === 0) this.kickSoon();
    else this.timer ??= setTimeout(() => this.kick(), this.windowMs);
  }

  /** Encodes `commit` into the last chunk, or a new one when it does not fit there. */
  private encode(commit: Commit): void {
    let chunk = this.chunks[this.chunks.length - 1];
    let end = chunk === undefined ? -1 : this.encodeInto(chunk, commit);
    if (chunk === undefined || end < 0) {
      chunk = this.takeFreeChunk();
      end = this.encodeInto(chunk, commit);
      if (end < 0) {
        // Larger than a chunk: encoded on its own, into a chunk of its size.
        this.keepFree(chunk);
        const { bytes } = encodeRecord(commit, this.lastHash);
        const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
        chunk = { bytes: buffer, view: dataViewOf(buffer), used: 0 };
        end = buffer.length;
      }
      this.chunks.push(chunk);
    }
    chunk.used = end;
    const lastHash = this.lastHash;
    const bytes = chunk.bytes;
    for (let i = 0; i < 32; i++) lastHash[i] = bytes[end - 32 + i]!;
  }

  private encodeInto(chunk: Chunk, commit: Commit): number {
    return encodeRecordAt(commit, this.lastHash, chunk.bytes, chunk.view, chunk.used);
  }

  private takeFreeChunk(): Chunk {
    const chunk = this.freeChunks.pop();
    if (chunk !== undefined) {
      chunk.used = 0;
      return chunk;
    }
    const bytes = Buffer.allocUnsafeSlow(pendingChunkSizeBytes);
    return { bytes, view: dataViewOf(bytes), used: 0 };
  }

  /** Takes every pending record into a flush: the slices of chunks that hold them. */
  private takePending(): Slice[] {
    const chunks = this.chunks;
    assert(chunks.length > 0, "pending records without a chunk holding them");
    const slices: Slice[] = [];
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i]!;
      const from = i === 0 ? this.takenOffset : 0;
      if (chunk.used > from) slices.push({ chunk, from, to: chunk.used });
      // A full chunk whose records all went in earlier flushes (none is in flight now).
      else if (i < chunks.length - 1) this.keepFree(chunk);
    }
    const last = chunks[chunks.length - 1]!;
    this.chunks = [last];
    this.takenOffset = last.used;
    this.takenSeq = this.stats.appendedSeq;
    return slices;
  }

  /** Keeps written chunks for reuse, except those still holding pending records. */
  private recycle(slices: readonly Slice[]): void {
    for (const { chunk } of slices) if (!this.chunks.includes(chunk)) this.keepFree(chunk);
  }

  /** Gives back the chunks of an earlier pile, keeping {@link pendingChunksFreeQuietMax}. */
  private trimFreeChunks(): void {
    const free = this.freeChunks;
    if (free.length > pendingChunksFreeQuietMax) free.length = pendingChunksFreeQuietMax;
  }

  private keepFree(chunk: Chunk): void {
    if (chunk.bytes.length !== pendingChunkSizeBytes || this.freeChunks.includes(chunk)) return;
    if (this.freeChunks.length < pendingChunksFreeMax) this.freeChunks.push(chunk);
  }

  /** Resolves when every record up to `seq` is on disk. */
  waitDurable(seq: number): Promise<void> {
    if (seq <= this.stats.durableSeq) return Promise.resolve();
    if (this.failureValue !== undefined) return Promise.reject(this.failureValue);
    if (seq > this.stats.appendedSeq)
      assertionFailed(`waiting for seq ${seq} that was never appended`);
    if (this.flushing !== undefined && seq <= this.inFlightSeq) {
      // Taken by the flush in progress (maybe before anyone waited for it).
      this.inFlightGroup ??= createGroup();
      return this.inFlightGroup.promise;
    }
    const group = (this.openGroup ??= createGroup());
    this.kickSoon(); // may take the open group into a flush at the end of this turn
    return group.promise;
  }

  /** Writes and syncs everything appended so far. */
  async flush(): Promise<void> {
    await this.waitDurable(this.stats.appendedSeq);
  }

  /**
   * How long the oldest commit not yet on disk has waited, in ms (0 when all are durable).
   * `async` callers that must keep loss within the window wait when this exceeds it.
   */
  lagMs(): number {
    return this.undurableSince === undefined ? 0 : this.now() - this.undurableSince;
  }

  /** The IO failure after which this log refuses every commit; undefined while it works. */
  get failure(): DbError | undefined {
    return this.failureValue;
  }

  /** Hash of the last appended record: a snapshot taken now records it. */
  get appendedHash(): Uint8Array {
    return this.lastHash.slice();
  }

  /** How long the oldest not-yet-durable commit has waited, in records (for back-pressure). */
  get pendingCount(): number {
    return this.stats.appendedSeq - this.stats.durableSeq;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.failureValue === undefined) await this.flush();
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.flushing?.catch(() => undefined); // the failure was already reported to waiters
    await this.file?.close();
    this.file = undefined;
    await (await this.spare)?.close();
    this.spare = undefined;
  }

  // ---- The flush loop ----

  /**
   * Starts a flush at the end of this event-loop turn, after its I/O callbacks, not at once:
   * every request read in this turn commits first and joins the group (Redis likewise writes
   * and fsyncs just before its event loop sleeps). Kicked at the first commit, a pipelined
   * batch of 32 RCP requests went out as 15-16 commits per fsync, the rest waiting for the
   * next group; deferred, 32 (bench/rcp.ts, 1 connection x 32 in flight).
   */
  private kickSoon(): void {
    if (this.kickQueued || this.flushing !== undefined) return;
    this.kickQueued = true;
    setImmediate(() => {
      this.kickQueued = false;
      this.kick();
    });
  }

  private kick(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.flushing !== undefined || !this.hasPending()) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = undefined;
      // Commits that arrived during the last fsync start the next group at once.
      if (this.hasPending() && this.failureValue === undefined) this.kick();
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.hasPending() && this.failureValue === undefined) {
      const lastSeq = this.stats.appendedSeq;
      const inline = this.syncsInline(lastSeq);
      const batch = this.takePending();
      this.inFlightGroup = this.openGroup;
      this.inFlightSeq = lastSeq;
      this.openGroup = undefined;
      try {
        await this.writeBatch(batch, inline);
      } catch (error) {
        this.fail(error);
        return;
      }
      this.recycle(batch);
      if (batchSizeBytes(batch) < pendingChunkSizeBytes) this.trimFreeChunks();
      this.stats.flushCount++;
      this.stats.durableSeq = lastSeq;
      this.undurableSince = this.hasPending() ? this.firstPendingAt : undefined;
      this.resolveWaiters();
      // One event-loop turn before the next group: the committers just released run their
      // next transactions now and join it, instead of one of them flushing alone.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private hasPending(): boolean {
    return this.stats.appendedSeq > this.takenSeq;
  }

  /**
   * Whether the group up to `lastSeq` is synced in this thread. Handing an fsync to libuv's
   * thread pool wakes a pool thread and then this one (about 6 context switches per commit
   * at RCP 1 x 1, 3.7 inline; Redis 3.8). A lone commit that someone waits for, after a lone
   * one before it, is a writer alone: nothing would overlap the sync. A larger group means
   * commits come while others sync, and the pool lets the next group form meanwhile; at 50
   * connections unpipelined a third of the groups held one commit, but two in a row were
   * half as many.
   */
  private syncsInline(lastSeq: number): boolean {
    assert(lastSeq > this.takenSeq, "a group without commits");
    const lone = lastSeq - this.takenSeq === 1;
    const afterLone = this.lastGroupLone;
    this.lastGroupLone = lone;
    if (!lone || !afterLone || this.openGroup === undefined) return false;
    return this.syncDurationMsAverage <= inlineSyncDurationMsMax;
  }

  /**
   * Writes the slices' records to the segments, whole records to a segment: as many as fit
   * go in one run, written straight from the chunks and synced once.
   */
  private async writeBatch(batch: readonly Slice[], inline: boolean): Promise<void> {
    let run: Uint8Array[] = [];
    let runBytes = 0;
    for (const { chunk, from: sliceFrom, to } of batch) {
      const { bytes, view } = chunk;
      let from = sliceFrom;
      while (from < to) {
        const size = recordSizeAt(view, from);
        if (this.file === undefined || this.offset + runBytes + size > this.segmentSize()) {
          await this.writeRun(run, runBytes, inline);
          run = [];
          runBytes = 0;
          await this.rollOver(recordSeqAt(view, from), size);
        }
        // This record goes in whatever its size (an oversized one has a segment of its own),
        // then every following one that fits.
        const limit = from + (this.segmentSize() - this.offset - runBytes);
        let end = from + size;
        if (to <= limit) end = to;
        while (end < to && end + recordSizeAt(view, end) <= limit) end += recordSizeAt(view, end);
        run.push(bytes.subarray(from, end));
        runBytes += end - from;
        from = end;
      }
    }
    await this.writeRun(run, runBytes, inline);
  }

  private async writeRun(
    run: readonly Uint8Array[],
    runBytes: number,
    inline: boolean,
  ): Promise<void> {
    if (run.length === 0) return;
    const file = this.file;
    assert(file !== undefined, "write without an open segment");
    let pieceBytes = 0;
    for (const piece of run) pieceBytes += piece.length;
    assert(pieceBytes === runBytes, "a write run's bytes differ from its records'");
    const startedAt = performance.now();
    if (inline) await file.writeAndSync(this.offset, run, { inline });
    else await file.writeAndSync(this.offset, run);
    const durationMs = performance.now() - startedAt;
    const average = this.syncDurationMsAverage;
    this.syncDurationMsAverage = average + (durationMs - average) * syncDurationWeight;
    this.offset += runBytes;
    this.stats.bytesWritten += runBytes;
    // Half way through a segment, start preparing the next one; a log that never gets this
    // far (a small database, a test) never pays for writing a whole segment of zeros.
    if (this.spare === undefined && this.offset * 2 >= this.segmentSizeBytes) {
      this.spareReady = false;
      this.spare = this.prepareSpare().finally(() => {
        this.spareReady = true;
      });
    }
  }

  /** Opens the tail segment, or starts a new one for `seq` when the current one is full. */
  private async rollOver(seq: number, recordBytes: number): Promise<void> {
    if (this.file === undefined && this.tailSegment !== undefined) {
      const name = this.tailSegment;
      this.tailSegment = undefined;
      this.file = await this.storage.open(name, { create: false });
      this.stats.segmentCount++;
      if (this.offset + recordBytes <= this.segmentSize()) return;
    }
    if (this.file !== undefined) {
      this.closedUsedBytes.set(segmentName(this.segmentFirstSeq), this.offset);
    }
    await this.file?.close();
    const name = segmentName(seq);
    const size = Math.max(this.segmentSizeBytes, segmentHeaderSizeBytes + recordBytes);
    const spare = size === this.segmentSizeBytes ? await this.takeSpare() : undefined;
    const file = spare ?? (await this.storage.open(name, { create: true }));
    if (spare === undefined) await file.truncate(size);
    // The header is durable before the name is: a segment under its real name always has one.
    await file.write(0, encodeSegmentHeader(seq));
    await file.sync();
    if (spare !== undefined) await this.storage.rename(spareSegmentName, name);
    await this.storage.syncDirectory();
    this.file = file;
    this.segmentFirstSeq = seq;
    this.offset = segmentHeaderSizeBytes;
    this.stats.segmentCount++;
  }

  /**
   * The zero-filled spare segment, if it is ready. One still being written is left to finish
   * for the next rollover: waiting for it here stalled a flush for its whole 64 MiB of zeros
   * and their fsync (about 130 ms) whenever commits had come faster than it was written (a
   * loop that never yields lets it write nothing), and a sparse segment costs only slower
   * fsyncs while it fills.
   */
  private async takeSpare(): Promise<StorageFile | undefined> {
    if (!this.spareReady) return undefined;
    const spare = await this.spare;
    this.spare = undefined;
    return spare;
  }

  /**
   * Creates the next segment under a temporary name and writes zeros over its whole size, in
   * the background while commits go to the current segment. A failure only costs the
   * preallocation: the next rollover makes a sparse segment, as it does for the first one.
   */
  private async prepareSpare(): Promise<StorageFile | undefined> {
    let file: StorageFile | undefined;
    try {
      file = await this.storage.open(spareSegmentName, { create: true });
      await file.truncate(0);
      const zeros = new Uint8Array(spareFillChunkBytes);
      for (let at = 0; at < this.segmentSizeBytes; at += zeros.length) {
        if (this.closed) break;
        await file.write(at, zeros.subarray(0, Math.min(zeros.length, this.segmentSizeBytes - at)));
      }
      await file.sync();
      return file;
    } catch {
      await file?.close().catch(() => undefined);
      return undefined;
    }
  }

  private segmentSize(): number {
    return Math.max(this.segmentSizeBytes, this.offset);
  }

  private resolveWaiters(): void {
    assert(this.stats.durableSeq === this.inFlightSeq, "resolved a flush that was not in flight");
    this.inFlightGroup?.resolve();
    this.inFlightGroup = undefined;
  }

  private fail(error: unknown): void {
    this.failureValue =
      error instanceof DbError
        ? error
        : new DbError("IO_ERROR", `log write failed: ${String(error)}`);
    this.inFlightGroup?.reject(this.failureValue);
    this.openGroup?.reject(this.failureValue);
    this.inFlightGroup = undefined;
    this.openGroup = undefined;
  }

  private throwIfUnusable(): void {
    if (this.failureValue !== undefined) throw this.failureValue;
    if (this.closed) throw new DbError("DATABASE_CLOSED", "the log is closed");
  }
}
