/**
 * @module Read-only inspection of the log for the operator tools (`statebase verify`,
 * `inspect`, `wal`) and the one repair an operator may ask for (`repair --truncate-after`).
 * `scanLog` applies recovery's rules (recovery.ts, docs/log-format.md "Recovery rules") but
 * never writes: it reports the first break, whether recovery would cut it as a torn tail or
 * refuse it as inner damage, and the layout of every segment, even past the break.
 * Retention may have removed the start of the log (a snapshot covers it): the chain is then
 * checked from the first record there is, anchored on that record's `prev_hash`.
 * `truncateLogAfter` is the only function here that writes, and only when called.
 */
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import type { Storage } from "../storage/index.ts";
import { readRecord, recordHashIsValid, recordHeaderSizeBytes, zeroHash } from "./record.ts";
import type { LogRecord } from "./record.ts";
import { laterRecordExists, segmentSize } from "./recovery.ts";
import type { LogDamage } from "./recovery.ts";
import {
  decodeSegmentHeader,
  listSegments,
  segmentFirstSeq,
  segmentHeaderSizeBytes,
} from "./segment.ts";

/** `torn-tail`: recovery cuts it with a warning; `inner`: recovery refuses to start. */
export type LogBreakKind = "torn-tail" | "inner";

/** The first spot where the log stops being a valid chain. */
export interface LogBreak extends LogDamage {
  readonly kind: LogBreakKind;
}

/** One segment file as found on disk. Its frames are CRC-valid; the chain is not implied. */
export interface SegmentLayout {
  readonly name: string;
  /** The first seq the segment may hold, from its name. */
  readonly firstSeq: number;
  /** The file's length (segments are preallocated). */
  readonly sizeBytes: number;
  /** The header plus every readable record up to the end of the data or the first bad frame. */
  readonly usedBytes: number;
  readonly recordCount: number;
  readonly firstRecordSeq: number | undefined;
  readonly lastRecordSeq: number | undefined;
  /** Why the header is invalid, when it is. */
  readonly headerDamage: string | undefined;
}

/** Where a valid record lies. */
export interface RecordLocation {
  readonly segment: string;
  readonly offset: number;
  readonly sizeBytes: number;
}

export interface ScanLogOptions {
  /** Called with each record of the valid chain, in order; a returned promise is awaited. */
  onRecord?: (record: LogRecord, location: RecordLocation) => void | Promise<void>;
  /** Stops after the valid record with this seq (later segments are then not read). */
  untilSeq?: number;
  /**
   * Called every {@link scanProgressIntervalBytes} of log and after each segment, with the
   * bytes read so far and the size of every segment.
   */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

/** Log read between two progress reports within a segment (a large one takes seconds). */
export const scanProgressIntervalBytes = 1024 * 1024;

export interface LogScan {
  /** The segments read, in seq order. */
  readonly segments: readonly SegmentLayout[];
  /** The first seq the log holds: 1, or later when retention removed the start. */
  readonly firstSeq: number;
  /** Records of the valid chain: `firstSeq` to `lastSeq`, before any break. */
  readonly recordCount: number;
  /** The last valid seq; `firstSeq - 1` when there is none. */
  readonly lastSeq: number;
  /** The first break, when the scan found one. */
  readonly damage: LogBreak | undefined;
  /** False when the scan stopped at `untilSeq` before reading everything. */
  readonly complete: boolean;
}

interface ScanState {
  lastSeq: number;
  /** Undefined before the first record of a log whose start was removed: it is the anchor. */
  lastHash: Uint8Array | undefined;
  recordCount: number;
  damage: LogBreak | undefined;
  stopped: boolean;
  /** Bytes of the segments before the one being scanned, and of them all (onProgress). */
  bytesDone: number;
  readonly bytesTotal: number;
}

/** Scans of a log that a running database's retention keeps changing, before giving up. */
const scanAttemptsMax = 3;

/**
 * Reads the whole log without modifying it; see the module comment. The tools run beside a
 * server, whose retention may remove segments the scan listed but has not read yet: the
 * scan then starts over on the segments there are, and `onRecord` sees no record twice.
 * Records it had not seen that went meanwhile are an error naming them, not a silent gap.
 */
export async function scanLog(storage: Storage, options: ScanLogOptions = {}): Promise<LogScan> {
  const { onRecord } = options;
  let deliveredSeq: number | undefined;
  const deliver = async (record: LogRecord, location: RecordLocation): Promise<void> => {
    if (deliveredSeq !== undefined && record.seq <= deliveredSeq) return;
    if (deliveredSeq !== undefined && record.seq > deliveredSeq + 1) {
      throw new DbError(
        "IO_ERROR",
        `records ${deliveredSeq + 1}..${record.seq - 1} were removed while being read ` +
          `(retention of a running database); read again from seq ${record.seq}`,
        { seq: deliveredSeq + 1 },
      );
    }
    deliveredSeq = record.seq;
    await onRecord!(record, location);
  };
  const once = onRecord === undefined ? options : { ...options, onRecord: deliver };
  for (let attempt = 1; ; attempt++) {
    try {
      return await scanLogOnce(storage, once);
    } catch (error) {
      const vanished = error instanceof DbError && error.details.errno === "ENOENT";
      if (!vanished || attempt >= scanAttemptsMax) throw error;
    }
  }
}

async function scanLogOnce(storage: Storage, options: ScanLogOptions): Promise<LogScan> {
  assert(options.untilSeq === undefined || options.untilSeq >= 0, "untilSeq must not be negative");
  const names = await listSegments(storage);
  const firstSeq = names[0] === undefined ? 1 : segmentFirstSeq(names[0])!;
  assert(firstSeq >= 1, "segment names start at seq 1");
  const sizes = await Promise.all(names.map(async (name) => segmentSize(storage, name)));
  const state: ScanState = {
    lastSeq: firstSeq - 1,
    lastHash: firstSeq === 1 ? zeroHash : undefined,
    recordCount: 0,
    damage: undefined,
    stopped: options.untilSeq === 0,
    bytesDone: 0,
    bytesTotal: sizes.reduce((a, b) => a + b, 0),
  };
  const segments: SegmentLayout[] = [];
  for (const [index, name] of names.entries()) {
    if (state.stopped) break;
    const bytes = await readSegment(storage, name);
    const isLast = index === names.length - 1;
    segments.push(await scanSegment(name, bytes, isLast, state, options));
    state.bytesDone += sizes[index]!;
    options.onProgress?.(state.bytesDone, state.bytesTotal);
  }
  assert(state.recordCount === state.lastSeq - firstSeq + 1, "the valid chain has no gaps");
  return {
    segments,
    firstSeq,
    recordCount: state.recordCount,
    lastSeq: state.lastSeq,
    damage: state.damage,
    complete: segments.length === names.length && !state.stopped,
  };
}

/** Walks one segment's frames, checking them against the chain until the first break. */
async function scanSegment(
  name: string,
  bytes: Uint8Array,
  isLast: boolean,
  state: ScanState,
  options: ScanLogOptions,
): Promise<SegmentLayout> {
  const firstSeq = segmentFirstSeq(name);
  assert(firstSeq !== undefined, `not a segment name: ${name}`);
  const layout = { name, firstSeq, sizeBytes: bytes.length, usedBytes: 0, recordCount: 0 };
  const header = decodeSegmentHeader(bytes);
  if ("damage" in header || header.firstSeq !== firstSeq) {
    const reason = "damage" in header ? header.damage : "header seq differs from the file name";
    noteBreak(state, name, 0, reason, { bytes, from: segmentHeaderSizeBytes, isLast });
    return { ...layout, firstRecordSeq: undefined, lastRecordSeq: undefined, headerDamage: reason };
  }
  let offset = segmentHeaderSizeBytes;
  let firstRecordSeq: number | undefined;
  let lastRecordSeq: number | undefined;
  let progressAt = offset + scanProgressIntervalBytes;
  while (offset < bytes.length && !state.stopped) {
    if (offset >= progressAt) {
      options.onProgress?.(state.bytesDone + offset, state.bytesTotal);
      progressAt = offset + scanProgressIntervalBytes;
    }
    const read = readRecord(bytes, offset);
    if (read.kind === "end") break;
    const context = { bytes, from: offset + 1, isLast };
    if (read.kind === "damaged") {
      noteBreak(state, name, offset, read.reason, context);
      break;
    }
    firstRecordSeq ??= read.record.seq;
    lastRecordSeq = read.record.seq;
    layout.recordCount++;
    if (state.damage === undefined) {
      const reason = checkRecord(read.record, bytes, offset, read.sizeBytes, state);
      if (reason === undefined) {
        await acceptRecord(read.record, { segment: name, offset, sizeBytes: read.sizeBytes });
      } else {
        noteBreak(state, name, offset, reason, context);
      }
    }
    offset += read.sizeBytes;
  }
  if (!isLast && offset === segmentHeaderSizeBytes) {
    noteBreak(state, name, offset, "an empty segment before the last", {
      bytes,
      from: offset,
      isLast,
    });
  }
  return { ...layout, usedBytes: offset, firstRecordSeq, lastRecordSeq, headerDamage: undefined };

  async function acceptRecord(record: LogRecord, location: RecordLocation): Promise<void> {
    assert(record.seq === state.lastSeq + 1, "only the next seq joins the chain");
    assert(location.offset + location.sizeBytes <= bytes.length, "a record lies in its segment");
    state.lastSeq = record.seq;
    state.lastHash = record.hash;
    state.recordCount++;
    await options.onRecord?.(record, location);
    if (options.untilSeq !== undefined && record.seq >= options.untilSeq) state.stopped = true;
  }
}

/** Recovery's checks on a CRC-valid record: its own hash, the next seq, the chain link. */
function checkRecord(
  record: LogRecord,
  bytes: Uint8Array,
  offset: number,
  sizeBytes: number,
  state: ScanState,
): string | undefined {
  assert(state.damage === undefined, "records after a break are not checked against the chain");
  assert(sizeBytes > recordHeaderSizeBytes, "a record is longer than its header");
  if (!recordHashIsValid(bytes, offset, sizeBytes)) return `record ${record.seq}: hash mismatch`;
  if (record.seq !== state.lastSeq + 1) {
    return `expected seq ${state.lastSeq + 1}, found ${record.seq}`;
  }
  if (state.lastHash !== undefined && !Buffer.from(record.prevHash).equals(state.lastHash)) {
    return `record ${record.seq}: hash chain broken (prev_hash differs)`;
  }
  return undefined;
}

/**
 * Records the first break and classifies it as recovery does: damage in the last segment
 * with no CRC-valid later record after it is a torn tail; anything else is inner damage.
 */
function noteBreak(
  state: ScanState,
  segment: string,
  offset: number,
  reason: string,
  context: { bytes: Uint8Array; from: number; isLast: boolean },
): void {
  assert(offset >= 0, "a break lies inside the segment");
  assert(offset <= context.bytes.length, "a break lies inside the segment");
  if (state.damage !== undefined) return;
  const torn = context.isLast && !laterRecordExists(context.bytes, context.from, state.lastSeq);
  state.damage = {
    segment,
    offset,
    seq: state.lastSeq + 1,
    reason,
    kind: torn ? "torn-tail" : "inner",
  };
}

async function readSegment(storage: Storage, name: string): Promise<Uint8Array> {
  const file = await storage.open(name, { create: false });
  try {
    const sizeBytes = await file.size();
    const bytes = await file.read(0, sizeBytes);
    assert(bytes.length === sizeBytes, "a segment reads back whole");
    return bytes;
  } finally {
    await file.close();
  }
}

// ---- Repair ----

/** What {@link truncateLogAfter} removed. */
export interface LogTruncation {
  /** The last seq kept. */
  readonly seq: number;
  /** The last valid seq before the truncation. */
  readonly lastSeqBefore: number;
  /** The break past the valid records, which the truncation also removed. */
  readonly damage: LogBreak | undefined;
  /** The segment zeroed from `offset` to its end, when one was. */
  readonly zeroed:
    { readonly segment: string; readonly offset: number; sizeBytes: number } | undefined;
  /** Segments removed whole, in seq order. */
  readonly removedSegments: readonly string[];
}

/**
 * Removes every record after `seq`: segments after the one holding `seq` are removed (last
 * first, so a crash leaves a valid, longer log and the repair can simply run again), the
 * directory is synced, then the rest of the holding segment is zeroed and synced. A `seq`
 * just before the log's first record removes every segment. Refuses a `seq` past the last
 * valid record or before the log's start (`OUT_OF_RANGE`). The database must not be running
 * on the directory, and snapshots after `seq` are the caller's to remove first.
 */
export async function truncateLogAfter(storage: Storage, seq: number): Promise<LogTruncation> {
  assert(Number.isSafeInteger(seq), "seq must be a safe integer");
  assert(seq >= 0, "seq must not be negative");
  let holding: RecordLocation | undefined;
  const scan = await scanLog(storage, {
    onRecord: (record, location) => {
      if (record.seq === seq) holding = location;
    },
  });
  if (seq > scan.lastSeq) {
    throw new DbError(
      "OUT_OF_RANGE",
      `seq ${seq} is past the last valid record (seq ${scan.lastSeq}); nothing to truncate`,
      { value: seq },
    );
  }
  if (seq < scan.firstSeq - 1) {
    throw new DbError(
      "OUT_OF_RANGE",
      `seq ${seq} is before the log, which starts at seq ${scan.firstSeq}`,
      {
        value: seq,
      },
    );
  }
  const names = await listSegments(storage);
  const keptCount = holding === undefined ? 0 : names.indexOf(holding.segment) + 1;
  assert(seq === scan.firstSeq - 1 || keptCount > 0, "the record to keep lies in a segment");
  const removedSegments = names.slice(keptCount);
  for (const name of [...removedSegments].reverse()) await storage.remove(name);
  if (removedSegments.length > 0) await storage.syncDirectory();
  const zeroed = holding === undefined ? undefined : await zeroAfter(storage, holding);
  return { seq, lastSeqBefore: scan.lastSeq, damage: scan.damage, zeroed, removedSegments };
}

/** Zeroes a segment after the record at `location` (truncate, then re-extend) and syncs it. */
async function zeroAfter(
  storage: Storage,
  location: RecordLocation,
): Promise<{ segment: string; offset: number; sizeBytes: number }> {
  const offset = location.offset + location.sizeBytes;
  assert(offset > segmentHeaderSizeBytes, "a kept record lies after the segment header");
  const file = await storage.open(location.segment, { create: false });
  try {
    const size = await file.size();
    assert(offset <= size, "a kept record lies inside its segment");
    await file.truncate(offset);
    await file.truncate(size);
    await file.sync();
    return { segment: location.segment, offset, sizeBytes: size - offset };
  } finally {
    await file.close();
  }
}
