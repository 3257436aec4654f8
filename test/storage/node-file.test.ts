// Goal: show that the disk storage keeps the Storage contract on a real file system and puts
// its files where operators expect them. Method: the shared contract suite runs against a fresh
// temporary directory per test (all under one root removed afterwards); a few disk-only tests
// check directory creation, the on-disk layout, that subdirectories are not listed, and that
// failures of the directory itself are IO_ERRORs. Crash durability needs a real power cut and is
// covered by the crash harness (test/support), not here.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DbError } from "../../src/lib/errors.ts";
import { createNodeStorage } from "../../src/storage/index.ts";
import { runStorageContract } from "./file.contract.ts";

const root = mkdtempSync(join(tmpdir(), "statebase-storage-"));
after(() => rmSync(root, { recursive: true, force: true }));

const freshDirectory = (): string => mkdtempSync(join(root, "case-"));

runStorageContract("node", () => createNodeStorage(freshDirectory()));

test("node: createNodeStorage creates a missing directory and its parents", async () => {
  const directory = join(freshDirectory(), "data", "wal");
  const storage = await createNodeStorage(directory);
  const file = await storage.open("a", { create: true });
  await file.write(0, new TextEncoder().encode("on disk"));
  await file.sync();
  await file.close();
  await storage.syncDirectory();
  assert.equal(readFileSync(join(directory, "a"), "utf8"), "on disk");
  assert.equal(file.path, join(directory, "a"));
});

test("node: list holds files only, not subdirectories", async () => {
  const directory = freshDirectory();
  mkdirSync(join(directory, "nested"));
  writeFileSync(join(directory, "file"), "x");
  const storage = await createNodeStorage(directory);
  assert.deepEqual(await storage.list(), ["file"]);
  assert.equal(await storage.exists("nested"), false, "a directory is not a file");
});

test("node: a directory that is really a file is an IO_ERROR naming it", async () => {
  const path = join(freshDirectory(), "plain-file");
  writeFileSync(path, "x");
  await assert.rejects(createNodeStorage(path), (error) => {
    assert.ok(error instanceof DbError);
    assert.equal(error.code, "IO_ERROR");
    assert.equal(error.details["path"], path);
    assert.equal(typeof error.details["errno"], "string");
    return true;
  });
});

test("node: a directory removed underneath fails list and syncDirectory: IO_ERROR", async () => {
  const directory = freshDirectory();
  const storage = await createNodeStorage(directory);
  rmSync(directory, { recursive: true });
  const isIOError = (operation: string) => (error: unknown) =>
    error instanceof DbError &&
    error.code === "IO_ERROR" &&
    error.details["operation"] === operation &&
    error.details["errno"] === "ENOENT";
  await assert.rejects(storage.list(), isIOError("list"));
  await assert.rejects(storage.syncDirectory(), isIOError("syncDirectory"));
  await assert.rejects(storage.open("a", { create: true }), isIOError("open"));
});
