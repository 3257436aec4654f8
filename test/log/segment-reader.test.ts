// Goal: a segment read into an arena that held a longer segment before reads exactly its own
// bytes: what the earlier one left past this one's data is zeros again, as in the file, and the
// arena's CRC fast path gives the file's CRC. Method: memory storage; three preallocated
// segments of different lengths and fill levels read in turn into one arena, each compared
// byte for byte with its file, also read in small steps and into an arena too small for it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Crc32cArena, crc32c } from "../../src/lib/crc32c.ts";
import { SegmentReader } from "../../src/log/segment-reader.ts";
import type { ReaderArena } from "../../src/log/segment-reader.ts";
import { createMemoryStorage } from "../../src/storage/index.ts";
import type { Storage } from "../../src/storage/index.ts";

/** A file of `sizeBytes` whose first `dataBytes` are non-zero, the rest zeros. */
async function writeSegment(
  storage: Storage,
  name: string,
  sizeBytes: number,
  dataBytes: number,
  seed: number,
): Promise<Uint8Array> {
  const bytes = new Uint8Array(sizeBytes);
  for (let i = 0; i < dataBytes; i++) bytes[i] = 1 + ((i * 31 + seed) % 255);
  const file = await storage.open(name, { create: true });
  await file.write(0, bytes);
  await file.close();
  return bytes;
}

async function readWhole(
  storage: Storage,
  name: string,
  arena: ReaderArena,
  stepBytes: number,
): Promise<Uint8Array> {
  const reader = await SegmentReader.open(storage, name, stepBytes, arena);
  try {
    await reader.load(reader.sizeBytes);
    return reader.bytes;
  } finally {
    await reader.close();
  }
}

test("segments read in turn into one arena each read as their own file", async () => {
  const storage = createMemoryStorage();
  const files = [
    await writeSegment(storage, "a", 20_000, 19_000, 1),
    await writeSegment(storage, "b", 20_000, 3_000, 2),
    await writeSegment(storage, "c", 12_000, 500, 3),
    await writeSegment(storage, "d", 30_000, 0, 4), // larger than the arena: plain memory
  ];
  for (const stepBytes of [1024, 1024 * 1024]) {
    const arena: ReaderArena = { arena: new Crc32cArena(20_000), usedBytes: 0 };
    for (const [index, name] of ["a", "b", "c", "d"].entries()) {
      const bytes = await readWhole(storage, name, arena, stepBytes);
      const expected = files[index]!;
      assert.deepEqual(bytes, expected, `segment ${name}, step ${stepBytes}`);
      assert.equal(bytes.buffer === arena.arena.bytes.buffer, name !== "d");
      assert.equal(crc32c(bytes, 0, 0, bytes.length), crc32c(expected));
    }
    arena.arena.release();
  }
});

test("a reader's bytes past what it loaded are zeros even over an earlier segment", async () => {
  const storage = createMemoryStorage();
  await writeSegment(storage, "a", 8_192, 8_192, 5);
  await writeSegment(storage, "b", 8_192, 100, 6);
  const arena: ReaderArena = { arena: new Crc32cArena(8_192), usedBytes: 0 };
  await readWhole(storage, "a", arena, 1024);
  const reader = await SegmentReader.open(storage, "b", 1024, arena);
  try {
    assert.ok(reader.loaded.length >= 100);
    assert.ok(reader.bytes.subarray(100).every((byte) => byte === 0));
  } finally {
    await reader.close();
  }
  arena.arena.release();
});
