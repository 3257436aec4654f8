/**
 * @module Cuts a byte stream into RCP frames. Chunks are kept as they arrive and joined only
 * once a whole header or frame is there, so each byte is copied about once however the
 * network splits it. The payload limit is checked as soon as the header is in, before the
 * body arrives: an oversized frame is refused without buffering it. Errors are reported
 * through `failure`, after the frames that came before them.
 */
import { assert } from "../lib/assert.ts";
import { rcpFrameSizeBytesMax } from "../lib/limits.ts";
import { FrameError, checkFrameCrc, frameHeaderSizeBytes, readFrameHeaderAt } from "./frame.ts";
import type { Frame, FrameHeader } from "./frame.ts";

export class FrameDecoder {
  /** Received bytes not yet cut into frames; the first chunk is read from {@link offset}. */
  private chunks: Buffer[] = [];
  /**
   * Where the unread bytes of the first chunk start. Frames are cut by moving it, not by
   * making a view of the rest per frame: a pipelined chunk holds dozens of frames.
   */
  private offset = 0;
  private bufferedBytes = 0;
  private header: FrameHeader | undefined;
  /** Why decoding stopped, once it has. */
  failure: FrameError | undefined;

  constructor(private readonly payloadSizeBytesMax: number = rcpFrameSizeBytesMax) {
    assert(payloadSizeBytesMax >= 0, "FrameDecoder: negative payload limit");
  }

  /** Bytes received that do not yet form a whole frame. */
  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  /**
   * Adds `chunk` and returns every frame now complete, in order. At the first invalid frame
   * it stops: the frames before it are still returned, and {@link failure} says what was
   * wrong. The decoder takes nothing more after that (the stream cannot resync).
   */
  push(chunk: Uint8Array): Frame[] {
    if (this.failure !== undefined) return [];
    if (chunk.length > 0) {
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.bufferedBytes += chunk.length;
    }
    const frames: Frame[] = [];
    try {
      for (let frame = this.next(); frame !== undefined; frame = this.next()) frames.push(frame);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.failure = error;
      this.chunks = [];
      this.offset = 0;
      this.bufferedBytes = 0;
    }
    return frames;
  }

  private next(): Frame | undefined {
    if (this.header === undefined) {
      if (this.bufferedBytes < frameHeaderSizeBytes) return undefined;
      this.header = readFrameHeaderAt(this.flatten(), this.offset, this.payloadSizeBytesMax);
    }
    const header = this.header;
    const frameBytes = frameHeaderSizeBytes + header.headerExtensionBytes + header.payloadSizeBytes;
    if (this.bufferedBytes < frameBytes) return undefined;
    const all = this.flatten();
    const start = this.offset + frameHeaderSizeBytes + header.headerExtensionBytes;
    const end = this.offset + frameBytes;
    // A view, not a copy: callers decode the payload at once (one copy fewer per request).
    // It keeps the received chunk alive only as long as the caller keeps the payload.
    const payload = all.subarray(start, end);
    this.bufferedBytes -= frameBytes;
    if (this.bufferedBytes === 0) {
      this.chunks.length = 0;
      this.offset = 0;
    } else {
      this.offset = end;
    }
    this.header = undefined;
    checkFrameCrc(header, payload);
    return { flags: header.flags, payload };
  }

  /** The unread bytes as one buffer, read from {@link offset}. */
  private flatten(): Buffer {
    if (this.chunks.length !== 1) {
      const first = this.chunks[0]!.subarray(this.offset);
      this.chunks[0] = first;
      this.chunks = [Buffer.concat(this.chunks, this.bufferedBytes)];
      this.offset = 0;
    }
    return this.chunks[0]!;
  }
}
