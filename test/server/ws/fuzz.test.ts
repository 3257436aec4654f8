/**
 * Goal: nothing a client sends over WebSocket or HTTP hurts the server: wrong types in every
 * field, unknown kinds and targets, broken JSON, deep nesting, odd ids and parameters get an
 * answer (an error naming its code, never `INTERNAL`) or silence for what has no id, every
 * connection still answers a ping afterwards, and the process keeps serving and stops cleanly.
 * Method: a real `statebase serve` process and real sockets; fast-check (seeded) makes the
 * messages from the request kinds of docs/server.md and a list of hostile values.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return --
   wire messages are untyped JSON here; the test asserts the fields it relies on. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import fc from "fast-check";
import WebSocket from "ws";
import { startServer } from "../../support/server-process.ts";

const hostile: unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  2 ** 53 + 2,
  "",
  "x",
  "__proto__",
  [],
  {},
  [1, "a"],
  { a: { b: [null] } },
  "9".repeat(400),
];

const value = fc.constantFrom(...hostile);
const rql = fc.constantFrom(
  "from shop::orders",
  "from shop::orders filter { id > $id }",
  "insert shop::orders [{ id: $id, v: $v }]",
  "update shop::orders { v: $v } filter { id == $id }",
  "delete shop::orders filter { id == $id }",
  "from shop::totals",
  "from system::objects",
  "create counter shop::c",
  "frm nowhere",
);
const target = fc.oneof(
  fc.constantFrom(
    { table: "shop::orders" },
    { view: "shop::totals" },
    { query: "from shop::orders filter { id > $id }", params: { id: 1 } },
    { machine: "nope" },
    { queue: "shop::orders" },
    { table: "shop::orders", view: "shop::totals" },
    {},
  ),
  value,
);
const params = fc.oneof(
  fc.record({ id: fc.oneof(fc.integer({ min: -2, max: 20 }), value), v: value }),
  value,
);

/** One request: a known kind with fields of the right and wrong types, maybe some missing. */
const request = fc
  .record({
    id: fc.oneof(fc.integer({ min: 0, max: 40 }), value),
    type: fc.oneof(
      fc.constantFrom("query", "command", "admin", "call", "ping", "subscribe", "unsubscribe"),
      value,
    ),
    rql: fc.oneof(rql, value),
    params,
    procedure: fc.oneof(fc.constantFrom("nope", "__proto__"), value),
    args: fc.oneof(fc.constant({}), value),
    target,
    fromSeq: fc.oneof(fc.integer({ min: -1, max: 500 }), value),
    sub: fc.oneof(fc.integer({ min: 0, max: 40 }), value),
  })
  .chain((message) =>
    fc.subarray(Object.keys(message)).map((keep) => {
      const out: Record<string, unknown> = {};
      for (const key of ["id", "type", ...keep]) out[key] = (message as any)[key];
      return JSON.stringify(out);
    }),
  );
const broken = fc.constantFrom("{", "[]", "null", "1", '"x"', '{"id":', "\u0000", "{}{}");
const deep = fc.integer({ min: 100, max: 5000 }).map((depth) => {
  const params = "[".repeat(depth) + "]".repeat(depth);
  return `{"id": 1, "type": "query", "rql": "from shop::orders", "params": ${params}}`;
});
const message = fc.oneof(
  { arbitrary: request, weight: 12 },
  { arbitrary: broken, weight: 2 },
  { arbitrary: deep, weight: 1 },
);

async function post(base: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function session(port: number, messages: readonly string[]): Promise<any[]> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
  const received: any[] = [];
  let wake: (() => void) | undefined;
  ws.on("message", (data) => {
    received.push(JSON.parse((data as Buffer).toString()));
    wake?.();
  });
  let closed = false;
  ws.on("close", () => {
    closed = true;
    wake?.();
  });
  await once(ws, "open");
  for (const text of messages) ws.send(text);
  ws.send(JSON.stringify({ id: "probe", type: "ping" }));
  while (!received.some((m) => m.id === "probe" && m.type === "pong")) {
    assert.ok(!closed, "the server closed the connection before answering the probe");
    await new Promise<void>((resolve) => (wake = resolve));
  }
  ws.close();
  if (!closed) await once(ws, "close");
  return received;
}

const testOptions = { timeout: 120_000 };

test(
  "fuzzed WebSocket and HTTP requests get answers, never INTERNAL; the server survives",
  testOptions,
  async () => {
    const server = await startServer({ args: ["--durability", "sync"] });
    const base = `http://127.0.0.1:${server.http.port}`;
    try {
      const setup = await post(base, "/v1/admin", {
        rql:
          "create namespace shop; create table shop::orders { id: int8, v: Option(utf8) } " +
          "with { primary_key: { id } }; create view shop::totals { n: int8 } as " +
          "{ from shop::orders aggregate { n: math::count(id) } }",
      });
      assert.equal(setup.status, 200, await setup.text());
      const messages = fc.sample(message, { numRuns: 480, seed: 2026 });
      const codes: string[] = [];
      for (let start = 0; start < messages.length; start += 60) {
        const received = await session(server.http.port, messages.slice(start, start + 60));
        codes.push(...received.map((answer): string => answer.error?.code ?? answer.type));
        for (const answer of received) {
          assert.notEqual(answer.error?.code, "INTERNAL", JSON.stringify(answer));
          if (answer.type === "error") assert.equal(typeof answer.error?.code, "string");
        }
      }
      const bodies = fc.sample(fc.oneof(message, fc.constantFrom("", "[1]", '{"rql": 1}')), {
        numRuns: 120,
        seed: 7,
      });
      const paths = [
        "/v1/query",
        "/v1/command",
        "/v1/admin",
        "/v1/call/nope",
        "/v1/call/__proto__",
      ];
      for (const [i, body] of bodies.entries()) {
        const response = await post(base, paths[i % paths.length]!, body);
        const text = await response.text();
        assert.ok(response.status < 500, `${response.status} ${text}`);
        if (response.status >= 400)
          assert.equal(typeof JSON.parse(text).error?.code, "string", text);
      }
      // The messages reach the server's checks: answers of several kinds came back.
      const kinds = new Set(codes);
      for (const kind of ["result", "pong", "INVALID_JSON", "INVALID_ARGUMENT", "subscribed"])
        assert.ok(kinds.has(kind), `no ${kind} among ${[...kinds].join(", ")}`);
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      const rows = await post(base, "/v1/query", { rql: "from shop::totals" });
      assert.equal(rows.status, 200);
    } finally {
      assert.equal(await server.stop(), 0, server.output());
    }
  },
);
