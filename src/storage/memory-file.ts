/**
 * @module An in-memory {@link Storage} that models durability precisely, for tests and the
 * simulator. Each file keeps two images: what was written (what reads see) and what is durable
 * (what survives a crash). The directory keeps two name tables the same way. `crash()` throws
 * away everything not synced, may tear the last unsynced write, and is driven by a seeded PRNG,
 * so a failing seed replays exactly. Faults are injected per operation with `failNext`, and
 * `corrupt` flips bits as a bad disk would.
 */
import { assert, assertionFailed } from "../lib/assert.ts";
import { createPrng } from "../lib/prng.ts";
import type { Prng } from "../lib/prng.ts";
import { assertByteCount, assertStorageName, assertTarget, storageError } from "./file.ts";
import type { Storage, StorageFile, StorageOperation } from "./file.ts";

/**
 * The largest file the memory storage holds. Growing past it fails with IO_ERROR (EFBIG), as a
 * full disk would, instead of exhausting the test process's memory.
 */
export const memoryFileSizeBytesMax = 1024 * 1024 * 1024;
/** The smallest buffer a file starts with; buffers double from there. */
const memoryFileCapacityBytesMin = 64;

export interface MemoryStorageOptions {
  /** Seeds the PRNG that picks torn-write prefixes: the same seed tears the same way. */
  seed?: number;
  /** Whether `crash()` tears the last unsynced write unless told otherwise. Default false. */
  tearOnCrash?: boolean;
  /** The directory name shown in paths and errors. Default "memory". */
  directory?: string;
}

export interface CrashOptions {
  /**
   * Keep a random prefix, shorter than the whole, of the last write that was not synced, on top
   * of the durable image (a write the disk had half done when the power went).
   */
  tear?: boolean;
}

/** A {@link Storage} in memory, with crash simulation and fault injection. */
export interface MemoryStorage extends Storage {
  /**
   * Simulates a power loss and restart: every file returns to its durable image and the
   * directory to its last synced names. Handles opened before the crash reject from now on,
   * and faults armed with `failNext` are cleared (they belonged to the process that died).
   */
  crash(options?: CrashOptions): void;
  /**
   * Makes the next call of `operation` (on any file) reject with `error`, or with an IO_ERROR
   * (errno EIO) when none is given, without doing anything. Calls queue up: arming twice fails
   * the next two calls.
   */
  failNext(operation: StorageOperation, error?: Error): void;
  /** XORs the byte at `offset` of file `name` with `xorByte`, in both written and durable data. */
  corrupt(name: string, offset: number, xorByte: number): void;
}

/** A byte array that grows by doubling; bytes past `length` are always zero. */
interface Bytes {
  buffer: Uint8Array;
  length: number;
}

/** One file's contents, shared by every handle and name that refers to it (an inode). */
interface Inode {
  written: Bytes;
  durable: Bytes;
  /** The range of `written` that may differ from `durable`; empty when start >= end. */
  dirtyStart: number;
  dirtyEnd: number;
}

/** The last write not yet made durable: the one a crash may tear. */
interface UnsyncedWrite {
  readonly inode: Inode;
  readonly position: number;
  readonly data: Uint8Array;
}

interface MemoryState {
  readonly directory: string;
  readonly prng: Prng;
  readonly tearOnCrash: boolean;
  /** The names a reader sees now. */
  entries: Map<string, Inode>;
  /** The names as of the last `syncDirectory`: what a crash returns to. */
  durableEntries: Map<string, Inode>;
  /** Bumped by every crash; handles from an older epoch are dead. */
  epoch: number;
  lastWrite: UnsyncedWrite | undefined;
  /** Armed faults per operation; `undefined` means the default IO_ERROR. */
  readonly faults: Map<StorageOperation, (Error | undefined)[]>;
}

// ---- Storage API ----

/** Creates an empty in-memory storage. */
export function createMemoryStorage(options: MemoryStorageOptions = {}): MemoryStorage {
  const state: MemoryState = {
    directory: options.directory ?? "memory",
    prng: createPrng(options.seed ?? 0),
    tearOnCrash: options.tearOnCrash ?? false,
    entries: new Map(),
    durableEntries: new Map(),
    epoch: 0,
    lastWrite: undefined,
    faults: new Map(),
  };
  return {
    open: (name, openOptions) => settle(() => openMemoryFile(state, name, openOptions.create)),
    list: () =>
      settle(() => {
        takeFault(state, "list", state.directory);
        return [...state.entries.keys()].sort();
      }),
    remove: (name) =>
      settle(() => {
        lookup(state, "remove", name);
        state.entries.delete(name);
      }),
    rename: (from, to) =>
      settle(() => {
        assertStorageName(to);
        const inode = lookup(state, "rename", from);
        if (from === to) return;
        state.entries.set(to, inode);
        state.entries.delete(from);
      }),
    syncDirectory: () =>
      settle(() => {
        takeFault(state, "syncDirectory", state.directory);
        state.durableEntries = new Map(state.entries);
      }),
    exists: (name) =>
      settle(() => {
        assertStorageName(name);
        takeFault(state, "exists", pathOf(state, name));
        return state.entries.has(name);
      }),
    crash: (crashOptions = {}) => crashMemoryStorage(state, crashOptions.tear ?? state.tearOnCrash),
    failNext: (operation, error) => {
      const queue = state.faults.get(operation) ?? [];
      queue.push(error);
      state.faults.set(operation, queue);
    },
    corrupt: (name, offset, xorByte) => corruptMemoryFile(state, name, offset, xorByte),
  };
}

/**
 * Runs a memory operation at once and hands back its outcome as a promise. The effect happens
 * synchronously, in call order, which keeps simulations deterministic; a thrown assertion or
 * fault becomes a rejection, as it would from the disk implementation.
 */
function settle<T>(action: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(action());
  });
}

function pathOf(state: MemoryState, name: string): string {
  return `${state.directory}/${name}`;
}

/** Throws the next fault armed for `operation`, if any. */
function takeFault(state: MemoryState, operation: StorageOperation, path: string): void {
  const queue = state.faults.get(operation);
  if (queue === undefined || queue.length === 0) return;
  const error = queue.shift();
  throw error ?? storageError(operation, path, errnoError("EIO", "injected fault"));
}

/** An Error carrying a system error code, as Node's would, so messages and details match. */
function errnoError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/** The inode called `name` for a directory operation; a missing name is ENOENT. */
function lookup(state: MemoryState, operation: StorageOperation, name: string): Inode {
  assertStorageName(name);
  const path = pathOf(state, name);
  takeFault(state, operation, path);
  const inode = state.entries.get(name);
  if (inode === undefined) {
    throw storageError(operation, path, errnoError("ENOENT", "no such file or directory"));
  }
  return inode;
}

function openMemoryFile(state: MemoryState, name: string, create: boolean): StorageFile {
  assertStorageName(name);
  const path = pathOf(state, name);
  takeFault(state, "open", path);
  let inode = state.entries.get(name);
  if (inode === undefined) {
    if (!create) throw storageError("open", path, errnoError("ENOENT", "no such file"));
    inode = { written: bytesCreate(0), durable: bytesCreate(0), dirtyStart: 0, dirtyEnd: 0 };
    state.entries.set(name, inode);
  }
  return createMemoryFile(state, inode, path);
}

/**
 * Returns every surviving file to its durable image. Files whose names were never made
 * durable vanish; removed or renamed files whose directory was not synced come back.
 */
function crashMemoryStorage(state: MemoryState, tear: boolean): void {
  const survivors = new Set(state.durableEntries.values());
  const write = state.lastWrite;
  if (tear && write !== undefined && survivors.has(write.inode) && write.data.length > 0) {
    // Strictly shorter than the whole: a write that fully landed is not torn.
    const prefixLength = state.prng.int(write.data.length);
    if (prefixLength > 0) {
      bytesWrite(write.inode.durable, write.position, write.data.subarray(0, prefixLength));
    }
  }
  for (const inode of survivors) {
    inode.written = bytesCopy(inode.durable);
    inode.dirtyStart = 0;
    inode.dirtyEnd = 0;
  }
  state.entries = new Map(state.durableEntries);
  state.epoch += 1;
  state.lastWrite = undefined;
  state.faults.clear();
}

function corruptMemoryFile(state: MemoryState, name: string, offset: number, xor: number): void {
  assertByteCount(offset, "offset");
  assert(Number.isInteger(xor) && xor > 0 && xor <= 0xff, "corrupt: xorByte must be in 1..255");
  const inode = state.entries.get(name) ?? state.durableEntries.get(name);
  if (inode === undefined) assertionFailed(`corrupt: no file called ${name}`);
  const inWritten = offset < inode.written.length;
  const inDurable = offset < inode.durable.length;
  if (!inWritten && !inDurable)
    assertionFailed(`corrupt: offset ${offset} is past the end of ${name}`);
  if (inWritten) inode.written.buffer[offset]! ^= xor;
  if (inDurable) inode.durable.buffer[offset]! ^= xor;
}

// ---- File API ----

function createMemoryFile(state: MemoryState, inode: Inode, path: string): StorageFile {
  const epoch = state.epoch;
  let closed = false;
  /** Fails the call if a fault is armed or the handle is dead; faults come first. */
  const check = (operation: StorageOperation): void => {
    takeFault(state, operation, path);
    if (closed) throw storageError(operation, path, errnoError("EBADF", "file is closed"));
    if (epoch !== state.epoch) {
      throw storageError(operation, path, errnoError("EBADF", "handle opened before a crash"));
    }
  };
  const write = (position: number, data: Uint8Array): void => {
    assertByteCount(position, "position");
    check("write");
    writeMemoryFile(state, inode, path, position, data);
  };
  const sync = (): void => {
    check("sync");
    syncInode(inode);
    if (state.lastWrite?.inode === inode) state.lastWrite = undefined;
  };
  return {
    path,
    size: () =>
      settle(() => {
        check("size");
        return inode.written.length;
      }),
    read: (position, length, into) =>
      settle(() => {
        assertByteCount(position, "position");
        assertByteCount(length, "length");
        assertTarget(into, length);
        check("read");
        const start = Math.min(position, inode.written.length);
        const end = Math.min(position + length, inode.written.length);
        if (into === undefined) return inode.written.buffer.slice(start, end);
        into.set(inode.written.buffer.subarray(start, end));
        return into.subarray(0, end - start);
      }),
    write: (position, data) => settle(() => write(position, data)),
    truncate: (length) =>
      settle(() => {
        assertByteCount(length, "length");
        check("truncate");
        truncateMemoryFile(inode, path, length);
      }),
    sync: () => settle(sync),
    writeAndSync: async (position, pieces) => {
      assertByteCount(position, "position");
      let at = position;
      for (const piece of pieces) {
        await settle(() => write(at, piece));
        at += piece.length;
      }
      await settle(sync);
    },
    close: () =>
      settle(() => {
        if (closed) return;
        // A failed close still releases the handle, as close(2) does.
        closed = true;
        takeFault(state, "close", path);
      }),
  };
}

function writeMemoryFile(
  state: MemoryState,
  inode: Inode,
  path: string,
  position: number,
  data: Uint8Array,
): void {
  // A write of nothing changes nothing, not even the size, as with pwrite(2).
  if (data.length === 0) return;
  growCheck(path, "write", position + data.length);
  // Copied so that the caller may reuse its buffer, and so a torn write replays what was sent.
  const copy = data.slice();
  markDirty(inode, position, position + copy.length);
  bytesWrite(inode.written, position, copy);
  state.lastWrite = { inode, position, data: copy };
}

function truncateMemoryFile(inode: Inode, path: string, length: number): void {
  growCheck(path, "truncate", length);
  const lengthBefore = inode.written.length;
  // Both shrinking and growing change the bytes between the two lengths (growth reads zeros).
  markDirty(inode, Math.min(length, lengthBefore), Math.max(length, lengthBefore));
  bytesResize(inode.written, length);
}

function growCheck(path: string, operation: StorageOperation, sizeBytes: number): void {
  if (sizeBytes <= memoryFileSizeBytesMax) return;
  const reason = `${sizeBytes} bytes exceeds memoryFileSizeBytesMax (${memoryFileSizeBytesMax})`;
  throw storageError(operation, path, errnoError("EFBIG", reason));
}

function markDirty(inode: Inode, start: number, end: number): void {
  if (start >= end) return;
  if (inode.dirtyStart >= inode.dirtyEnd) {
    inode.dirtyStart = start;
    inode.dirtyEnd = end;
  } else {
    inode.dirtyStart = Math.min(inode.dirtyStart, start);
    inode.dirtyEnd = Math.max(inode.dirtyEnd, end);
  }
}

/** Makes the written image durable, copying only the range that changed since the last sync. */
function syncInode(inode: Inode): void {
  bytesResize(inode.durable, inode.written.length);
  const end = Math.min(inode.dirtyEnd, inode.written.length);
  if (inode.dirtyStart < end) {
    inode.durable.buffer.set(
      inode.written.buffer.subarray(inode.dirtyStart, end),
      inode.dirtyStart,
    );
  }
  inode.dirtyStart = 0;
  inode.dirtyEnd = 0;
  assert(inode.durable.length === inode.written.length, "sync: images differ in length");
}

// ---- Bytes ----

function bytesCreate(length: number): Bytes {
  return { buffer: new Uint8Array(Math.max(length, memoryFileCapacityBytesMin)), length };
}

function bytesCopy(bytes: Bytes): Bytes {
  const copy = bytesCreate(bytes.length);
  copy.buffer.set(bytes.buffer.subarray(0, bytes.length));
  return copy;
}

/** Sets the length; the zero-past-length invariant makes growth read as zeros. */
function bytesResize(bytes: Bytes, length: number): void {
  assert(length <= memoryFileSizeBytesMax, "bytes: length over memoryFileSizeBytesMax");
  if (length < bytes.length) {
    bytes.buffer.fill(0, length, bytes.length);
  } else if (length > bytes.buffer.length) {
    const capacity = Math.min(Math.max(length, bytes.buffer.length * 2), memoryFileSizeBytesMax);
    const buffer = new Uint8Array(capacity);
    buffer.set(bytes.buffer.subarray(0, bytes.length));
    bytes.buffer = buffer;
  }
  bytes.length = length;
}

function bytesWrite(bytes: Bytes, position: number, data: Uint8Array): void {
  const end = position + data.length;
  if (end > bytes.length) bytesResize(bytes, end);
  bytes.buffer.set(data, position);
}
