// Durability: a database on disk, closed and reopened, then read as of a past commit.
// test/examples.test.ts runs it; each assert is a checked result.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "statebase";

const path = mkdtempSync(join(tmpdir(), "statebase-example-"));
try {
  // `sync`: a commit is on disk once `db.durable()` resolves (one fsync per group of commits).
  const db = await open({ path, durability: "sync" });
  const stock = db.createTable("default::stock", {
    columns: { sku: "utf8", count: "int4" },
    primaryKey: "sku",
  });
  stock.insert({ sku: "apple", count: 10 });
  const before = db.seq;
  stock.update("apple", { count: 7 });
  await db.durable();
  await db.snapshot(); // optional: recovery starts from here instead of the log's start
  await db.close();

  const again = await open({ path, durability: "sync" });
  assert.equal(again.table("default::stock").get("apple")?.count, 7);
  const past = await again.at(before); // read-only, as it was right after commit `before`
  assert.equal(past.table("default::stock").get("apple")?.count, 10);
  const versions = await again.history("default::stock", "apple");
  assert.deepEqual(
    versions.map((v) => v.kind),
    ["insert", "update"],
  );
  await again.close();
  console.log("durable ok");
} finally {
  rmSync(path, { recursive: true, force: true });
}
