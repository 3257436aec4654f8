/**
 * @module The log writer: appends commit records to segment files with group commit. Commits
 * are encoded synchronously in commit order (the hash chain needs that order); a single
 * flush loop writes everything pending with one write and one fsync, so every commit that
 * waited during a flush shares the next fsync. In `sync` mode a flush starts at once; in
 * `async` mode within the durability window. After an IO failure the writer refuses
 * everything: after a failed fsync the page cache can no longer be trusted.
 */
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import type { Commit } from "../engine/index.ts";
import type { Storage, StorageFile } from "../storage/index.ts";
import { encodeRecord } from "./record.ts";
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
 * The buffer a group's records are gathered in to be written, reused for every write. A
 * fresh buffer the size of the group cost more than the write itself once groups grew
 * large (a loop that never yields flushes a whole second of commits at once): first
 * touching fresh memory is page faults. A larger group is written in several pieces.
 */
const writeScratchSizeBytes = 4 * 1024 * 1024;

export interface WALOptions {
  storage: Storage;
  tail: LogTail;
  segmentSizeBytes: number;
  /** How long `window` commits may wait before their flush starts. */
  windowMs: number;
  /** Clock for the durability lag (the engine's). */
  now?: () => number;
}

interface Pending {
  readonly seq: number;
  readonly bytes: Uint8Array;
  /** When it was appended, for the durability lag. */
  readonly at: number;
}

/** Everyone waiting for one flush shares one promise: no allocation per waiting commit. */
interface Group {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
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
  private lastHash: Uint8Array;
  private pending: Pending[] = [];
  /** Waiters for records not yet taken into a flush. */
  private openGroup: Group | undefined;
  /** Waiters for the flush in progress, which covers records up to `inFlightSeq`. */
  private inFlightGroup: Group | undefined;
  private inFlightSeq = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failure: DbError | undefined;
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
  /** See {@link writeScratchSizeBytes}; only the flush loop writes, one group at a time. */
  private writeScratch: Buffer | undefined;
  readonly stats: WALStats;

  constructor(options: WALOptions) {
    assert(options.windowMs >= 0, "window must not be negative");
    this.storage = options.storage;
    this.segmentSizeBytes = options.segmentSizeBytes;
    this.windowMs = options.windowMs;
    this.now = options.now ?? (() => 0);
    this.segmentFirstSeq = options.tail.segmentFirstSeq;
    this.offset = options.tail.offset;
    this.lastHash = options.tail.lastHash;
    this.stats = {
      appendedSeq: options.tail.lastSeq,
      durableSeq: options.tail.lastSeq,
      flushCount: 0,
      bytesWritten: 0,
      segmentCount: 0,
    };
    this.tailSegment = options.tail.segment;
  }

  /** Encodes `commit` and queues it; a flush starts now or within the window. */
  append(commit: Commit, policy: FlushPolicy): void {
    this.throwIfUnusable();
    assert(
      commit.seq === this.stats.appendedSeq + 1,
      `log append of ${commit.seq} after ${this.stats.appendedSeq}`,
    );
    const { bytes, hash } = encodeRecord(commit, this.lastHash);
    this.lastHash = hash;
    const at = this.now();
    if (this.stats.durableSeq === this.stats.appendedSeq) this.undurableSince = at;
    this.pending.push({ seq: commit.seq, bytes, at });
    this.stats.appendedSeq = commit.seq;
    if (policy === "immediate" || this.windowMs === 0) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.windowMs);
  }

  /** Resolves when every record up to `seq` is on disk. */
  waitDurable(seq: number): Promise<void> {
    if (seq <= this.stats.durableSeq) return Promise.resolve();
    if (this.failure !== undefined) return Promise.reject(this.failure);
    assert(seq <= this.stats.appendedSeq, `waiting for seq ${seq} that was never appended`);
    if (this.flushing !== undefined && seq <= this.inFlightSeq) {
      // Taken by the flush in progress (maybe before anyone waited for it).
      this.inFlightGroup ??= createGroup();
      return this.inFlightGroup.promise;
    }
    const group = (this.openGroup ??= createGroup());
    this.kick(); // may take the open group into a flush at once
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

  /** Hash of the last appended record: a snapshot taken now records it. */
  get appendedHash(): Uint8Array {
    return this.lastHash;
  }

  /** How long the oldest not-yet-durable commit has waited, in records (for back-pressure). */
  get pendingCount(): number {
    return this.stats.appendedSeq - this.stats.durableSeq;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.failure === undefined) await this.flush();
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.flushing?.catch(() => undefined); // the failure was already reported to waiters
    await this.file?.close();
    this.file = undefined;
    await (await this.spare)?.close();
    this.spare = undefined;
  }

  // ---- The flush loop ----

  private kick(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.flushing !== undefined || this.pending.length === 0) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = undefined;
      // Commits that arrived during the last fsync start the next group at once.
      if (this.pending.length > 0 && this.failure === undefined) this.kick();
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0 && this.failure === undefined) {
      const batch = this.pending;
      this.pending = [];
      this.inFlightGroup = this.openGroup;
      this.inFlightSeq = batch[batch.length - 1]!.seq;
      this.openGroup = undefined;
      try {
        await this.writeBatch(batch);
      } catch (error) {
        this.fail(error);
        return;
      }
      this.stats.flushCount++;
      this.stats.durableSeq = batch[batch.length - 1]!.seq;
      this.undurableSince = this.pending[0]?.at;
      this.resolveWaiters();
      // One event-loop turn before the next group: the committers just released run their
      // next transactions now and join it, instead of one of them flushing alone.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    let run: Uint8Array[] = [];
    let runBytes = 0;
    for (const record of batch) {
      if (
        this.file === undefined ||
        this.offset + runBytes + record.bytes.length > this.segmentSize()
      ) {
        await this.writeRun(run, runBytes);
        run = [];
        runBytes = 0;
        await this.rollOver(record.seq, record.bytes.length);
      }
      run.push(record.bytes);
      runBytes += record.bytes.length;
    }
    await this.writeRun(run, runBytes);
  }

  private async writeRun(run: Uint8Array[], runBytes: number): Promise<void> {
    if (run.length === 0) return;
    const file = this.file;
    assert(file !== undefined, "write without an open segment");
    let written = 0;
    let gathered = 0;
    const scratch = (this.writeScratch ??= Buffer.allocUnsafe(writeScratchSizeBytes));
    for (const record of run) {
      if (gathered > 0 && gathered + record.length > scratch.length) {
        await file.write(this.offset + written, scratch.subarray(0, gathered));
        written += gathered;
        gathered = 0;
      }
      if (record.length > scratch.length) {
        await file.write(this.offset + written, record);
        written += record.length;
        continue;
      }
      scratch.set(record, gathered);
      gathered += record.length;
    }
    if (gathered > 0) await file.write(this.offset + written, scratch.subarray(0, gathered));
    assert(written + gathered === runBytes, "a write run's bytes differ from its records'");
    await file.sync();
    this.offset += runBytes;
    this.stats.bytesWritten += runBytes;
    // Half way through a segment, start preparing the next one; a log that never gets this
    // far (a small database, a test) never pays for writing a whole segment of zeros.
    if (this.spare === undefined && this.offset * 2 >= this.segmentSizeBytes) {
      this.spare = this.prepareSpare();
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

  /** The zero-filled spare segment (waiting for it if it is still being written). */
  private async takeSpare(): Promise<StorageFile | undefined> {
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
    this.failure =
      error instanceof DbError
        ? error
        : new DbError("IO_ERROR", `log write failed: ${String(error)}`);
    this.inFlightGroup?.reject(this.failure);
    this.openGroup?.reject(this.failure);
    this.inFlightGroup = undefined;
    this.openGroup = undefined;
  }

  private throwIfUnusable(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new DbError("DATABASE_CLOSED", "the log is closed");
  }
}
