/**
 * @module A log segment read as far as recovery needs it. A segment is created at full size
 * and filled with zeros, so most of a young segment is zeros that only need checking. The
 * reader first finds where the zeros at the end start, reading backwards through a small
 * reused buffer, then loads everything before them in one read into an array of the
 * segment's size (memory the kernel never touched costs nothing). Opening a database whose
 * 64 MiB segment holds a few records took a third of a second when the whole segment was
 * read. The records are loaded before the replay starts, not step by step during it: the
 * latter made the replay's young-generation collections several times slower.
 *
 * Recovery reads every segment into one arena (lib/crc32c.ts) sized for the largest: the
 * records' CRCs are then computed by WebAssembly where they lie, and each segment after the
 * first lands in memory already mapped instead of 64 MiB of fresh pages for the kernel to fault
 * in and zero (about a tenth of a million-record recovery's CPU went to that).
 */
import { assert } from "../lib/assert.ts";
import { dataViewOf } from "../lib/bytes.ts";
import type { Crc32cArena } from "../lib/crc32c.ts";
import { DbError } from "../lib/errors.ts";
import type { Storage, StorageFile } from "../storage/index.ts";
import { allZero, recordHeaderSizeBytes, recordSizeBytesMax } from "./record.ts";

/** Bytes read per step, at least. */
const segmentReadStepBytes = 1024 * 1024;

export class SegmentReader {
  /** The segment's bytes; those past {@link loaded} are not read yet (they hold zeros). */
  readonly bytes: Uint8Array;
  /** The loaded prefix of {@link bytes}: what readRecord may look at. */
  loaded: Uint8Array;
  private scratch: Uint8Array | undefined;
  /** The arena {@link bytes} lie in, when they do. */
  private readonly arena: ReaderArena | undefined;
  private readonly view: DataView;
  /** Every byte from here to the end of the segment is zero (found by {@link open}). */
  private zerosFromBytes: number;

  private constructor(
    private readonly file: StorageFile,
    sizeBytes: number,
    private readonly stepBytes: number,
    arena: ReaderArena | undefined,
  ) {
    const reused = arena !== undefined && arena.arena.bytes.length >= sizeBytes;
    this.bytes = reused ? arena.arena.bytes.subarray(0, sizeBytes) : new Uint8Array(sizeBytes);
    this.arena = reused ? arena : undefined;
    this.view = dataViewOf(this.bytes);
    this.loaded = this.bytes.subarray(0, 0);
    this.zerosFromBytes = sizeBytes;
  }

  /**
   * Opens segment `name`; with `arena`, its bytes are the start of the arena's (when they fit),
   * and the segment read before it in the same arena is gone.
   */
  static async open(
    storage: Storage,
    name: string,
    stepBytes = segmentReadStepBytes,
    arena?: ReaderArena,
  ): Promise<SegmentReader> {
    assert(Number.isSafeInteger(stepBytes) && stepBytes > 0, "segment read step must be > 0");
    const file = await storage.open(name, { create: false });
    try {
      const reader = new SegmentReader(file, await file.size(), stepBytes, arena);
      reader.zerosFromBytes = await reader.findZeroTail();
      reader.clearArenaTail();
      await reader.load(reader.zerosFromBytes);
      return reader;
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /**
   * In a reused arena, makes what an earlier segment left past this one's data zeros again, as
   * in the file: bytes past {@link loaded} hold zeros.
   */
  private clearArenaTail(): void {
    if (this.arena === undefined) return;
    const dirtyEnd = Math.min(this.arena.usedBytes, this.bytes.length);
    if (dirtyEnd > this.zerosFromBytes) this.bytes.fill(0, this.zerosFromBytes, dirtyEnd);
  }

  /** Where the zeros at the end of the segment start, read backwards a step at a time. */
  private async findZeroTail(): Promise<number> {
    const scratch = (this.scratch ??= new Uint8Array(this.stepBytes));
    for (let end = this.bytes.length; end > 0;) {
      const start = Math.max(0, end - this.stepBytes);
      const read = await this.file.read(start, end - start, scratch);
      if (read.length !== end - start) throw shrankError(this.file.path, start, this.bytes.length);
      if (!allZero(read, 0)) {
        let last = read.length - 1;
        while (read[last] === 0) last--;
        return start + last + 1;
      }
      end = start;
    }
    return 0;
  }

  get sizeBytes(): number {
    return this.bytes.length;
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

  /**
   * Whether the record frame at `offset` is loaded (or the file ends first), as far as its
   * length field is believable. Asked before {@link loadRecordAt} so that the replay loop
   * awaits once per step, not once per record.
   */
  holdsRecordAt(offset: number): boolean {
    return Math.min(this.frameEndAt(offset), this.bytes.length) <= this.loaded.length;
  }

  /** Loads the whole record frame at `offset`, as far as its length field is believable. */
  async loadRecordAt(offset: number): Promise<void> {
    // At most twice: the header, then the payload its length field asks for.
    while (!this.holdsRecordAt(offset)) await this.load(this.frameEndAt(offset));
  }

  /** Where the frame at `offset` ends, as far as what is loaded tells (its header, first). */
  private frameEndAt(offset: number): number {
    const header = offset + recordHeaderSizeBytes;
    if (header > this.loaded.length) return header;
    const payloadSize = this.view.getUint32(offset);
    return payloadSize > recordSizeBytesMax ? header : header + payloadSize;
  }

  /** True when every byte of the segment from `from` on is zero; reads without loading. */
  async zeroFrom(from: number): Promise<boolean> {
    if (from < this.loaded.length && !allZero(this.loaded, from)) return false;
    if (this.loaded.length >= this.zerosFromBytes) return true;
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
    if (this.arena !== undefined) {
      this.arena.usedBytes = Math.max(this.arena.usedBytes, this.loaded.length);
    }
    return this.file.close();
  }
}

/**
 * The arena segments are read into, and how far into it any segment has reached (bytes past
 * that are still the arena's first zeros).
 */
export interface ReaderArena {
  readonly arena: Crc32cArena;
  usedBytes: number;
}

function shrankError(path: string, at: number, sizeBytes: number): DbError {
  const message = `log segment ${path} ended at byte ${at} while being read (${sizeBytes} bytes)`;
  return new DbError("IO_ERROR", message, { object: path });
}
