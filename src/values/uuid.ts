/** @module UUID generation for `uuid4` and `uuid7` columns (RFC 9562 layouts). */
import { randomBytes } from "../lib/prng.ts";

function format(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString("hex");
  const parts = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20)];
  return `${parts.join("-")}-${hex.slice(20)}`;
}

/** A random (version 4) UUID. */
export function uuid4(): string {
  const bytes = randomBytes(16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return format(bytes);
}

/** A time-ordered (version 7) UUID whose first 48 bits are `nowMs`. */
export function uuid7(nowMs: number): string {
  const bytes = randomBytes(16);
  let ms = Math.max(0, Math.floor(nowMs));
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return format(bytes);
}
