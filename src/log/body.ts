/**
 * @module The binary body of a log record (format 2, docs/log-format.md): the commit's time,
 * origin and changes, each value as a one-byte tag and its bytes. It replaces the JSON body of
 * format 1 on the commit path because building JSON text cost more than the rest of the
 * record together; format 1 bodies (which start with `{`) are still read.
 */
import { assert, assertionFailed } from "../lib/assert.ts";
import { dataViewOf } from "../lib/bytes.ts";
import { DbError } from "../lib/errors.ts";
import { jsonDepthMax } from "../lib/limits.ts";
import { rowConstructor, setOwnKey } from "../lib/row-object.ts";
import type { RowConstructor } from "../lib/row-object.ts";
import { Decimal, Duration } from "../values/index.ts";
import type { Change, Commit, Origin } from "../engine/index.ts";

/** First byte of a format-2 body; a format-1 (JSON) body starts with `{` instead. */
export const bodyFormatBinary = 0x02;

/** Nesting allowed in encoded values: user JSON plus the record's own structure. */
const bodyDepthMax = jsonDepthMax + 8;
/** Strings up to this length are written byte by byte when ASCII (a native call costs more). */
const stringInlineLengthMax = 32;
/** The scratch buffer's first size; it doubles when a record needs more. */
const scratchSizeBytesInitial = 64 * 1024;

/** What {@link BodyWriter.encodeInto} throws to itself when the caller's buffer is full. */
const noRoom = new Error("the body does not fit the buffer given");

/** Value tags: the first byte of every value. */
const Tag = {
  Undefined: 0,
  Null: 1,
  False: 2,
  True: 3,
  Int32: 4,
  Float64: 5,
  Text: 6,
  BigInt: 7,
  Date: 8,
  Decimal: 9,
  Duration: 10,
  Blob: 11,
  List: 12,
  Record: 13,
} as const;
type Tag = (typeof Tag)[keyof typeof Tag];

/**
 * Writes bodies into one growing scratch buffer. The caller reserves `headerSizeBytes` in
 * front, so the finished frame is one copy out of the scratch.
 */
export class BodyWriter {
  private buffer: Buffer = Buffer.allocUnsafe(scratchSizeBytesInitial);
  private view: DataView = dataViewOf(this.buffer);
  private at = 0;
  /** Set while writing into a caller's buffer ({@link encodeInto}), which cannot grow. */
  private fixed = false;

  /**
   * Like {@link encode}, but writes into `target` (whose DataView is `view`) from `start` on:
   * the log encodes each record straight into its pending buffer, with no copy. Returns the
   * end, or -1 when the body does not fit before the end of `target` (the bytes from `start`
   * on then hold part of it).
   */
  encodeInto(
    target: Buffer,
    view: DataView,
    start: number,
    ts: number,
    origin: Origin,
    changes: readonly Change[],
  ): number {
    const own = this.buffer;
    const ownView = this.view;
    this.buffer = target;
    this.view = view;
    this.fixed = true;
    try {
      return this.encode(start, ts, origin, changes);
    } catch (error) {
      if (error === noRoom) return -1;
      throw error;
    } finally {
      this.buffer = own;
      this.view = ownView;
      this.fixed = false;
    }
  }

  /** Encodes `ts`, `origin` and `changes` after `headerSizeBytes` of room; returns the end. */
  encode(headerSizeBytes: number, ts: number, origin: Origin, changes: readonly Change[]): number {
    this.at = headerSizeBytes;
    this.ensure(16);
    this.buffer[this.at++] = bodyFormatBinary;
    this.view.setFloat64(this.at, ts);
    this.at += 8;
    this.value(origin, 0);
    this.u32(changes.length);
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i]!;
      this.text(change.object);
      this.text(change.kind);
      this.value(change.key, 0);
      this.value(change.before, 0);
      this.value(change.after, 0);
    }
    return this.at;
  }

  /** The bytes written so far (valid until the next `encode`). */
  get bytes(): Buffer {
    return this.buffer;
  }

  private ensure(sizeBytes: number): void {
    if (this.at + sizeBytes <= this.buffer.length) return;
    if (this.fixed) throw noRoom;
    let size = this.buffer.length * 2;
    while (size < this.at + sizeBytes) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.at);
    this.buffer = grown;
    this.view = dataViewOf(grown);
  }

  private u32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.at, value);
    this.at += 4;
  }

  private tag(tag: Tag): void {
    this.ensure(1);
    this.buffer[this.at++] = tag;
  }

  private value(value: unknown, depth: number): void {
    assert(depth <= bodyDepthMax, "value nested too deeply for the log");
    switch (typeof value) {
      case "string":
        this.tag(Tag.Text);
        this.text(value);
        return;
      case "number":
        this.number(value);
        return;
      case "boolean":
        this.tag(value ? Tag.True : Tag.False);
        return;
      case "bigint":
        this.tag(Tag.BigInt);
        this.text(value.toString());
        return;
      case "undefined":
        this.tag(Tag.Undefined);
        return;
      default:
        this.object(value, depth);
    }
  }

  private number(value: number): void {
    assert(Number.isFinite(value), "the log cannot hold a non-finite number");
    this.ensure(9);
    if ((value | 0) === value) {
      this.buffer[this.at++] = Tag.Int32;
      this.view.setInt32(this.at, value);
      this.at += 4;
    } else {
      this.buffer[this.at++] = Tag.Float64;
      this.view.setFloat64(this.at, value);
      this.at += 8;
    }
  }

  private object(value: unknown, depth: number): void {
    if (value === null) return this.tag(Tag.Null);
    // Rows and documents first: one prototype check instead of four instanceof walks.
    if (Object.getPrototypeOf(value) === Object.prototype) {
      return this.record(value as Record<string, unknown>, depth);
    }
    if (Array.isArray(value)) {
      this.tag(Tag.List);
      this.u32(value.length);
      for (let i = 0; i < value.length; i++) this.value(value[i], depth + 1);
      return;
    }
    if (value instanceof Date) return this.float(Tag.Date, value.getTime());
    if (value instanceof Decimal) {
      this.tag(Tag.Decimal);
      return this.text(value.toString());
    }
    if (value instanceof Duration) return this.float(Tag.Duration, value.ms);
    if (value instanceof Uint8Array) {
      this.tag(Tag.Blob);
      this.u32(value.length);
      this.ensure(value.length);
      this.buffer.set(value, this.at);
      this.at += value.length;
      return;
    }
    this.record(value as Record<string, unknown>, depth);
  }

  private record(record: Record<string, unknown>, depth: number): void {
    this.tag(Tag.Record);
    // The count is patched in after the keys are walked: one pass over them.
    this.ensure(4);
    const countAt = this.at;
    this.at += 4;
    let count = 0;
    for (const key in record) {
      this.text(key);
      this.value(record[key], depth + 1);
      count++;
    }
    this.view.setUint32(countAt, count);
  }

  private float(tag: Tag, value: number): void {
    this.ensure(9);
    this.buffer[this.at++] = tag;
    this.view.setFloat64(this.at, value);
    this.at += 8;
  }

  /** A u32 byte length and UTF-8, or (for strings UTF-8 cannot carry) tagged UTF-16. */
  private text(text: string): void {
    const length = text.length;
    if (length <= stringInlineLengthMax && this.ascii(text)) return;
    if (!isWellFormed(text)) return this.utf16(text);
    this.ensure(4 + length * 3);
    const written = this.buffer.write(text, this.at + 4, "utf8");
    this.view.setUint32(this.at, written);
    this.at += 4 + written;
  }

  /** Writes a short string byte by byte; false (writing nothing) if it is not ASCII. */
  private ascii(text: string): boolean {
    const length = text.length;
    this.ensure(4 + length);
    const buffer = this.buffer;
    const start = this.at + 4;
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code > 0x7f) return false;
      buffer[start + i] = code;
    }
    this.view.setUint32(this.at, length);
    this.at = start + length;
    return true;
  }

  /** A string UTF-8 cannot carry: the length marker 0xffffffff, the unit count, the units. */
  private utf16(text: string): void {
    this.ensure(8 + text.length * 2);
    this.view.setUint32(this.at, utf16Marker);
    this.view.setUint32(this.at + 4, text.length);
    this.at += 8;
    for (let i = 0; i < text.length; i++) {
      this.view.setUint16(this.at, text.charCodeAt(i));
      this.at += 2;
    }
  }
}

/** `String.prototype.isWellFormed` (Node 20 has it; the TypeScript lib we target does not). */
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** A string length of all ones announces UTF-16 code units (a lone surrogate inside). */
const utf16Marker = 0xffff_ffff;

/** Buffer's own UTF-8 slicer, which `toString("utf8", start, end)` calls after its checks. */
type Utf8Slicer = (this: Buffer, start: number, end: number) => string;
const bufferUtf8Slice = (Buffer.prototype as unknown as { utf8Slice?: Utf8Slicer }).utf8Slice;

/**
 * The text of bytes [start, end) of `buffer`, read as UTF-8 (invalid sequences become
 * U+FFFD, as with `toString`). It calls Buffer's slicer directly when this Node has one:
 * `toString`'s argument checks and encoding look-up took 40 of its 110 ns for a 26-byte
 * string, once for every text value decoded at recovery.
 */
function utf8Slice(buffer: Buffer, start: number, end: number): string {
  if (bufferUtf8Slice === undefined) return buffer.toString("utf8", start, end);
  return bufferUtf8Slice.call(buffer, start, end);
}

/** A decoded body. */
export interface DecodedBody {
  ts: number;
  origin: Origin;
  changes: Change[];
}

/** Decodes a format-2 body; throws CORRUPT naming what is wrong. */
export function decodeBinaryBody(
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
): DecodedBody {
  const reader = new BodyReader(bytes, start, end);
  const ts = readHead(reader);
  const origin = reader.origin();
  return { ts, origin, changes: readChanges(reader, end - start) };
}

/**
 * Decodes the format-2 bodies of many records in one array (a segment at recovery) straight
 * into commits, with one reader for them all: no reader, views or intermediate body object
 * per record.
 */
export class CommitDecoder {
  private readonly reader: BodyReader;

  constructor(bytes: Uint8Array) {
    this.reader = new BodyReader(bytes, 0, 0);
  }

  /** Commit `seq` from the body in [start, end); throws CORRUPT naming what is wrong. */
  commit(seq: number, start: number, end: number): Commit {
    const reader = this.reader;
    reader.reset(start, end);
    const ts = readHead(reader);
    const origin = reader.origin();
    return new DecodedCommit(seq, ts, origin, readChanges(reader, end - start));
  }
}

/**
 * Decoded commits and changes are made by constructors, not object literals: a literal's
 * objects each carry an allocation memento (16 bytes, a tenth of a replayed single-row
 * record's allocation), and V8 may decide to allocate all later objects of a literal in the
 * old generation when a scavenge finds most of them alive, as the change feed's ring keeps
 * the last commits (docs/performance.md, "Runs in a slow mode"); the engine makes its own
 * commits the same way. Their prototype is `Object.prototype`: plain objects to every reader.
 */
type ChangeConstructor = new (
  object: string,
  kind: string,
  key: unknown,
  before: unknown,
  after: unknown,
) => Change;
const DecodedChange = function (
  this: Record<string, unknown>,
  object: string,
  kind: string,
  key: unknown,
  before: unknown,
  after: unknown,
): void {
  this.object = object;
  this.kind = kind;
  this.key = key;
  this.before = before;
  this.after = after;
} as unknown as ChangeConstructor;
DecodedChange.prototype = Object.prototype;

type CommitConstructor = new (
  seq: number,
  ts: number,
  origin: Origin,
  changes: readonly Change[],
) => Commit;
const DecodedCommit = function (
  this: Record<string, unknown>,
  seq: number,
  ts: number,
  origin: Origin,
  changes: readonly Change[],
): void {
  this.seq = seq;
  this.ts = ts;
  this.origin = origin;
  this.changes = changes;
} as unknown as CommitConstructor;
DecodedCommit.prototype = Object.prototype;

/** The format byte and the commit time. */
function readHead(reader: BodyReader): number {
  if (reader.byte() !== bodyFormatBinary) reader.fail("unknown body format");
  return reader.float64();
}

/** The changes, to the body's end. */
function readChanges(reader: BodyReader, bodySizeBytes: number): Change[] {
  const count = reader.u32();
  // Every change takes at least 13 bytes: a bound before allocating for a bogus count.
  if (count * 13 > bodySizeBytes) reader.fail(`change count ${count} exceeds the body`);
  const changes: Change[] = new Array<Change>(count);
  for (let i = 0; i < count; i++) {
    const object = reader.name();
    const kind = reader.name();
    const key = reader.value(0);
    const before = reader.value(0);
    changes[i] = new DecodedChange(object, kind, key, before, reader.value(0));
  }
  if (!reader.done) reader.fail("bytes after the last change");
  return changes;
}

/**
 * The Buffer and DataView over an array of records, made once per array when it is large (a
 * segment holds hundreds of thousands of records). Weakly held: a segment read at recovery is
 * not kept. A small array (one replicated message) gets its own, unremembered: an entry per
 * message would only give the collector more to trace.
 */
const views = new WeakMap<Uint8Array, { readonly buffer: Buffer; readonly view: DataView }>();
/** Arrays at least this large have their views remembered. */
const viewsRememberedSizeBytesMin = 64 * 1024;

export function viewsOf(bytes: Uint8Array): { readonly buffer: Buffer; readonly view: DataView } {
  const remembered = bytes.length >= viewsRememberedSizeBytesMin;
  let found = remembered ? views.get(bytes) : undefined;
  if (found === undefined) {
    found = {
      buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length),
      view: dataViewOf(bytes),
    };
    if (remembered) views.set(bytes, found);
  }
  return found;
}

/** Longest origin kept by {@link OriginCache}, in bytes. */
const originCachedSizeBytesMax = 64;

/**
 * The last origin decoded, with its bytes. The commits of one operation share one frozen
 * origin when written (lib/origin.ts), so a log holds the same origin bytes record after
 * record; decoding them once and handing out that value (frozen, as the writer's) spared a
 * replayed single-row record about a tenth of its decoding.
 */
class OriginCache {
  readonly bytes = new Uint8Array(originCachedSizeBytesMax);
  sizeBytes = 0;
  value: Origin | undefined = undefined;

  /** The cached origin if its bytes start at `start` (before `end`) of `buffer`. */
  get(buffer: Uint8Array, start: number, end: number): Origin | undefined {
    const size = this.sizeBytes;
    if (this.value === undefined || start + size > end) return undefined;
    const bytes = this.bytes;
    for (let i = 0; i < size; i++) if (buffer[start + i] !== bytes[i]) return undefined;
    return this.value;
  }

  /** Keeps `value`, decoded from bytes [start, end) of `buffer`, if small and plain. */
  set(value: Origin, buffer: Uint8Array, start: number, end: number): void {
    const size = end - start;
    if (size > originCachedSizeBytesMax || !isPlain(value, 0)) return;
    assert(size > 0, "an origin takes at least its tag");
    freezeDeep(value);
    this.bytes.set(buffer.subarray(start, end));
    this.sizeBytes = size;
    this.value = value;
  }
}

/** Whether `value` is made of records, lists and primitives only (no Date, blob, …). */
function isPlain(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== "object") return true;
  if (depth > bodyDepthMax) return false;
  if (!Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key in value) {
    if (!isPlain((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

/** Freezes a plain value ({@link isPlain}) and everything in it. */
function freezeDeep(value: unknown): void {
  if (value === null || typeof value !== "object") return;
  for (const key in value) freezeDeep((value as Record<string, unknown>)[key]);
  Object.freeze(value);
}

const origins = new OriginCache();

/** Longest name kept in {@link NameCache}, in bytes. */
const nameCachedLengthMax = 32;
/** Slots of {@link NameCache} (a power of two); a colliding name replaces the older one. */
const nameCacheSlotCount = 1024;

/** Interned strings of short ASCII names, found by a hash of their bytes. */
class NameCache {
  private readonly slots = new Array<string | undefined>(nameCacheSlotCount);

  /** The cached string equal to `length` bytes at `start`, caching it if it is new ASCII. */
  lookup(buffer: Buffer, start: number, length: number): string | undefined {
    if (length > nameCachedLengthMax) return undefined;
    let hash = length;
    for (let i = start; i < start + length; i++) hash = Math.imul(hash ^ buffer[i]!, 0x01000193);
    const slot = (hash >>> 0) & (nameCacheSlotCount - 1);
    const cached = this.slots[slot];
    if (cached !== undefined && sameAscii(cached, buffer, start, length)) return cached;
    for (let i = start; i < start + length; i++) if (buffer[i]! > 0x7f) return undefined;
    // A computed key comes back from Object.keys internalized: later rows reuse it as is.
    const name = Object.keys({ [buffer.toString("latin1", start, start + length)]: 0 })[0]!;
    this.slots[slot] = name;
    return name;
  }
}

function sameAscii(text: string, buffer: Buffer, start: number, length: number): boolean {
  if (text.length !== length) return false;
  for (let i = 0; i < length; i++) if (text.charCodeAt(i) !== buffer[start + i]) return false;
  return true;
}

const names = new NameCache();

/**
 * Decoded records (rows above all: a recovered table's rows are these) are made by one
 * constructor per key count, so V8 sizes each to its keys (lib/row-object.ts); a literal
 * would keep four in-object slots and spill a fifth key and beyond into a property array.
 */
const recordConstructorKeysMax = 32;
const recordConstructors: RowConstructor[] = [];

function newRecord(keyCount: number): Record<string, unknown> {
  if (keyCount > recordConstructorKeysMax) return {};
  const RowObject = (recordConstructors[keyCount] ??= rowConstructor());
  return new RowObject();
}

/**
 * Reads the body in bytes [start, end) of a larger array (a segment, a batch of records). The
 * Buffer and DataView over that array are made once for all the bodies it holds: making them
 * per record cost a quarter of decoding a small one.
 */
class BodyReader {
  private at: number;
  private readonly view: DataView;
  private readonly buffer: Buffer;
  private readonly length: number;

  constructor(
    bytes: Uint8Array,
    private start: number,
    private end: number,
  ) {
    assert(0 <= start && start <= end && end <= bytes.length, "body range outside its bytes");
    const { buffer, view } = viewsOf(bytes);
    this.buffer = buffer;
    this.view = view;
    this.length = bytes.length;
    this.at = start;
  }

  /** Reads the body in bytes [start, end) of the same array next (one reader for them all). */
  reset(start: number, end: number): void {
    if (!(0 <= start && start <= end && end <= this.length)) {
      assertionFailed("body range outside its bytes");
    }
    this.start = start;
    this.end = end;
    this.at = start;
  }

  get done(): boolean {
    return this.at === this.end;
  }

  fail(reason: string): never {
    throw new DbError("CORRUPT", `${reason} (body byte ${this.at - this.start})`);
  }

  private need(sizeBytes: number): void {
    if (this.at + sizeBytes > this.end) this.fail("body ends inside a value");
  }

  byte(): number {
    this.need(1);
    return this.buffer[this.at++]!;
  }

  u32(): number {
    this.need(4);
    const value = this.view.getUint32(this.at);
    this.at += 4;
    return value;
  }

  float64(): number {
    this.need(8);
    const value = this.view.getFloat64(this.at);
    this.at += 8;
    return value;
  }

  text(): string {
    return this.string(false);
  }

  /** The commit's origin: a record, the same value as the last one when its bytes are. */
  origin(): Origin {
    const start = this.at;
    const cached = origins.get(this.buffer, start, this.end);
    if (cached !== undefined) {
      this.at += origins.sizeBytes;
      return cached;
    }
    const origin = this.value(0) as Origin;
    if (origin === null || typeof origin !== "object" || Array.isArray(origin)) {
      this.fail("origin is not an object");
    }
    origins.set(origin, this.buffer, start, this.at);
    return origin;
  }

  /**
   * A name that repeats from record to record (an object, a change kind, a column): short
   * ASCII names come from {@link names}, so every row decoded gets the same interned key
   * strings, the way JSON.parse gives them (a fresh key string per property made each row
   * take V8's slow path for adding a property).
   */
  name(): string {
    return this.string(true);
  }

  private string(interned: boolean): string {
    const length = this.u32();
    if (length === utf16Marker) return this.utf16();
    this.need(length);
    const start = this.at;
    this.at += length;
    const name = interned ? names.lookup(this.buffer, start, length) : undefined;
    return name ?? utf8Slice(this.buffer, start, start + length);
  }

  private utf16(): string {
    const length = this.u32();
    this.need(length * 2);
    let out = "";
    for (let i = 0; i < length; i++) {
      out += String.fromCharCode(this.view.getUint16(this.at));
      this.at += 2;
    }
    return out;
  }

  value(depth: number): unknown {
    if (depth > bodyDepthMax) this.fail("value nested too deeply");
    const tag = this.byte();
    switch (tag) {
      case Tag.Undefined:
        return undefined;
      case Tag.Null:
        return null;
      case Tag.False:
        return false;
      case Tag.True:
        return true;
      case Tag.Int32: {
        this.need(4);
        const value = this.view.getInt32(this.at);
        this.at += 4;
        return value;
      }
      case Tag.Float64:
        return this.finite();
      case Tag.Text:
        return this.text();
      case Tag.BigInt:
        return this.bigint();
      case Tag.Date:
        return new Date(this.finite());
      case Tag.Decimal:
        return this.decimal();
      case Tag.Duration:
        return new Duration(this.finite());
      case Tag.Blob: {
        const length = this.u32();
        this.need(length);
        this.at += length;
        // A copy: the record's buffer is not kept alive by the values decoded from it.
        return new Uint8Array(this.buffer.subarray(this.at - length, this.at));
      }
      case Tag.List:
        return this.list(depth);
      case Tag.Record:
        return this.record(depth);
      default:
        return this.fail(`unknown value tag ${tag}`);
    }
  }

  private finite(): number {
    const value = this.float64();
    if (!Number.isFinite(value)) this.fail("non-finite number");
    return value;
  }

  private bigint(): bigint {
    const text = this.text();
    if (!/^-?\d+$/.test(text)) this.fail("malformed bigint");
    return BigInt(text);
  }

  private decimal(): Decimal {
    const text = this.text();
    try {
      return Decimal.parse(text);
    } catch {
      return this.fail("malformed decimal");
    }
  }

  private list(depth: number): unknown[] {
    const count = this.u32();
    if (count > this.end - this.at) this.fail(`list length ${count} exceeds the body`);
    const out = new Array<unknown>(count);
    for (let i = 0; i < count; i++) out[i] = this.value(depth + 1);
    return out;
  }

  private record(depth: number): Record<string, unknown> {
    const count = this.u32();
    if (count > this.end - this.at) this.fail(`key count ${count} exceeds the body`);
    const out = newRecord(count);
    for (let i = 0; i < count; i++) {
      const key = this.name();
      setOwnKey(out, key, this.value(depth + 1));
    }
    return out;
  }
}
