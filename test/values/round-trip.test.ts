// Goal: values at the edges of their kinds (lone surrogates, U+0000 in text and keys, -0,
// the smallest and largest floats, wide integers, exotic object keys) come back exactly as
// stored after a restart, both from the log and from a snapshot.
// Method: black box through the embedded API with a data directory in a temp dir: store, close,
// reopen (log replay), snapshot, close, reopen (snapshot load), comparing every read each time.
import { test } from "node:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";

const texts = ["\ud800", "a\udc00b", "\u0000", "a\u0000", "\u0000\u0001", "\ufffd", "😀", ""];
const floats = [-0, 5e-324, -5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, 0.1, 2 ** 53 + 2];

function fill(db: Database): void {
  const t = db.createTable("default::t", {
    columns: { k: "utf8", f: "float8", g: "float4", n: "int16", a: "any", j: "json" },
    primaryKey: "k",
  });
  texts.forEach((k, i) => {
    const f = floats[i % floats.length]!;
    const doc = { [k]: k, list: [k, f], $x: k };
    t.insert({ k, f, g: f === 0 ? -0 : 1.5, n: -(2n ** 15n), a: doc, j: doc });
  });
  const c = db.createCounter("default::c", { by: { k: "utf8" } });
  texts.forEach((k, i) => c.add(i + 1, k));
  const q = db.createQueue("default::q");
  for (const k of texts) q.enqueue({ [k]: [k, -0, 5e-324] }, { dedupKey: k });
}

function read(db: Database): unknown {
  return {
    rows: texts.map((k) => db.table("default::t").get(k)),
    counts: texts.map((k) => db.counter("default::c").get(k)),
    messages: db.queue("default::q").list("ready"),
  };
}

test("edge values come back exactly from the log and from a snapshot", async () => {
  const path = mkdtempSync(join(tmpdir(), "statebase-round-trip-"));
  try {
    const db = await open({ path, durability: "sync" });
    fill(db);
    const expected = read(db);
    assert.equal(Object.is((expected as { rows: Array<{ f: number }> }).rows[0]!.f, 0), true);
    await db.close();
    const replayed = await open({ path });
    assert.deepEqual(read(replayed), expected, "after log replay");
    await replayed.snapshot();
    await replayed.close();
    const restored = await open({ path });
    assert.deepEqual(read(restored), expected, "after loading the snapshot");
    // A dedup key with U+0000 or a lone surrogate still matches after the restart.
    assert.equal(restored.queue("default::q").enqueue({}, { dedupKey: "\ud800" }).enqueued, false);
    await restored.close();
  } finally {
    rmSync(path, { recursive: true, force: true });
  }
});
