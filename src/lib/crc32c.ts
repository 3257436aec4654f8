/**
 * @module CRC32C (Castagnoli), the checksum of every log record and segment header
 * (docs/log-format.md). It sits on the log's hot path, so it uses slicing-by-8: eight bytes per
 * step through eight lookup tables instead of one byte per step through one.
 */
import { assert } from "./assert.ts";

/** The Castagnoli polynomial 0x1EDC6F41, bit-reflected (the CRC is computed LSB first). */
const polynomial = 0x82f63b78;
/** Entries per table: one for every byte value. */
const tableEntryCount = 256;
/** Tables, and so bytes consumed per step of the main loop. */
const tableCount = 8;
/** The largest value a running CRC can have (an unsigned 32-bit integer). */
const crcValueMax = 0xffff_ffff;

/**
 * The eight tables, back to back: table k at offset k * 256. Table 0 is the classic bytewise
 * table; table k advances a byte's contribution by k more zero bytes. They are Int32Array, not
 * Uint32Array, on purpose: V8 keeps int32 loads in registers, whereas a uint32 above 2^31 becomes
 * a double, which halves the throughput.
 */
const tables: Int32Array = buildTables();

function buildTables(): Int32Array {
  const result = new Int32Array(tableCount * tableEntryCount);
  for (let byte = 0; byte < tableEntryCount; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ polynomial : crc >>> 1;
    result[byte] = crc;
  }
  for (let table = 1; table < tableCount; table++) {
    for (let byte = 0; byte < tableEntryCount; byte++) {
      const previous = result[(table - 1) * tableEntryCount + byte]!;
      result[table * tableEntryCount + byte] = (previous >>> 8) ^ result[previous & 0xff]!;
    }
  }
  return result;
}

/**
 * The CRC32C of `bytes` (of its bytes `start` up to `end`, when given: no subarray needed), as
 * an unsigned 32-bit integer. `initial` is the CRC of the bytes that came before, so a checksum
 * can run across several buffers without concatenating them:
 * `crc32c(b, crc32c(a)) === crc32c(concat(a, b))`.
 *
 * @example
 * crc32c(new TextEncoder().encode("123456789")).toString(16); // -> "e3069283"
 */
export function crc32c(bytes: Uint8Array, initial = 0, start = 0, end = bytes.length): number {
  assert(Number.isInteger(initial), "crc32c: initial must be an integer");
  assert(initial >= 0 && initial <= crcValueMax, "crc32c: initial must be an unsigned 32-bit");
  assert(0 <= start && start <= end && end <= bytes.length, "crc32c: range outside the bytes");
  const t = tables;
  const blockEnd = end - ((end - start) % tableCount);
  let crc = ~initial;
  let i = start;
  // Byte loads and shifts beat a DataView or an (alignment-bound) Uint32Array view here; the
  // table offsets are literal so V8 folds them into the address computation.
  for (; i < blockEnd; i += tableCount) {
    crc ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    crc =
      t[1792 + (crc & 0xff)]! ^
      t[1536 + ((crc >>> 8) & 0xff)]! ^
      t[1280 + ((crc >>> 16) & 0xff)]! ^
      t[1024 + (crc >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < end; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
