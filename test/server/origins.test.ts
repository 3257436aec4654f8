/**
 * Goal: a web page from elsewhere cannot use a server that did not allow its origin
 * (cross-site WebSocket hijacking of a server without tokens), while requests without an
 * Origin (curl, Node, the CLI), the server's own pages and the allowed origins are served,
 * the allowed ones with CORS headers and preflights; a server on a loopback address does not
 * take a page whose name was pointed at 127.0.0.1 (DNS rebinding) for its own. Method: the
 * real HTTP and WebSocket listener on an ephemeral port (harness.ts); `Origin` and `Host`
 * set as a browser sets them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { WebSocket } from "ws";
import { checkOrigin, isLoopbackAddress } from "../../src/server/origins.ts";
import { startTestServer } from "./harness.ts";
import type { TestServer } from "./harness.ts";

const evil = "http://evil.example";
const app = "http://localhost:3000";

/** The status of a WebSocket upgrade to the server, sent with `origin` when given. */
function upgradeStatus(server: TestServer, origin?: string): Promise<number> {
  const url = `ws://127.0.0.1:${server.port}/v1/ws`;
  const socket = new WebSocket(url, origin === undefined ? {} : { origin });
  return new Promise((resolve, reject) => {
    socket.once("open", () => {
      socket.close();
      resolve(101);
    });
    socket.once("unexpected-response", (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once("error", reject);
  });
}

async function query(server: TestServer, headers: Record<string, string>) {
  const response = await fetch(`${server.url}/v1/query`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ rql: "from ok" }),
  });
  const body = (await response.json()) as { error?: { code: string; message: string } };
  return { status: response.status, headers: response.headers, body };
}

test("a page from an origin not allowed is refused: WebSocket and HTTP", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  server.db.answers.set("from ok", { frames: [[{ ok: true }]] });
  assert.equal(await upgradeStatus(server, evil), 403);
  const refused = await query(server, { origin: evil });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error?.code, "FORBIDDEN");
  assert.match(
    refused.body.error?.message ?? "",
    /pages at http:\/\/evil\.example .*allowedOrigins/,
  );
  assert.equal(refused.headers.get("access-control-allow-origin"), null);
  // Not a browser, or the server's own page (the console): served as before.
  assert.equal(await upgradeStatus(server), 101);
  assert.equal((await query(server, {})).status, 200);
  const own = `http://127.0.0.1:${server.port}`;
  assert.equal(await upgradeStatus(server, own), 101);
  const same = await query(server, { origin: own });
  assert.equal(same.status, 200);
  assert.equal(same.headers.get("access-control-allow-origin"), null, "no CORS needed");
});

test("an allowed origin connects and gets CORS headers and preflights", async (t) => {
  const server = await startTestServer({ allowedOrigins: [app] });
  t.after(() => server.close());
  server.db.answers.set("from ok", { frames: [[{ ok: true }]] });
  assert.equal(await upgradeStatus(server, app), 101);
  assert.equal(await upgradeStatus(server, evil), 403);
  const served = await query(server, { origin: app });
  assert.equal(served.status, 200);
  assert.equal(served.headers.get("access-control-allow-origin"), app);
  assert.equal(served.headers.get("vary"), "Origin");
  const preflight = await fetch(`${server.url}/v1/command`, {
    method: "OPTIONS",
    headers: {
      origin: app,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type",
    },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), app);
  assert.equal(preflight.headers.get("access-control-allow-methods"), "GET, POST");
  assert.equal(
    preflight.headers.get("access-control-allow-headers"),
    "authorization, content-type",
  );
});

test("* allows every origin", async (t) => {
  const server = await startTestServer({ allowedOrigins: ["*"] });
  t.after(() => server.close());
  server.db.answers.set("from ok", { frames: [[{ ok: true }]] });
  assert.equal(await upgradeStatus(server, evil), 101);
  const served = await query(server, { origin: evil });
  assert.equal(served.status, 200);
  assert.equal(served.headers.get("access-control-allow-origin"), evil);
});

/** The status of a query sent with these `Origin` and `Host` headers (fetch fixes `Host`). */
function statusWithHost(server: TestServer, origin: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ rql: "from ok" });
    const headers = { origin, host, "content-type": "application/json" };
    const options = { port: server.port, host: "127.0.0.1", path: "/v1/query", headers };
    const sent = request({ ...options, method: "POST" }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    sent.on("error", reject);
    sent.end(body);
  });
}

test("on a loopback address, only a loopback name is the server's own origin", async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  server.db.answers.set("from ok", { frames: [[{ ok: true }]] });
  const port = server.port;
  const rebound = `rebound.example:${port}`; // its DNS now answers 127.0.0.1
  assert.equal(await statusWithHost(server, `http://${rebound}`, rebound), 403);
  for (const name of ["localhost", "127.0.0.1", "app.localhost"]) {
    const own = `${name}:${port}`;
    assert.equal(await statusWithHost(server, `http://${own}`, own), 200, name);
  }
  // Listening on every interface, the server is reached by any name: the Host decides.
  const wide = { allowed: [], loopbackOnly: false };
  assert.equal(checkOrigin("https://db.example", "db.example", wide), false);
  assert.throws(() =>
    checkOrigin("https://db.example", "db.example", { ...wide, loopbackOnly: true }),
  );
  assert.deepEqual(
    ["127.0.0.1", "::1", "localhost", "0.0.0.0", "10.0.0.5", "::"].map(isLoopbackAddress),
    [true, true, true, false, false, false],
  );
});
