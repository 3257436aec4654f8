/**
 * @module The CRC32C loop as a WebAssembly module, assembled here from a readable listing (no
 * build step, no binary blob). Recovery checksums every record of the log; in JavaScript every
 * byte load is bounds-checked and the slicing-by-8 loop costs about 18 instructions a byte,
 * where this loop over sixteen such tables, run where the segment's bytes already lie (an
 * arena in the module's memory, crc32c.ts), costs a fraction of that.
 *
 * The module exports `memory` (the sixteen tables, 16 KiB, then the caller's bytes) and
 * `crc(at, length, crc) -> crc`: the CRC32C of `length` bytes at `at`, continuing `crc` (the
 * same pre- and post-inversion as crc32c.ts, so the two give the same results).
 */

/** WebAssembly's encoding of the types, instructions and sections used below. */
const i32 = 0x7f;
const blockVoid = 0x40;
const op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  i32Load: 0x28,
  i32Load8u: 0x2d,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32And: 0x71,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrU: 0x76,
} as const;
const section = { type: 1, function: 3, memory: 5, export: 7, code: 10 } as const;
const exportKind = { function: 0, memory: 2 } as const;

/** Bytes of one table: 256 int32 entries. */
export const crc32cTableSizeBytes = 1024;
/** Tables the loop reads: table k advances a byte by k more zero bytes (crc32c.ts). */
export const crc32cWasmTableCount = 16;
/** Bytes before the caller's data in the module's memory: the sixteen tables. */
export const crc32cTablesSizeBytes = crc32cWasmTableCount * crc32cTableSizeBytes;

/** The function's locals: its three parameters, then seven of its own. */
const at = 0;
const length = 1;
const crc = 2;
const end = 3;
const blockEnd = 4;
const low = 5;
const high = 6;
/** Where the sixteen-byte steps end, and the third and fourth words of such a step. */
const wideEnd = 7;
const third = 8;
const fourth = 9;

function uleb128(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function sleb128(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const signClear = (byte & 0x40) === 0;
    if ((value === 0 && signClear) || (value === -1 && !signClear)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const get = (local: number): number[] => [op.localGet, local];
const set = (local: number): number[] => [op.localSet, local];
const constant = (value: number): number[] => [op.i32Const, ...sleb128(value)];
/** An aligned-as-you-like i32 load (alignment hint 4 bytes) at a constant offset. */
const load = (offset: number): number[] => [op.i32Load, 2, ...uleb128(offset)];

/** Byte `shift / 8` of a local, as an index into a table. */
function byteOf(local: number, shift: number): number[] {
  if (shift === 24) return [...get(local), ...constant(24), op.i32ShrU];
  const shifted = shift === 0 ? get(local) : [...get(local), ...constant(shift), op.i32ShrU];
  return [...shifted, ...constant(0xff), op.i32And];
}

/** Table `table`'s entry at the index the listing `index` leaves on the stack. */
function lookup(table: number, index: number[]): number[] {
  return [...index, ...constant(2), op.i32Shl, ...load(table * crc32cTableSizeBytes)];
}

/** The four lookups of the word in `local`, whose first byte goes through table `first`. */
function wordLookups(local: number, first: number): number[] {
  return [
    ...[...lookup(first, byteOf(local, 0)), ...lookup(first - 1, byteOf(local, 8)), op.i32Xor],
    ...[...lookup(first - 2, byteOf(local, 16)), op.i32Xor],
    ...[...lookup(first - 3, byteOf(local, 24)), op.i32Xor],
  ];
}

/**
 * Sixteen bytes a step (slicing-by-16: the same one lookup a byte as eight bytes a step, with
 * half the loop's own work and longer independent chains), then eight, then the rest a byte
 * at a time. A recovered record (~190 bytes) took ~1 ns a byte eight at a time.
 */
function crcBody(): number[] {
  const sixteenBytes = [
    ...[...get(at), ...load(0), ...get(crc), op.i32Xor, ...set(low)],
    ...[...get(at), ...load(4), ...set(high)],
    ...[...get(at), ...load(8), ...set(third)],
    ...[...get(at), ...load(12), ...set(fourth)],
    ...wordLookups(low, 15),
    ...[...wordLookups(high, 11), op.i32Xor],
    ...[...wordLookups(third, 7), op.i32Xor],
    ...[...wordLookups(fourth, 3), op.i32Xor, ...set(crc)],
    ...[...get(at), ...constant(16), op.i32Add, ...set(at)],
  ];
  const eightBytes = [
    ...[...get(at), ...load(0), ...get(crc), op.i32Xor, ...set(low)],
    ...[...get(at), ...load(4), ...set(high)],
    ...lookup(7, byteOf(low, 0)),
    ...[...lookup(6, byteOf(low, 8)), op.i32Xor, ...lookup(5, byteOf(low, 16)), op.i32Xor],
    ...[...lookup(4, byteOf(low, 24)), op.i32Xor, ...lookup(3, byteOf(high, 0)), op.i32Xor],
    ...[...lookup(2, byteOf(high, 8)), op.i32Xor, ...lookup(1, byteOf(high, 16)), op.i32Xor],
    ...[...lookup(0, byteOf(high, 24)), op.i32Xor, ...set(crc)],
    ...[...get(at), ...constant(8), op.i32Add, ...set(at)],
  ];
  const oneByte = [
    ...[...get(crc), ...get(at), op.i32Load8u, 0, 0, op.i32Xor, ...constant(0xff), op.i32And],
    ...[...constant(2), op.i32Shl, ...load(0), ...get(crc), ...constant(8), op.i32ShrU],
    ...[op.i32Xor, ...set(crc), ...get(at), ...constant(1), op.i32Add, ...set(at)],
  ];
  /** `while (at < limit) step` */
  const loopUntil = (limit: number, step: number[]): number[] => [
    ...[op.block, blockVoid, op.loop, blockVoid],
    ...[...get(at), ...get(limit), op.i32GeU, op.brIf, 1],
    ...[...step, op.br, 0, op.end, op.end],
  ];
  return [
    ...[...get(crc), ...constant(-1), op.i32Xor, ...set(crc)],
    ...[...get(at), ...get(length), op.i32Add, ...set(end)],
    ...[...get(at), ...get(length), ...constant(-16), op.i32And, op.i32Add, ...set(wideEnd)],
    ...[...get(at), ...get(length), ...constant(-8), op.i32And, op.i32Add, ...set(blockEnd)],
    ...loopUntil(wideEnd, sixteenBytes),
    ...loopUntil(blockEnd, eightBytes),
    ...loopUntil(end, oneByte),
    ...[...get(crc), ...constant(-1), op.i32Xor, op.end],
  ];
}

function sectionOf(id: number, contents: number[]): number[] {
  return [id, ...uleb128(contents.length), ...contents];
}

function nameOf(name: string): number[] {
  const bytes = [...new TextEncoder().encode(name)];
  return [...uleb128(bytes.length), ...bytes];
}

/** The module's bytes: one function type, one function, a memory of one page, two exports. */
export function crc32cWasmCode(): Uint8Array {
  const functionType = [0x60, 3, i32, i32, i32, 1, i32];
  const localsOwn = [1, 7, i32]; // one group of seven i32 locals
  const code = [...localsOwn, ...crcBody()];
  const exports = [
    ...[2, ...nameOf("crc"), exportKind.function, 0],
    ...[...nameOf("memory"), exportKind.memory, 0],
  ];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0], // "\0asm", version 1
    ...sectionOf(section.type, [1, ...functionType]),
    ...sectionOf(section.function, [1, 0]),
    ...sectionOf(section.memory, [1, 0, 1]), // no maximum, one page at first
    ...sectionOf(section.export, exports),
    ...sectionOf(section.code, [1, ...uleb128(code.length), ...code]),
  ]);
}
