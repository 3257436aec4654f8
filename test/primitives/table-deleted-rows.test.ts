/**
 * A deleted row must not stay reachable from the table once no change record holds it (a
 * ring of cached read snapshots, since removed, kept deleted rows' slots alive). Checked with
 * a WeakRef after full collections (this file's own process turns on `gc`).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { open } from "../../src/index.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Whether the object behind `ref` survives full collections (after the current job). */
async function survives(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() !== undefined;
}

test("a row read then deleted is freed once no change record holds it", async () => {
  const db = await open({ commitsRetained: 4 });
  db.createNamespace("f");
  const files = db.createTable<{ id: number; body: unknown }>("f::files", {
    columns: { id: "int4", body: "json" },
    primaryKey: "id",
  });
  const tick = db.createCounter("f::tick");
  files.insert({ id: 1, body: { chunk: [1, 2, 3] } });
  // The stored document: inputs are copied, and a read's snapshot shares it with the table.
  const ref = new WeakRef(files.get(1)!.body as object);
  files.del(1);
  for (let i = 0; i < 8; i++) tick.add(1); // the change feed no longer holds the delete
  assert.equal(files.size, 0);
  assert.equal(await survives(ref), false, "the deleted row's document is still reachable");
  await db.close();
});
