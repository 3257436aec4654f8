/**
 * @module Log records: the binary frame of one commit (docs/log-format.md). A record is
 * length, CRC32C, seq, the previous record's hash, its own hash and a body (binary since
 * format 2, JSON in format 1); the hashes chain the history so tampering or a lost record is
 * detectable.
 */
import { hash } from "node:crypto";
import { assert } from "../lib/assert.ts";
import { crc32c } from "../lib/crc32c.ts";
import { DbError } from "../lib/errors.ts";
import type { Change, Commit, Origin } from "../engine/index.ts";
import { BodyWriter, bodyFormatBinary, decodeBinaryBody, viewsOf } from "./body.ts";
import type { DecodedBody } from "./body.ts";
import { revive } from "./codec.ts";

/** Bytes before the payload: length, CRC, seq. */
export const recordHeaderSizeBytes = 16;
/** Bytes of the two hashes at the start of the payload. */
export const recordHashesSizeBytes = 64;
/** Largest payload accepted; a larger commit is refused and rolled back, never logged. */
export const recordSizeBytesMax = 256 * 1024 * 1024;
/** The hash before the first record. */
export const zeroHash: Uint8Array = new Uint8Array(32);

const textDecoder = new TextDecoder("utf-8", { fatal: true });

/** A decoded record. */
export interface LogRecord extends Commit {
  readonly prevHash: Uint8Array;
  readonly hash: Uint8Array;
}

/** Where records are encoded: one scratch buffer reused by every commit. */
const bodyWriter = new BodyWriter();

/**
 * The chain hash of a record: SHA-256(seq ‖ prev_hash ‖ body), which are contiguous in the
 * frame (bytes 8 up to the hash), so one one-shot hash call covers them. It is asked for as a
 * "binary" (latin1) string, one char per byte: in Node 20 that is over twice as fast as
 * asking for a Buffer.
 */
function chainHash(frame: Buffer, hashOffset: number): string {
  return hash("sha256", frame.subarray(8, hashOffset), "binary");
}

/** Writes a seq (< 2^53) as a big-endian u64 without going through BigInt. */
function writeSeq(buffer: Buffer, offset: number, seq: number): void {
  buffer.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), offset);
  buffer.writeUInt32BE(seq >>> 0, offset + 4);
}

/** Encodes a commit as one framed record; returns the bytes and the record's hash. */
export function encodeRecord(
  commit: Commit,
  prevHash: Uint8Array,
): { bytes: Uint8Array; hash: Uint8Array } {
  assert(
    Number.isSafeInteger(commit.seq) && commit.seq > 0,
    "record seq must be a safe positive integer",
  );
  assert(prevHash.length === 32, "prev_hash must be 32 bytes");
  // The body goes into a reused scratch buffer behind room for the header and prev_hash; the
  // frame is then one copy out of it.
  const bodyEnd = bodyWriter.encode(48, commit.ts, commit.origin, commit.changes);
  const payloadSize = bodyEnd - 16 + 32;
  if (payloadSize > recordSizeBytesMax) {
    throw new DbError(
      "LIMIT_EXCEEDED",
      `commit ${commit.seq} is ${payloadSize} bytes; the log takes at most ${recordSizeBytesMax}`,
    );
  }
  const bytes = Buffer.allocUnsafe(recordHeaderSizeBytes + payloadSize);
  bodyWriter.bytes.copy(bytes, 48, 48, bodyEnd);
  bytes.writeUInt32BE(payloadSize, 0);
  writeSeq(bytes, 8, commit.seq);
  bytes.set(prevHash, 16);
  const hashOffset = bytes.length - 32;
  bytes.write(chainHash(bytes, hashOffset), hashOffset, "latin1");
  bytes.writeUInt32BE(crc32c(bytes.subarray(8)), 4);
  return { bytes, hash: bytes.subarray(hashOffset) };
}

/** What reading a record at an offset found. */
export type RecordRead =
  | { kind: "record"; record: LogRecord; sizeBytes: number }
  | { kind: "end" }
  | { kind: "damaged"; reason: string };

/** A sound record at or below the `coveredUpTo` of {@link readRecordAfter}, not decoded. */
export interface CoveredRead {
  readonly kind: "covered";
  readonly seq: number;
  readonly sizeBytes: number;
}

/**
 * {@link readRecord} for recovery after a snapshot: a record with seq up to `coveredUpTo`
 * (which the snapshot holds) has its frame and CRC checked but its body is not decoded.
 */
export function readRecordAfter(
  buffer: Uint8Array,
  offset: number,
  coveredUpTo: number,
): RecordRead | CoveredRead {
  return readFrame(buffer, offset, coveredUpTo > 0 ? coveredUpTo : undefined);
}

/**
 * Reads the record starting at `offset` of `buffer`. `end` means zero length (preallocated,
 * never written); `damaged` covers short, oversized and checksum-failing frames. The hash
 * chain is checked by the caller, which knows the previous hash.
 */
export function readRecord(buffer: Uint8Array, offset: number): RecordRead {
  return readFrame(buffer, offset, undefined) as RecordRead;
}

function readFrame(
  buffer: Uint8Array,
  offset: number,
  coveredUpTo: number | undefined,
): RecordRead | CoveredRead {
  if (offset + recordHeaderSizeBytes > buffer.length) {
    return allZero(buffer, offset)
      ? { kind: "end" }
      : { kind: "damaged", reason: "truncated header" };
  }
  const view = viewsOf(buffer).view;
  const payloadSize = view.getUint32(offset);
  if (payloadSize === 0) {
    return allZero(buffer, offset)
      ? { kind: "end" }
      : { kind: "damaged", reason: "zero length before data" };
  }
  if (payloadSize < recordHashesSizeBytes || payloadSize > recordSizeBytesMax) {
    return { kind: "damaged", reason: `impossible length ${payloadSize}` };
  }
  const end = offset + recordHeaderSizeBytes + payloadSize;
  if (end > buffer.length) return { kind: "damaged", reason: "truncated payload" };
  const crc = view.getUint32(offset + 4);
  if (crc32c(buffer.subarray(offset + 8, end)) !== crc)
    return { kind: "damaged", reason: "checksum mismatch" };
  // Two halves, not getBigUint64: no BigInt per record (a seq stays below 2^53).
  const seq = view.getUint32(offset + 8) * 2 ** 32 + view.getUint32(offset + 12);
  // A record a snapshot already holds is checked (CRC) but not decoded: nothing replays it.
  if (coveredUpTo !== undefined && seq <= coveredUpTo) {
    return { kind: "covered", seq, sizeBytes: end - offset };
  }
  const prevHash = buffer.slice(offset + 16, offset + 48);
  const ownHash = buffer.slice(end - 32, end);
  const decoded = decodeBody(buffer, offset + 48, end - 32, seq);
  if (typeof decoded === "string") return { kind: "damaged", reason: decoded };
  return {
    kind: "record",
    record: { seq, ...decoded, prevHash, hash: ownHash },
    sizeBytes: end - offset,
  };
}

/** Verifies a record's own hash given its body bytes (the caller checks the chain link). */
export function recordHashIsValid(buffer: Uint8Array, offset: number, sizeBytes: number): boolean {
  const frame = Buffer.from(buffer.buffer, buffer.byteOffset + offset, sizeBytes);
  const hashOffset = frame.length - 32;
  return chainHash(frame, hashOffset) === frame.toString("latin1", hashOffset);
}

/** Decodes a body of either format; a string says why it is damaged. */
function decodeBody(
  bytes: Uint8Array,
  start: number,
  end: number,
  seq: number,
): DecodedBody | string {
  if (bytes[start] === bodyFormatBinary) {
    try {
      return decodeBinaryBody(bytes, start, end);
    } catch (error) {
      if (!(error instanceof DbError)) throw error;
      return `record ${seq}: ${error.message}`;
    }
  }
  return decodeJsonBody(bytes.subarray(start, end), seq);
}

/** Format 1: a UTF-8 JSON body, still read so that older logs recover. */
function decodeJsonBody(body: Uint8Array, seq: number): DecodedBody | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(textDecoder.decode(body));
  } catch {
    // A CRC-valid record with bad JSON means a writer bug, reported as damage with its seq.
    return `record ${seq}: body is not valid UTF-8 JSON`;
  }
  const value = parsed as { ts?: unknown; origin?: unknown; changes?: unknown };
  if (typeof value.ts !== "number" || !Array.isArray(value.changes)) {
    return `record ${seq}: body lacks ts or changes`;
  }
  try {
    const changes = value.changes.map((item: unknown) => decodeChange(item, seq));
    return { ts: value.ts, origin: revive(value.origin, 0) as Origin, changes };
  } catch (error) {
    return `record ${seq}: ${(error as Error).message}`;
  }
}

function decodeChange(item: unknown, seq: number): Change {
  if (
    !Array.isArray(item) ||
    item.length !== 5 ||
    typeof item[0] !== "string" ||
    typeof item[1] !== "string"
  ) {
    throw new DbError("CORRUPT", `record ${seq}: malformed change`);
  }
  return {
    object: item[0],
    kind: item[1],
    key: revive(item[2], 0),
    before: revive(item[3], 0),
    after: revive(item[4], 0),
  };
}

/** True when every byte of `buffer` from `offset` on is zero. */
export function allZero(buffer: Uint8Array, offset: number): boolean {
  // Compared a page at a time natively: a byte loop over a new segment's 64 MiB of zeros
  // took a tenth of a second of every open.
  for (let at = offset; at < buffer.length; at += zeroPage.length) {
    const end = Math.min(buffer.length, at + zeroPage.length);
    if (Buffer.compare(buffer.subarray(at, end), zeroPage.subarray(0, end - at)) !== 0) {
      return false;
    }
  }
  return true;
}

/** Zeros that {@link allZero} compares against. */
const zeroPage = new Uint8Array(64 * 1024);
