/**
 * Goal: the log keeps every durable commit, in order, through crashes, torn writes and bit
 * rot, and never yields a wrong history.
 * Method: write commits through the real WAL onto the in-memory storage (which models what
 * survives a power cut), then recover with recoverLog and compare with what was written.
 * Property tests truncate the last segment at every offset of its final records and flip
 * random bits in random records: recovery must stop cleanly at the last intact record (tail
 * damage) or refuse with CORRUPT naming segment, offset and seq (inner damage).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { WAL, recoverLog, spareSegmentName, zeroHash } from "../../src/log/index.ts";
import type { LogTail } from "../../src/log/index.ts";
import { createMemoryStorage } from "../../src/storage/index.ts";
import type { MemoryStorage, Storage } from "../../src/storage/index.ts";
import type { Commit } from "../../src/engine/index.ts";
import { DbError } from "../../src/lib/errors.ts";

function commit(seq: number, size = 1): Commit {
  return {
    seq,
    ts: 1_700_000_000_000 + seq,
    origin: { kind: "test" },
    changes: Array.from({ length: size }, (_, i) => ({
      object: "t::rows",
      kind: "insert",
      key: seq * 100 + i,
      before: undefined,
      after: { id: seq * 100 + i, note: `row ${seq}/${i}` },
    })),
  };
}

const emptyTail: LogTail = {
  segment: undefined,
  segmentFirstSeq: 1,
  offset: 0,
  lastSeq: 0,
  lastHash: zeroHash,
};

/** Recovers `storage`; `readStepBytes` small makes records straddle the reader's steps. */
async function recover(
  storage: MemoryStorage,
  readStepBytes?: number,
): Promise<{ records: Commit[]; tail: LogTail; warnings: string[] }> {
  const records: Commit[] = [];
  const warnings: string[] = [];
  const result = await recoverLog(storage, {
    onRecord: (record) => records.push(record),
    onWarning: (message) => warnings.push(message),
    ...(readStepBytes === undefined ? {} : { readStepBytes }),
  });
  return { records, tail: result.tail, warnings };
}

async function writeCommits(
  storage: MemoryStorage,
  count: number,
  segmentSizeBytes = 4096,
): Promise<WAL> {
  const wal = new WAL({ storage, tail: emptyTail, segmentSizeBytes, windowMs: 5 });
  for (let seq = 1; seq <= count; seq++) wal.append(commit(seq, 1 + (seq % 3)), "immediate");
  await wal.flush();
  return wal;
}

test("recovery returns exactly the commits written, across segment rollovers", async () => {
  const storage = createMemoryStorage();
  const wal = await writeCommits(storage, 120);
  assert.ok(wal.stats.segmentCount > 3, `expected several segments, got ${wal.stats.segmentCount}`);
  await wal.close();
  const { records, tail, warnings } = await recover(storage);
  assert.deepEqual(warnings, []);
  assert.equal(records.length, 120);
  records.forEach((record, i) => {
    assert.equal(record.seq, i + 1);
    assert.deepEqual(record.changes, commit(i + 1, 1 + ((i + 1) % 3)).changes);
  });
  assert.equal(tail.lastSeq, 120);
});

/** A commit whose one row carries `bytes` bytes of text (so its record is about that size). */
function bigCommit(seq: number, bytes: number): Commit {
  const c = commit(seq);
  const change = c.changes[0]!;
  const after = { ...(change.after as object), note: "x".repeat(bytes) };
  return { ...c, changes: [{ ...change, after }] };
}

test("records fill the pending buffer's chunks, straddle none, and may outgrow one", async () => {
  // Sizes chosen so records end near and across the 1 MiB chunk boundaries, with two records
  // larger than a chunk, one of them first in a group; groups written both in one flush (a
  // loop that never yields) and one at a time, over segments of 3 MiB.
  const sizes = [
    ...Array.from({ length: 40 }, (_, i) => 60_000 + i * 997),
    1_500_000,
    ...Array.from({ length: 30 }, (_, i) => 1000 + i * 31),
    2_200_000,
    300_000,
  ];
  const storage = createMemoryStorage();
  const wal = new WAL({ storage, tail: emptyTail, segmentSizeBytes: 3 << 20, windowMs: 5 });
  const commits = sizes.map((size, i) => bigCommit(i + 1, size));
  for (const c of commits.slice(0, 50)) wal.append(c, "window");
  await wal.flush();
  for (const c of commits.slice(50)) {
    wal.append(c, "immediate");
    if (c.seq % 7 === 0) await wal.flush();
  }
  await wal.flush();
  assert.equal(wal.stats.durableSeq, commits.length);
  await wal.close();
  const { records, warnings } = await recover(storage);
  assert.deepEqual(warnings, []);
  assert.equal(records.length, commits.length);
  records.forEach((record, i) => assert.deepEqual(record.changes, commits[i]!.changes));
});

test("chunks reused from pile to pile, with quiet flushes between, lose no record", async () => {
  // A pile's chunks are kept for the next pile (which then writes over older records in
  // them) and given back after a quiet flush: recovery must find exactly what was appended.
  const storage = createMemoryStorage();
  const wal = new WAL({ storage, tail: emptyTail, segmentSizeBytes: 5 << 20, windowMs: 60_000 });
  const commits: Commit[] = [];
  const append = (size: number, policy: "window" | "immediate"): void => {
    const c = bigCommit(commits.length + 1, size);
    commits.push(c);
    wal.append(c, policy);
  };
  for (const pileRecords of [70, 45, 90]) {
    for (let i = 0; i < pileRecords; i++) append(30_000 + ((i * 7919) % 50_000), "window");
    await wal.flush();
    for (let i = 0; i < 3; i++) {
      append(500 + i, "immediate");
      await wal.flush();
    }
  }
  await wal.close();
  const { records, warnings } = await recover(storage);
  assert.deepEqual(warnings, []);
  assert.equal(records.length, commits.length);
  records.forEach((record, i) => assert.deepEqual(record.changes, commits[i]!.changes));
});

test("commits waiting together share one fsync (group commit)", async () => {
  const storage = createMemoryStorage();
  const wal = new WAL({ storage, tail: emptyTail, segmentSizeBytes: 1 << 20, windowMs: 5 });
  const waits: Array<Promise<void>> = [];
  for (let seq = 1; seq <= 500; seq++) {
    wal.append(commit(seq), "immediate");
    waits.push(wal.waitDurable(seq));
  }
  await Promise.all(waits);
  assert.equal(wal.stats.durableSeq, 500);
  assert.ok(wal.stats.flushCount <= 3, `500 commits took ${wal.stats.flushCount} flushes`);
  await wal.close();
});

test("a reopened log appends after the recovered tail and keeps the chain", async () => {
  const storage = createMemoryStorage();
  await (await writeCommits(storage, 30)).close();
  const first = await recover(storage);
  const wal = new WAL({ storage, tail: first.tail, segmentSizeBytes: 4096, windowMs: 5 });
  for (let seq = 31; seq <= 60; seq++) wal.append(commit(seq), "immediate");
  await wal.close();
  const second = await recover(storage);
  assert.deepEqual(second.warnings, []);
  assert.deepEqual(
    second.records.map((r) => r.seq),
    Array.from({ length: 60 }, (_, i) => i + 1),
  );
});

test("a crash keeps every durable commit and cuts a torn tail with a warning", async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const storage = createMemoryStorage({ seed });
    const wal = await writeCommits(storage, 40);
    for (let seq = 41; seq <= 45; seq++) wal.append(commit(seq, 3), "window");
    storage.crash({ tear: true }); // the window's write may be half done
    const { records } = await recover(storage);
    assert.ok(records.length >= 40, `seed ${seed}: lost durable commits (${records.length})`);
    records.forEach((record, i) => assert.equal(record.seq, i + 1));
    // Recovery repaired the tail: a second recovery is clean and identical.
    const again = await recover(storage);
    assert.deepEqual(again.warnings, []);
    assert.equal(again.records.length, records.length);
  }
});

test("a failed fsync fails the waiters and every later append (no silent loss)", async () => {
  const storage = createMemoryStorage();
  const wal = new WAL({ storage, tail: emptyTail, segmentSizeBytes: 4096, windowMs: 5 });
  wal.append(commit(1), "immediate");
  await wal.flush();
  storage.failNext("sync");
  wal.append(commit(2), "immediate");
  await assert.rejects(wal.waitDurable(2), { code: "IO_ERROR" });
  assert.throws(() => wal.append(commit(3), "immediate"), { code: "IO_ERROR" });
});

/** Writes `count` commits to a fresh storage and returns it with the last segment's name. */
async function logWith(
  count: number,
): Promise<{ storage: MemoryStorage; last: string; size: number }> {
  const storage = createMemoryStorage();
  await (await writeCommits(storage, count, 1 << 16)).close();
  const names = await storage.list();
  const last = names[names.length - 1]!;
  const file = await storage.open(last, { create: false });
  const bytes = await file.read(0, await file.size());
  await file.close();
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return { storage, last, size: end };
}

test("truncating at every offset of the last three records recovers a clean prefix", async () => {
  const { storage: pristine, last, size } = await logWith(12);
  const file = await pristine.open(last, { create: false });
  const full = await file.size();
  const bytes = await file.read(0, full);
  await file.close();
  // Find where the last three records start by reading the intact log.
  const starts: number[] = [];
  await recoverLog(pristine, { onRecord: () => undefined });
  let offset = 24;
  while (offset < size) {
    starts.push(offset);
    const length = new DataView(bytes.buffer, bytes.byteOffset + offset).getUint32(0);
    offset += 16 + length;
  }
  const from = starts[starts.length - 3]!;
  const survivors = (cut: number): number =>
    starts.filter((start, i) => (starts[i + 1] ?? size) <= cut).length;
  const firstInSegment = 12 - starts.length + 1;
  for (let cut = from; cut <= size; cut++) {
    const { storage } = await logWith(12);
    const damaged = await storage.open(last, { create: false });
    await damaged.truncate(cut);
    await damaged.truncate(full); // a torn write leaves zeros after it
    await damaged.close();
    // Read in steps of 1 to 64 bytes, so the cut falls anywhere relative to a step.
    const { records } = await recover(storage, 1 + (cut % 64));
    assert.equal(records.length, firstInSegment - 1 + survivors(cut), `cut at ${cut}`);
    records.forEach((record, k) => {
      assert.equal(record.seq, k + 1);
      assert.deepEqual(record.changes, commit(k + 1, 1 + ((k + 1) % 3)).changes);
    });
  }
});

test("property: flipped bits give a clean prefix or a refusal naming the damage", async () => {
  const { size } = await logWith(12);
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: size - 1 }),
      fc.integer({ min: 1, max: 255 }),
      fc.option(fc.integer({ min: 1, max: 96 })),
      async (offset, xor, readStepBytes) => {
        const { storage, last } = await logWith(12);
        storage.corrupt(last, offset, xor);
        try {
          const { records } = await recover(storage, readStepBytes ?? undefined);
          records.forEach((record, i) => {
            assert.equal(record.seq, i + 1);
            assert.deepEqual(record.changes, commit(i + 1, 1 + ((i + 1) % 3)).changes);
          });
          // A clean recovery after damage must have lost only the tail.
          assert.ok(records.length < 12 || offset >= size, "damage went unnoticed");
        } catch (error) {
          assert.ok(error instanceof DbError, String(error));
          assert.equal(error.code, "CORRUPT");
          assert.match(error.message, /segment \d+\.seg, offset \d+, seq \d+/);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test("the durability lag grows while commits wait and is 0 once they are on disk", async () => {
  const storage = createMemoryStorage();
  let now = 1000;
  const wal = new WAL({
    storage,
    tail: emptyTail,
    segmentSizeBytes: 1 << 16,
    windowMs: 60_000, // a long window: nothing flushes by itself during the test
    now: () => now,
  });
  assert.equal(wal.lagMs(), 0);
  wal.append(commit(1), "window");
  now += 5;
  wal.append(commit(2), "window");
  now += 20;
  assert.equal(wal.lagMs(), 25, "measured from the oldest commit not on disk");
  await wal.flush();
  assert.equal(wal.lagMs(), 0);
  await wal.close();
});

test("the lag after a flush counts from the first commit that arrived during it", async () => {
  let now = 1000;
  let clockReads = 0;
  const wal = new WAL({
    storage: createMemoryStorage(),
    tail: emptyTail,
    segmentSizeBytes: 1 << 16,
    windowMs: 60_000, // a long window: nothing flushes by itself during the test
    now: () => {
      clockReads++;
      return now;
    },
  });
  wal.append(commit(1), "window");
  const first = wal.waitDurable(1); // takes commit 1 into a flush at the end of this turn
  await new Promise((resolve) => setImmediate(resolve));
  now += 10;
  const secondAt = now;
  wal.append(commit(2), "window"); // the first commit the next flush will take
  for (let seq = 3; seq <= 100; seq++) {
    now += 1;
    wal.append(commit(seq), "window");
  }
  // Only commits that start a wait read the clock: 1 (first not durable), 2 (first pending).
  assert.equal(clockReads, 2, "the 98 commits piled up after commit 2 read no clock");
  await first;
  now += 5;
  assert.equal(wal.lagMs(), now - secondAt, "measured from commit 2, the oldest not on disk");
  await wal.flush();
  assert.equal(wal.lagMs(), 0);
  await wal.close();
});

test("every byte of a segment header is checked (magic, seq, checksum, reserved)", async () => {
  for (let offset = 0; offset < 24; offset++) {
    const { storage, last } = await logWith(3);
    storage.corrupt(last, offset, 0x01);
    await assert.rejects(recover(storage), { code: "CORRUPT" }, `flip at header byte ${offset}`);
  }
});

test("a record repeated at the tail is damage, never a second apply", async () => {
  const storage = createMemoryStorage();
  const wal = await writeCommits(storage, 5, 1 << 16);
  await wal.close();
  const [name] = await storage.list();
  const file = await storage.open(name!, { create: false });
  const bytes = await file.read(0, await file.size());
  // Copy the last record once more right after itself.
  let offset = 24;
  let lastStart = offset;
  while (new DataView(bytes.buffer, bytes.byteOffset + offset).getUint32(0) !== 0) {
    lastStart = offset;
    offset += 16 + new DataView(bytes.buffer, bytes.byteOffset + offset).getUint32(0);
  }
  await file.write(offset, bytes.subarray(lastStart, offset));
  await file.close();
  const { records, warnings } = await recover(storage);
  assert.deepEqual(
    records.map((r) => r.seq),
    [1, 2, 3, 4, 5],
  );
  assert.ok(
    warnings.some((w) => w.includes("repeats")),
    warnings.join("\n"),
  );
});

test("segments come from a zero-filled spare; a leftover spare's garbage stays out", async () => {
  const storage = createMemoryStorage();
  // A spare left by a crash, full of non-zero bytes: the writer must refill it, not reuse it.
  const leftover = await storage.open(spareSegmentName, { create: true });
  await leftover.write(0, new Uint8Array(8192).fill(0xa5));
  await leftover.close();
  const wal = await writeCommits(storage, 120);
  assert.ok(wal.stats.segmentCount > 3);
  await wal.close();
  // Recovery reads every commit back (garbage after a record would be damage) and ignores
  // a spare the writer may have started preparing again.
  const { records, warnings } = await recover(storage);
  assert.deepEqual(warnings, []);
  assert.equal(records.length, 120);
  for (const name of await storage.list()) {
    if (name === spareSegmentName) continue;
    const file = await storage.open(name, { create: false });
    assert.equal(await file.size(), 4096, `${name} has the segment size`);
    await file.close();
  }
});

test(
  "a rollover never waits for a spare still being zero-filled; a ready one is used",
  {
    timeout: 20_000,
  },
  async () => {
    const storage = createMemoryStorage();
    // The spare's writes hang until released: as when commits come faster than it is written.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const renames: string[] = [];
    const gated: Storage = {
      ...storage,
      open: async (name, options) => {
        const file = await storage.open(name, options);
        if (name !== spareSegmentName) return file;
        return { ...file, write: async (at, bytes) => (await released, file.write(at, bytes)) };
      },
      rename: async (from, to) => (renames.push(from), storage.rename(from, to)),
    };
    const wal = new WAL({ storage: gated, tail: emptyTail, segmentSizeBytes: 4096, windowMs: 5 });
    for (let seq = 1; seq <= 60; seq++) wal.append(commit(seq, 1 + (seq % 3)), "immediate");
    await wal.flush(); // would hang, had the rollover waited for the spare
    assert.ok(
      wal.stats.segmentCount > 3,
      `expected several segments, got ${wal.stats.segmentCount}`,
    );
    assert.equal(renames.length, 0, "no segment came from the unfinished spare");
    release();
    await new Promise((resolve) => setTimeout(resolve, 10)); // the spare finishes now
    for (let seq = 61; seq <= 120; seq++) wal.append(commit(seq, 1 + (seq % 3)), "immediate");
    await wal.flush();
    await wal.close();
    assert.ok(renames.includes(spareSegmentName), "a later rollover took the finished spare");
    const { records, warnings } = await recover(storage);
    assert.deepEqual(warnings, []);
    assert.equal(records.length, 120);
  },
);

test("a stray byte in the zero tail is found, whatever the read step", async () => {
  for (const readStepBytes of [undefined, 16, 4096]) {
    const { storage, last, size } = await logWith(5);
    storage.corrupt(last, size + 40_000, 0x5a); // far past the records, inside the zero tail
    const { records, warnings } = await recover(storage, readStepBytes);
    assert.equal(records.length, 5, `step ${String(readStepBytes)}`);
    assert.equal(warnings.length, 1, `step ${String(readStepBytes)}: ${warnings.join("; ")}`);
    assert.match(warnings[0]!, /torn at the tail/);
    // The repair zeroed it: a second recovery is clean.
    assert.deepEqual((await recover(storage, readStepBytes)).warnings, []);
  }
});
