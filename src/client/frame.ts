/**
 * @module Encodes a client's text message as one masked WebSocket frame, for the Node
 * transport (socket.ts) to write to its TCP socket directly. `ws` sends a frame as two
 * buffers (header, then the masked payload) through a corked stream, so Node gathers them
 * into a `writev` and runs its buffered-write path for every request; one buffer takes the
 * direct write path, as the server's answers do (server/ws/frame.ts). The frame is RFC 6455's:
 * FIN, opcode 1 (text), the mask bit set with a fresh 4-byte key (a client must mask every
 * frame, with a key the network cannot predict: §5.3), length in 7, 16 or 64 bits.
 */

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
 * frames, so the call's cost is spread over many requests, as `ws` does with its own pool.
 */
const maskPoolSizeBytes = 8192;

const maskPool = new Uint8Array(maskPoolSizeBytes);
/** The next unused byte of {@link maskPool}; at its end, the pool is drawn again. */
let maskPoolOffset = maskPoolSizeBytes;

/** The masked frame of a text message holding `text`. */
export function encodeMaskedTextFrame(text: string): Buffer {
  const payloadBytes = Buffer.byteLength(text);
  const lengthBytes =
    payloadBytes <= payloadLength7BitMax ? 0 : payloadBytes <= payloadLength16BitMax ? 2 : 8;
  const headerBytes = 2 + lengthBytes + maskKeyBytes;
  const frame = Buffer.allocUnsafe(headerBytes + payloadBytes);
  frame[0] = textFrameFirstByte;
  if (lengthBytes === 0) {
    frame[1] = maskBit | payloadBytes;
  } else if (lengthBytes === 2) {
    frame[1] = maskBit | 126;
    frame.writeUInt16BE(payloadBytes, 2);
  } else {
    frame[1] = maskBit | 127;
    frame.writeBigUInt64BE(BigInt(payloadBytes), 2);
  }
  if (maskPoolOffset + maskKeyBytes > maskPoolSizeBytes) {
    globalThis.crypto.getRandomValues(maskPool);
    maskPoolOffset = 0;
  }
  const keyAt = headerBytes - maskKeyBytes;
  for (let index = 0; index < maskKeyBytes; index++) {
    frame[keyAt + index] = maskPool[maskPoolOffset + index]!;
  }
  maskPoolOffset += maskKeyBytes;
  frame.write(text, headerBytes, "utf8");
  for (let index = 0; index < payloadBytes; index++) {
    frame[headerBytes + index]! ^= frame[keyAt + (index & 3)]!;
  }
  return frame;
}
