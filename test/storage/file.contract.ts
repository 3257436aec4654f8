// Goal: one statement of what every Storage must do, so the log behaves the same on disk and in
// the simulator. Method: `runStorageContract` registers the same tests for any implementation;
// node-file.test.ts runs them on a temporary directory and memory-file.test.ts on the memory
// storage. Each test starts from a fresh, empty storage. They cover the directory operations,
// positional IO (gaps, short reads at end of file, truncation), handle lifetime, the IO_ERROR
// shape, assertions on programmer errors, and a fast-check model of writes and truncations.
// Durability itself (what survives a crash) cannot be observed through the interface; the
// memory storage's own tests cover it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DbError } from "../../src/lib/errors.ts";
import type { Storage, StorageOperation } from "../../src/storage/index.ts";

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

const bytesOf = (text: string): Uint8Array => textEncoder.encode(text);
const textOf = (bytes: Uint8Array): string => textDecoder.decode(bytes);

/** A matcher for assert.rejects: an IO_ERROR for `operation` whose path ends with `name`. */
function ioError(operation: StorageOperation, name?: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof DbError, `expected a DbError, got ${String(error)}`);
    assert.equal(error.code, "IO_ERROR");
    assert.equal(error.details["operation"], operation);
    const path = error.details["path"];
    assert.equal(typeof path, "string");
    if (name !== undefined) assert.ok(String(path).endsWith(name), `${String(path)} names ${name}`);
    assert.ok(error.message.includes(String(path)), "the message names the path");
    return true;
  };
}

const assertionError = { name: "AssertionError" };

export function runStorageContract(name: string, makeStorage: () => Promise<Storage>): void {
  describe(`${name}: Storage contract`, () => {
    runDirectoryContract(makeStorage);
    runFileContract(makeStorage);
    runLifetimeContract(makeStorage);
  });
}

function runDirectoryContract(makeStorage: () => Promise<Storage>): void {
  test("a new storage is empty", async () => {
    const storage = await makeStorage();
    assert.deepEqual(await storage.list(), []);
    assert.equal(await storage.exists("a"), false);
  });

  test("open with create makes an empty file that is listed and exists", async () => {
    const storage = await makeStorage();
    const file = await storage.open("a.seg", { create: true });
    assert.ok(file.path.endsWith("a.seg"), file.path);
    assert.equal(await file.size(), 0);
    assert.equal(await storage.exists("a.seg"), true);
    assert.deepEqual(await storage.list(), ["a.seg"]);
    await file.close();
  });

  test("open without create rejects a missing file with IO_ERROR naming it", async () => {
    const storage = await makeStorage();
    await assert.rejects(storage.open("missing", { create: false }), (error) => {
      assert.ok(ioError("open", "missing")(error));
      assert.equal((error as DbError).details["errno"], "ENOENT");
      return true;
    });
    assert.deepEqual(await storage.list(), [], "a failed open creates nothing");
  });

  test("open with create keeps an existing file's contents", async () => {
    const storage = await makeStorage();
    const first = await storage.open("a", { create: true });
    await first.write(0, bytesOf("kept"));
    await first.close();
    const second = await storage.open("a", { create: true });
    assert.equal(textOf(await second.read(0, 10)), "kept");
    await second.close();
  });

  test("list is sorted by code unit", async () => {
    const storage = await makeStorage();
    for (const fileName of ["b", "c9", "a", "c10", "B"]) {
      await (await storage.open(fileName, { create: true })).close();
    }
    assert.deepEqual(await storage.list(), ["B", "a", "b", "c10", "c9"]);
  });

  test("rename moves a file with its contents; open handles keep working", async () => {
    const storage = await makeStorage();
    const file = await storage.open("old", { create: true });
    await file.write(0, bytesOf("data"));
    await storage.rename("old", "new");
    assert.deepEqual(await storage.list(), ["new"]);
    assert.equal(await storage.exists("old"), false);
    const renamed = await storage.open("new", { create: false });
    assert.equal(textOf(await renamed.read(0, 4)), "data");
    await file.write(4, bytesOf("+"));
    assert.equal(textOf(await renamed.read(0, 5)), "data+", "the old handle is the same file");
    await Promise.all([file.close(), renamed.close()]);
  });

  test("rename atomically replaces an existing target", async () => {
    const storage = await makeStorage();
    await writeFile(storage, "target", "old contents");
    await writeFile(storage, "source", "new");
    await storage.rename("source", "target");
    assert.deepEqual(await storage.list(), ["target"]);
    assert.equal(await readFile(storage, "target"), "new");
  });

  test("rename of a missing file rejects with IO_ERROR", async () => {
    const storage = await makeStorage();
    await assert.rejects(storage.rename("missing", "other"), ioError("rename", "missing"));
  });

  test("remove deletes a name; a missing name rejects with IO_ERROR", async () => {
    const storage = await makeStorage();
    await writeFile(storage, "a", "x");
    await writeFile(storage, "b", "y");
    await storage.remove("a");
    assert.deepEqual(await storage.list(), ["b"]);
    assert.equal(await storage.exists("a"), false);
    await assert.rejects(storage.open("a", { create: false }), ioError("open", "a"));
    await assert.rejects(storage.remove("a"), ioError("remove", "a"));
  });

  test("a removed file stays readable through a handle opened before", async () => {
    const storage = await makeStorage();
    const file = await storage.open("a", { create: true });
    await file.write(0, bytesOf("still here"));
    await storage.remove("a");
    assert.equal(textOf(await file.read(0, 100)), "still here");
    await file.close();
  });

  test("syncDirectory resolves after creates, renames and removes", async () => {
    const storage = await makeStorage();
    await storage.syncDirectory();
    await writeFile(storage, "a", "1");
    await writeFile(storage, "b", "2");
    await storage.rename("a", "c");
    await storage.remove("b");
    await storage.syncDirectory();
    assert.deepEqual(await storage.list(), ["c"]);
  });

  test("names that are not plain file names are programmer errors", async () => {
    const storage = await makeStorage();
    for (const bad of ["", ".", "..", "a/b", "../escape", "a\\b", "x".repeat(256)]) {
      await assert.rejects(storage.open(bad, { create: true }), assertionError, bad);
      await assert.rejects(storage.exists(bad), assertionError, bad);
      await assert.rejects(storage.remove(bad), assertionError, bad);
    }
    await writeFile(storage, "a", "x");
    await assert.rejects(storage.rename("a", "../a"), assertionError);
    assert.deepEqual(await storage.list(), ["a"]);
  });
}

function runFileContract(makeStorage: () => Promise<Storage>): void {
  test("writes land at their positions and reads return them", async () => {
    const storage = await makeStorage();
    const file = await storage.open("f", { create: true });
    await file.write(0, bytesOf("hello"));
    await file.write(5, bytesOf(" world"));
    assert.equal(await file.size(), 11);
    assert.equal(textOf(await file.read(0, 11)), "hello world");
    assert.equal(textOf(await file.read(6, 5)), "world");
    await file.write(1, bytesOf("EL"));
    assert.equal(textOf(await file.read(0, 11)), "hELlo world");
    assert.equal(await file.size(), 11, "an overwrite inside the file does not grow it");
    await file.close();
  });

  test("writeAndSync writes its pieces back to back, small runs and large", async () => {
    const storage = await makeStorage();
    const file = await storage.open("f", { create: true });
    await file.writeAndSync(2, [bytesOf("ab"), bytesOf(""), bytesOf("cde")]);
    assert.equal(textOf(await file.read(0, 7)), "\0\0abcde");
    // Past the size the disk writes in the calling thread (node-file.ts): the other path.
    const large = new Uint8Array(100 * 1024).fill(7);
    await file.writeAndSync(7, [large, bytesOf("!")]);
    assert.equal(await file.size(), 7 + large.length + 1);
    assert.deepEqual(await file.read(7, large.length), large);
    assert.equal(textOf(await file.read(7 + large.length, 1)), "!");
    await file.close();
  });

  test("writeAndSync inline writes the same bytes, and too large a run still lands", async () => {
    const storage = await makeStorage();
    const file = await storage.open("f", { create: true });
    await file.writeAndSync(1, [bytesOf("ab"), bytesOf("cd")], { inline: true });
    assert.equal(textOf(await file.read(0, 5)), "\0abcd");
    // Too large to write in the calling thread (node-file.ts): inline is ignored.
    const large = new Uint8Array(100 * 1024).fill(9);
    await file.writeAndSync(5, [large], { inline: true });
    assert.deepEqual(await file.read(5, large.length), large);
    await file.close();
    await assert.rejects(file.writeAndSync(0, [bytesOf("x")], { inline: true }), ioError("write"));
  });

  test("writing past the end extends the file and the gap reads as zeros", async () => {
    const storage = await makeStorage();
    const file = await storage.open("f", { create: true });
    await file.write(10, Uint8Array.of(1, 2));
    assert.equal(await file.size(), 12);
    assert.deepEqual([...(await file.read(0, 12))], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
    await file.write(100, new Uint8Array(0));
    assert.equal(await file.size(), 12, "a write of nothing does not extend the file");
    await file.close();
  });

  test("reads that reach the end of file are short, never padded", async () => {
    const storage = await makeStorage();
    const file = await storage.open("f", { create: true });
    await file.write(0, bytesOf("12345"));
    assert.equal(textOf(await file.read(3, 10)), "45");
    assert.equal((await file.read(5, 1)).length, 0, "a read at the end is empty");
    assert.equal((await file.read(100, 4)).length, 0, "a read past the end is empty");
    assert.equal((await file.read(0, 0)).length, 0, "a read of nothing is empty");
    await file.close();
  });

  test("read returns the caller's copy and write copies its input", async () => {
    const storage = await makeStorage();
    const file = await storage.open("f", { create: true });
    const input = bytesOf("abc");
    await file.write(0, input);
    input.fill(0);
    const output = await file.read(0, 3);
    output.fill(0);
    assert.equal(textOf(await file.read(0, 3)), "abc");
    await file.close();
  });

  test("a write of a subarray writes only the view", async () => {
    const storage = await makeStorage();
    const file = await storage.open("f", { create: true });
    await file.write(0, bytesOf("xxabcxx").subarray(2, 5));
    assert.equal(textOf(await file.read(0, 100)), "abc");
    await file.close();
  });

  test("truncate shrinks, and growing again reads as zeros", async () => {
    const storage = await makeStorage();
    const file = await storage.open("f", { create: true });
    await file.write(0, bytesOf("0123456789"));
    await file.truncate(4);
    assert.equal(await file.size(), 4);
    assert.equal(textOf(await file.read(0, 10)), "0123");
    await file.truncate(8);
    assert.equal(await file.size(), 8);
    assert.deepEqual([...(await file.read(4, 10))], [0, 0, 0, 0], "old bytes do not return");
    await file.truncate(0);
    assert.equal(await file.size(), 0);
    await file.close();
  });

  test("sync resolves, and data survives close and reopen", async () => {
    const storage = await makeStorage();
    const file = await storage.open("f", { create: true });
    await file.write(0, bytesOf("durable"));
    await file.sync();
    await file.sync();
    await file.close();
    assert.equal(await readFile(storage, "f"), "durable");
  });

  test("two handles on one file see each other's writes", async () => {
    const storage = await makeStorage();
    const first = await storage.open("f", { create: true });
    const second = await storage.open("f", { create: false });
    await first.write(0, bytesOf("one"));
    assert.equal(textOf(await second.read(0, 3)), "one");
    await second.truncate(1);
    assert.equal(await first.size(), 1);
    await Promise.all([first.close(), second.close()]);
  });

  test("a large write reads back byte for byte", async () => {
    const storage = await makeStorage();
    const file = await storage.open("f", { create: true });
    const data = Uint8Array.from({ length: 3 * 1024 * 1024 + 7 }, (_, i) => (i * 31 + 7) & 0xff);
    await file.write(5, data);
    const back = await file.read(5, data.length);
    assert.equal(back.length, data.length);
    assert.ok(Buffer.from(back).equals(data), "contents match");
    await file.close();
  });

  test("concurrent writes at different positions all land", async () => {
    const storage = await makeStorage();
    const file = await storage.open("f", { create: true });
    const writes = Array.from({ length: 16 }, (_, i) => file.write(i * 4, bytesOf(`w${i % 10}.;`)));
    await Promise.all(writes);
    const text = textOf(await file.read(0, 64));
    for (let i = 0; i < 16; i++) assert.equal(text.slice(i * 4, i * 4 + 4), `w${i % 10}.;`);
    await file.close();
  });

  test("bad positions and lengths are programmer errors", async () => {
    const storage = await makeStorage();
    const file = await storage.open("f", { create: true });
    await assert.rejects(file.read(-1, 1), assertionError);
    await assert.rejects(file.read(0, 1.5), assertionError);
    await assert.rejects(file.write(-1, bytesOf("x")), assertionError);
    await assert.rejects(file.write(Number.NaN, bytesOf("x")), assertionError);
    await assert.rejects(file.truncate(-1), assertionError);
    assert.equal(await file.size(), 0, "nothing happened");
    await file.close();
  });

  test("property: writes and truncates match a byte-array model", async () => {
    const storage = await makeStorage();
    let fileIndex = 0;
    const operation = fc.oneof(
      fc.record({ position: fc.nat({ max: 300 }), data: fc.uint8Array({ maxLength: 64 }) }),
      fc.record({ length: fc.nat({ max: 300 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { maxLength: 20 }), async (operations) => {
        const file = await storage.open(`model-${fileIndex++}`, { create: true });
        let model: Uint8Array = new Uint8Array(0);
        for (const op of operations) {
          if ("data" in op) {
            await file.write(op.position, op.data);
            model = modelWrite(model, op.position, op.data);
          } else {
            await file.truncate(op.length);
            model = modelResize(model, op.length);
          }
        }
        assert.equal(await file.size(), model.length);
        assert.deepEqual([...(await file.read(0, model.length + 10))], [...model]);
        await file.close();
      }),
      { numRuns: 50 },
    );
  });
}

function runLifetimeContract(makeStorage: () => Promise<Storage>): void {
  test("a closed handle rejects every operation with IO_ERROR", async () => {
    const storage = await makeStorage();
    const file = await storage.open("f", { create: true });
    await file.close();
    await assert.rejects(file.size(), ioError("size", "f"));
    await assert.rejects(file.read(0, 1), ioError("read", "f"));
    await assert.rejects(file.write(0, bytesOf("x")), ioError("write", "f"));
    await assert.rejects(file.truncate(0), ioError("truncate", "f"));
    await assert.rejects(file.sync(), ioError("sync", "f"));
  });

  test("closing twice is harmless", async () => {
    const storage = await makeStorage();
    const file = await storage.open("f", { create: true });
    await file.close();
    await file.close();
  });
}

// ---- Helpers ----

async function writeFile(storage: Storage, name: string, text: string): Promise<void> {
  const file = await storage.open(name, { create: true });
  await file.truncate(0);
  await file.write(0, bytesOf(text));
  await file.sync();
  await file.close();
}

async function readFile(storage: Storage, name: string): Promise<string> {
  const file = await storage.open(name, { create: false });
  const text = textOf(await file.read(0, await file.size()));
  await file.close();
  return text;
}

function modelResize(model: Uint8Array, length: number): Uint8Array {
  const resized = new Uint8Array(length);
  resized.set(model.subarray(0, Math.min(length, model.length)));
  return resized;
}

function modelWrite(model: Uint8Array, position: number, data: Uint8Array): Uint8Array {
  // A write of nothing changes nothing, not even the size (pwrite of zero bytes).
  if (data.length === 0) return model;
  const end = position + data.length;
  const result = end > model.length ? modelResize(model, end) : model;
  result.set(data, position);
  return result;
}
