/**
 * Goal: a server's query deadline (limits.queryTimeoutMs, here `--query-timeout-ms 1`) stops a
 * costly script over every transport with QUERY_TIMEOUT in that protocol's error form (HTTP
 * 408, a WebSocket error message, RCP BAD_REQUEST, the only fitting code of the 16 rstmdb
 * clients know), undoes what it wrote, and leaves the server answering other clients.
 * Method: a real server process on ephemeral ports (test/support/server-process.ts), after a
 * first one without the limit set up its data directory; the slow script is a distinct over
 * 5,000 listed columns of 500 rows, millions of column reads, certainly past 1 ms on any
 * machine (no timing threshold is asserted). Other clients' point
 * queries are sent while it runs, on their own connections.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import WebSocket from "ws";
import { makeTempDir, startServer } from "../support/server-process.ts";
import type { ServerProcess } from "../support/server-process.ts";
import { WireClient } from "../support/rcp-wire.ts";
import { resolveConfig } from "../../src/server/config.ts";
import { DbError } from "../../src/lib/errors.ts";

let server: ServerProcess;

const json = { "content-type": "application/json" };
const rowCount = 500;
const slowQuery = `from b::t distinct { ${Array.from({ length: 5000 }, () => "a").join(", ")} }`;
const pointQuery = "from b::t filter { id == 7 } map { a }";

interface WireError {
  code: string;
  message: string;
}

/** An HTTP answer or a WebSocket message, as the tests read them. */
interface Answer {
  status: number;
  body: { frames: Array<Array<Record<string, unknown>>>; error: WireError };
}

interface Message {
  id: number;
  type: string;
  error: WireError;
}

async function post(entry: string, rql: string): Promise<Answer> {
  const response = await fetch(`http://127.0.0.1:${server.http.port}/v1/${entry}`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ rql }),
  });
  return { status: response.status, body: (await response.json()) as Answer["body"] };
}

let dataParent: string;

before(async () => {
  // The set-up script is itself past 1 ms (its tokens count), so it runs on a first server
  // without the limit, over the same data directory as the server under test.
  dataParent = await makeTempDir();
  const dataDir = join(dataParent, "data");
  server = await startServer({ dataDir });
  const rows = Array.from({ length: rowCount }, (_, i) => `(${i}, ${i})`).join(", ");
  const setup = await post(
    "admin",
    `create namespace b;
     create table b::t { id: int8, a: int8 } with { primary_key: { id } };
     insert b::t [${rows}];
     create procedure b::slow {} as { insert b::t [(100000, 1)]; ${slowQuery} }`,
  );
  assert.equal(setup.status, 200, JSON.stringify(setup.body));
  await server.stop();
  server = await startServer({ dataDir, args: ["--query-timeout-ms", "1"] });
});

after(async () => {
  await server.stop();
  await rm(dataParent, { recursive: true, force: true });
});

function assertTimeout(error: { code: string; message: string }): void {
  assert.equal(error.code, "QUERY_TIMEOUT", error.message);
  assert.match(error.message, /deadline of 1 ms \(queryTimeoutMs\)/);
  assert.match(error.message, /limits\.queryTimeoutMs/);
}

test("HTTP: a slow query is 408 QUERY_TIMEOUT; other clients are answered", async () => {
  const [slow, point] = await Promise.all([post("query", slowQuery), post("query", pointQuery)]);
  assert.equal(slow.status, 408);
  assertTimeout(slow.body.error);
  assert.deepEqual(point.body, { frames: [[{ a: 7 }]] });
  const health = await fetch(`http://127.0.0.1:${server.http.port}/healthz`);
  assert.equal(health.status, 200);
});

test("HTTP: a mutating script past the deadline leaves nothing behind", async () => {
  const before = await post("query", "from b::t aggregate { n: math::count(id), s: math::sum(a) }");
  const script = `insert b::t [(5000, 1)]; update b::t { a: a + 1 } filter { true }; ${slowQuery}`;
  const slow = await post("command", script);
  assert.equal(slow.status, 408);
  assertTimeout(slow.body.error);
  const afterwards = await post(
    "query",
    "from b::t aggregate { n: math::count(id), s: math::sum(a) }",
  );
  assert.deepEqual(afterwards.body, before.body);
  assert.equal(before.body.frames[0]![0]!["n"], rowCount);
});

test("WebSocket: the error message names QUERY_TIMEOUT; the socket keeps serving", async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${server.http.port}/v1/ws`);
  const answers = new Map<number, Message>();
  const waiting = new Map<number, () => void>();
  ws.on("message", (data) => {
    const message = JSON.parse((data as Buffer).toString("utf8")) as Message;
    answers.set(message.id, message);
    waiting.get(message.id)?.();
  });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const answer = (id: number): Promise<Message> =>
    answers.has(id)
      ? Promise.resolve(answers.get(id)!)
      : new Promise((resolve) => waiting.set(id, () => resolve(answers.get(id)!)));
  ws.send(JSON.stringify({ id: 1, type: "query", rql: slowQuery }));
  ws.send(JSON.stringify({ id: 2, type: "query", rql: pointQuery }));
  const [slow, point] = await Promise.all([answer(1), answer(2), post("query", pointQuery)]);
  assert.equal(slow.type, "error");
  assertTimeout(slow.error);
  assert.deepEqual(point, { id: 2, type: "result", result: { frames: [[{ a: 7 }]] } });
  ws.close();
});

test("RCP: a procedure past the deadline is BAD_REQUEST, undone; others answered", async () => {
  const slowClient = await WireClient.connect({ port: server.rcp.port });
  const other = await WireClient.connect({ port: server.rcp.port });
  await slowClient.ok("HELLO", { protocol_version: 1 });
  await other.ok("HELLO", { protocol_version: 1 });
  const [error, info] = await Promise.all([
    slowClient.fail("CALL", { name: "b::slow", args: {} }),
    other.ok("INFO"),
  ]);
  assert.equal(error.code, "BAD_REQUEST");
  assert.equal(error.retryable, false);
  assert.match(error.message, /^invalid request: the script ran past its deadline of 1 ms/);
  assert.equal(info.server_name, "statebase");
  const written = await post("query", "from b::t filter { id == 100000 }");
  assert.deepEqual(written.body, { frames: [[]] });
  slowClient.close();
  other.close();
});

test("config: limits.queryTimeoutMs is 1000 unless a file, variable or flag sets it", async () => {
  assert.equal((await resolveConfig({}, {})).limits.queryTimeoutMs, 1000);
  const env = { STATEBASE_QUERY_TIMEOUT_MS: "250" };
  assert.equal((await resolveConfig({}, env)).limits.queryTimeoutMs, 250);
  const flagged = await resolveConfig({ queryTimeoutMs: "0" }, env);
  assert.equal(flagged.limits.queryTimeoutMs, 0, "the flag wins; 0 is no deadline");
  await assert.rejects(resolveConfig({ queryTimeoutMs: "-1" }, {}), (error: unknown) => {
    assert.ok(error instanceof DbError);
    assert.match(
      error.message,
      /^config key limits\.queryTimeoutMs \(from flag --query-timeout-ms\)/,
    );
    return true;
  });
  await assert.rejects(resolveConfig({ queryTimeoutMs: "soon" }, {}), /limits\.queryTimeoutMs/);
});
