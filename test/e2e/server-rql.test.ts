/**
 * Goal: a real `statebase serve` answers RQL over WebSocket and HTTP exactly as DESIGN.md's
 * contract says (frames of row objects, wide integers as strings, errors with stable codes),
 * refuses bad input with the documented error and keeps serving, and `statebase query`
 * prints what the server answers.
 * Method: one server process (test/support/server-process.ts) driven by the TypeScript
 * client over both transports, raw fetch for malformed requests, and the CLI as a child.
 */
/* eslint-disable @typescript-eslint/no-explicit-any --
   wire messages are untyped JSON here; each test asserts the shape it relies on. */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { connect, InvalidInputError, NotFoundError } from "../../src/client/index.ts";
import type { Client } from "../../src/client/index.ts";
import { WireClient } from "../support/rcp-wire.ts";
import { startServer } from "../support/server-process.ts";
import type { ServerProcess } from "../support/server-process.ts";

const root = resolve(import.meta.dirname, "..", "..");
let server: ServerProcess;
let url: string;

before(async () => {
  server = await startServer({ env: { STATEBASE_HTTP_BODY_SIZE_BYTES_MAX: "4096" } });
  url = `http://127.0.0.1:${server.http.port}`;
  const admin = await connect(url, { transport: "http" });
  await admin.admin(
    "create namespace bank; " +
      "create table bank::accounts { id: int8, owner: utf8, balance: int8 } " +
      "with { primary_key: { id } }",
  );
  await admin.close();
});

after(async () => {
  assert.equal(await server.stop(), 0, server.output());
});

async function post(path: string, body: string, type = "application/json") {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": type },
    body,
  });
  return { status: response.status, body: (await response.json()) as any };
}

test("a blob read over HTTP is written back as it was read", async () => {
  const setup = await post(
    "/v1/admin",
    JSON.stringify({
      rql: "create table bank::files { id: int8, data: blob } with { primary_key: { id } }",
    }),
  );
  assert.equal(setup.status, 200, JSON.stringify(setup.body));
  const insert = (id: number, data: unknown) =>
    post(
      "/v1/command",
      JSON.stringify({
        rql: "insert bank::files [{ id: $id, data: $data }]",
        params: { id, data },
      }),
    );
  assert.equal((await insert(1, "0x00ff10")).status, 200);
  const read = async (id: number) => {
    const answer = await post(
      "/v1/query",
      JSON.stringify({ rql: "from bank::files filter { id == $id }", params: { id } }),
    );
    return answer.body.frames[0][0].data as unknown;
  };
  const first = await read(1);
  assert.equal(first, "0x00ff10");
  assert.equal((await insert(2, first)).status, 200); // what was read goes back in unchanged
  assert.equal(await read(2), "0x00ff10");
});

for (const transport of ["websocket", "http"] as const) {
  test(`RQL round trips over ${transport}`, async () => {
    const client: Client = await connect(url, { transport });
    const base = transport === "websocket" ? 100 : 200;
    try {
      const inserted = await client.command(
        "insert bank::accounts [{ id: $id, owner: $owner, balance: $balance }]",
        { id: base, owner: "ada", balance: 50 },
      );
      assert.equal(inserted.frames.length, 1);
      await client.command(
        `insert bank::accounts [{ id: ${base + 1}, owner: "big", balance: 9007199254740993 }]`,
      );
      const { frames } = await client.query(
        "from bank::accounts filter { id >= $1 and id <= $2 } sort { id }",
        [base, base + 1],
      );
      assert.deepEqual(frames, [
        [
          { id: base, owner: "ada", balance: 50 },
          { id: base + 1, owner: "big", balance: "9007199254740993" },
        ],
      ]);
      await assert.rejects(client.query("from bank::accounts filter {"), (error: unknown) => {
        assert.ok(error instanceof InvalidInputError, String(error));
        assert.equal(error.code, "RQL_PARSE");
        return true;
      });
      await assert.rejects(client.query("from bank::nothing"), (error: unknown) => {
        assert.ok(error instanceof NotFoundError, String(error));
        return true;
      });
      await assert.rejects(
        client.query(`insert bank::accounts [{ id: ${base + 2}, owner: "x", balance: 1 }]`),
        (error: unknown) => error instanceof Error && "code" in error,
        "a write at the query entry point is refused",
      );
      await assert.rejects(
        client.command("insert bank::accounts [{ id: $id, owner: 1, balance: 1 }]", {
          id: "not a number",
        }),
        InvalidInputError,
      );
    } finally {
      await client.close();
    }
  });
}

test("bad HTTP input gets the documented error and the server keeps serving", async () => {
  const cases: Array<[string, string, number, string]> = [
    ["/v1/query", '{"rql": "from', 400, "INVALID_JSON"],
    ["/v1/query", JSON.stringify({ rql: "x".repeat(5000) }), 413, "LIMIT_EXCEEDED"],
    ["/v1/query", JSON.stringify({ rql: 42 }), 400, "INVALID_ARGUMENT"],
    ["/v1/call/no_such_procedure", JSON.stringify({ args: {} }), 404, "UNKNOWN_PROCEDURE"],
    ["/v1/elsewhere", "{}", 404, "NOT_FOUND"],
  ];
  for (const [path, body, status, code] of cases) {
    const answer = await post(path, body);
    assert.equal(answer.status, status, `${path}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.error.code, code);
    assert.equal(typeof answer.body.error.message, "string");
    assert.doesNotMatch(JSON.stringify(answer.body), /\.ts:\d+/, "no stack trace");
  }
  const ok = await post("/v1/query", JSON.stringify({ rql: "from bank::accounts take 1" }));
  assert.equal(ok.status, 200);
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
});

test("statebase query prints tables or JSON; a refused script exits 2", () => {
  const run = (...args: string[]) =>
    spawnSync(
      process.execPath,
      ["bin/statebase.js", "query", "--http", `127.0.0.1:${server.http.port}`, ...args],
      { cwd: root, encoding: "utf8", timeout: 20_000 },
    );
  const write = run(
    "--entry",
    "command",
    'insert bank::accounts [{id: 7, owner: "cy", balance: 3}]',
  );
  assert.equal(write.status, 0, write.stderr);
  const table = run("from bank::accounts filter { id == 7 }");
  assert.equal(table.status, 0, table.stderr);
  assert.deepEqual(table.stdout.trimEnd().split("\n"), [
    "id  owner  balance",
    "7   cy     3",
    "(1 row)",
  ]);
  const json = run("--json", "from bank::accounts filter { id == $id }", "--params", '{"id": 7}');
  assert.deepEqual(JSON.parse(json.stdout), { frames: [[{ id: 7, owner: "cy", balance: 3 }]] });
  const refused = run("from bank::nowhere");
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /nowhere.*\(\w+\)/);
});

test("metrics count commits and requests per protocol", async () => {
  const rcp = await WireClient.connect({ port: server.rcp.port });
  await rcp.ok("PING");
  // Made-up operation names are counted under one label, not one series each.
  for (const op of ["NO_SUCH_OP_1", "NO_SUCH_OP_2"]) await rcp.fail(op);
  await rcp.close();
  const text = await (await fetch(`${url}/metrics`)).text();
  assert.match(text, /statebase_requests_total\{protocol="rcp",op="PING",outcome="ok"\} 1/);
  assert.match(
    text,
    /statebase_requests_total\{protocol="rcp",op="unknown",outcome="BAD_REQUEST"\} 2/,
  );
  assert.doesNotMatch(text, /NO_SUCH_OP/);
  const commits = /^statebase_commits_total (\d+)/m.exec(text);
  assert.ok(commits !== null && Number(commits[1]) >= 4, "commits counted");
  assert.match(text, /statebase_requests_total\{protocol="ws",op="command",outcome="ok"\}/);
  assert.match(text, /statebase_requests_total\{protocol="http",op="query",outcome="ok"\}/);
  assert.match(text, /statebase_log_size_bytes [1-9]/);
  assert.match(text, /statebase_durability_lag_commits \d/);
});
