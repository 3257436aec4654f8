/**
 * @module Segment files of the log: names, the 24-byte header, and preallocation. A segment
 * is named by the first seq it may hold, so listing the directory sorts segments in order.
 */
import { dataViewOf } from "../lib/bytes.ts";
import { crc32c } from "../lib/crc32c.ts";
import type { Storage } from "../storage/index.ts";

export const segmentMagic = "SBWAL001";
export const segmentHeaderSizeBytes = 24;
/** Default preallocated size of a segment. */
export const segmentSizeBytesDefault = 64 * 1024 * 1024;
/** Smallest configurable segment (tests use small ones to exercise rollover). */
export const segmentSizeBytesMin = 4096;
/** Largest configurable segment. */
export const walSegmentSizeBytesMax = 1024 * 1024 * 1024;

const namePattern = /^(\d{20})\.seg$/;

/**
 * The next segment while it is zero-filled ahead of need (src/log/wal.ts). It matches no
 * segment name, so recovery and the tools never read it; a leftover one is refilled.
 */
export const spareSegmentName = "next-segment.tmp";

export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, "0")}.seg`;
}

/** The first seq named by a segment file, or undefined for other files. */
export function segmentFirstSeq(name: string): number | undefined {
  const match = namePattern.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** The segment files in `storage`, in seq order (other files, the spare one too, are left out). */
export async function listSegments(storage: Storage): Promise<string[]> {
  return (await storage.list()).filter((name) => segmentFirstSeq(name) !== undefined).sort();
}

/** The first seq the oldest segment names; undefined when there is no segment. */
export async function firstSegmentSeq(storage: Storage): Promise<number | undefined> {
  const first = (await listSegments(storage))[0];
  return first === undefined ? undefined : segmentFirstSeq(first);
}

export function encodeSegmentHeader(firstSeq: number): Uint8Array {
  const header = new Uint8Array(segmentHeaderSizeBytes);
  const view = dataViewOf(header);
  header.set(new TextEncoder().encode(segmentMagic), 0);
  view.setBigUint64(8, BigInt(firstSeq));
  view.setUint32(16, crc32c(header.subarray(0, 16)));
  return header;
}

/** The header's first seq, or a reason it is invalid. */
export function decodeSegmentHeader(bytes: Uint8Array): { firstSeq: number } | { damage: string } {
  if (bytes.length < segmentHeaderSizeBytes) return { damage: "segment shorter than its header" };
  const view = dataViewOf(bytes);
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== segmentMagic) return { damage: `bad magic ${JSON.stringify(magic)}` };
  if (crc32c(bytes.subarray(0, 16)) !== view.getUint32(16))
    return { damage: "header checksum mismatch" };
  // Reserved bytes are outside the checksum, so they must be exactly zero.
  if (view.getUint32(20) !== 0) return { damage: "reserved header bytes are not zero" };
  return { firstSeq: Number(view.getBigUint64(8)) };
}
