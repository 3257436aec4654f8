// Goal: show that one process at a time holds a data directory, with either lock mechanism:
// a second lock is refused with an IO_ERROR naming the holder's pid, a released lock can be
// taken again, and a holder that dies (SIGKILL, a real child process) leaves no lock behind
// that keeps the next process out. Method: lock temporary directories in this process and in
// child processes (`node --import tsx`), and compare what each side sees.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DbError } from "../../src/lib/errors.ts";
import { lockDirectory, lockFileName } from "../../src/storage/index.ts";
import type { LockMechanism } from "../../src/storage/index.ts";

const root = mkdtempSync(join(tmpdir(), "statebase-lock-"));
after(() => rmSync(root, { recursive: true, force: true }));
const freshDirectory = (): string => mkdtempSync(join(root, "case-"));
const storageIndex = resolve(import.meta.dirname, "../../src/storage/index.ts");
const mechanisms: readonly LockMechanism[] = ["socket", "file"];
/** Directories made looking for one on a deleted directory's inode (ext4: the first). */
const inodeReuseTriesMax = 200;

function isInUse(pid: number): (error: unknown) => boolean {
  return (error) =>
    error instanceof DbError &&
    error.code === "IO_ERROR" &&
    error.details.pid === pid &&
    error.message.includes(`is in use by process ${pid}`);
}

/** A child process that locks `dir`, says "locked", and waits to be killed. */
async function lockInChild(dir: string, mechanism: LockMechanism): Promise<ChildProcess> {
  const script =
    `const { lockDirectory } = await import(${JSON.stringify(storageIndex)});` +
    `await lockDirectory(${JSON.stringify(dir)}, ${JSON.stringify(mechanism)});` +
    `console.log("locked"); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (text: Buffer) => {
      if (text.toString().includes("locked")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`lock child exited with ${code}`)));
  });
  return child;
}

async function killAndWait(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

for (const mechanism of mechanisms) {
  test(`${mechanism}: a second lock is refused until the first is released`, async () => {
    const dir = freshDirectory();
    const lock = await lockDirectory(dir, mechanism);
    await assert.rejects(lockDirectory(dir, mechanism), isInUse(process.pid));
    await lock.release();
    await lock.release(); // a second release does nothing
    const again = await lockDirectory(dir, mechanism);
    await again.release();
  });

  test(`${mechanism}: a SIGKILLed holder does not keep the next process out`, async () => {
    const dir = freshDirectory();
    const child = await lockInChild(dir, mechanism);
    await assert.rejects(lockDirectory(dir, mechanism), isInUse(child.pid!));
    await killAndWait(child);
    const lock = await lockDirectory(dir, mechanism);
    await lock.release();
  });
}

test("socket: every path to a directory finds its lock", async () => {
  const dir = freshDirectory();
  const link = join(root, `link-${process.pid}`);
  symlinkSync(dir, link);
  const lock = await lockDirectory(dir, "socket");
  await assert.rejects(lockDirectory(link, "socket"), isInUse(process.pid));
  await lock.release();
});

test("file: a lock file naming a live process other than this one is respected", async () => {
  const dir = freshDirectory();
  // The parent of this process is alive for as long as this test runs.
  writeFileSync(join(dir, lockFileName), `${process.ppid}\n`);
  await assert.rejects(lockDirectory(dir, "file"), isInUse(process.ppid));
  writeFileSync(join(dir, lockFileName), "not a pid\n");
  const lock = await lockDirectory(dir, "file"); // unreadable: stale, taken over
  await lock.release();
});

test("a directory that cannot be locked says why and where", async () => {
  const missing = join(root, "no-such-directory");
  await assert.rejects(
    lockDirectory(missing, "socket"),
    (error: unknown) =>
      error instanceof DbError &&
      error.code === "IO_ERROR" &&
      error.message.includes(`cannot lock data directory ${missing}`),
  );
});

test("socket: a new directory on a deleted, locked directory's inode is not in use", async (t) => {
  // ext4 hands a deleted directory's inode to the next directory made; the lock of a
  // database still open on the deleted one must not refuse the new one.
  const gone = freshDirectory();
  const held = await lockDirectory(gone, "socket");
  const { ino } = statSync(gone);
  rmSync(gone, { recursive: true });
  let reused: string | undefined;
  for (let i = 0; i < inodeReuseTriesMax && reused === undefined; i++) {
    const dir = freshDirectory();
    if (statSync(dir).ino === ino) reused = dir;
  }
  try {
    // Only a filesystem that reuses the inode (ext4, as on CI) can show the defect.
    if (reused === undefined) return t.diagnostic(`inode ${ino} not reused: nothing to show`);
    const lock = await lockDirectory(reused, "socket");
    await lock.release();
  } finally {
    await held.release();
  }
});
