/**
 * @module Public surface of the write-ahead log. A commit's path through it:
 * 1. `WAL.append` encodes the commit as a record (codec.ts, record.ts) chained by hash to the
 *    one before, in commit order;
 * 2. the flush loop writes every pending record with one write and one fsync (group commit),
 *    rolling over to a new preallocated segment (segment.ts) when one is full;
 * 3. `waitDurable(seq)` resolves once the fsync covering `seq` returns;
 * 4. on open, `recoverLog` verifies every record and hands them back for replay, cutting a
 *    torn tail and refusing inner damage.
 */
export { WAL } from "./wal.ts";
export type { FlushPolicy, WALOptions, WALStats } from "./wal.ts";
export { recoverLog, describeDamage } from "./recovery.ts";
export { throwIfAborted } from "./abort.ts";
export type { LogDamage, LogTail, RecoverOptions, RecoveryResult } from "./recovery.ts";
export {
  encodeRecord,
  encodeRecordAt,
  readRecord,
  recordHashIsValid,
  recordSizeBytesMax,
  zeroHash,
} from "./record.ts";
export type { LogRecord, RecordRead } from "./record.ts";
export {
  firstSegmentSeq,
  listSegments,
  segmentFirstSeq,
  segmentHeaderSizeBytes,
  segmentName,
  segmentSizeBytesDefault,
  segmentSizeBytesMin,
  spareSegmentName,
  walSegmentSizeBytesMax,
} from "./segment.ts";
export { decodeValue, encodeValue } from "./codec.ts";
export {
  scanLog,
  truncateLogAfter,
  type LogBreak,
  type LogScan,
  type LogTruncation,
  type RecordLocation,
  type ScanLogOptions,
  type SegmentLayout,
} from "./inspect.ts";
export {
  listSnapshots,
  removeUnfinishedSnapshots,
  decodeSnapshot,
  readSnapshot,
  readSnapshotTs,
  restoreSnapshot,
  snapshotName,
  snapshotSeqOf,
  writeSnapshot,
} from "./snapshot.ts";
export type { SnapshotImage, SnapshotInfo, WriteSnapshotOptions } from "./snapshot.ts";
