/**
 * @module Cuts a byte stream into JSON lines (decision 1: a connection whose first byte is
 * `{` speaks newline-delimited JSON both ways). A line longer than the limit is refused as
 * soon as that many bytes arrived without a newline, so memory stays bounded.
 */
import { assert } from "../lib/assert.ts";
import { rcpLineSizeBytesMax } from "../lib/limits.ts";
import { FrameError } from "./frame.ts";

const newline = 0x0a;

export class LineDecoder {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;

  constructor(private readonly lineSizeBytesMax: number = rcpLineSizeBytesMax) {
    assert(lineSizeBytesMax > 0, "LineDecoder: line limit must be positive");
  }

  /** Why decoding stopped (a line over the limit), once it has. */
  failure: FrameError | undefined;

  /**
   * Adds `chunk`; returns every complete line's bytes (without `\n` or a trailing `\r`).
   * A line over the limit stops the decoder: see {@link failure}.
   */
  push(chunk: Uint8Array): Buffer[] {
    const lines: Buffer[] = [];
    if (this.failure !== undefined) return lines;
    try {
      this.cut(chunk, lines);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.failure = error;
      this.chunks = [];
      this.bufferedBytes = 0;
    }
    return lines;
  }

  private cut(chunk: Uint8Array, lines: Buffer[]): void {
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    for (let at = data.indexOf(newline); at !== -1; at = data.indexOf(newline)) {
      this.chunks.push(data.subarray(0, at));
      this.bufferedBytes += at;
      this.checkSize();
      let line = Buffer.concat(this.chunks, this.bufferedBytes);
      if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
      this.chunks = [];
      this.bufferedBytes = 0;
      // Blank lines (a bare Enter typed into `nc`) carry no message.
      if (line.length > 0) lines.push(line);
      data = data.subarray(at + 1);
    }
    if (data.length > 0) {
      this.chunks.push(data);
      this.bufferedBytes += data.length;
      this.checkSize();
    }
  }

  private checkSize(): void {
    if (this.bufferedBytes <= this.lineSizeBytesMax) return;
    throw new FrameError(
      "size",
      `invalid line: more than ${this.lineSizeBytesMax} bytes without a newline`,
    );
  }
}
