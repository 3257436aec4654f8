/**
 * @module WebSocket text frames written to the TCP socket whole, by the server's sessions
 * (server/ws/session.ts) and the Node client (client/socket.ts). `ws` sends a frame as two
 * buffers (header, then payload) through a corked stream, so Node issues a `writev` and runs
 * its buffered-write path for every message; one buffer takes the direct write path
 * (server: 7.1–8.1 against 5.8–6.1 µs of CPU an answer; client: a quarter of its CPU under
 * bench/server.ts). The frame is RFC 6455's: FIN, opcode 1 (text), length in 7, 16 or 64 bits;
 * a client masks every frame with a fresh 4-byte key the network cannot predict (§5.3), a
 * server never masks.
 */
import type { Socket } from "node:net";

/** The largest payload a 7-bit length says; 126 and 127 announce 16- and 64-bit lengths. */
const payloadLength7BitMax = 125;
const payloadLength16BitMax = 0xffff;
/** FIN set, opcode 1: the whole of a text message. */
const textFrameFirstByte = 0x81;
/** The mask bit of the second byte. */
const maskBit = 0x80;
const maskKeyBytes = 4;
/**
 * Random bytes drawn per call of getRandomValues (at most 65,536 a call): keys for 2,048
 * frames, so the call's cost is spread over many messages, as `ws` does with its own pool.
 */
const maskPoolSizeBytes = 8192;

const maskPool = new Uint8Array(maskPoolSizeBytes);
/** The next unused byte of {@link maskPool}; at its end, the pool is drawn again. */
let maskPoolOffset = maskPoolSizeBytes;

/** The frame of a text message holding `text`, masked when a client sends it. */
export function encodeWebSocketTextFrame(text: string, masked: boolean): Buffer {
  const payloadBytes = Buffer.byteLength(text);
  const lengthBytes =
    payloadBytes <= payloadLength7BitMax ? 0 : payloadBytes <= payloadLength16BitMax ? 2 : 8;
  const keyBytes = masked ? maskKeyBytes : 0;
  const headerBytes = 2 + lengthBytes + keyBytes;
  const frame = Buffer.allocUnsafe(headerBytes + payloadBytes);
  const maskFlag = masked ? maskBit : 0;
  frame[0] = textFrameFirstByte;
  if (lengthBytes === 0) {
    frame[1] = maskFlag | payloadBytes;
  } else if (lengthBytes === 2) {
    frame[1] = maskFlag | 126;
    frame.writeUInt16BE(payloadBytes, 2);
  } else {
    frame[1] = maskFlag | 127;
    frame.writeBigUInt64BE(BigInt(payloadBytes), 2);
  }
  frame.write(text, headerBytes, "utf8");
  if (masked) maskPayload(frame, headerBytes - keyBytes, headerBytes);
  return frame;
}

/** Writes a fresh key at `keyAt` and masks the payload from `payloadAt` to the end with it. */
function maskPayload(frame: Buffer, keyAt: number, payloadAt: number): void {
  if (maskPoolOffset + maskKeyBytes > maskPoolSizeBytes) {
    globalThis.crypto.getRandomValues(maskPool);
    maskPoolOffset = 0;
  }
  for (let index = 0; index < maskKeyBytes; index++) {
    frame[keyAt + index] = maskPool[maskPoolOffset + index]!;
  }
  maskPoolOffset += maskKeyBytes;
  for (let index = payloadAt; index < frame.length; index++) {
    frame[index]! ^= frame[keyAt + ((index - payloadAt) & 3)]!;
  }
}

/**
 * The TCP socket under a `ws` WebSocket when frames may be written to it directly, else
 * undefined (then `ws.send` is used). That needs an extension-free connection: with
 * permessage-deflate `ws` holds frames back while it compresses, and a frame written past it
 * would overtake them. `ws` writes its own frames (pings, pongs, close) whole and at once
 * otherwise, so frames written here interleave with them only between frames.
 */
export function directSocketOf(ws: { readonly extensions: string }): Socket | undefined {
  if (ws.extensions !== "") return undefined;
  // `ws` keeps the socket in a field its types do not declare.
  const socket = (ws as unknown as { _socket?: unknown })._socket;
  if (socket === null || typeof socket !== "object") return undefined;
  const writable = socket as Partial<Socket>;
  return typeof writable.write === "function" ? (socket as Socket) : undefined;
}
