/**
 * @module CRC32C (Castagnoli), the checksum of every log record and segment header
 * (docs/log-format.md). It sits on the log's hot path, so it uses slicing-by-8: eight bytes per
 * step through eight lookup tables instead of one byte per step through one.
 */
import { assert, assertionFailed } from "./assert.ts";
import { crc32cTablesSizeBytes, crc32cWasmCode, crc32cWasmTableCount } from "./crc32c-wasm.ts";

/** The Castagnoli polynomial 0x1EDC6F41, bit-reflected (the CRC is computed LSB first). */
const polynomial = 0x82f63b78;
/** Entries per table: one for every byte value. */
const tableEntryCount = 256;
/** Tables, and so bytes consumed per step of the main loop. */
const tableCount = 8;
/** The largest value a running CRC can have (an unsigned 32-bit integer). */
const crcValueMax = 0xffff_ffff;

/**
 * The tables, back to back: table k at offset k * 256. Table 0 is the classic bytewise table;
 * table k advances a byte's contribution by k more zero bytes. The JavaScript loop reads the
 * first eight, the WebAssembly loop all sixteen. They are Int32Array, not Uint32Array, on
 * purpose: V8 keeps int32 loads in registers, whereas a uint32 above 2^31 becomes a double,
 * which halves the throughput.
 */
const tables: Int32Array = buildTables(Math.max(tableCount, crc32cWasmTableCount));

function buildTables(count: number): Int32Array {
  const result = new Int32Array(count * tableEntryCount);
  for (let byte = 0; byte < tableEntryCount; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ polynomial : crc >>> 1;
    result[byte] = crc;
  }
  for (let table = 1; table < count; table++) {
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
  // Bytes in the live arena are checksummed by WebAssembly where they lie. The length test
  // first: reading `buffer` of a small array kept on V8's heap would move it off the heap.
  const arena = liveArena;
  if (arena !== undefined && bytes.length >= arenaBytesMin && bytes.buffer === arena.buffer) {
    return arena.run(bytes.byteOffset + start, end - start, initial) >>> 0;
  }
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

/**
 * CRC32Cs of many ranges of one array (recovery's records, one after another in a segment),
 * for {@link crc32c}'s price without its per-call work: whether the array lies in an arena
 * is asked once, not per range, and a range is checked with one test instead of three
 * assertions. The JavaScript around each WebAssembly call was a fifth of a record's CRC.
 */
export class Crc32cRanges {
  /** The arena's loop when `bytes` lie in the live arena; undefined: JavaScript. */
  private readonly run: WasmCrc | undefined;
  /** Where `bytes` start in the arena's memory. */
  private readonly base: number;

  constructor(readonly bytes: Uint8Array) {
    const arena = liveArena;
    const inArena =
      arena !== undefined && bytes.length >= arenaBytesMin && bytes.buffer === arena.buffer;
    // The loop runs over its own instance's memory, which `bytes` view: it stays right for
    // them after the arena is released or another one is made.
    this.run = inArena ? arena.run : undefined;
    this.base = bytes.byteOffset;
  }

  /** The CRC32C of bytes [start, end) of the array. */
  of(start: number, end: number): number {
    if (!(0 <= start && start <= end && end <= this.bytes.length)) {
      assertionFailed("crc32c: range outside the bytes");
    }
    const run = this.run;
    if (run === undefined) return crc32c(this.bytes, 0, start, end);
    return run(this.base + start, end - start, 0) >>> 0;
  }
}

// ---- Arenas: bytes the WebAssembly loop checksums in place ----

/** Arrays shorter than this are never looked for in the arena (see crc32c). */
const arenaBytesMin = 4096;
/** WebAssembly's page: memories grow by whole pages. */
const wasmPageSizeBytes = 64 * 1024;
/** The largest arena made, in bytes; a larger request gets plain memory (a 32-bit memory). */
export const crc32cArenaSizeBytesMax = 1024 * 1024 * 1024;

/** The part of the WebAssembly API used here (TypeScript's lib for Node does not declare it). */
interface WasmApi {
  Module: new (code: Uint8Array) => object;
  Instance: new (module: object) => { exports: { crc: WasmCrc; memory: WasmMemory } };
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The compiled module, made on first use; null when this Node runs without WebAssembly. */
let wasmModule: object | null | undefined;

function compiledModule(): object | null {
  if (wasmModule === undefined) {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    try {
      wasmModule = wasm === undefined ? null : new wasm.Module(crc32cWasmCode());
    } catch {
      // `node --jitless` has no WebAssembly: crc32c then checksums everything in JavaScript.
      wasmModule = null;
    }
  }
  return wasmModule;
}

/** An instance whose memory holds the tables and `sizeBytes` more; undefined if none can be. */
function wasmInstance(sizeBytes: number): { crc: WasmCrc; memory: WasmMemory } | undefined {
  const module = compiledModule();
  if (module === null) return undefined;
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly!;
  const pages = Math.ceil((crc32cTablesSizeBytes + sizeBytes) / wasmPageSizeBytes);
  try {
    const exports = new wasm.Instance(module).exports;
    // Growing replaces the memory's ArrayBuffer: every view is made after it.
    exports.memory.grow(pages - exports.memory.buffer.byteLength / wasmPageSizeBytes);
    return exports;
  } catch (error) {
    // No address space for it (a ulimit on virtual memory): plain memory does the same work.
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}

/** The one arena crc32c looks for, the newest made; checksums elsewhere run in JavaScript. */
let liveArena: { readonly buffer: ArrayBuffer; readonly run: WasmCrc } | undefined;

type WasmCrc = (at: number, length: number, crc: number) => number;

/**
 * Memory for a large array that is checksummed piece by piece (recovery reads each log segment
 * into one): while the arena is live, `crc32c` over any view of {@link bytes} runs in
 * WebAssembly, with no copy. One arena is live at a time, the newest; a view of an older one,
 * or of an arena made without WebAssembly, is checksummed in JavaScript, with the same result.
 * {@link release} ends it: the memory is freed when nothing refers to it any more.
 */
export class Crc32cArena {
  /** The arena's bytes: zeros at first. */
  readonly bytes: Uint8Array;
  /** Whether crc32c over it runs in WebAssembly (false: plain memory, JavaScript). */
  readonly inWasm: boolean;

  constructor(sizeBytes: number) {
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes >= 0, "arena size must be whole");
    const exports = sizeBytes <= crc32cArenaSizeBytesMax ? wasmInstance(sizeBytes) : undefined;
    if (exports === undefined) {
      this.bytes = new Uint8Array(sizeBytes);
      this.inWasm = false;
      return;
    }
    const memory = exports.memory;
    new Int32Array(memory.buffer, 0, tables.length).set(tables);
    this.bytes = new Uint8Array(memory.buffer, crc32cTablesSizeBytes, sizeBytes);
    this.inWasm = true;
    liveArena = { buffer: memory.buffer, run: exports.crc };
  }

  /** Ends the arena's fast path (if it is still the live one); its bytes stay readable. */
  release(): void {
    if (liveArena?.buffer === this.bytes.buffer) liveArena = undefined;
  }
}
