/**
 * @module The parts of a data directory the operator tools read: the log (DIR/wal) and the
 * snapshots (DIR/snapshots). Nothing here creates a directory: a tool pointed at the wrong
 * path must say so, not leave an empty data directory behind.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { hasErrorCode } from "../lib/errors.ts";
import { snapshotDirectoryName, walDirectoryName } from "../durability.ts";
import { snapshotSeqOf } from "../log/index.ts";
import { createMemoryStorage, createNodeStorage } from "../storage/index.ts";
import type { Storage } from "../storage/index.ts";
import { UsageError } from "./output.ts";

/** A snapshot file as listed; `seq` is undefined for files not named like a snapshot. */
export interface SnapshotFile {
  readonly name: string;
  readonly seq: number | undefined;
  readonly sizeBytes: number;
}

/** The log of a data directory as the tools read it. */
export interface LogDirectory {
  readonly storage: Storage;
  readonly walPath: string;
  /**
   * True when DIR has snapshots/ but no wal/ (moved aside, as open's refusal of a log older
   * than the snapshots suggests): the log reads as empty, as open reads it, and is not created.
   */
  readonly missing: boolean;
}

/** Opens DIR/wal; a missing directory (with no snapshots/ either) is a usage error. */
export async function openLogDirectory(dir: string): Promise<LogDirectory> {
  if (!(await isDirectory(dir))) throw new UsageError(`no such data directory: ${dir}`);
  const walPath = join(dir, walDirectoryName);
  if (await isDirectory(walPath)) {
    return { storage: await createNodeStorage(walPath), walPath, missing: false };
  }
  if (await isDirectory(join(dir, snapshotDirectoryName))) {
    return { storage: createMemoryStorage({ directory: walPath }), walPath, missing: true };
  }
  throw new UsageError(`${dir} is not a data directory: it has no ${walDirectoryName}/ inside`);
}

/** Opens DIR/snapshots, or returns undefined when there is none. */
export async function openSnapshotDirectory(dir: string): Promise<Storage | undefined> {
  const path = join(dir, snapshotDirectoryName);
  return (await isDirectory(path)) ? createNodeStorage(path) : undefined;
}

/** The files of DIR/snapshots by name, or undefined when there is no such directory. */
export async function listSnapshotFiles(dir: string): Promise<SnapshotFile[] | undefined> {
  const path = join(dir, snapshotDirectoryName);
  if (!(await isDirectory(path))) return undefined;
  const entries = await readdir(path, { withFileTypes: true });
  const names = entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
  const files = names.sort().map(async (name) => ({
    name,
    seq: snapshotSeqOf(name),
    sizeBytes: (await stat(join(path, name))).size,
  }));
  return Promise.all(files);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    // Only "no such file" means absent; any other failure (EACCES, EIO) is reported as is.
    if (hasErrorCode(error, "ENOENT")) return false;
    throw error;
  }
}
