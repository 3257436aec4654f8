/**
 * @module The disk implementation of {@link Storage}: one directory, files opened through
 * `node:fs/promises` FileHandles with positional reads and writes, `datasync` for file
 * durability and an fsync of the directory itself for names. Every Node error becomes
 * `DbError("IO_ERROR")` naming the path and operation.
 */
import { constants, fdatasyncSync, writeSync } from "node:fs";
import { mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { hasErrorCode } from "../lib/errors.ts";
import { assertByteCount, assertStorageName, assertTarget, storageError } from "./file.ts";
import type { Storage, StorageFile, StorageOperation } from "./file.ts";

/**
 * The largest byte count handed to one read or write call. Node rejects lengths of 2 GiB and
 * more, so larger requests are split into chunks of this size.
 */
const ioChunkBytesMax = 1024 * 1024 * 1024;
/**
 * The largest run `writeAndSync` writes in the calling thread (and syncs there when asked to):
 * a group commit of a few records (the page cache takes 64 KiB in tens of microseconds).
 * Larger runs go to a worker thread, so that the event loop keeps serving while they copy.
 */
const writeNowBytesMax = 64 * 1024;
/** Files are created readable and writable by their owner only: the log holds user data. */
const fileMode = 0o600;

/**
 * Opens (creating it and its parents when missing) the directory `directory` as a
 * {@link Storage}.
 */
export async function createNodeStorage(directory: string): Promise<Storage> {
  try {
    await mkdir(directory, { recursive: true });
  } catch (error) {
    throw storageError("open", directory, error);
  }
  // Every method is async so that a failed assertion rejects like any other failure.
  return {
    open: async (name, options) => openNodeFile(directory, name, options.create),
    list: async () => guard("list", directory, () => listFiles(directory)),
    remove: async (name) => {
      const path = pathOf(directory, name);
      return guard("remove", path, () => unlink(path));
    },
    rename: async (from, to) => {
      const path = pathOf(directory, from);
      const target = pathOf(directory, to);
      return guard("rename", path, () => rename(path, target));
    },
    syncDirectory: async () => guard("syncDirectory", directory, () => syncDirectory(directory)),
    exists: async (name) => {
      const path = pathOf(directory, name);
      return guard("exists", path, () => fileExists(path));
    },
  };
}

/** Joins a checked name to the directory. */
function pathOf(directory: string, name: string): string {
  assertStorageName(name);
  return join(directory, name);
}

/** Runs `action`, translating any failure into an IO_ERROR for `operation` on `path`. */
async function guard<T>(
  operation: StorageOperation,
  path: string,
  action: () => Promise<T>,
): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw storageError(operation, path, error);
  }
}

async function listFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  // Subdirectories and other non-files are not part of the storage's namespace.
  const names = entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
  return names.sort();
}

async function fileExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch (error) {
    // Only "no such file" means absent; any other failure (EACCES, EIO) is an IO error.
    if (hasErrorCode(error, "ENOENT")) return false;
    throw error;
  }
}

/**
 * Makes the directory's entries durable. POSIX asks for an fsync of the directory itself after
 * a create, rename or unlink; a read-only handle is enough to call it on.
 */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function openNodeFile(
  directory: string,
  name: string,
  create: boolean,
): Promise<StorageFile> {
  const path = pathOf(directory, name);
  // Never O_APPEND: on Linux it makes positional writes ignore their position.
  const flags = constants.O_RDWR | (create ? constants.O_CREAT : 0);
  const handle = await guard("open", path, () => open(path, flags, fileMode));
  return createNodeFile(path, handle);
}

function createNodeFile(path: string, handle: FileHandle): StorageFile {
  let closed = false;
  /** Runs an operation on the open handle; a closed handle is an IO_ERROR, like EBADF. */
  const use = async <T>(operation: StorageOperation, action: () => Promise<T>): Promise<T> => {
    if (closed) throw storageError(operation, path, new Error("file is closed"));
    return guard(operation, path, action);
  };
  return {
    path,
    size: async () => use("size", async () => (await handle.stat()).size),
    read: async (position, length, into) => {
      assertByteCount(position, "position");
      assertByteCount(length, "length");
      assertTarget(into, length);
      return use("read", () => readFully(handle, position, length, into));
    },
    write: async (position, data) => {
      assertByteCount(position, "position");
      return use("write", () => writeFully(handle, position, data));
    },
    truncate: async (length) => {
      assertByteCount(length, "length");
      return use("truncate", () => handle.truncate(length));
    },
    sync: async () => use("sync", () => handle.datasync()),
    writeAndSync: async (position, pieces, options) => {
      assertByteCount(position, "position");
      let bytes = 0;
      for (const piece of pieces) bytes += piece.length;
      const now = bytes <= writeNowBytesMax;
      await use("write", async () => {
        if (now) return writePiecesNow(handle.fd, position, pieces);
        let at = position;
        for (const piece of pieces) {
          await writeFully(handle, at, piece);
          at += piece.length;
        }
      });
      await use("sync", async () => {
        if (now && options?.inline === true) fdatasyncSync(handle.fd);
        else await handle.datasync();
      });
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await guard("close", path, () => handle.close());
    },
  };
}

/**
 * Reads until `length` bytes arrive or the file ends. A single read may return fewer bytes
 * than asked without being at the end, so only a zero-byte read means end of file. Each step
 * either makes progress or stops, so the loop runs at most `length` times.
 */
async function readFully(
  handle: FileHandle,
  position: number,
  length: number,
  into: Uint8Array | undefined,
): Promise<Uint8Array> {
  const buffer = into ?? new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const chunk = Math.min(length - filled, ioChunkBytesMax);
    const { bytesRead } = await handle.read(buffer, filled, chunk, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  if (into !== undefined) return into.subarray(0, filled);
  return filled === length ? buffer : buffer.slice(0, filled);
}

/** {@link writeFully} of each piece, back to back, in the calling thread (`pwrite(2)`). */
function writePiecesNow(fd: number, position: number, pieces: readonly Uint8Array[]): void {
  let at = position;
  for (const piece of pieces) {
    let written = 0;
    while (written < piece.length) {
      const count = writeSync(fd, piece, written, piece.length - written, at + written);
      if (count === 0) throw new Error(`no progress writing at ${at + written}`);
      written += count;
    }
    at += piece.length;
  }
}

/**
 * Writes all of `data`. A regular file normally takes a write whole, but the contract is
 * "full write or throws", so a short write continues where it stopped; a write of zero bytes
 * would never finish and is an error instead.
 */
async function writeFully(handle: FileHandle, position: number, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const chunk = Math.min(data.length - written, ioChunkBytesMax);
    const { bytesWritten } = await handle.write(data, written, chunk, position + written);
    if (bytesWritten === 0) throw new Error(`no progress writing at ${position + written}`);
    written += bytesWritten;
  }
}
