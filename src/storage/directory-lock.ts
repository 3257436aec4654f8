/**
 * @module One process at a time in a data directory. Two processes appending to one log
 * interleave their records, and each overwrites what the other acknowledged, so a second
 * `open` (or `statebase serve`, or `statebase repair`) of a directory in use is refused.
 *
 * On Linux the lock is a listening Unix socket in the abstract namespace, named after the
 * directory's device, inode and birth time (so every path to the directory finds it, and a
 * new directory given the inode of a deleted one that a process still holds open is not
 * taken for it: ext4 reuses a freed inode at once). The kernel frees it when its process
 * ends, however it ends: a SIGKILLed server leaves no stale lock to judge, and a restart takes
 * the lock at once. The holder answers a connection with its pid, which
 * the refusal names. Abstract sockets are per network namespace: two containers sharing a
 * volume but not a network namespace do not see each other's lock.
 *
 * Elsewhere the lock is a file, `statebase.lock`, created exclusively and holding the pid; a
 * lock file whose process is gone (a crash) is stale and taken over.
 */
import { open, readFile, stat, unlink } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import type { Server } from "node:net";
import { join } from "node:path";
import { DbError, hasErrorCode } from "../lib/errors.ts";

/** How the lock is held; `socket` needs Linux. */
export type LockMechanism = "socket" | "file";

export interface DirectoryLock {
  readonly path: string;
  /** Frees the directory for another process; a second call does nothing. */
  release(): Promise<void>;
}

/** The lock file's name, when the lock is a file. */
export const lockFileName = "statebase.lock";

/** How long a refused opener waits for the holder to say its pid. */
const holderAnswerMsMax = 1000;

const mechanismDefault: LockMechanism = process.platform === "linux" ? "socket" : "file";

/** Locks the data directory `path` (which must exist) for this process, or refuses. */
export async function lockDirectory(
  path: string,
  mechanism: LockMechanism = mechanismDefault,
): Promise<DirectoryLock> {
  return mechanism === "socket" ? lockWithSocket(path) : lockWithFile(path);
}

async function lockWithSocket(path: string): Promise<DirectoryLock> {
  const { dev, ino, birthtimeNs } = await stat(path, { bigint: true }).catch((error: unknown) => {
    throw ioError(path, error);
  });
  // A filesystem without birth times gives 0: then dev and inode alone, as before.
  const address = `\0statebase-directory-lock:${dev}:${ino}:${birthtimeNs}`;
  const server = createServer((socket) => socket.end(`${process.pid}\n`));
  try {
    await listen(server, address);
  } catch (error) {
    if (!hasErrorCode(error, "EADDRINUSE")) throw ioError(path, error);
    throw inUse(path, await askHolderPid(address));
  }
  server.unref(); // the lock must not keep the process alive
  return heldLock(path, () => new Promise<void>((resolve) => server.close(() => resolve())));
}

function listen(server: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ path: address }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** The pid the lock's holder answers with, or undefined when it does not answer in time. */
function askHolderPid(address: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    let text = "";
    const socket = createConnection({ path: address });
    const done = (pid: number | undefined): void => {
      socket.destroy();
      resolve(pid);
    };
    socket.setTimeout(holderAnswerMsMax, () => done(undefined));
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("end", () => done(parsePid(text)));
    socket.on("error", () => done(undefined));
  });
}

async function lockWithFile(path: string, attempt = 0): Promise<DirectoryLock> {
  const file = join(path, lockFileName);
  try {
    const handle = await open(file, "wx");
    await handle.writeFile(`${process.pid}\n`);
    await handle.sync();
    await handle.close();
  } catch (error) {
    if (!hasErrorCode(error, "EEXIST")) throw ioError(path, error);
    const pid = parsePid(await readFile(file, "utf8").catch(() => ""));
    // A holder that is gone (a crash) left the file behind: take the lock over, once.
    if (attempt === 0 && (pid === undefined || !processExists(pid))) {
      await unlink(file).catch(() => undefined);
      return lockWithFile(path, attempt + 1);
    }
    throw inUse(path, pid);
  }
  return heldLock(path, () => unlink(file).catch(() => undefined));
}

/** A held lock whose `release` frees it once, however often it is called. */
function heldLock(path: string, free: () => Promise<void>): DirectoryLock {
  let released = false;
  return {
    path,
    release: async () => {
      if (released) return;
      released = true;
      await free();
    },
  };
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !hasErrorCode(error, "ESRCH"); // EPERM: it exists, owned by another user
  }
}

function parsePid(text: string): number | undefined {
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function inUse(path: string, pid: number | undefined): DbError {
  const details = pid === undefined ? { path } : { path, pid };
  if (pid === process.pid) {
    // A reloaded module opening its database again, or a test that did not close one.
    return new DbError(
      "IO_ERROR",
      `data directory ${path} is in use by process ${pid}, this one: a database opened ` +
        `on it earlier is still open; close it first`,
      details,
    );
  }
  const holder = pid === undefined ? "another process" : `process ${pid}`;
  return new DbError(
    "IO_ERROR",
    `data directory ${path} is in use by ${holder}: one process at a time may open it; ` +
      `stop that process first, or open another directory`,
    details,
  );
}

function ioError(path: string, error: unknown): DbError {
  const reason = error instanceof Error ? error.message : String(error);
  return new DbError("IO_ERROR", `cannot lock data directory ${path}: ${reason}`, { path });
}
