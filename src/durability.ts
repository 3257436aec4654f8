/**
 * @module Durability of an embedded database: on open, load the newest valid snapshot and
 * replay the log after it; then log every commit (group commit), take snapshots by policy
 * without stopping commits, and drop what retention no longer needs. database.ts uses this;
 * the engine never learns the log exists.
 */
import { join } from "node:path";
import { assert } from "./lib/assert.ts";
import { DbError } from "./lib/errors.ts";
import { snapshotLogBytesDefault, snapshotsKeptDefault } from "./lib/limits.ts";
import type { Commit, Engine } from "./engine/index.ts";
import {
  WAL,
  listSnapshots,
  readRecord,
  removeUnfinishedSnapshots,
  readSnapshot,
  readSnapshotTs,
  recoverLog,
  restoreSnapshot,
  throwIfAborted,
  firstSegmentSeq,
  listSegments,
  segmentFirstSeq,
  segmentHeaderSizeBytes,
  segmentSizeBytesDefault,
  snapshotSeqOf,
  writeSnapshot,
} from "./log/index.ts";
import type { FlushPolicy, SnapshotImage, SnapshotInfo } from "./log/index.ts";
import { mkdir } from "node:fs/promises";
import { createNodeStorage, lockDirectory } from "./storage/index.ts";
import type { DirectoryLock, Storage } from "./storage/index.ts";

export const walDirectoryName = "wal";
export const snapshotDirectoryName = "snapshots";
/** Default bound on how long an `async` commit may stay off disk. */
export const durabilityWindowMsDefault = 10;
/** Recoveries shorter than this print no progress. */
const recoveryQuietMs = 1000;
/** A longer recovery reports its progress at most this often (and once at its end). */
const recoveryProgressIntervalMs = 1000;
/** A snapshot at least this large is announced as it starts loading (about a second's work). */
const snapshotAnnouncedBytesMin = 16 * 1024 * 1024;

export type Reporter = (kind: "warning" | "progress", message: string) => void;

export interface DurabilityOptions {
  path: string;
  segmentSizeBytes?: number;
  durabilityWindowMs?: number;
  /** Take a snapshot after this much log; 0 turns automatic snapshots off. */
  snapshotLogBytes?: number;
  /** Snapshots to keep; `Infinity` keeps every snapshot and the whole log. */
  snapshotsKept?: number;
  /** Also keep every log record younger than this many ms (history for `at` and audit). */
  logRetentionMs?: number;
  report: Reporter;
  /** Stops recovery with ABORTED (between records), before it changes any file. */
  signal?: AbortSignal;
}

/** What `db.logStats()` reports about the write-ahead log on disk. */
export interface LogStats {
  /** The first seq the log still holds (retention may have removed older records). */
  firstSeq: number;
  appendedSeq: number;
  durableSeq: number;
  /** Segment files on disk and their total size (segments are preallocated). */
  segmentCount: number;
  sizeBytes: number;
  /** The bytes the log holds: the segments' headers and records, not their preallocation. */
  usedBytes: number;
  /** Since the database was opened: bytes written, writes (one per flush) and fsyncs. */
  bytesWritten: number;
  writeCount: number;
  fsyncCount: number;
  /** Snapshots on disk. */
  snapshotCount: number;
}

/** The durable side of a database: the log writer plus snapshots. */
export class DurableLog {
  private snapshotting: Promise<SnapshotInfo> | undefined;
  private bytesAtLastSnapshot = 0;
  /** Set as close() starts: the directory lock is about to go, so nothing new may start. */
  private closed = false;
  /** Reads of the log files under way, and the retention removing files (see reading). */
  private readerCount = 0;
  private removing: Promise<void> | undefined;
  /** The commit time of the snapshot recovery loaded; undefined when it loaded none. */
  private restoredTs: number | undefined;

  private constructor(
    private readonly engine: Engine,
    readonly wal: WAL,
    private readonly walStorage: Storage,
    private readonly snapshotStorage: Storage,
    private readonly options: DurabilityOptions,
    private readonly lock: DirectoryLock,
  ) {}

  /**
   * Recovers `engine` (which must be empty) from `options.path`, then starts logging. The
   * directory stays locked until {@link close}: a second process opening it is refused.
   */
  static async open(
    engine: Engine,
    options: DurabilityOptions,
    policy: () => FlushPolicy,
  ): Promise<DurableLog> {
    await mkdir(options.path, { recursive: true }).catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : String(error);
      throw new DbError("IO_ERROR", `cannot create data directory ${options.path}: ${reason}`, {
        path: options.path,
      });
    });
    throwIfAborted(options.signal, "during recovery");
    const lock = await lockDirectory(options.path);
    try {
      return await DurableLog.recover(engine, options, policy, lock);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  private static async recover(
    engine: Engine,
    options: DurabilityOptions,
    policy: () => FlushPolicy,
    lock: DirectoryLock,
  ): Promise<DurableLog> {
    const walStorage = await createNodeStorage(join(options.path, walDirectoryName));
    const snapshotStorage = await createNodeStorage(join(options.path, snapshotDirectoryName));
    const { signal } = options;
    throwIfAborted(signal, "during recovery");
    for (const name of await removeUnfinishedSnapshots(snapshotStorage)) {
      options.report("warning", `removed ${name}: a snapshot that did not finish (a crash)`);
    }
    const loadStarted = performance.now();
    const { image, damaged } = await loadNewestSnapshot(snapshotStorage, options.report, signal);
    await checkLogStartCovered(walStorage, image?.seq ?? 0);
    throwIfAborted(signal, "while loading a snapshot");
    if (image !== undefined) restoreSnapshot(engine, image);
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    if (image !== undefined && loadSeconds * 1000 > recoveryQuietMs) {
      options.report(
        "progress",
        `snapshot of seq ${image.seq} loaded in ${loadSeconds.toFixed(1)} s`,
      );
    }
    const started = engine.clock.now();
    let reportedAt = started;
    const result = await recoverLog(walStorage, {
      ...(image === undefined ? {} : { fromSeq: image.seq, fromHash: image.hash }),
      onRecord: (record) => engine.applyCommit(record),
      onWarning: (message) => options.report("warning", message),
      ...(signal === undefined ? {} : { signal }),
      onProgress: (done, total) => {
        // Asked every MiB: one line a second at most, and one at the end.
        const now = engine.clock.now();
        if (now - started <= recoveryQuietMs) return;
        if (done < total && now - reportedAt < recoveryProgressIntervalMs) return;
        reportedAt = now;
        const percent = Math.round((100 * done) / Math.max(1, total));
        options.report("progress", `recovering the log: ${percent}%`);
      },
    });
    assert(result.tail.lastSeq === engine.seq, "recovered log and state disagree on the last seq");
    if (image !== undefined) checkLogReachesSnapshot(image.seq, result.lastRecordSeq);
    if (damaged !== undefined) checkDamagedSnapshotCovered(damaged, engine.seq);
    throwIfAborted(signal, "during recovery"); // the log would be written from here on
    const wal = new WAL({
      storage: walStorage,
      tail: result.tail,
      segmentSizeBytes: options.segmentSizeBytes ?? segmentSizeBytesDefault,
      windowMs: options.durabilityWindowMs ?? durabilityWindowMsDefault,
      now: () => engine.clock.now(),
      segmentUsedBytes: result.segmentUsedBytes,
    });
    const log = new DurableLog(engine, wal, walStorage, snapshotStorage, options, lock);
    log.restoredTs = image?.ts;
    // The log replayed was written after the newest snapshot: it counts toward the next one,
    // or a process that restarts before writing snapshotLogBytes would never take one.
    log.bytesAtLastSnapshot = -result.replayedBytes;
    engine.setCommitPreparer((commit) => {
      wal.append(commit, policy());
      log.maybeSnapshot();
    });
    return log;
  }

  /**
   * Resolves at once while the log keeps up; when the oldest commit not on disk is older
   * than the window, resolves once everything appended so far is durable. Async writers
   * await this before committing, so a slow disk slows them instead of widening the loss.
   */
  async writable(): Promise<void> {
    const windowMs = this.options.durabilityWindowMs ?? durabilityWindowMsDefault;
    if (this.wal.lagMs() <= windowMs) return;
    await this.wal.flush();
  }

  /** Takes a snapshot now (or joins the one running); commits go on meanwhile. */
  snapshot(): Promise<SnapshotInfo> {
    if (this.closed) {
      return Promise.reject(
        new DbError("DATABASE_CLOSED", "db.snapshot(): the database is closed"),
      );
    }
    this.snapshotting ??= this.takeSnapshot().finally(() => (this.snapshotting = undefined));
    return this.snapshotting;
  }

  /** Up to `limit` commits from `fromSeq` on, read from the log on disk (flush first). */
  readCommits(fromSeq: number, limit: number): Promise<Commit[]> {
    return this.reading(() => this.readCommitsNow(fromSeq, limit));
  }

  private async readCommitsNow(fromSeq: number, limit: number): Promise<Commit[]> {
    assert(Number.isSafeInteger(fromSeq) && fromSeq >= 1, "readCommits: fromSeq must be >= 1");
    assert(Number.isSafeInteger(limit) && limit >= 0, "readCommits: limit must be >= 0");
    const commits: Commit[] = [];
    if (limit === 0) return commits;
    const names = await listSegments(this.walStorage);
    // Skip whole segments that end before fromSeq: the next one starts at or before it.
    let first = 0;
    while (first + 1 < names.length && segmentFirstSeq(names[first + 1]!)! <= fromSeq) first++;
    const startSeq = names.length === 0 ? 1 : segmentFirstSeq(names[first]!)!;
    await recoverLog(subsetStorage(this.walStorage, names.slice(first)), {
      fromSeq: Math.max(startSeq, fromSeq) - 1,
      repair: false,
      until: (record) => commits.length < limit && record.seq <= this.wal.stats.durableSeq,
      onRecord: (record) => {
        const { seq, ts, origin, changes } = record;
        commits.push({ seq, ts, origin, changes });
      },
    });
    return commits;
  }

  /** The log's segments on disk and the writer's counters. */
  stats(): Promise<LogStats> {
    return this.reading(() => this.statsNow());
  }

  private async statsNow(): Promise<LogStats> {
    const names = await listSegments(this.walStorage);
    const used = this.wal.usedBytesOf(names);
    let sizeBytes = 0;
    let usedBytes = 0;
    for (const [index, name] of names.entries()) {
      const file = await this.walStorage.open(name, { create: false });
      try {
        const size = await file.size();
        sizeBytes += size;
        usedBytes += used[index] ?? size;
      } finally {
        await file.close();
      }
    }
    const s = this.wal.stats;
    return {
      firstSeq: names.length === 0 ? s.appendedSeq + 1 : segmentFirstSeq(names[0]!)!,
      appendedSeq: s.appendedSeq,
      durableSeq: s.durableSeq,
      segmentCount: names.length,
      sizeBytes,
      usedBytes,
      bytesWritten: s.bytesWritten,
      writeCount: s.flushCount,
      fsyncCount: s.flushCount,
      snapshotCount: (await listSnapshots(this.snapshotStorage)).length,
    };
  }

  async close(): Promise<void> {
    // A background snapshot queued by the last commits must not start once the lock is
    // released: it would write (and apply retention) under a directory reopened meanwhile.
    this.closed = true;
    await this.snapshotting?.catch(() => undefined); // its error went to its own caller
    try {
      await this.wal.close();
    } finally {
      await this.lock.release();
    }
  }

  private async takeSnapshot(): Promise<SnapshotInfo> {
    // Starts at a commit boundary: the current seq. The log must hold that seq on disk
    // before the snapshot may replace it, or a crash could leave a gap behind the snapshot.
    const seq = this.engine.seq;
    const hash = this.wal.appendedHash;
    // After a log failure the state may hold commits the log lost: no snapshot of it.
    if (this.wal.failure !== undefined) throw this.wal.failure;
    const logDurable = this.wal.waitDurable(seq);
    // Awaited by writeSnapshot before the rename; a failure meanwhile is not unhandled.
    logDurable.catch(() => undefined);
    const info = await writeSnapshot(this.engine, this.snapshotStorage, hash, {
      restoredTs: this.restoredTs,
      logDurable,
    });
    assert(info.seq === seq, "snapshot seq moved");
    this.bytesAtLastSnapshot = this.wal.stats.bytesWritten;
    // Nothing is removed under a reader: the files it listed would vanish as it reads them
    // (history() failed with ENOENT). They go at the next snapshot's retention instead.
    if (this.readerCount === 0) {
      this.removing = this.applyRetention().finally(() => (this.removing = undefined));
      await this.removing;
    }
    return info;
  }

  /**
   * Runs `read`, which lists and reads log segments or snapshots (time travel, key history,
   * commits, stats), after any retention under way; none starts until it ends.
   */
  async reading<T>(read: () => Promise<T>): Promise<T> {
    while (this.removing !== undefined) await this.removing.catch(() => undefined);
    this.readerCount++;
    try {
      return await read();
    } finally {
      this.readerCount--;
    }
  }

  /** Starts a background snapshot when enough log has been written since the last one. */
  private maybeSnapshot(): void {
    const threshold = this.options.snapshotLogBytes ?? snapshotLogBytesDefault;
    if (threshold <= 0 || this.snapshotting !== undefined) return;
    if (this.wal.stats.bytesWritten - this.bytesAtLastSnapshot < threshold) return;
    // Deferred: a snapshot starts at a commit boundary, never inside the committing transaction.
    queueMicrotask(() => {
      if (this.closed) return; // close() came first: the next open's policy takes over
      this.snapshot().catch((error: unknown) => {
        // Retried after another policy's size of log, not at the next commit: a snapshot
        // that fails (a full disk, a bad directory) failed at every commit, each attempt
        // re-reading the state and warning again.
        this.bytesAtLastSnapshot = this.wal.stats.bytesWritten;
        this.options.report("warning", `background snapshot failed: ${String(error)}`);
      });
    });
  }

  /**
   * Keeps the newest snapshots and the log segments the oldest kept one still needs. With a
   * time span, `at()` must rebuild any moment in it from a snapshot at or before it, so two
   * more are kept: the newest as old as the span (the base), and the next one, which becomes
   * the base once it ages; the log from the base on stays. That is at most two spans of log
   * (and a snapshot interval): keeping only the base would keep it, and its log, for ever.
   */
  private async applyRetention(): Promise<void> {
    const kept = this.options.snapshotsKept ?? snapshotsKeptDefault;
    if (!Number.isFinite(kept)) return;
    const snapshots = await listSnapshots(this.snapshotStorage);
    const keep = new Set(snapshots.slice(0, kept));
    const keepAfterMs = this.engine.clock.now() - (this.options.logRetentionMs ?? 0);
    let base: string | undefined;
    if (this.options.logRetentionMs !== undefined) {
      const baseIndex = await this.newestSnapshotBefore(snapshots, keepAfterMs);
      base = snapshots[baseIndex];
      if (base !== undefined) keep.add(base);
      if (baseIndex > 0) keep.add(snapshots[baseIndex - 1]!);
    }
    for (const name of snapshots) {
      if (!keep.has(name)) await this.snapshotStorage.remove(name);
    }
    // With a span but no snapshot as old as it yet, the log from its start is the base.
    const wholeLog = this.options.logRetentionMs !== undefined && base === undefined;
    const oldestKept = snapshots.filter((name) => keep.has(name)).at(-1); // newest first
    const oldest = wholeLog ? undefined : snapshotSeqOf(oldestKept ?? "");
    if (oldest !== undefined) await this.removeSegmentsBefore(oldest + 1, keepAfterMs);
    await this.snapshotStorage.syncDirectory();
    await this.walStorage.syncDirectory();
  }

  /**
   * The index in `snapshots` (newest first) of the newest one holding a state at or before
   * `timeMs`, or their count when none does.
   */
  private async newestSnapshotBefore(snapshots: readonly string[], timeMs: number) {
    for (let i = 0; i < snapshots.length; i++) {
      const ts = await readSnapshotTs(this.snapshotStorage, snapshots[i]!);
      if (ts !== undefined && ts <= timeMs) return i;
    }
    return snapshots.length;
  }

  /**
   * Removes the log segments that hold only records before `firstSeqNeeded` (and, with a
   * time span, only records older than `keepAfterMs`).
   */
  private async removeSegmentsBefore(firstSeqNeeded: number, keepAfterMs: number): Promise<void> {
    const segments = await listSegments(this.walStorage);
    // A segment may go when the next one starts at or before the first seq still needed,
    // and (with a time span) when everything in it is older than the span.
    for (let i = 0; i + 1 < segments.length; i++) {
      if (segmentFirstSeq(segments[i + 1]!)! > firstSeqNeeded) break;
      if (this.options.logRetentionMs !== undefined) {
        const newestTs = await firstRecordTs(this.walStorage, segments[i + 1]!);
        if (newestTs === undefined || newestTs >= keepAfterMs) break;
      }
      await this.walStorage.remove(segments[i]!);
    }
  }
}

/**
 * The time of a segment's first record: every record of the segment before it is at least
 * as old. Reads only the start of the segment.
 */
async function firstRecordTs(storage: Storage, name: string): Promise<number | undefined> {
  const file = await storage.open(name, { create: false });
  try {
    const head = await file.read(0, firstRecordProbeBytes);
    const read = readRecord(head, segmentHeaderSizeBytes);
    return read.kind === "record" ? read.record.ts : undefined;
  } finally {
    await file.close();
  }
}

/** A view of `storage` that lists only `names`: recovery then reads just those segments. */
function subsetStorage(storage: Storage, names: readonly string[]): Storage {
  return new Proxy(storage, {
    get(target, property, receiver) {
      if (property === "list") return () => Promise.resolve([...names]);
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? (value as () => unknown).bind(target) : value;
    },
  });
}

/** Bytes read to find a segment's first record time; a longer first record reads as unknown. */
const firstRecordProbeBytes = 64 * 1024;

/**
 * A log must hold the seq of every snapshot: a snapshot is only kept once the log has it on
 * disk. A log that ends before the newest snapshot is older than it (wal/ and snapshots/
 * restored from different backups): commits written after it would leave a hole in it.
 */
function checkLogReachesSnapshot(snapshotSeq: number, lastRecordSeq: number): void {
  if (lastRecordSeq === 0 || lastRecordSeq >= snapshotSeq) return; // no log: the snapshot alone
  throw new DbError(
    "CORRUPT",
    `the newest snapshot (seq ${snapshotSeq}) is ahead of the log, which ends at seq ` +
      `${lastRecordSeq}: wal/ is older than snapshots/ (restored from different backups?). ` +
      `Restore both from one backup; or, to go on from the snapshot, which holds every ` +
      `commit up to ${snapshotSeq}, move wal/ aside`,
    { seq: snapshotSeq, value: lastRecordSeq },
  );
}

/**
 * Refuses a log whose start retention removed when no snapshot holds what came before it:
 * snapshots/ lost, or restored from an older backup than wal/. Recovery would otherwise call
 * the gap damage and suggest a repair, which cannot bring those commits back.
 */
async function checkLogStartCovered(walStorage: Storage, snapshotSeq: number): Promise<void> {
  const firstSeq = await firstSegmentSeq(walStorage);
  if (firstSeq === undefined || firstSeq <= snapshotSeq + 1) return;
  const held =
    snapshotSeq === 0
      ? "there is no readable snapshot"
      : `the newest readable snapshot holds commits up to seq ${snapshotSeq} only`;
  throw new DbError(
    "CORRUPT",
    `the log begins at seq ${firstSeq} (retention removed what came before) but ${held}: ` +
      `snapshots/ is missing or older than wal/ (restored from different backups?). Restore ` +
      `both from one backup; \`statebase verify\` shows what is there`,
    { seq: firstSeq, value: snapshotSeq },
  );
}

/**
 * A damaged snapshot skipped for an older one holds commits that must come from the log
 * instead: when the log ends before its seq (moved aside, restored from an older backup),
 * opening would silently go back in time, or start empty.
 */
function checkDamagedSnapshotCovered(damaged: string, recoveredSeq: number): void {
  const seq = snapshotSeqOf(damaged)!;
  if (recoveredSeq >= seq) return;
  throw new DbError(
    "CORRUPT",
    `snapshot ${damaged} is damaged, and neither an older snapshot nor the log holds the ` +
      `commits up to seq ${seq} (what is left ends at seq ${recoveredSeq}): refusing to ` +
      `open an older state. Restore snapshots/ from a backup; or, to go on from seq ` +
      `${recoveredSeq}, move ${damaged} aside`,
    { object: damaged, seq, value: recoveredSeq },
  );
}

/**
 * The newest snapshot that reads back intact, and the newest damaged one skipped for it
 * (with a warning), if any.
 */
async function loadNewestSnapshot(
  storage: Storage,
  report: Reporter,
  signal: AbortSignal | undefined,
): Promise<{ image: SnapshotImage | undefined; damaged: string | undefined }> {
  let damaged: string | undefined;
  for (const name of await listSnapshots(storage)) {
    try {
      // Loading is one long step (parse, then restore): say what it is before it.
      const onSize = (sizeBytes: number): void => {
        if (sizeBytes < snapshotAnnouncedBytesMin) return;
        const mib = (sizeBytes / 1024 / 1024).toFixed(0);
        report("progress", `loading snapshot ${name} (${mib} MiB)`);
      };
      return { image: await readSnapshot(storage, name, { onSize, signal }), damaged };
    } catch (error) {
      if (!(error instanceof DbError) || error.code !== "CORRUPT") throw error;
      report("warning", `${error.message}; falling back to an older snapshot`);
      damaged ??= name;
    }
  }
  return { image: undefined, damaged };
}

/** Where time travel stops: after commit `seq`, or after the last commit at or before a time. */
export type TimeTarget = { seq: number } | { time: number };

/**
 * Rebuilds into `engine` (empty, read-only) the state right after the target commit: the
 * newest snapshot before it, then the log up to it. Reads only; never repairs anything.
 */
export async function rebuildAt(engine: Engine, path: string, target: TimeTarget): Promise<void> {
  if ("seq" in target && target.seq === 0) return; // before the first commit: empty, always
  const walStorage = await createNodeStorage(join(path, walDirectoryName));
  const snapshotStorage = await createNodeStorage(join(path, snapshotDirectoryName));
  let image: SnapshotImage | undefined;
  for (const name of await listSnapshots(snapshotStorage)) {
    if ("seq" in target && snapshotSeqOf(name)! > target.seq) continue;
    // Newer snapshots are skipped by their first line, not read whole (they may be large).
    if ("time" in target && ((await readSnapshotTs(snapshotStorage, name)) ?? 0) > target.time)
      continue;
    const candidate = await readSnapshot(snapshotStorage, name).catch(() => undefined);
    if (candidate === undefined) continue; // damaged: an older one (or the log) serves
    if ("time" in target && candidate.ts > target.time) continue;
    image = candidate;
    break;
  }
  if (image !== undefined) restoreSnapshot(engine, image);
  else await checkLogStartRetained(walStorage, snapshotStorage, target);
  await recoverLog(walStorage, {
    ...(image === undefined ? {} : { fromSeq: image.seq, fromHash: image.hash }),
    repair: false,
    until: (record) => ("seq" in target ? record.seq <= target.seq : record.ts <= target.time),
    onRecord: (record) => engine.applyCommit(record),
  });
  if ("seq" in target && engine.seq !== target.seq) {
    throw new DbError(
      "SEQ_NOT_RETAINED",
      `commit ${target.seq} cannot be rebuilt: history retained ends at ${engine.seq}`,
      { value: target.seq },
    );
  }
}

/**
 * Without a snapshot at or before the target, the rebuild starts from the log's first commit.
 * Once retention has removed that, the target is older than anything kept: said so, naming
 * the oldest state kept, rather than read as a log damaged at seq 1 (it is not).
 */
async function checkLogStartRetained(
  walStorage: Storage,
  snapshotStorage: Storage,
  target: TimeTarget,
): Promise<void> {
  const firstSeq = await firstSegmentSeq(walStorage);
  if (firstSeq === 1) return;
  const oldest = (await listSnapshots(snapshotStorage)).at(-1);
  if (firstSeq === undefined && oldest === undefined) return; // no history at all: nothing lost
  const what =
    "seq" in target
      ? `commit ${target.seq} cannot be rebuilt`
      : `no state as of ${new Date(target.time).toISOString()} can be rebuilt`;
  const removed = firstSeq === undefined ? "the whole log" : `the log before seq ${firstSeq}`;
  const kept =
    oldest === undefined
      ? "no snapshot holds what came before"
      : `the oldest state kept is at seq ${snapshotSeqOf(oldest)}`;
  throw new DbError("SEQ_NOT_RETAINED", `${what}: retention removed ${removed}; ${kept}`, {
    value: "seq" in target ? target.seq : target.time,
  });
}

/** One version of one key, as the log recorded it. */
export interface KeyVersion {
  readonly seq: number;
  readonly ts: number;
  readonly origin: unknown;
  readonly kind: string;
  readonly before: unknown;
  readonly after: unknown;
}

/** Every retained change of `object` at `key`, oldest first (a scan of the log). */
export async function readKeyHistory(
  path: string,
  object: string,
  matches: (key: unknown) => boolean,
): Promise<KeyVersion[]> {
  const walStorage = await createNodeStorage(join(path, walDirectoryName));
  const versions: KeyVersion[] = [];
  const firstSeq = (await firstSegmentSeq(walStorage)) ?? 1;
  await recoverLog(walStorage, {
    // Retention may have removed the start of the log: read what is there.
    fromSeq: firstSeq - 1,
    repair: false,
    onRecord: (record) => {
      for (const change of record.changes) {
        if (change.object !== object || !matches(change.key)) continue;
        const { seq, ts, origin } = record;
        versions.push({
          seq,
          ts,
          origin,
          kind: change.kind,
          before: change.before,
          after: change.after,
        });
      }
    },
  });
  return versions;
}
