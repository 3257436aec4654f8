/**
 * Goal: the HTTP contract of DESIGN.md and docs/server.md, at the protocol layer: routes,
 * JSON values (wide integers as strings), errors as `{"error": {code, message}}` with the
 * documented status and never a stack trace, body limits, and token roles per entry point.
 * Method: the real fastify listener on an ephemeral port over a scripted database
 * (harness.ts); every bad request is followed by a good one to show the server keeps serving.
 */
/* eslint-disable @typescript-eslint/no-explicit-any --
   wire messages are untyped JSON here; each test asserts the shape it relies on. */
import { request as httpRequest } from "node:http";
import { connect as connectTcp } from "node:net";
import { test } from "node:test";
import assert from "node:assert/strict";
import { DbError } from "../../../src/lib/errors.ts";
import { hashToken } from "../../../src/server/auth.ts";
import { startTestServer } from "../harness.ts";
import type { TestServer } from "../harness.ts";

async function post(server: TestServer, path: string, body: unknown, token?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token !== undefined) headers["authorization"] = `Bearer ${token}`;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const response = await fetch(`${server.url}${path}`, { method: "POST", headers, body: text });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function assertServing(server: TestServer): Promise<void> {
  server.db.answers.set("from ok", { frames: [[{ ok: true }]] });
  const { status, body } = await post(server, "/v1/query", { rql: "from ok" });
  assert.equal(status, 200);
  assert.deepEqual(body, { frames: [[{ ok: true }]] });
}

test("RQL at every entry point answers frames; wide integers travel as strings", async () => {
  const server = await startTestServer();
  try {
    const big = 2n ** 63n - 1n;
    server.db.answers.set("from t", { frames: [[{ id: 7n, big, name: "a", none: null }]] });
    for (const entry of ["query", "command", "admin"]) {
      const { status, body } = await post(server, `/v1/${entry}`, {
        rql: "from t",
        params: { x: 1 },
      });
      assert.equal(status, 200);
      assert.deepEqual(body, { frames: [[{ id: 7, big: big.toString(), name: "a", none: null }]] });
    }
    assert.deepEqual(
      server.db.received.map((r) => [r.entry, r.params]),
      [
        ["query", { x: 1 }],
        ["command", { x: 1 }],
        ["admin", { x: 1 }],
      ],
    );
  } finally {
    await server.close();
  }
});

test("database errors keep their code; statuses follow the category", async () => {
  const server = await startTestServer();
  try {
    server.db.answers.set("from gone", new DbError("UNKNOWN_OBJECT", "no table gone"));
    server.db.answers.set("insert dup", new DbError("CONSTRAINT_VIOLATION", "duplicate key"));
    const cases: Array<[string, number, string]> = [
      ["from gone", 404, "UNKNOWN_OBJECT"],
      ["insert dup", 409, "CONSTRAINT_VIOLATION"],
      ["frm bad", 400, "RQL_PARSE"],
    ];
    for (const [rql, status, code] of cases) {
      const answer = await post(server, "/v1/command", { rql });
      assert.equal(answer.status, status, rql);
      assert.equal(answer.body.error.code, code);
      assert.equal(typeof answer.body.error.message, "string");
    }
    const parse = await post(server, "/v1/query", { rql: "frm bad" });
    assert.deepEqual(parse.body.error.details, { line: 1 });
    await assertServing(server);
  } finally {
    await server.close();
  }
});

test("a server fault answers 500 INTERNAL without its message or stack", async () => {
  const server = await startTestServer();
  try {
    server.db.answers.set("boom", new TypeError("secret internals at /src/x.ts:1"));
    const { status, body } = await post(server, "/v1/query", { rql: "boom" });
    assert.equal(status, 500);
    assert.deepEqual(body, { error: { code: "INTERNAL", message: "internal server error" } });
    assert.equal(server.faults.length, 1, "the operator's trace gets the fault");
    await assertServing(server);
  } finally {
    await server.close();
  }
});

test("bad input: malformed JSON, wrong shapes, oversized bodies, unknown routes", async () => {
  const server = await startTestServer({ limits: { httpBodySizeBytesMax: 1024 } });
  try {
    const cases: Array<[string, unknown, number, string]> = [
      ["/v1/query", '{"rql": ', 400, "INVALID_JSON"],
      ["/v1/query", "[1, 2]", 400, "INVALID_ARGUMENT"],
      ["/v1/query", { rql: 5 }, 400, "INVALID_ARGUMENT"],
      ["/v1/query", { rql: "" }, 400, "INVALID_ARGUMENT"],
      ["/v1/query", { rql: "from t", params: "x" }, 400, "INVALID_ARGUMENT"],
      ["/v1/query", { rql: "x".repeat(2000) }, 413, "LIMIT_EXCEEDED"],
      ["/v1/call/nope", { args: {} }, 404, "UNKNOWN_PROCEDURE"],
      ["/v1/call/nope", { args: 3 }, 400, "INVALID_ARGUMENT"],
      ["/v1/nothing", {}, 404, "NOT_FOUND"],
    ];
    for (const [path, body, status, code] of cases) {
      const answer = await post(server, path, body);
      assert.equal(answer.status, status, `${path} ${JSON.stringify(body).slice(0, 40)}`);
      assert.equal(answer.body.error.code, code);
      assert.doesNotMatch(JSON.stringify(answer.body), /at .*\.ts:\d+/, "no stack trace");
    }
    const wrongType = await fetch(`${server.url}/v1/query`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "from t",
    });
    assert.equal(wrongType.status, 415);
    assert.equal(((await wrongType.json()) as any).error.code, "UNSUPPORTED_MEDIA_TYPE");
    // Requests refused before their route ran are counted too, under op "unknown".
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    for (const [outcome, count] of [
      ["INVALID_JSON", 1],
      ["LIMIT_EXCEEDED", 1],
      ["UNSUPPORTED_MEDIA_TYPE", 1],
    ] as const) {
      const series = `statebase_requests_total{protocol="http",op="unknown",outcome="${outcome}"}`;
      assert.ok(metrics.includes(`${series} ${count}`), `${series} in\n${metrics}`);
    }
    await assertServing(server);
  } finally {
    await server.close();
  }
});

test("procedure calls answer {result}; healthz and metrics answer", async () => {
  const server = await startTestServer();
  try {
    server.db.procedures.set("add", (args) => {
      const { a, b } = args as { a: number; b: number };
      return { sum: BigInt(a) + BigInt(b) };
    });
    const { status, body } = await post(server, "/v1/call/add", { args: { a: 2, b: 3 } });
    assert.equal(status, 200);
    assert.deepEqual(body, { result: { sum: 5 } });
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /statebase_requests_total\{protocol="http",op="call",outcome="ok"\} 1/);
    assert.match(metrics, /statebase_request_duration_seconds_bucket/);
    assert.match(metrics, /statebase_durability_lag_commits 0/);
    assert.match(metrics, /statebase_connections\{protocol="http"\} [1-9]/);
  } finally {
    await server.close();
  }
});

test("tokens: each role reaches its entry points and is refused above them", async () => {
  const roles = ["read", "write", "admin"] as const;
  const tokens = roles.map((role) => ({ sha256: hashToken(`${role}-secret`), role }));
  const procedureRoles = new Map([["audit", "admin" as const]]);
  const server = await startTestServer({ tokens, procedureRoles });
  try {
    server.db.answers.set("from t", { frames: [] });
    server.db.procedures.set("audit", () => "audited");
    server.db.procedures.set("touch", () => "touched");
    const needs: Array<[string, unknown, number]> = [
      ["/v1/query", { rql: "from t" }, 0],
      ["/v1/command", { rql: "from t" }, 1],
      ["/v1/call/touch", {}, 1],
      ["/v1/admin", { rql: "from t" }, 2],
      ["/v1/call/audit", {}, 2],
    ];
    for (const [rank, role] of roles.entries()) {
      for (const [path, body, needed] of needs) {
        const answer = await post(server, path, body, `${role}-secret`);
        if (rank >= needed) assert.equal(answer.status, 200, `${role} ${path}`);
        else {
          assert.equal(answer.status, 403, `${role} ${path}`);
          assert.equal(answer.body.error.code, "FORBIDDEN");
        }
      }
    }
    for (const token of [undefined, "wrong"]) {
      const answer = await post(server, "/v1/query", { rql: "from t" }, token);
      assert.equal(answer.status, 401);
      assert.equal(answer.body.error.code, "UNAUTHORIZED");
    }
    assert.equal((await fetch(`${server.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200, "health stays open");
  } finally {
    await server.close();
  }
});

test("GET /v1/ws without an upgrade answers 426; a route's wrong method answers 405", async () => {
  const server = await startTestServer();
  try {
    const plain = await fetch(`${server.url}/v1/ws`);
    assert.equal(plain.status, 426);
    assert.equal(plain.headers.get("upgrade"), "websocket");
    const upgrade = ((await plain.json()) as any).error;
    assert.equal(upgrade.code, "UPGRADE_REQUIRED");
    assert.match(upgrade.message, /WebSocket/);
    const cases: Array<[string, string, string]> = [
      ["POST", "/v1/ws", "GET, HEAD"],
      ["GET", "/v1/query", "POST"],
      ["PUT", "/v1/command", "POST"],
      ["GET", "/v1/call/transfer", "POST"],
      ["DELETE", "/healthz", "GET, HEAD"],
    ];
    for (const [method, path, allow] of cases) {
      const response = await fetch(`${server.url}${path}`, { method });
      assert.equal(response.status, 405, `${method} ${path}`);
      assert.equal(response.headers.get("allow"), allow, `${method} ${path}`);
      const { error } = (await response.json()) as any;
      assert.equal(error.code, "METHOD_NOT_ALLOWED");
      assert.ok(error.message.includes(`${method} ${path}`), error.message);
    }
    const nowhere = await fetch(`${server.url}/v1/nothing`, { method: "DELETE" });
    assert.equal(nowhere.status, 404);
    await assertServing(server);
  } finally {
    await server.close();
  }
});

test("GET /v1/ws checks the token as its upgrade would (401) before answering 426", async () => {
  const server = await startTestServer({
    tokens: [{ sha256: hashToken("reader"), role: "read" }],
  });
  try {
    const ask = (query: string, token?: string) =>
      fetch(`${server.url}/v1/ws${query}`, {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
    for (const refused of [await ask(""), await ask("", "wrong"), await ask("?token=wrong")]) {
      assert.equal(refused.status, 401);
      assert.equal(((await refused.json()) as any).error.code, "UNAUTHORIZED");
    }
    for (const accepted of [await ask("", "reader"), await ask("?token=reader")]) {
      assert.equal(accepted.status, 426);
      assert.equal(((await accepted.json()) as any).error.code, "UPGRADE_REQUIRED");
    }
  } finally {
    await server.close();
  }
});

test("a request offering another protocol upgrade (h2c) is served as plain HTTP", async () => {
  // Java's HttpClient and curl --http2 offer `Upgrade: h2c` on plain http://; the WebSocket
  // endpoint took every upgrade and answered 404 "no WebSocket at /v1/query".
  const server = await startTestServer();
  try {
    server.db.answers.set("from ok", { frames: [[{ ok: true }]] });
    const ask = (method: string, path: string, body?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const headers: Record<string, string> = {
          connection: "Upgrade, HTTP2-Settings",
          upgrade: "h2c",
          "http2-settings": "AAMAAABkAARAAAAAAAIAAAAA",
        };
        if (body !== undefined) headers["content-type"] = "application/json";
        const request = httpRequest(`${server.url}${path}`, { method, headers }, (response) => {
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => (text += chunk));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
        });
        request.on("error", reject);
        request.end(body);
      });
    const query = await ask("POST", "/v1/query", JSON.stringify({ rql: "from ok" }));
    assert.equal(query.status, 200, query.body);
    assert.deepEqual(JSON.parse(query.body), { frames: [[{ ok: true }]] });
    const health = await ask("GET", "/healthz");
    assert.equal(health.status, 200, health.body);
    const plain = await ask("GET", "/v1/ws");
    assert.equal(plain.status, 426, plain.body);
    await assertServing(server);
  } finally {
    await server.close();
  }
});

test("a request HTTP refuses (headers too large, not HTTP) answers the error shape", async () => {
  // Fastify's own body ({"error": "Bad Request", "statusCode": 400}) was sent: the client
  // read it as "not a Statebase answer".
  const server = await startTestServer();
  try {
    const raw = (head: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connectTcp(server.port, "127.0.0.1", () => socket.write(head));
        let text = "";
        socket.setEncoding("utf8");
        socket.on("data", (chunk: string) => (text += chunk));
        socket.on("close", () => resolve(text));
        socket.on("error", reject);
      });
    const cases: Array<[string, number, string]> = [
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431, "LIMIT"],
      [
        "POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        400,
        "INVALID_ARGUMENT",
      ],
    ];
    for (const [head, status, code] of cases) {
      const answer = await raw(head);
      const [top, body] = answer.split("\r\n\r\n") as [string, string];
      assert.match(top, new RegExp(`^HTTP/1.1 ${status} `), answer);
      const { error } = JSON.parse(body);
      assert.ok(String(error.code).startsWith(code), body);
      assert.equal(typeof error.message, "string");
    }
    await assertServing(server);
  } finally {
    await server.close();
  }
});

test("params or args nested past a json value's depth are LIMIT_EXCEEDED, no fault", async () => {
  // 200,000 nested lists overflowed the stack of the code that copied or encoded them: a
  // 500 INTERNAL and a server fault in the operator's trace, for a client's input.
  const server = await startTestServer();
  try {
    server.db.answers.set("from t", { frames: [] });
    const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
    const deep = nested(20_000);
    const cases: Array<[string, string, string]> = [
      ["/v1/query", `{"rql": "from t", "params": {"x": ${deep}}}`, "params"],
      ["/v1/command", `{"rql": "from t", "params": [${deep}]}`, "params"],
      ["/v1/call/p", `{"args": {"x": ${deep}}}`, "args"],
    ];
    for (const [path, body, field] of cases) {
      const answer = await post(server, path, body);
      assert.equal(answer.status, 413, path);
      assert.equal(answer.body.error.code, "LIMIT_EXCEEDED");
      assert.match(answer.body.error.message, new RegExp(`"${field}" nests deeper than 64`));
    }
    assert.deepEqual(server.faults, []);
    // A json value as deep as a json column takes (64 levels) still goes through.
    const ok = await post(server, "/v1/query", `{"rql": "from t", "params": {"x": ${nested(64)}}}`);
    assert.equal(ok.status, 200);
  } finally {
    await server.close();
  }
});

test("a bad URL (percent-encoding, a long procedure name) answers in the error shape", async () => {
  // fastify answered {"error": "Bad Request", "code": "FST_ERR_BAD_URL", ...} itself.
  const server = await startTestServer();
  try {
    const answer = await post(server, "/v1/call/%E0%A4%A", { args: {} });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.code, "INVALID_ARGUMENT");
    assert.match(answer.body.error.message, /not a valid URL/);
    // A procedure name past fastify's 100-character parameter limit (WebSocket takes it).
    const long = await post(server, `/v1/call/${"p".repeat(200)}`, { args: {} });
    assert.equal(long.status, 404);
    assert.equal(long.body.error.code, "UNKNOWN_PROCEDURE");
    const tooLong = await post(server, `/v1/call/${"p".repeat(5_000)}`, { args: {} });
    assert.equal(tooLong.status, 414);
    assert.equal(tooLong.body.error.code, "LIMIT_EXCEEDED");
    await assertServing(server);
  } finally {
    await server.close();
  }
});
