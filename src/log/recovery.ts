/**
 * @module Recovery: read every segment in order, verify each record's checksum, seq and hash
 * chain, and hand the records to the caller, which re-applies their changes (never code).
 * Damage at the very end of the log is a torn tail from a crash during an unacknowledged
 * write: it is cut off with a warning. Damage anywhere else refuses to start, naming the
 * segment, offset and seq, because continuing would silently lose or invent history.
 */
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { assert } from "../lib/assert.ts";
import { dataViewOf } from "../lib/bytes.ts";
import { Crc32cArena } from "../lib/crc32c.ts";
import { DbError } from "../lib/errors.ts";
import type { Commit } from "../engine/index.ts";
import type { Storage } from "../storage/index.ts";
import {
  ReplayFound,
  ReplayReader,
  readRecord,
  readRecordAfter,
  recordHashIsValid,
  recordHeaderSizeBytes,
  zeroHash,
} from "./record.ts";
import {
  decodeSegmentHeader,
  listSegments,
  segmentFirstSeq,
  segmentHeaderSizeBytes,
} from "./segment.ts";
import { SegmentReader } from "./segment-reader.ts";
import type { ReaderArena } from "./segment-reader.ts";
import { throwIfAborted } from "./abort.ts";

/** Where the log ends: the writer appends here after recovery. */
export interface LogTail {
  readonly segment: string | undefined;
  readonly segmentFirstSeq: number;
  /** Byte offset of the next record in `segment`. */
  readonly offset: number;
  readonly lastSeq: number;
  readonly lastHash: Uint8Array;
}

export interface RecoverOptions {
  /** Records up to this seq are already in the state (from a snapshot) and are skipped. */
  fromSeq?: number;
  /** The hash of record `fromSeq` (from the snapshot), to check the chain continues. */
  fromHash?: Uint8Array;
  /** Called with each record's commit after `fromSeq`, in order. */
  onRecord: (commit: Commit) => void;
  /** Called when the tail is cut, with a message naming what was cut. */
  onWarning?: (message: string) => void;
  /**
   * Called every {@link abortCheckIntervalBytes} of log and at each segment's end, with the
   * bytes read so far and the total (segments are preallocated: the last may end early).
   */
  onProgress?: (bytesRead: number, bytesTotal: number) => void;
  /** When false, damage is reported but nothing is truncated (verify, inspect). */
  repair?: boolean;
  /** Stops before the first record for which this returns false (time travel). */
  until?: (commit: Commit) => boolean;
  /**
   * Also recomputes every record's SHA-256 (default false). Reading always checks each
   * record's CRC, its seq and that its prev_hash is the previous record's hash; recomputing
   * the hash adds no protection against accidental damage beyond the CRC's and costs more
   * than the CRC, so it is left to `statebase verify`, which audits the whole chain.
   */
  verifyHashes?: boolean;
  /** Bytes read from a segment per step (segment-reader.ts); tests make it small. */
  readStepBytes?: number;
  /**
   * Ends the reading with ABORTED once aborted (`open({ signal })`). Checked between records
   * every {@link abortCheckIntervalBytes} of log, after a turn of the event loop so that a
   * signal or a message can arrive; nothing is repaired once it is aborted.
   */
  signal?: AbortSignal;
}

/**
 * Log replayed between two checks of `signal`: a few milliseconds of work, so a stop arrives
 * promptly, and rare enough that the turn of the event loop costs nothing measurable.
 */
export const abortCheckIntervalBytes = 1024 * 1024;

export interface RecoveryResult {
  readonly tail: LogTail;
  readonly recordCount: number;
  readonly bytesRead: number;
  /** Bytes of the records handed to `onRecord`: the log written after `fromSeq`. */
  readonly replayedBytes: number;
  /** The seq of the last sound record in the log, snapshot-covered ones included; 0: none. */
  readonly lastRecordSeq: number;
  /** Each segment read to its end: the bytes of its header and records (files are preallocated). */
  readonly segmentUsedBytes: ReadonlyMap<string, number>;
}

/** A damaged spot in the log. */
export interface LogDamage {
  readonly segment: string;
  readonly offset: number;
  readonly seq: number;
  readonly reason: string;
}

/** Reads the whole log; see the module comment for how damage is handled. */
export async function recoverLog(
  storage: Storage,
  options: RecoverOptions,
): Promise<RecoveryResult> {
  const names = await listSegments(storage);
  const sizes = await Promise.all(names.map(async (name) => segmentSize(storage, name)));
  const bytesTotal = sizes.reduce((a, b) => a + b, 0);
  const state: ScanState & { bytesRead: number } = {
    lastSeq: options.fromSeq ?? 0,
    lastHashBytes: options.fromHash ?? zeroHash,
    lastHashAt: 0,
    verified: options.fromHash !== undefined || (options.fromSeq ?? 0) === 0,
    coveredUpTo: options.fromSeq ?? 0,
    recordCount: 0,
    replayedBytes: 0,
    bytesRead: 0,
    bytesTotal,
    lastRecordSeq: 0,
  };
  const tail: LogTail = {
    segment: undefined,
    segmentFirstSeq: state.lastSeq + 1,
    offset: 0,
    lastSeq: state.lastSeq,
    lastHash: lastHashOf(state),
  };
  // Every segment is read into one arena sized for the largest: the records' CRCs run in
  // WebAssembly where they lie, and no segment after the first needs fresh pages.
  const arena: ReaderArena = {
    arena: new Crc32cArena(sizes.reduce((a, b) => Math.max(a, b), 0)),
    usedBytes: 0,
  };
  try {
    return await recoverSegments(storage, names, arena, state, options, tail);
  } finally {
    arena.arena.release();
  }
}

/** {@link recoverLog}'s loop over the segments, each read into `arena`. */
async function recoverSegments(
  storage: Storage,
  names: readonly string[],
  arena: ReaderArena,
  state: ScanState & { bytesRead: number },
  options: RecoverOptions,
  tailBefore: LogTail,
): Promise<RecoveryResult> {
  let tail = tailBefore;
  const bytesTotal = state.bytesTotal;
  const segmentUsedBytes = new Map<string, number>();
  for (const [index, name] of names.entries()) {
    throwIfAborted(options.signal, "during recovery");
    const isLast = index === names.length - 1;
    // One segment at a time. Reading the next one while this one replayed saved its read
    // time, but its 64 MiB allocation during the replay made the young generation's
    // collections several times slower (recovery of 1M commits: 4.2 s became 7.1 s).
    const reader = await SegmentReader.open(storage, name, options.readStepBytes, arena);
    let offset: number;
    try {
      offset = await recoverSegment(storage, name, reader, isLast, state, options);
    } finally {
      await reader.close();
    }
    // The next segment is read over this one: the last hash is kept as a copy.
    state.lastHashBytes = lastHashOf(state);
    state.lastHashAt = 0;
    if (offset === stoppedByUntil) break; // time travel reached its point; no tail needed
    if (offset >= 0) segmentUsedBytes.set(name, offset);
    state.bytesRead += reader.sizeBytes;
    options.onProgress?.(state.bytesRead, bytesTotal);
    tail = {
      segment: name,
      segmentFirstSeq: segmentFirstSeq(name)!,
      offset,
      lastSeq: state.lastSeq,
      lastHash: lastHashOf(state),
    };
    if (offset === -1) tail = { ...tail, segment: undefined, offset: 0 }; // removed torn segment
  }
  const { recordCount, replayedBytes, bytesRead, lastRecordSeq } = state;
  return { tail, recordCount, replayedBytes, bytesRead, lastRecordSeq, segmentUsedBytes };
}

interface ScanState {
  /** Records up to this seq are in the snapshot: they may precede the chain's start. */
  readonly coveredUpTo: number;
  lastSeq: number;
  /**
   * The last record's hash: 32 bytes at `lastHashAt` of `lastHashBytes`, which may be the
   * segment being read (no copy per record); {@link lastHashOf} copies it out.
   */
  lastHashBytes: Uint8Array;
  lastHashAt: number;
  verified: boolean;
  recordCount: number;
  replayedBytes: number;
  lastRecordSeq: number;
  /** Bytes of the segments before the one being read, and of them all (for onProgress). */
  readonly bytesRead: number;
  readonly bytesTotal: number;
}

/** Verifies one segment; returns the append offset (or -1 if a torn new segment was removed). */
async function recoverSegment(
  storage: Storage,
  name: string,
  reader: SegmentReader,
  isLast: boolean,
  state: ScanState,
  options: RecoverOptions,
): Promise<number> {
  await reader.load(segmentHeaderSizeBytes);
  const header = decodeSegmentHeader(reader.loaded);
  if ("damage" in header || header.firstSeq !== segmentFirstSeq(name)) {
    const reason = "damage" in header ? header.damage : "header seq differs from the file name";
    await reader.load(reader.sizeBytes); // damage is judged on the whole segment
    if (isLast && !laterRecordExists(reader.bytes, segmentHeaderSizeBytes, state.lastSeq)) {
      throwIfAborted(options.signal, "during recovery"); // stopped: nothing is changed
      options.onWarning?.(`log segment ${name}: ${reason}; removing the torn new segment`);
      if (options.repair !== false) await storage.remove(name);
      return -1;
    }
    throw damageError({ segment: name, offset: 0, seq: state.lastSeq + 1, reason });
  }
  // Records the snapshot holds are only checked, not decoded (verify decodes every one).
  const coveredUpTo = options.verifyHashes === true ? 0 : (options.fromSeq ?? 0);
  let offset = segmentHeaderSizeBytes;
  while (offset < reader.sizeBytes) {
    if (!reader.holdsRecordAt(offset)) await reader.loadRecordAt(offset);
    // The replay stops at a record boundary now and then to report progress and, given a
    // signal, to look at it after a turn of the event loop.
    const pauseAt = offset + abortCheckIntervalBytes;
    offset = replayLoaded(reader, { from: offset, pauseAt, coveredUpTo }, state, options);
    if (offset === stoppedByUntil) return stoppedByUntil;
    if (offset >= reader.sizeBytes) break;
    if (offset >= pauseAt) {
      options.onProgress?.(state.bytesRead + offset, state.bytesTotal);
      if (options.signal !== undefined) await yieldToEventLoop();
      throwIfAborted(options.signal, "during recovery");
      continue;
    }
    if (!reader.holdsRecordAt(offset)) continue;
    // What replayLoaded leaves here: an end of the records, damage, or a record that does
    // not continue the chain (it replays every sound one).
    const read = readRecordAfter(reader.loaded, offset, coveredUpTo);
    if (read.kind === "end") {
      // Zeros up to what is loaded: the end only if the rest of the file is zeros too.
      if (reader.loaded.length >= reader.sizeBytes || (await reader.zeroFrom(offset))) break;
      await reader.load(reader.sizeBytes);
      continue;
    }
    const reason =
      read.kind === "damaged"
        ? read.reason
        : read.kind === "record"
          ? checkRecord(read.record.seq, reader.loaded, offset, read.sizeBytes, state, options)
          : undefined;
    assert(reason !== undefined, "recovery left a sound record unreplayed");
    const damage = { segment: name, offset, seq: state.lastSeq + 1, reason };
    await cutTornTail(storage, damage, reader, isLast, state, options);
    break;
  }
  if (!isLast && offset === segmentHeaderSizeBytes) {
    throw damageError({
      segment: name,
      offset,
      seq: state.lastSeq + 1,
      reason: "an empty segment before the last",
    });
  }
  return offset;
}

/**
 * Damage at `damage.offset`: a torn tail (the last segment, no sound later record) is cut off
 * with a warning; anything else refuses to start.
 */
async function cutTornTail(
  storage: Storage,
  damage: LogDamage,
  reader: SegmentReader,
  isLast: boolean,
  state: ScanState,
  options: RecoverOptions,
): Promise<void> {
  await reader.load(reader.sizeBytes); // damage is judged on the whole segment
  const bytes = reader.bytes;
  if (!isLast || laterRecordExists(bytes, damage.offset + 1, state.lastSeq)) {
    throw damageError(damage);
  }
  throwIfAborted(options.signal, "during recovery"); // stopped: nothing is changed
  options.onWarning?.(`log torn at the tail: ${describeDamage(damage)}; truncating it`);
  if (options.repair !== false)
    await zeroFrom(storage, damage.segment, damage.offset, bytes.length);
}

/** Where replayLoaded starts, where it pauses (a record boundary at or past it). */
interface ReplayRange {
  readonly from: number;
  readonly pauseAt: number;
  readonly coveredUpTo: number;
}

/**
 * Replays the sound records loaded from `range.from` on; returns the offset of the first
 * record it leaves to the caller (not loaded whole, an end, damage, or at or past
 * `range.pauseAt`) or `stoppedByUntil`. The same
 * steps as the caller's loop for a sound record, in a function without awaits: V8 runs the
 * loop of an async function that awaits between records in its interpreter, which cost
 * about 1,500 instructions per record in recovery.
 */
function replayLoaded(
  reader: SegmentReader,
  range: ReplayRange,
  state: ScanState,
  options: RecoverOptions,
): number {
  const { coveredUpTo, pauseAt } = range;
  const bytes = reader.loaded;
  const records = new ReplayReader(bytes);
  let offset = range.from;
  while (offset < reader.sizeBytes && offset < pauseAt && reader.holdsRecordAt(offset)) {
    const found = records.read(offset, coveredUpTo);
    if (found === ReplayFound.Covered) {
      offset += records.sizeBytes;
      state.lastRecordSeq = records.seq;
      continue;
    }
    if (found !== ReplayFound.Commit) return offset;
    const commit = records.commit!;
    const sizeBytes = records.sizeBytes;
    const reason = checkRecord(commit.seq, bytes, offset, sizeBytes, state, options);
    if (reason !== undefined) return offset;
    state.lastRecordSeq = commit.seq;
    if (!replayRecord(commit, state, options)) return stoppedByUntil;
    if (commit.seq > (options.fromSeq ?? 0)) state.replayedBytes += sizeBytes;
    offset += sizeBytes;
  }
  return offset;
}

/** Hands a checked record to the caller; false when `until` stops the reading before it. */
function replayRecord(commit: Commit, state: ScanState, options: RecoverOptions): boolean {
  if (commit.seq <= (options.fromSeq ?? 0)) return true; // the snapshot holds it
  if (options.until !== undefined && !options.until(commit)) return false;
  state.recordCount++;
  options.onRecord(commit);
  return true;
}

/**
 * Checks seq continuity and the hash chain of the record with `seq` at `offset` of `bytes`
 * (its prev_hash and hash are read where they lie); returns a reason when it does not fit.
 */
function checkRecord(
  seq: number,
  bytes: Uint8Array,
  offset: number,
  sizeBytes: number,
  state: ScanState,
  options: RecoverOptions,
): string | undefined {
  if (seq <= state.lastSeq && !state.verified) return undefined; // before the snapshot
  if (options.verifyHashes === true && !recordHashIsValid(bytes, offset, sizeBytes)) {
    return `record ${seq}: hash mismatch`;
  }
  if (seq <= state.lastSeq) {
    // Only records the snapshot covers may come again; anything else is a repeated record.
    return seq <= state.coveredUpTo ? undefined : `record ${seq} repeats a seq`;
  }
  if (seq !== state.lastSeq + 1) return `expected seq ${state.lastSeq + 1}, found ${seq}`;
  if (state.verified && !prevHashMatches(bytes, offset, state)) {
    return `record ${seq}: hash chain broken (prev_hash differs)`;
  }
  state.lastSeq = seq;
  state.lastHashBytes = bytes;
  state.lastHashAt = offset + sizeBytes - 32;
  state.verified = true;
  return undefined;
}

/** Whether the prev_hash of the record at `offset` is the last record's hash. */
function prevHashMatches(bytes: Uint8Array, offset: number, state: ScanState): boolean {
  const last = state.lastHashBytes;
  const lastAt = state.lastHashAt;
  for (let i = 0; i < 32; i++) if (bytes[offset + 16 + i] !== last[lastAt + i]) return false;
  return true;
}

/** A copy of the last record's hash (the segment it lies in is not kept). */
function lastHashOf(state: ScanState): Uint8Array {
  return state.lastHashBytes.slice(state.lastHashAt, state.lastHashAt + 32);
}

/**
 * True when a CRC-valid record with a later seq starts anywhere from `from`: then the damage
 * before it is not a torn tail. A cheap filter on the seq field keeps the scan linear.
 */
export function laterRecordExists(bytes: Uint8Array, from: number, lastSeq: number): boolean {
  const view = dataViewOf(bytes);
  for (let offset = from; offset + recordHeaderSizeBytes <= bytes.length; offset++) {
    const seqHigh = view.getUint32(offset + 8);
    const seqLow = view.getUint32(offset + 12);
    const seq = seqHigh * 0x1_0000_0000 + seqLow;
    if (seq <= lastSeq || seq > lastSeq + seqLookaheadMax) continue;
    if (readRecord(bytes, offset).kind === "record") return true;
  }
  return false;
}

/** What recoverSegment returns when `until` stopped the reading. */
const stoppedByUntil = -2;

/** How far past the last good seq a surviving record is looked for. */
const seqLookaheadMax = 1_000_000_000;

export function describeDamage(damage: LogDamage): string {
  return `segment ${damage.segment}, offset ${damage.offset}, seq ${damage.seq}: ${damage.reason}`;
}

function damageError(damage: LogDamage): DbError {
  return new DbError(
    "CORRUPT",
    `the log is damaged before its end (${describeDamage(damage)}); refusing to start. ` +
      "Inspect with `statebase verify`; " +
      `\`statebase repair --truncate-after ${damage.seq - 1}\` drops everything from there on.`,
    { ...damage },
  );
}

/** The size of a segment file in bytes (segments are preallocated: the data is less). */
export async function segmentSize(storage: Storage, name: string): Promise<number> {
  const file = await storage.open(name, { create: false });
  try {
    return await file.size();
  } finally {
    await file.close();
  }
}

/** Zeroes a segment from `offset` on (truncate, then re-extend), and syncs it. */
async function zeroFrom(
  storage: Storage,
  name: string,
  offset: number,
  size: number,
): Promise<void> {
  const file = await storage.open(name, { create: false });
  try {
    await file.truncate(offset);
    await file.truncate(size);
    await file.sync();
  } finally {
    await file.close();
  }
}
