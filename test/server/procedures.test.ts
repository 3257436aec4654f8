/**
 * Goal: a procedure loaded from a server's module answers every protocol with JSON, or fails
 * before it commits: a result with no JSON form (a function, a symbol, a cycle, nesting too
 * deep to encode) is refused inside the call's transaction, naming the procedure and where
 * in the result the value sits, so the client never gets `{}` or an internal error for a
 * commit that happened anyway. Method: the module read and registered on an embedded
 * database as `serve` does, then db.call; one real server answers the same over HTTP.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { open } from "../../src/database.ts";
import { DbError } from "../../src/lib/errors.ts";
import { readProcedureModule, registerProcedures } from "../../src/server/procedures.ts";
import { makeTempDir, startServer } from "../support/server-process.ts";

/** Procedures that write a row, then return `result()`. */
function writingThen(result: () => unknown) {
  return {
    params: {},
    run: (tx: { execute(rql: string): unknown }) => {
      tx.execute("insert app::log [{ id: 1 }]");
      return result();
    },
  };
}

function cyclic(): unknown {
  const value: Record<string, unknown> = { a: 1 };
  value["self"] = value;
  return value;
}

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level += 1) value = [value];
  return value;
}

const module = {
  procedures: {
    fn: writingThen(() => () => 1),
    inner: writingThen(() => ({ rows: [{ ok: 1, f: () => 2 }] })),
    sym: writingThen(() => ({ tag: Symbol("x") })),
    cycle: writingThen(cyclic),
    deep: writingThen(() => nested(100_000)),
    fine: writingThen(() => ({ n: 10n ** 30n, none: undefined, at: new Date(0), b: [1, "x"] })),
    nothing: writingThen(() => undefined),
  },
};

test("a result with no JSON form is refused before the commit, saying where it sits", async () => {
  const db = await open();
  try {
    await db.admin("create namespace app; create table app::log { id: int4 }");
    registerProcedures(db, await readProcedureModule("app.js", () => Promise.resolve(module)));
    const cases: Array<[string, RegExp]> = [
      ["fn", /procedure fn returned a function as its result; /],
      ["inner", /procedure inner returned a function at result\.rows\[0\]\.f; /],
      ["sym", /procedure sym returned a symbol at result\.tag; /],
      ["cycle", /procedure cycle returned an object that contains itself at result\.self; /],
      ["deep", /procedure deep returned a result nested deeper than \d+ levels; /],
    ];
    for (const [name, message] of cases) {
      await assert.rejects(db.call(name), (error: unknown) => {
        assert.ok(error instanceof DbError, String(error));
        assert.equal(error.code, "INVALID_ARGUMENT");
        assert.match(error.message, message);
        return true;
      });
    }
    const { frames } = await db.query("from app::log");
    assert.deepEqual(frames, [[]], "no refused call committed its insert");
    assert.deepEqual(await db.call("nothing"), undefined);
    const fine = (await db.call("fine")) as Record<string, unknown>;
    assert.equal(fine["n"], 10n ** 30n);
  } finally {
    await db.close();
  }
});

test("over HTTP such a result answers 400 naming the procedure, not {} or a 500", async (t) => {
  const root = await makeTempDir();
  t.after(() => rm(root, { recursive: true, force: true }));
  const path = join(root, "app.mjs");
  await writeFile(
    path,
    [
      "export const procedures = {",
      "  fn: { params: {}, run: () => () => 1 },",
      "  cycle: { params: {}, run: () => { const c = {}; c.self = c; return c; } },",
      "};",
    ].join("\n"),
  );
  const server = await startServer({ dataDir: join(root, "data"), args: ["--module", path] });
  t.after(() => server.stop());
  for (const name of ["fn", "cycle"]) {
    const response = await fetch(`http://127.0.0.1:${server.http.port}/v1/call/${name}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    const body = (await response.json()) as { error?: { code: string; message: string } };
    assert.equal(response.status, 400, JSON.stringify(body));
    assert.equal(body.error?.code, "INVALID_ARGUMENT");
    assert.match(body.error?.message ?? "", new RegExp(`procedure ${name} returned`));
  }
  assert.doesNotMatch(server.output(), /server fault/);
});
