/**
 * Goal: the log syncs a group of one commit that someone waits for, after a group of one, in
 * its own thread (no trip to the thread pool, as Redis does), every other group through the
 * pool, and uses the pool while syncs are slow on average (a slow disk would stall every
 * connection), inline again once they are fast.
 * Method: the WAL writes to the in-memory storage through a wrapper that records each
 * writeAndSync's `inline` option and can delay the inline ones; the groups are shaped by what
 * is appended and awaited in one event-loop turn. What lands on disk is the log tests' concern.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { WAL, zeroHash } from "../../src/log/index.ts";
import type { LogTail } from "../../src/log/index.ts";
import { createMemoryStorage } from "../../src/storage/index.ts";
import type { Storage, StorageFile } from "../../src/storage/index.ts";
import type { Commit } from "../../src/engine/index.ts";

const emptyTail: LogTail = {
  segment: undefined,
  segmentFirstSeq: 1,
  offset: 0,
  lastSeq: 0,
  lastHash: zeroHash,
};

function commit(seq: number): Commit {
  const after = { id: seq, note: `row ${seq}` };
  const change = { object: "t::rows", kind: "insert", key: seq, before: undefined, after };
  return { seq, ts: 1_700_000_000_000 + seq, origin: { kind: "test" }, changes: [change] };
}

interface SyncSpy {
  storage: Storage;
  /** The `inline` option of every writeAndSync, in order (false when not given). */
  inlines: boolean[];
  /** How long an inline writeAndSync takes, in ms. */
  inlineDelayMs: number;
}

function spyStorage(): SyncSpy {
  const memory = createMemoryStorage();
  const spy: SyncSpy = { storage: memory, inlines: [], inlineDelayMs: 0 };
  const wrap = (file: StorageFile): StorageFile => ({
    ...file,
    path: file.path,
    writeAndSync: async (position, pieces, options) => {
      const inline = options?.inline === true;
      spy.inlines.push(inline);
      if (inline && spy.inlineDelayMs > 0) await sleep(spy.inlineDelayMs);
      await file.writeAndSync(position, pieces, options);
    },
  });
  spy.storage = {
    ...memory,
    open: async (name, options) => wrap(await memory.open(name, options)),
  };
  return spy;
}

function openWAL(spy: SyncSpy, windowMs = 60_000): WAL {
  return new WAL({ storage: spy.storage, tail: emptyTail, segmentSizeBytes: 1 << 20, windowMs });
}

test("a lone commit waited for after a lone one syncs inline; others do not", async () => {
  const spy = spyStorage();
  const wal = openWAL(spy);
  wal.append(commit(1), "immediate");
  await wal.waitDurable(1);
  wal.append(commit(2), "immediate");
  wal.append(commit(3), "immediate");
  await wal.waitDurable(3);
  wal.append(commit(4), "immediate");
  await wal.waitDurable(4);
  wal.append(commit(5), "immediate");
  await wal.waitDurable(5);
  // The first group counts as after a lone one; 4 follows a group of two.
  assert.deepEqual(spy.inlines, [true, false, false, true]);
  await wal.close();
});

test("a lone commit nobody waits for (async durability) syncs through the pool", async () => {
  const spy = spyStorage();
  const wal = openWAL(spy, 1);
  wal.append(commit(1), "window");
  for (let tries = 0; wal.stats.durableSeq < 1 && tries < 1000; tries++) await sleep(1);
  assert.equal(wal.stats.durableSeq, 1, "the window flushed the commit");
  assert.deepEqual(spy.inlines, [false]);
  await wal.close();
});

test("while syncs average over 1 ms, lone commits use the pool; fast ones undo it", async () => {
  const spy = spyStorage();
  const wal = openWAL(spy);
  spy.inlineDelayMs = 20; // an average of 2.5 ms after one such sync
  let seq = 0;
  const lone = async (): Promise<boolean> => {
    wal.append(commit(++seq), "immediate");
    await wal.waitDurable(seq);
    return spy.inlines[spy.inlines.length - 1]!;
  };
  assert.equal(await lone(), true);
  spy.inlineDelayMs = 0;
  assert.equal(await lone(), false, "the slow sync turned inline syncs off");
  let poolSyncs = 1;
  while (!(await lone())) poolSyncs++;
  // 2.5 ms decays below 1 ms after 7 fast syncs (by 7/8 each); a loaded test machine's
  // memory syncs take a little time too.
  assert.ok(poolSyncs >= 6 && poolSyncs <= 30, `back inline after ${poolSyncs} pool syncs`);
  await wal.close();
});
