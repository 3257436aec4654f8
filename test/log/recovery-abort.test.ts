/**
 * Goal: a recovery can be stopped, and says how far it is. Once the caller's AbortSignal is
 * aborted, recoverLog and readSnapshot end with ABORTED at their next check (between records,
 * every abortCheckIntervalBytes of log; between pieces of a snapshot), not after the whole
 * log, and they change no file: a torn tail they would have cut is still there, and the next
 * reading recovers every record. Progress is reported at the same checks, not per segment.
 * Method: records written through the real WAL onto the in-memory storage, the signal aborted
 * from inside the replay (onRecord) or from the event loop while a snapshot decodes; the files
 * compared byte for byte before and after. (test/cli/serve-recovery-abort.test.ts: the same
 * for a real server stopped by SIGTERM while it recovers.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WAL, listSegments, recoverLog, zeroHash } from "../../src/log/index.ts";
import type { LogTail } from "../../src/log/index.ts";
import { abortCheckIntervalBytes } from "../../src/log/recovery.ts";
import { readSnapshot, snapshotAbortCheckBytes } from "../../src/log/snapshot.ts";
import { crc32c } from "../../src/lib/crc32c.ts";
import { createMemoryStorage } from "../../src/storage/index.ts";
import type { MemoryStorage, Storage } from "../../src/storage/index.ts";
import type { Commit } from "../../src/engine/index.ts";
import { DbError } from "../../src/lib/errors.ts";

const emptyTail: LogTail = {
  segment: undefined,
  segmentFirstSeq: 1,
  offset: 0,
  lastSeq: 0,
  lastHash: zeroHash,
};

/** A commit of one row carrying `noteBytes` of text. */
function commit(seq: number, noteBytes: number): Commit {
  const after = { id: seq, note: "n".repeat(noteBytes) };
  const change = { object: "t::rows", kind: "insert", key: seq, before: undefined, after };
  return { seq, ts: 1_700_000_000_000 + seq, origin: { kind: "test" }, changes: [change] };
}

/** Writes `count` commits into one segment of `segmentSizeBytes`. */
async function writeLog(
  storage: MemoryStorage,
  count: number,
  noteBytes: number,
  segmentSizeBytes: number,
): Promise<void> {
  const wal = new WAL({ storage, tail: emptyTail, segmentSizeBytes, windowMs: 5 });
  for (let seq = 1; seq <= count; seq++) wal.append(commit(seq, noteBytes), "window");
  await wal.flush();
  await wal.close();
}

/** Every file of `storage` and its bytes, to compare before and after. */
async function filesOf(storage: Storage): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const name of (await storage.list()).sort()) {
    const file = await storage.open(name, { create: false });
    try {
      const bytes = await file.read(0, await file.size());
      files.set(name, Buffer.from(bytes).toString("base64"));
    } finally {
      await file.close();
    }
  }
  return files;
}

function isAborted(error: unknown): boolean {
  assert.ok(error instanceof DbError, String(error));
  assert.equal(error.code, "ABORTED");
  assert.match(error.message, /aborted during recovery .*the data directory is unchanged/);
  return true;
}

test("recoverLog stops at its next check once aborted, not at the end of the segment", async () => {
  const storage = createMemoryStorage();
  // About 4 intervals of log in one segment, which is loaded and replayed in one piece.
  const recordCount = 4000;
  const noteBytes = Math.ceil((4 * abortCheckIntervalBytes) / recordCount);
  await writeLog(storage, recordCount, noteBytes, 6 * abortCheckIntervalBytes);
  assert.equal((await listSegments(storage)).length, 1);
  const before = await filesOf(storage);
  const stop = new AbortController();
  let replayed = 0;
  await assert.rejects(
    recoverLog(storage, {
      signal: stop.signal,
      onRecord: (record) => {
        replayed++;
        if (record.seq === 10) stop.abort(new Error("SIGTERM"));
      },
    }),
    isAborted,
  );
  // It ran on for at most one interval of records past the abort.
  assert.ok(replayed >= 10 && replayed < recordCount / 2, `replayed ${replayed}`);
  assert.deepEqual(await filesOf(storage), before);
  let again = 0;
  const result = await recoverLog(storage, { onRecord: () => again++ });
  assert.equal(again, recordCount);
  assert.equal(result.tail.lastSeq, recordCount);
});

test("an aborted recovery leaves a torn tail for the next one to cut", async () => {
  const storage = createMemoryStorage();
  await writeLog(storage, 50, 100, 64 * 1024);
  const { tail } = await recoverLog(storage, { onRecord: () => undefined });
  storage.corrupt(tail.segment!, tail.offset - 5, 0xff); // inside the last record: torn
  const before = await filesOf(storage);
  const stop = new AbortController();
  const warnings: string[] = [];
  await assert.rejects(
    recoverLog(storage, {
      signal: stop.signal,
      onRecord: () => stop.abort(),
      onWarning: (message) => warnings.push(message),
    }),
    isAborted,
  );
  assert.equal(warnings.length, 0, warnings.join("\n"));
  assert.deepEqual(await filesOf(storage), before);
  const result = await recoverLog(storage, {
    onRecord: () => undefined,
    onWarning: (message) => warnings.push(message),
  });
  assert.equal(result.tail.lastSeq, 49);
  assert.match(warnings.join("\n"), /log torn at the tail/);
});

/** Snapshot bytes of one table whose entries carry `noteBytes` of text each. */
function snapshotBytes(noteBytes: readonly number[]): Buffer {
  const definition = { kind: "table", name: "default::t", columns: [], primaryKey: ["id"] };
  const lines = [
    JSON.stringify({ format: "statebase-snapshot-1", seq: 3, ts: 0, hash: "00".repeat(32) }),
    JSON.stringify({ object: "default::t", definition, meta: null }),
    ...noteBytes.map((size, id) => JSON.stringify([id, { id, note: "s".repeat(size) }])),
    JSON.stringify({ end: "default::t", entries: noteBytes.length }),
  ];
  const body = Buffer.from(`${lines.join("\n")}\n`);
  const trailer = JSON.stringify({
    trailer: true,
    entryCount: noteBytes.length,
    crc32c: crc32c(body),
  });
  return Buffer.concat([body, Buffer.from(`${trailer}\n`)]);
}

async function storeSnapshot(bytes: Buffer): Promise<MemoryStorage> {
  const storage = createMemoryStorage();
  const file = await storage.open("snapshot.jsonl", { create: true });
  await file.write(0, bytes);
  await file.close();
  return storage;
}

test("readSnapshot stops between pieces once aborted from the event loop", async () => {
  // Three checks' worth of entries; the abort is a task of the event loop, as a signal is.
  const entryCount = Math.ceil((3 * snapshotAbortCheckBytes) / 1000);
  const storage = await storeSnapshot(snapshotBytes(Array<number>(entryCount).fill(1000)));
  const stop = new AbortController();
  await assert.rejects(
    readSnapshot(storage, "snapshot.jsonl", {
      signal: stop.signal,
      onSize: () => void setImmediate(() => stop.abort()),
    }),
    (error: unknown) => {
      assert.ok(error instanceof DbError, String(error));
      assert.equal(error.code, "ABORTED");
      assert.match(error.message, /while loading a snapshot/);
      return true;
    },
  );
  const image = await readSnapshot(storage, "snapshot.jsonl");
  assert.equal(image.objects[0]!.entries.length, entryCount);
});

test("with a signal, an entry longer than a step is still read whole", async () => {
  const sizes = [10, snapshotAbortCheckBytes + 100, 10, 2 * snapshotAbortCheckBytes, 10];
  const storage = await storeSnapshot(snapshotBytes(sizes));
  const image = await readSnapshot(storage, "snapshot.jsonl", {
    signal: new AbortController().signal,
  });
  const notes = image.objects[0]!.entries.map(([, row]) => (row as { note: string }).note.length);
  assert.deepEqual(notes, sizes);
});

test("recoverLog reports progress within a segment, every check interval of log", async () => {
  // A large segment used to report once, at its end: a recovery of one 64 MiB segment said
  // nothing until it was over.
  const storage = createMemoryStorage();
  const recordCount = 3000;
  await writeLog(storage, recordCount, 1000, 8 * abortCheckIntervalBytes);
  assert.equal((await listSegments(storage)).length, 1);
  const reports: Array<[number, number]> = [];
  await recoverLog(storage, {
    onRecord: () => undefined,
    onProgress: (done, total) => void reports.push([done, total]),
  });
  assert.ok(reports.length >= 3, JSON.stringify(reports));
  const dones = reports.map(([done]) => done);
  assert.deepEqual(
    dones,
    [...dones].sort((a, b) => a - b),
    "progress never goes back",
  );
  assert.ok(dones[0]! < reports[0]![1], "a report before the segment's end");
  assert.deepEqual(reports.at(-1), [reports[0]![1], reports[0]![1]]);
});
