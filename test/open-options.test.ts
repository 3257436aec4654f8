/**
 * Goal: open() refuses options it would not honour instead of ignoring them: a misspelt key
 * (`durabilty`) at the top, in `machines` or in `replicate`, and a path given as a bare string
 * (`open("./data")`, which would open an empty database in memory and write nothing), and a
 * `signal` that is no AbortSignal, or one aborted before open() begins (it then opens nothing).
 * Method: open() with each mistake; the error names the key and the keys there are.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "../src/database.ts";
import { DbError } from "../src/lib/errors.ts";
import type { OpenOptions } from "../src/types.ts";

async function refused(options: unknown, pattern: RegExp): Promise<void> {
  await assert.rejects(open(options as OpenOptions), (error: unknown) => {
    assert.ok(error instanceof DbError, String(error));
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.match(error.message, pattern);
    return true;
  });
}

test("an unknown option is refused, naming it and the options there are", async () => {
  await refused({ durabilty: "sync" }, /unknown open option durabilty; the options are path, /);
  await refused(
    { machines: { versionMax: 3 } },
    /unknown open option machines\.versionMax; the options are idempotencyWindowMs, versionsMax/,
  );
  await refused(
    { replicate: { url: "nats://127.0.0.1:1", streem: "s" } },
    /unknown open option replicate\.streem; the options are url, stream, /,
  );
  const db = await open({ durability: "memory", machines: { versionsMax: 3 } });
  await db.close();
});

test("options that are no object are refused, saying how to pass a path", async () => {
  await refused("./data", /open takes an options object, such as open\({ path: "\.\/data" }\)/);
  await refused(null, /open takes an options object/);
  await refused({ machines: 5 }, /open option machines must be an object/);
});

test("signal must be an AbortSignal; one aborted already opens nothing", async () => {
  await refused({ signal: { aborted: true } }, /signal must be an AbortSignal/);
  const path = join(mkdtempSync(join(tmpdir(), "statebase-open-")), "data");
  try {
    const stop = new AbortController();
    stop.abort(new Error("stopping"));
    await assert.rejects(open({ path, signal: stop.signal }), (error: unknown) => {
      assert.ok(error instanceof DbError, String(error));
      assert.equal(error.code, "ABORTED");
      assert.match(error.message, /^open\(\) was aborted before it began \(stopping\)/);
      return true;
    });
    assert.equal(existsSync(path), false, "the data directory was created");
    const db = await open({ path, signal: new AbortController().signal });
    await db.close();
  } finally {
    rmSync(join(path, ".."), { recursive: true, force: true });
  }
});
