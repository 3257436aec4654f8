/**
 * @module The storage contract the log writes through: a directory of flat files with
 * positional IO and explicit durability. It is an interface so that the log runs unchanged on
 * the disk (node-file.ts) and on a simulated disk that crashes, tears writes and injects faults
 * (memory-file.ts). Both implementations pass test/storage/file.contract.ts.
 */
import { assert, assertionFailed } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";

/**
 * One open file. Positions and lengths are byte counts (non-negative safe integers; anything
 * else is a programmer error and fails an assertion). Operating failures reject with
 * `DbError("IO_ERROR")` whose details name the `path` and the `operation`.
 *
 * Durability: `write` and `truncate` change what later reads see at once, but survive a crash
 * only after `sync` resolves. The file's name survives a crash only after the directory is
 * synced (`Storage.syncDirectory`). Handles are independent views of one file: a write through
 * one is visible through every other.
 */
export interface StorageFile {
  /** Where the file lives, for messages: the directory joined with the file's name. */
  readonly path: string;
  /** The file's current length in bytes (written data, durable or not). */
  size(): Promise<number>;
  /**
   * Up to `length` bytes from `position`. A read that reaches end of file returns fewer bytes
   * (none at or past the end); it never pads. The result is the caller's own copy: a new
   * array, or the start of `into` (at least `length` bytes) when one is given, so that a
   * caller reading in steps can reuse its memory.
   */
  read(position: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /**
   * Writes all of `data` at `position` or rejects. Writing past the end extends the file; any
   * gap reads as zero bytes. The data is copied before the promise resolves, so the caller may
   * reuse its buffer afterwards.
   */
  write(position: number, data: Uint8Array): Promise<void>;
  /** Sets the length: shrinking drops the tail, growing appends zero bytes. */
  truncate(length: number): Promise<void>;
  /** fdatasync: every write and truncate before the call is durable when this resolves. */
  sync(): Promise<void>;
  /**
   * `write` of each piece, back to back from `position`, then `sync`: one call, so that an
   * implementation can spare a trip. The disk writes a small run in the calling thread (the
   * page cache takes it in microseconds) and only waits for the sync, where two awaited
   * operations would each go to a worker thread and back: a group commit's latency. With
   * `inline`, the disk syncs a small run in the calling thread too, blocking it until the
   * run is durable (see {@link WriteAndSyncOptions}).
   */
  writeAndSync(
    position: number,
    pieces: readonly Uint8Array[],
    options?: WriteAndSyncOptions,
  ): Promise<void>;
  /** Releases the handle; later calls on it reject. Closing twice is harmless. */
  close(): Promise<void>;
}

/**
 * How {@link StorageFile.writeAndSync} may wait. Whatever the options, the run is durable when
 * the promise resolves and not before.
 */
export interface WriteAndSyncOptions {
  /**
   * Sync in the calling thread, as Redis does, rather than hand the sync to a worker thread
   * and wait for its answer: two thread wake-ups fewer, for a caller with nothing else to do
   * meanwhile (a group of one commit). The calling thread serves nothing until the disk
   * answers, so a caller sets it only when that costs no one else a wait. Runs too large to
   * write in the calling thread ignore it.
   */
  inline?: boolean;
}

/**
 * A directory of files, addressed by plain names (no separators, not `.` or `..`). Changes to
 * the directory itself (create, rename, remove) survive a crash only after `syncDirectory`.
 */
export interface Storage {
  /** Opens `name`; with `create` it is made empty when missing, otherwise missing rejects. */
  open(name: string, options: { create: boolean }): Promise<StorageFile>;
  /** The names of the files in the directory, sorted by UTF-16 code unit. */
  list(): Promise<string[]>;
  /** Removes `name`; rejects when it does not exist. Open handles keep working. */
  remove(name: string): Promise<void>;
  /** Renames `from` to `to`, atomically replacing any file called `to`. */
  rename(from: string, to: string): Promise<void>;
  /** fsync of the directory: makes earlier creates, renames and removes durable. */
  syncDirectory(): Promise<void>;
  /** Whether a file called `name` exists now. */
  exists(name: string): Promise<boolean>;
}

/** The operations of {@link Storage} and {@link StorageFile}, as named in errors and faults. */
export type StorageOperation =
  | "open"
  | "list"
  | "remove"
  | "rename"
  | "syncDirectory"
  | "exists"
  | "size"
  | "read"
  | "write"
  | "truncate"
  | "sync"
  | "close";

/** Longest file name accepted, in UTF-16 code units (the common file system limit is 255). */
export const storageNameLengthMax = 255;

/** Asserts that `name` is a plain file name: the log builds names, so a bad one is a bug. */
export function assertStorageName(name: string): void {
  assert(name.length > 0, "storage: a file name must not be empty");
  if (name.length > storageNameLengthMax)
    assertionFailed(`storage: file name too long: ${name.length}`);
  if (name === "." || name === "..") assertionFailed(`storage: not a file name: ${name}`);
  if (/[/\\\0]/.test(name))
    assertionFailed(`storage: a file name must not contain separators: ${name}`);
}

/** Asserts that `value` can be a byte position or length. */
export function assertByteCount(value: number, what: string): void {
  if (!Number.isSafeInteger(value))
    assertionFailed(`storage: ${what} must be a safe integer: ${value}`);
  if (value < 0) assertionFailed(`storage: ${what} must not be negative: ${value}`);
}

/** A read's target array, if given, must have room for the bytes asked for. */
export function assertTarget(into: Uint8Array | undefined, length: number): void {
  assert(into === undefined || into.length >= length, "storage: read target shorter than length");
}

/**
 * Wraps a failure of `operation` on `path` as `DbError("IO_ERROR")`. A DbError passes through
 * unchanged, so a fault injected as a DbError keeps its code. The system error code (ENOENT,
 * EIO, …) is kept in the details because callers and operators act on it.
 */
export function storageError(operation: StorageOperation, path: string, cause: unknown): DbError {
  if (cause instanceof DbError) return cause;
  const errno = errnoOf(cause);
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new DbError("IO_ERROR", `storage ${operation} failed for ${path}: ${reason}`, {
    path,
    operation,
    ...(errno === undefined ? {} : { errno }),
  });
}

function errnoOf(cause: unknown): string | undefined {
  if (typeof cause !== "object" || cause === null || !("code" in cause)) return undefined;
  return typeof cause.code === "string" ? cause.code : undefined;
}
