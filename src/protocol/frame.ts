/**
 * @module The RCP frame (specs/rcp.md §2.2): an 18-byte big-endian header (magic `RCPX`,
 * version 1, flags, header-extension length, payload length, CRC32C of the payload) followed
 * by the header extension (skipped) and a UTF-8 JSON payload. This file encodes frames and
 * checks headers; frame-decoder.ts cuts a byte stream into frames.
 */
import { assert } from "../lib/assert.ts";
import { crc32c } from "../lib/crc32c.ts";
import { rcpFrameSizeBytesMax } from "../lib/limits.ts";

/** `RCPX` as a big-endian 32-bit integer. */
export const frameMagic = 0x52435058;
export const frameVersion = 1;
export const frameHeaderSizeBytes = 18;
/** The payload carries a CRC32C in the header. */
export const flagCrcPresent = 0x0001;
/** Reserved by rstmdb; accepted and ignored. */
export const flagCompressed = 0x0002;
export const flagStream = 0x0004;
export const flagEndStream = 0x0008;
/** Every flag bit a frame may set; any other bit makes the frame invalid. */
export const flagsKnown = flagCrcPresent | flagCompressed | flagStream | flagEndStream;

/** Why a frame (or its payload) could not be decoded; the connection cannot go on after it. */
export type FrameErrorReason = "magic" | "version" | "flags" | "size" | "crc" | "utf8" | "json";

/** A frame or line that cannot be decoded. The byte stream cannot be resynchronised after it. */
export class FrameError extends Error {
  override name = "FrameError";
  constructor(
    readonly reason: FrameErrorReason,
    message: string,
  ) {
    super(message);
  }
}

/** A decoded frame: its flags and payload (the header extension is dropped). */
export interface Frame {
  readonly flags: number;
  readonly payload: Uint8Array;
}

/** The fields of a frame header, checked in the server's order (§2.2). */
export interface FrameHeader {
  readonly flags: number;
  readonly headerExtensionBytes: number;
  readonly payloadSizeBytes: number;
  readonly crc: number;
}

/**
 * Encodes one frame. Statebase always sends a CRC (decision 1); `flags` may add STREAM bits
 * for tests and clients that want them.
 * @example
 * const payload = new TextEncoder().encode('{"type":"request","id":"1","op":"PING","params":{}}');
 * encodeFrame(payload).subarray(14, 18).toString("hex"); // -> "c32009c4"
 */
export function encodeFrame(payload: Uint8Array, flags: number = flagCrcPresent): Buffer {
  assert(payload.length <= rcpFrameSizeBytesMax, "encodeFrame: payload over the frame limit");
  assert((flags & ~flagsKnown) === 0, "encodeFrame: unknown flag bits");
  const frame = Buffer.allocUnsafe(frameHeaderSizeBytes + payload.length);
  frame.set(payload, frameHeaderSizeBytes);
  writeFrameHeader(frame, flags, payload.length);
  return frame;
}

/** Encodes a JSON message as one frame with a CRC; its text must fit in a frame. */
export function encodeMessageFrame(message: unknown): Buffer {
  return encodeTextFrame(JSON.stringify(message));
}

/**
 * Encodes JSON text as one frame with a CRC. The text is written straight into the frame
 * (one allocation, no intermediate payload buffer): this runs once per answer.
 */
export function encodeTextFrame(
  text: string,
  payloadSizeBytes = Buffer.byteLength(text, "utf8"),
): Buffer {
  assert(payloadSizeBytes <= rcpFrameSizeBytesMax, "encodeTextFrame: payload over the limit");
  const frame = Buffer.allocUnsafe(frameHeaderSizeBytes + payloadSizeBytes);
  frame.write(text, frameHeaderSizeBytes, "utf8");
  writeFrameHeader(frame, flagCrcPresent, payloadSizeBytes);
  return frame;
}

/** Fills the header of `frame`, whose payload is already in place. */
function writeFrameHeader(frame: Buffer, flags: number, payloadSizeBytes: number): void {
  assert(frame.length === frameHeaderSizeBytes + payloadSizeBytes, "frame of the wrong size");
  frame.writeUInt32BE(frameMagic, 0);
  frame.writeUInt16BE(frameVersion, 4);
  frame.writeUInt16BE(flags, 6);
  frame.writeUInt16BE(0, 8);
  frame.writeUInt32BE(payloadSizeBytes, 10);
  const crc =
    (flags & flagCrcPresent) === 0 ? 0 : crc32c(frame, 0, frameHeaderSizeBytes, frame.length);
  frame.writeUInt32BE(crc, 14);
}

/**
 * Reads and checks a header (magic, version, flags, payload limit) from the first 18 bytes
 * of `bytes`. Throws {@link FrameError} naming the first field that is wrong.
 */
export function readFrameHeader(
  bytes: Uint8Array,
  payloadSizeBytesMax: number = rcpFrameSizeBytesMax,
): FrameHeader {
  return readFrameHeaderAt(bytes, 0, payloadSizeBytesMax);
}

/**
 * {@link readFrameHeader} of the header at `at`. Read byte by byte, without a DataView: this
 * runs once per request.
 */
export function readFrameHeaderAt(
  bytes: Uint8Array,
  at: number,
  payloadSizeBytesMax: number,
): FrameHeader {
  assert(at >= 0 && bytes.length - at >= frameHeaderSizeBytes, "readFrameHeader: short header");
  const magic = uint32At(bytes, at);
  if (magic !== frameMagic) {
    throw new FrameError("magic", `invalid frame: bad magic 0x${hex8(magic)} (expected RCPX)`);
  }
  const version = uint16At(bytes, at + 4);
  if (version !== frameVersion) {
    throw new FrameError("version", `invalid frame: unsupported frame version ${version}`);
  }
  const flags = uint16At(bytes, at + 6);
  if ((flags & ~flagsKnown) !== 0) {
    throw new FrameError("flags", `invalid frame: unknown flag bits 0x${flags.toString(16)}`);
  }
  const payloadSizeBytes = uint32At(bytes, at + 10);
  if (payloadSizeBytes > payloadSizeBytesMax) {
    throw new FrameError(
      "size",
      `invalid frame: payload of ${payloadSizeBytes} bytes exceeds the limit ` +
        `of ${payloadSizeBytesMax} bytes`,
    );
  }
  return {
    flags,
    headerExtensionBytes: uint16At(bytes, at + 8),
    payloadSizeBytes,
    crc: uint32At(bytes, at + 14),
  };
}

/** The big-endian u16 at `at`. */
function uint16At(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

/** The big-endian u32 at `at` (unsigned). */
function uint32At(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
  );
}

/** Checks the payload CRC when the header says one is present. */
export function checkFrameCrc(header: FrameHeader, payload: Uint8Array): void {
  if ((header.flags & flagCrcPresent) === 0) return;
  const actual = crc32c(payload);
  if (actual !== header.crc) {
    throw new FrameError(
      "crc",
      `invalid frame: CRC mismatch (header 0x${hex8(header.crc)}, payload 0x${hex8(actual)})`,
    );
  }
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, "0");
}
