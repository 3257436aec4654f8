/**
 * @module A log segment read as far as recovery needs it. A segment is created at full size
 * and filled with zeros, so most of a young segment is zeros that only need checking. Records
 * are read in steps into one array of the segment's size (memory the kernel never touched
 * costs nothing), and the zeros after the last record are checked through a small reused
 * buffer instead of being loaded: opening a database whose 64 MiB segment holds a few records
 * took a third of a second when the whole segment was read.
 */
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import type { Storage, StorageFile } from "../storage/index.ts";
import { allZero, recordHeaderSizeBytes, recordSizeBytesMax } from "./record.ts";

/** Bytes read per step, at least. */
export const segmentReadStepBytes = 1024 * 1024;

export class SegmentReader {
  /** The segment's bytes; those from {@link loadedBytes} on are not read yet (zeros). */
  readonly bytes: Uint8Array;
  /** The loaded prefix of {@link bytes}: what readRecord may look at. */
  loaded: Uint8Array;
  private scratch: Uint8Array | undefined;

  private constructor(
    private readonly file: StorageFile,
    sizeBytes: number,
    private readonly stepBytes: number,
  ) {
    this.bytes = new Uint8Array(sizeBytes);
    this.loaded = this.bytes.subarray(0, 0);
  }

  static async open(
    storage: Storage,
    name: string,
    stepBytes = segmentReadStepBytes,
  ): Promise<SegmentReader> {
    assert(Number.isSafeInteger(stepBytes) && stepBytes > 0, "segment read step must be > 0");
    const file = await storage.open(name, { create: false });
    try {
      return new SegmentReader(file, await file.size(), stepBytes);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  get sizeBytes(): number {
    return this.bytes.length;
  }

  get loadedBytes(): number {
    return this.loaded.length;
  }

  /** Loads at least bytes [0, end) (or the whole segment when it is shorter). */
  async load(end: number): Promise<void> {
    const target = Math.min(end, this.bytes.length);
    let at = this.loaded.length;
    while (at < target) {
      const length = Math.min(Math.max(target - at, this.stepBytes), this.bytes.length - at);
      const into = this.bytes.subarray(at, at + length);
      const read = await this.file.read(at, length, into);
      if (read.length === 0) throw shrankError(this.file.path, at, this.bytes.length);
      at += read.length;
    }
    // One view per step, not per record: readRecord keys its views by the array it is given.
    if (at !== this.loaded.length) this.loaded = this.bytes.subarray(0, at);
  }

  /** Loads the whole record frame at `offset`, as far as its length field is believable. */
  async loadRecordAt(offset: number): Promise<void> {
    await this.load(offset + recordHeaderSizeBytes);
    if (offset + recordHeaderSizeBytes > this.loaded.length) return;
    const payloadSize = new DataView(this.bytes.buffer, this.bytes.byteOffset).getUint32(offset);
    if (payloadSize <= recordSizeBytesMax) {
      await this.load(offset + recordHeaderSizeBytes + payloadSize);
    }
  }

  /** True when every byte of the segment from `from` on is zero; reads without loading. */
  async zeroFrom(from: number): Promise<boolean> {
    if (from < this.loaded.length && !allZero(this.loaded, from)) return false;
    this.scratch ??= new Uint8Array(this.stepBytes);
    for (let at = Math.max(from, this.loaded.length); at < this.bytes.length;) {
      const length = Math.min(this.stepBytes, this.bytes.length - at);
      const read = await this.file.read(at, length, this.scratch);
      if (read.length === 0) throw shrankError(this.file.path, at, this.bytes.length);
      if (!allZero(read, 0)) return false;
      at += read.length;
    }
    return true;
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

function shrankError(path: string, at: number, sizeBytes: number): DbError {
  const message = `log segment ${path} ended at byte ${at} while being read (${sizeBytes} bytes)`;
  return new DbError("IO_ERROR", message, { object: path });
}
