/**
 * @module Snapshots: an on-disk image of the whole state as of one commit, written while
 * commits go on. Object metadata is captured at once; entries are read in chunks between
 * commits, and a commit listener keeps the `before` of every entry changed ahead of the
 * reader, so the image is exactly the state at the snapshot's seq (copy-on-write by change).
 * The file is JSON lines with a CRC32C trailer, written to a temporary name, synced,
 * renamed, and the directory synced: a crash leaves either the old set or the new one.
 */
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { assert } from "../lib/assert.ts";
import { crc32c } from "../lib/crc32c.ts";
import { DbError } from "../lib/errors.ts";
import type { Engine, ObjectDefinition, SnapshotSource, StoredObject } from "../engine/index.ts";
import type { Storage } from "../storage/index.ts";
import { decodeValue, encodeValue } from "./codec.ts";
import { throwIfAborted } from "./abort.ts";

export const snapshotFormat = "statebase-snapshot-1";
/** Entries read per step; bounds how long one step holds the event loop. */
export const snapshotChunkEntries = 256;
/** Bytes buffered before a write to the snapshot file. */
const snapshotWriteBytes = 64 * 1024;
const namePattern = /^snapshot-(\d{20})\.jsonl$/;
/** Bytes read at a time while looking for the end of a snapshot's first line. */
const snapshotHeaderReadBytes = 64 * 1024;

export function snapshotName(seq: number): string {
  return `snapshot-${String(seq).padStart(20, "0")}.jsonl`;
}

export function snapshotSeqOf(name: string): number | undefined {
  const match = namePattern.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** What a written snapshot covers. */
export interface SnapshotInfo {
  readonly name: string;
  readonly seq: number;
  readonly sizeBytes: number;
  readonly entryCount: number;
}

/** A snapshot read back: enough to rebuild the state. */
export interface SnapshotImage {
  readonly seq: number;
  readonly ts: number;
  /** Hash of log record `seq`, so the log after it can be checked against it. */
  readonly hash: Uint8Array;
  readonly namespaces: string[];
  readonly objects: Array<{
    definition: ObjectDefinition;
    meta: unknown;
    entries: Array<[unknown, unknown]>;
  }>;
}

interface Capture {
  readonly object: StoredObject;
  readonly source: SnapshotSource;
  /** First `before` of entries changed after the snapshot's seq: `[key, before]`. */
  readonly overlay: Map<unknown, readonly [unknown, unknown]>;
  /** Map keys already written. */
  readonly read: Set<unknown>;
}

export interface WriteSnapshotOptions {
  /**
   * The commit time of the state the engine was restored to (a snapshot it was loaded
   * from), for a snapshot taken before any commit since: the state is that old, not as new
   * as the clock, and `db.at(date)` and time retention pick snapshots by that time.
   */
  readonly restoredTs?: number | undefined;
  /**
   * Settles once the log holds the snapshot's seq on disk. The file takes its real name only
   * then; a rejection (the log failed) abandons it: it would hold commits the log lost, and
   * a log that ends before the newest snapshot refuses to start.
   */
  readonly logDurable?: Promise<void>;
}

/** Writes a snapshot of `engine` as of now. Commits may run while it is written. */
export async function writeSnapshot(
  engine: Engine,
  storage: Storage,
  lastHash: Uint8Array,
  options: WriteSnapshotOptions = {},
): Promise<SnapshotInfo> {
  assert(engine.current === undefined, "snapshot started inside a transaction");
  const seq = engine.seq;
  const { namespaces, objects } = engine.catalog.image();
  const captures = objects.map((object) => startCapture(object));
  // By name, followed through each commit's changes in order: the catalog after a commit
  // no longer finds an object the commit dropped (or finds its re-creation), yet the
  // commit's earlier changes to it must still keep their befores.
  const byName = new Map(captures.map((capture) => [capture.object.name, capture]));
  const catalogName = engine.catalog.name;
  const unsubscribe = engine.addCommitListener((commit) => {
    for (const change of commit.changes) {
      if (change.object === catalogName) {
        if (change.kind === "drop") byName.delete(change.key as string);
        continue;
      }
      const capture = byName.get(change.object);
      if (capture === undefined) continue;
      const mapKey = capture.source.mapKeyOfChange(change);
      if (mapKey === undefined || capture.read.has(mapKey) || capture.overlay.has(mapKey)) continue;
      capture.overlay.set(mapKey, [change.key, change.before]);
    }
  });
  const writer = await SnapshotFileWriter.create(storage, snapshotName(seq));
  try {
    const ts = engine.lastCommit?.ts ?? options.restoredTs ?? engine.clock.now();
    await writer.line({
      format: snapshotFormat,
      seq,
      ts,
      hash: Buffer.from(lastHash).toString("hex"),
      namespaces,
    });
    let entryCount = 0;
    for (const capture of captures) entryCount += await writeObject(writer, capture);
    const sizeBytes = await writer.finish(entryCount, options.logDurable);
    return { name: snapshotName(seq), seq, sizeBytes, entryCount };
  } catch (error) {
    await writer.abandon();
    throw error;
  } finally {
    unsubscribe();
  }
}

function startCapture(object: StoredObject): Capture {
  assert(object.snapshot !== undefined, `${object.name} cannot be snapshotted`);
  return { object, source: object.snapshot(), overlay: new Map(), read: new Set() };
}

async function writeObject(writer: SnapshotFileWriter, capture: Capture): Promise<number> {
  const { object, source, overlay, read } = capture;
  await writer.line({ object: object.name, definition: object.definition, meta: source.meta });
  let count = 0;
  for (;;) {
    const chunk = source.readChunk(snapshotChunkEntries);
    if (chunk.length === 0) break;
    for (const [mapKey, key, value] of chunk) {
      // A Map's iterator visits again a key deleted and set after it was read (views,
      // counters, queues): the entry was written once, as of the snapshot's seq.
      if (read.has(mapKey)) continue;
      read.add(mapKey);
      const changed = overlay.get(mapKey);
      const entryKey = changed === undefined ? key : changed[0];
      const entryValue = changed === undefined ? value : changed[1];
      if (entryValue === undefined) continue; // inserted after the snapshot's seq
      // Awaited only when the buffer is full, not once per entry.
      if (writer.entry(entryKey, entryValue)) await writer.flush();
      count++;
    }
    await yieldToEventLoop(); // commits run here; the listener keeps their befores
  }
  // Entries deleted (or moved) after the snapshot's seq and before the reader reached them.
  for (const [mapKey, [entryKey, entryValue]] of overlay) {
    if (read.has(mapKey) || entryValue === undefined) continue;
    if (writer.entry(entryKey, entryValue)) await writer.flush();
    count++;
  }
  await writer.line({ end: object.name, entries: count });
  return count;
}

/** Buffers lines, writes them in large pieces, and keeps a running CRC32C. */
class SnapshotFileWriter {
  private buffer: string[] = [];
  private bufferedBytes = 0;
  private offset = 0;
  private crc = 0;

  private constructor(
    private readonly storage: Storage,
    private readonly name: string,
    private readonly file: Awaited<ReturnType<Storage["open"]>>,
  ) {}

  static async create(storage: Storage, name: string): Promise<SnapshotFileWriter> {
    const file = await storage.open(`${name}.tmp`, { create: true });
    await file.truncate(0);
    return new SnapshotFileWriter(storage, name, file);
  }

  async line(value: unknown): Promise<void> {
    if (this.push(JSON.stringify(value))) await this.flush();
  }

  /** Buffers one entry; true when the buffer is full and must be flushed. */
  entry(key: unknown, value: unknown): boolean {
    return this.push(`[${encodeValue(key)},${encodeValue(value)}]`);
  }

  /** Writes the trailer, syncs, waits for `gate`, renames into place, syncs the directory. */
  async finish(entryCount: number, gate?: Promise<void>): Promise<number> {
    await this.flush();
    const trailer = Buffer.from(
      `${JSON.stringify({ trailer: true, entryCount, crc32c: this.crc })}\n`,
    );
    await this.file.write(this.offset, trailer);
    this.offset += trailer.length;
    await this.file.sync();
    await this.file.close();
    await gate;
    await this.storage.rename(`${this.name}.tmp`, this.name);
    await this.storage.syncDirectory();
    return this.offset;
  }

  async abandon(): Promise<void> {
    await this.file.close();
    if (await this.storage.exists(`${this.name}.tmp`))
      await this.storage.remove(`${this.name}.tmp`);
  }

  /** Buffers one line; true when the buffer is full and must be flushed. */
  private push(text: string): boolean {
    this.buffer.push(text);
    this.bufferedBytes += text.length + 1;
    return this.bufferedBytes >= snapshotWriteBytes;
  }

  async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const bytes = Buffer.from(`${this.buffer.join("\n")}\n`);
    this.buffer = [];
    this.bufferedBytes = 0;
    this.crc = crc32c(bytes, this.crc);
    await this.file.write(this.offset, bytes);
    this.offset += bytes.length;
  }
}

/** Snapshot names, newest first. */
export async function listSnapshots(storage: Storage): Promise<string[]> {
  const names = (await storage.list()).filter((name) => snapshotSeqOf(name) !== undefined);
  return names.sort().reverse();
}

/**
 * Removes the temporary files of snapshots that never finished (a crash while writing one):
 * nothing reads them, and each may be as large as the state. Only the process holding the
 * data directory may call this, or it would remove a snapshot being written. Returns the
 * names removed.
 */
export async function removeUnfinishedSnapshots(storage: Storage): Promise<string[]> {
  const names = (await storage.list()).filter(
    (name) => name.endsWith(".tmp") && snapshotSeqOf(name.slice(0, -".tmp".length)) !== undefined,
  );
  for (const name of names) await storage.remove(name);
  if (names.length > 0) await storage.syncDirectory();
  return names;
}

/** How readSnapshot reports and stops. */
export interface ReadSnapshotOptions {
  /** Called with the file's size before it is read. */
  readonly onSize?: (sizeBytes: number) => void;
  /**
   * Ends the reading with ABORTED once aborted (`open({ signal })`): the decoding pauses for
   * a turn of the event loop every {@link snapshotAbortCheckBytes} to look at it.
   */
  readonly signal?: AbortSignal | undefined;
}

/** Snapshot decoded between two checks of a signal (a few tens of milliseconds of work). */
export const snapshotAbortCheckBytes = 4 * 1024 * 1024;

/** Reads and checks a snapshot; throws CORRUPT naming the file when anything is off. */
export async function readSnapshot(
  storage: Storage,
  name: string,
  options: ReadSnapshotOptions = {},
): Promise<SnapshotImage> {
  const { signal } = options;
  const file = await storage.open(name, { create: false });
  let bytes: Uint8Array;
  try {
    const sizeBytes = await file.size();
    options.onSize?.(sizeBytes);
    bytes = await file.read(0, sizeBytes);
  } finally {
    await file.close();
  }
  if (signal === undefined) return decodeSnapshot(bytes, name);
  const steps = decodeSnapshotSteps(
    bytes,
    name,
    snapshotDecodePieceBytesMax,
    snapshotAbortCheckBytes,
  );
  for (;;) {
    throwIfAborted(signal, "while loading a snapshot");
    const step = steps.next();
    if (step.done === true) return step.value;
    await yieldToEventLoop(); // a signal (or a stop message) arrives here
  }
}

/**
 * The commit time a snapshot holds the state of, read from its first line alone (retention
 * asks it of every kept snapshot, which may be large); undefined when it cannot be read.
 */
export async function readSnapshotTs(storage: Storage, name: string): Promise<number | undefined> {
  const file = await storage.open(name, { create: false });
  try {
    const sizeBytes = await file.size();
    const parts: Buffer[] = [];
    for (let at = 0; at < sizeBytes; at += snapshotHeaderReadBytes) {
      const bytes = await file.read(at, Math.min(snapshotHeaderReadBytes, sizeBytes - at));
      const part = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
      const newline = part.indexOf(10);
      parts.push(newline < 0 ? part : part.subarray(0, newline));
      if (newline >= 0) break;
    }
    const header = parseJson(Buffer.concat(parts).toString("utf8"));
    const ts = header?.format === snapshotFormat ? header.ts : undefined;
    return typeof ts === "number" && Number.isFinite(ts) ? ts : undefined;
  } finally {
    await file.close();
  }
}

/**
 * The most bytes of a snapshot decoded into one string. V8 makes no string longer than
 * 2^29 - 24 characters, so a snapshot larger than that (a state of several hundred MiB) was
 * written but could not be read back: the database no longer opened.
 */
const snapshotDecodePieceBytesMax = 256 * 1024 * 1024;

/**
 * Checks and decodes the bytes of snapshot `name` (as read from a file or downloaded).
 * `pieceBytesMax` bounds the bytes decoded into one string (tests make it small).
 */
export function decodeSnapshot(
  bytes: Uint8Array,
  name: string,
  pieceBytesMax = snapshotDecodePieceBytesMax,
): SnapshotImage {
  const steps = decodeSnapshotSteps(bytes, name, pieceBytesMax);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * decodeSnapshot in steps: it yields after checking or decoding about `stepBytes` (a line
 * longer than that is decoded whole, up to `pieceBytesMax`).
 */
function* decodeSnapshotSteps(
  bytes: Uint8Array,
  name: string,
  pieceBytesMax: number,
  stepBytes = pieceBytesMax,
): Generator<void, SnapshotImage> {
  const corrupt = (why: string): DbError =>
    new DbError("CORRUPT", `snapshot ${name}: ${why}`, { object: name });
  const trailerStart = bytes.lastIndexOf(10, bytes.length - 2) + 1;
  // Views, not copies (Buffer.from of a Uint8Array copies it byte by byte).
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const trailer = parseJson(text.toString("utf8", trailerStart));
  if (trailer?.trailer !== true) throw corrupt("no trailer (incomplete file)");
  let crc = 0;
  for (let at = 0; at < trailerStart; at += stepBytes) {
    crc = crc32c(bytes.subarray(at, Math.min(trailerStart, at + stepBytes)), crc);
    yield;
  }
  if (crc !== trailer.crc32c) throw corrupt("checksum mismatch");
  // Whole lines at a time, in pieces no longer than a string may be (one for most).
  const state: SnapshotParse = { image: undefined, current: undefined, lineCount: 0 };
  const pieceEnd = (start: number, sizeBytes: number): number =>
    trailerStart - start <= sizeBytes
      ? trailerStart
      : text.lastIndexOf(10, start + sizeBytes - 1) + 1;
  for (let start = 0; start < trailerStart;) {
    let end = pieceEnd(start, stepBytes);
    if (end <= start) end = pieceEnd(start, pieceBytesMax);
    if (end <= start) throw corrupt(`line ${state.lineCount + 1} is too long to read`);
    const lines = text.toString("utf8", start, end).split("\n");
    if (lines.at(-1) === "") lines.pop(); // the piece ends with its last line's newline
    parseSnapshotLines(lines, state, corrupt);
    start = end;
    yield;
  }
  if (state.image === undefined) throw corrupt("unknown format");
  return state.image;
}

/** Where the decoding of a snapshot's lines is, between pieces. */
interface SnapshotParse {
  image: SnapshotImage | undefined;
  current: SnapshotImage["objects"][number] | undefined;
  lineCount: number;
}

function parseSnapshotLines(
  lines: readonly string[],
  state: SnapshotParse,
  corrupt: (why: string) => DbError,
): void {
  let first = 0;
  if (state.image === undefined) {
    state.image = parseSnapshotHeader(lines[0] ?? "", corrupt);
    first = 1;
  }
  const image = state.image;
  // Locals in the loop, written back after it: it runs once per entry of the state.
  let current = state.current;
  for (let i = first; i < lines.length; i++) {
    const text = lines[i]!;
    if (text === "") continue;
    if (text.startsWith("[")) {
      if (current === undefined) {
        throw corrupt(`entry outside an object at line ${state.lineCount + i + 1}`);
      }
      current.entries.push(decodeValue(text) as [unknown, unknown]);
      continue;
    }
    const line = parseJson(text);
    if (line?.object !== undefined) {
      current = {
        definition: line.definition as ObjectDefinition,
        meta: decodeValue(JSON.stringify(line.meta)),
        entries: [],
      };
      image.objects.push(current);
    } else if (line?.end !== undefined) {
      if (current?.entries.length !== line.entries)
        throw corrupt(`entry count differs for ${JSON.stringify(line.end)}`);
      current = undefined;
    } else throw corrupt(`unreadable line ${state.lineCount + i + 1}`);
  }
  state.current = current;
  state.lineCount += lines.length;
}

function parseSnapshotHeader(text: string, corrupt: (why: string) => DbError): SnapshotImage {
  const header = parseJson(text);
  if (header?.format !== snapshotFormat) throw corrupt("unknown format");
  return {
    seq: header.seq as number,
    ts: header.ts as number,
    hash: new Uint8Array(Buffer.from(header.hash as string, "hex")),
    namespaces: header.namespaces as string[],
    objects: [],
  };
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object"
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    // Reported by the caller as a corrupt snapshot, with the file's name.
    return undefined;
  }
}

/** Loads a snapshot image into an empty engine. */
export function restoreSnapshot(engine: Engine, image: SnapshotImage): void {
  const built = engine.catalog.restoreImage(
    image.namespaces,
    image.objects.map((object) => object.definition),
  );
  built.forEach((object, i) => {
    const saved = image.objects[i]!;
    assert(object.restore !== undefined, `${object.name} cannot be restored`);
    object.restore(saved.meta, saved.entries);
  });
  engine.restorePosition(image.seq, image.ts);
}
