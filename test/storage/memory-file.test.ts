// Goal: show that the memory storage keeps the Storage contract and models a crash the way a
// disk does, since the simulator's verdicts on log recovery are only as good as this model.
// Method: the shared contract suite runs first. Then example tests drive each durability rule
// through `crash()`: file data survives only after `sync`, names only after `syncDirectory`,
// a torn write leaves a strict prefix of the last unsynced write (checked over many seeds, and
// replayed exactly for one seed), and handles die with the crash. `failNext` and `corrupt` are
// tested for the faults they inject and for leaving everything else untouched. A fast-check
// model of written and durable bytes checks random write/truncate/sync/crash sequences.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DbError } from "../../src/lib/errors.ts";
import {
  createMemoryStorage,
  memoryFileSizeBytesMax,
  type MemoryStorage,
  type StorageOperation,
} from "../../src/storage/index.ts";
import { runStorageContract } from "./file.contract.ts";

runStorageContract("memory", () => Promise.resolve(createMemoryStorage()));

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
const bytesOf = (text: string): Uint8Array => textEncoder.encode(text);

/** The whole current contents of `name` as text, or undefined when it does not exist. */
async function contents(storage: MemoryStorage, name: string): Promise<string | undefined> {
  if (!(await storage.exists(name))) return undefined;
  const file = await storage.open(name, { create: false });
  const text = textDecoder.decode(await file.read(0, await file.size()));
  await file.close();
  return text;
}

/** Creates `name` holding `text`, with both its data and its name durable. */
async function durableFile(storage: MemoryStorage, name: string, text: string): Promise<void> {
  const file = await storage.open(name, { create: true });
  await file.write(0, bytesOf(text));
  await file.sync();
  await file.close();
  await storage.syncDirectory();
}

const ioError =
  (errno?: string) =>
  (error: unknown): boolean =>
    error instanceof DbError &&
    error.code === "IO_ERROR" &&
    (errno === undefined || error.details["errno"] === errno);

describe("memory: crash keeps exactly what was made durable", () => {
  test("unsynced writes are lost; synced writes survive", async () => {
    const storage = createMemoryStorage();
    await durableFile(storage, "f", "synced");
    const file = await storage.open("f", { create: false });
    await file.write(0, bytesOf("SYN"));
    await file.write(6, bytesOf(" and more"));
    storage.crash();
    assert.equal(await contents(storage, "f"), "synced");
  });

  test("sync makes every earlier write durable, across handles", async () => {
    const storage = createMemoryStorage();
    await durableFile(storage, "f", "");
    const writer = await storage.open("f", { create: false });
    const syncer = await storage.open("f", { create: false });
    await writer.write(0, bytesOf("abc"));
    await writer.write(10, bytesOf("xyz"));
    await syncer.sync();
    storage.crash();
    assert.equal(await contents(storage, "f"), "abc\0\0\0\0\0\0\0xyz");
  });

  test("writeAndSync is durable when it resolves; a failed write syncs nothing", async () => {
    const storage = createMemoryStorage();
    await durableFile(storage, "f", "");
    const file = await storage.open("f", { create: false });
    await file.writeAndSync(0, [bytesOf("ab"), bytesOf("cd")]);
    storage.failNext("write");
    await assert.rejects(file.writeAndSync(4, [bytesOf("ef")]), ioError("EIO"));
    await file.write(4, bytesOf("gh"));
    storage.crash();
    assert.equal(await contents(storage, "f"), "abcd");
  });

  test("a file whose name was never synced vanishes, even with synced data", async () => {
    const storage = createMemoryStorage();
    const file = await storage.open("new", { create: true });
    await file.write(0, bytesOf("data"));
    await file.sync();
    storage.crash();
    assert.deepEqual(await storage.list(), []);
  });

  test("a file whose name was synced but data not comes back empty", async () => {
    const storage = createMemoryStorage();
    const file = await storage.open("new", { create: true });
    await storage.syncDirectory();
    await file.write(0, bytesOf("data"));
    storage.crash();
    assert.equal(await contents(storage, "new"), "");
  });

  test("an unsynced truncate is undone; a synced one holds", async () => {
    const storage = createMemoryStorage();
    await durableFile(storage, "f", "0123456789");
    const file = await storage.open("f", { create: false });
    await file.truncate(3);
    storage.crash();
    assert.equal(await contents(storage, "f"), "0123456789");
    const again = await storage.open("f", { create: false });
    await again.truncate(3);
    await again.truncate(6);
    await again.sync();
    storage.crash();
    assert.equal(await contents(storage, "f"), "012\0\0\0");
  });

  test("a rename holds only after syncDirectory", async () => {
    const storage = createMemoryStorage();
    await durableFile(storage, "old", "x");
    await durableFile(storage, "target", "replaced");
    await storage.rename("old", "target");
    storage.crash();
    assert.deepEqual(await storage.list(), ["old", "target"]);
    assert.equal(await contents(storage, "target"), "replaced");
    await storage.rename("old", "target");
    await storage.syncDirectory();
    storage.crash();
    assert.deepEqual(await storage.list(), ["target"]);
    assert.equal(await contents(storage, "target"), "x");
  });

  test("a remove holds only after syncDirectory; undone, the durable data returns", async () => {
    const storage = createMemoryStorage();
    await durableFile(storage, "f", "durable");
    const file = await storage.open("f", { create: false });
    await file.write(0, bytesOf("DUR"));
    await storage.remove("f");
    storage.crash();
    assert.equal(await contents(storage, "f"), "durable");
    await storage.remove("f");
    await storage.syncDirectory();
    storage.crash();
    assert.deepEqual(await storage.list(), []);
  });

  test("handles opened before a crash reject with IO_ERROR; new handles work", async () => {
    const storage = createMemoryStorage();
    await durableFile(storage, "f", "abc");
    const stale = await storage.open("f", { create: false });
    storage.crash();
    await assert.rejects(stale.read(0, 1), ioError("EBADF"));
    await assert.rejects(stale.write(0, bytesOf("x")), ioError("EBADF"));
    await assert.rejects(stale.sync(), ioError("EBADF"));
    await stale.close();
    assert.equal(await contents(storage, "f"), "abc");
  });

  test("paths name the configured directory", async () => {
    const storage = createMemoryStorage({ directory: "sim/wal" });
    const file = await storage.open("a", { create: true });
    assert.equal(file.path, "sim/wal/a");
  });
});

describe("memory: torn writes", () => {
  const durable = "D".repeat(16);
  const last = "0123456789abcdefghijklmnopqrstuvwxyz";

  /** Durable "DDD…", then two unsynced writes, then a tearing crash; returns what survived. */
  async function tearOnce(seed: number): Promise<string> {
    const storage = createMemoryStorage({ seed });
    await durableFile(storage, "f", durable);
    const file = await storage.open("f", { create: false });
    await file.write(0, bytesOf("lost"));
    await file.write(8, bytesOf(last));
    storage.crash({ tear: true });
    return (await contents(storage, "f"))!;
  }

  test("a tear keeps a strict prefix of the last unsynced write, and nothing else", async () => {
    const prefixLengths = new Set<number>();
    for (let seed = 0; seed < 64; seed++) {
      const survived = await tearOnce(seed);
      // The durable bytes with the first `length` bytes of the last write laid over them.
      const overlay = (length: number): string =>
        durable.slice(0, 8) + last.slice(0, length) + durable.slice(8 + length);
      const candidates = Array.from({ length: last.length }, (_, length) => length);
      const prefixLength = candidates.find((length) => overlay(length) === survived);
      assert.ok(prefixLength !== undefined, `seed ${seed}: ${survived} is no strict prefix`);
      prefixLengths.add(prefixLength);
    }
    assert.ok(prefixLengths.size > 5, "the prefix length varies with the seed");
  });

  test("the same seed tears the same way", async () => {
    assert.equal(await tearOnce(42), await tearOnce(42));
  });

  test("a synced write is not torn", async () => {
    const storage = createMemoryStorage({ seed: 1, tearOnCrash: true });
    await durableFile(storage, "f", "");
    const file = await storage.open("f", { create: false });
    await file.write(0, bytesOf("complete"));
    await file.sync();
    storage.crash();
    assert.equal(await contents(storage, "f"), "complete");
  });

  test("tearOnCrash tears by default, and crash({ tear: false }) overrides it", async () => {
    const tearing = createMemoryStorage({ seed: 3, tearOnCrash: true });
    const tearCounts = { torn: 0, clean: 0 };
    for (const [storage, tear] of [
      [tearing, undefined],
      [createMemoryStorage({ seed: 3, tearOnCrash: true }), false],
    ] as const) {
      await durableFile(storage, "f", "");
      const file = await storage.open("f", { create: false });
      await file.write(0, bytesOf("x".repeat(1000)));
      storage.crash(tear === undefined ? undefined : { tear });
      const size = (await contents(storage, "f"))!.length;
      tearCounts[size > 0 ? "torn" : "clean"] += 1;
    }
    assert.deepEqual(tearCounts, { torn: 1, clean: 1 });
  });

  test("a write to a file whose name did not survive tears nothing", async () => {
    const storage = createMemoryStorage({ seed: 5 });
    const file = await storage.open("f", { create: true });
    await file.write(0, bytesOf("x".repeat(100)));
    storage.crash({ tear: true });
    assert.deepEqual(await storage.list(), []);
  });
});

describe("memory: failNext", () => {
  test("the next write fails with IO_ERROR, changing nothing; the one after succeeds", async () => {
    const storage = createMemoryStorage();
    const file = await storage.open("f", { create: true });
    storage.failNext("write");
    await assert.rejects(file.write(0, bytesOf("lost")), (error) => {
      assert.ok(ioError("EIO")(error));
      assert.equal((error as DbError).details["path"], "memory/f");
      assert.equal((error as DbError).details["operation"], "write");
      return true;
    });
    assert.equal(await file.size(), 0);
    await file.write(0, bytesOf("kept"));
    assert.equal(await contents(storage, "f"), "kept");
  });

  test("a given error is thrown as is", async () => {
    const storage = createMemoryStorage();
    const custom = new Error("disk on fire");
    storage.failNext("open", custom);
    await assert.rejects(storage.open("f", { create: true }), (error) => error === custom);
    assert.deepEqual(await storage.list(), [], "the failed open created nothing");
  });

  test("arming twice fails the next two calls, on any file", async () => {
    const storage = createMemoryStorage();
    const a = await storage.open("a", { create: true });
    const b = await storage.open("b", { create: true });
    storage.failNext("read");
    storage.failNext("read");
    await assert.rejects(a.read(0, 1), ioError());
    await assert.rejects(b.read(0, 1), ioError());
    assert.equal((await a.read(0, 1)).length, 0);
  });

  test("a failed sync makes nothing durable", async () => {
    const storage = createMemoryStorage();
    await durableFile(storage, "f", "old");
    const file = await storage.open("f", { create: false });
    await file.write(0, bytesOf("new"));
    storage.failNext("sync");
    await assert.rejects(file.sync(), ioError("EIO"));
    storage.crash();
    assert.equal(await contents(storage, "f"), "old");
  });

  test("a failed syncDirectory makes no name durable", async () => {
    const storage = createMemoryStorage();
    await (await storage.open("f", { create: true })).close();
    storage.failNext("syncDirectory");
    await assert.rejects(storage.syncDirectory(), ioError("EIO"));
    storage.crash();
    assert.deepEqual(await storage.list(), []);
  });

  test("every operation can be failed", async () => {
    const storage = createMemoryStorage();
    await durableFile(storage, "f", "abc");
    const file = await storage.open("f", { create: false });
    const calls: Record<StorageOperation, () => Promise<unknown>> = {
      open: () => storage.open("f", { create: false }),
      list: () => storage.list(),
      remove: () => storage.remove("f"),
      rename: () => storage.rename("f", "g"),
      syncDirectory: () => storage.syncDirectory(),
      exists: () => storage.exists("f"),
      size: () => file.size(),
      read: () => file.read(0, 1),
      write: () => file.write(0, bytesOf("x")),
      truncate: () => file.truncate(0),
      sync: () => file.sync(),
      close: () => file.close(),
    };
    for (const [operation, call] of Object.entries(calls)) {
      storage.failNext(operation as StorageOperation);
      await assert.rejects(call(), ioError("EIO"), operation);
    }
    assert.deepEqual(await storage.list(), ["f"], "no failed call changed the directory");
    assert.equal(await contents(storage, "f"), "abc", "no failed call changed the file");
  });

  test("a crash clears armed faults", async () => {
    const storage = createMemoryStorage();
    storage.failNext("list");
    storage.crash();
    assert.deepEqual(await storage.list(), []);
  });
});

describe("memory: corrupt", () => {
  test("flips bits in both the written and the durable image", async () => {
    const storage = createMemoryStorage();
    await durableFile(storage, "f", "abc");
    storage.corrupt("f", 1, 0x20);
    assert.equal(await contents(storage, "f"), "aBc");
    storage.crash();
    assert.equal(await contents(storage, "f"), "aBc", "the damage is durable");
  });

  test("corrupts a byte that is only written, or only durable", async () => {
    const storage = createMemoryStorage();
    await durableFile(storage, "f", "abc");
    const file = await storage.open("f", { create: false });
    await file.write(3, bytesOf("def"));
    storage.corrupt("f", 4, 0x20);
    assert.equal(await contents(storage, "f"), "abcdEf");
    await file.truncate(1);
    storage.corrupt("f", 2, 0x20);
    storage.crash();
    assert.equal(await contents(storage, "f"), "abC");
  });

  test("bad arguments are programmer errors", async () => {
    const storage = createMemoryStorage();
    await durableFile(storage, "f", "abc");
    assert.throws(() => storage.corrupt("missing", 0, 1), { name: "AssertionError" });
    assert.throws(() => storage.corrupt("f", 3, 1), { name: "AssertionError" });
    assert.throws(() => storage.corrupt("f", 0, 0), { name: "AssertionError" });
    assert.throws(() => storage.corrupt("f", 0, 256), { name: "AssertionError" });
    assert.equal(await contents(storage, "f"), "abc");
  });
});

describe("memory: limits", () => {
  test("growing past memoryFileSizeBytesMax is an IO_ERROR (EFBIG), like a full disk", async () => {
    const storage = createMemoryStorage();
    const file = await storage.open("f", { create: true });
    await assert.rejects(file.truncate(memoryFileSizeBytesMax + 1), ioError("EFBIG"));
    await assert.rejects(file.write(memoryFileSizeBytesMax, bytesOf("x")), ioError("EFBIG"));
    assert.equal(await file.size(), 0);
  });
});

describe("memory: model of written and durable bytes", () => {
  type Step =
    | { kind: "write"; position: number; data: Uint8Array }
    | { kind: "truncate"; length: number }
    | { kind: "sync" }
    | { kind: "crash" };

  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      kind: fc.constant("write" as const),
      position: fc.nat({ max: 200 }),
      data: fc.uint8Array({ minLength: 1, maxLength: 40 }),
    }),
    fc.record({ kind: fc.constant("truncate" as const), length: fc.nat({ max: 200 }) }),
    fc.record({ kind: fc.constant("sync" as const) }),
    fc.record({ kind: fc.constant("crash" as const) }),
  );

  const resize = (bytes: Uint8Array, length: number): Uint8Array => {
    const result = new Uint8Array(length);
    result.set(bytes.subarray(0, Math.min(length, bytes.length)));
    return result;
  };

  test("property: reads see written bytes; a crash returns the last synced bytes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 30 }), async (steps) => {
        const storage = createMemoryStorage();
        await durableFile(storage, "f", "");
        let file = await storage.open("f", { create: false });
        let written: Uint8Array = new Uint8Array(0);
        let durable: Uint8Array = new Uint8Array(0);
        for (const s of steps) {
          if (s.kind === "write") {
            await file.write(s.position, s.data);
            written = resize(written, Math.max(written.length, s.position + s.data.length));
            written.set(s.data, s.position);
          } else if (s.kind === "truncate") {
            await file.truncate(s.length);
            written = resize(written, s.length);
          } else if (s.kind === "sync") {
            await file.sync();
            durable = written.slice();
          } else {
            storage.crash();
            file = await storage.open("f", { create: false });
            written = durable.slice();
          }
          assert.deepEqual([...(await file.read(0, 1000))], [...written]);
        }
      }),
      { numRuns: 200 },
    );
  });
});
