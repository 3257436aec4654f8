/**
 * Goal: bearer-token authentication (specs/rcp.md §1.3) with SHA-256 hashed tokens and
 * roles, and TLS / mutual TLS on the same port as plain connections (§1.4, the sniffing of
 * the first byte).
 * Method: in-process servers with tokens and with certificates made by `openssl` in a
 * temporary directory; clients over real sockets, plain and TLS.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { findToken, hashToken } from "../../../src/server/auth.ts";
import { loadTlsOptions } from "../../../src/server/tls.ts";
import { orderMachine, startTestRcp } from "../../support/rcp-server.ts";
import { WireClient } from "../../support/rcp-wire.ts";
import { makeTestCerts } from "../../support/tls-certs.ts";
import type { TestCerts } from "../../support/tls-certs.ts";

let certs: TestCerts;

before(() => {
  certs = makeTestCerts();
});

after(() => {
  certs.remove();
});

test("hashToken is hex SHA-256; findToken matches exact lower-case hashes only", () => {
  assert.equal(
    hashToken("secret"),
    "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b",
  );
  const tokens = [
    { sha256: hashToken("a"), role: "read" as const },
    { sha256: hashToken("b").toUpperCase(), role: "admin" as const },
  ];
  assert.equal(findToken(tokens, "a")?.role, "read");
  assert.equal(findToken(tokens, "b"), undefined, "upper-case hashes never match");
  assert.equal(findToken(tokens, "c"), undefined);
});

test("CALL needs the role a procedure declares (write when it declares none)", async () => {
  const rcp = await startTestRcp({
    server: {
      tokens: [
        { sha256: hashToken("reader"), role: "read" },
        { sha256: hashToken("writer"), role: "write" },
        { sha256: hashToken("boss"), role: "admin" },
      ],
      procedureRoles: new Map([
        ["peek", "read"],
        ["wipe", "admin"],
      ]),
    },
  });
  try {
    for (const name of ["peek", "bump", "wipe"]) {
      rcp.db.defineProcedure(name, { params: {}, run: () => name });
    }
    const as = async (token: string) => {
      const client = await rcp.connect();
      await client.ok("AUTH", { method: "bearer", token });
      return client;
    };
    const [reader, writer, boss] = [await as("reader"), await as("writer"), await as("boss")];
    assert.deepEqual(await reader.ok("CALL", { name: "peek" }), { result: "peek" });
    assert.deepEqual(await reader.fail("CALL", { name: "bump" }), {
      code: "UNAUTHORIZED",
      message: "a token with role read may not call procedure bump (it needs write)",
      retryable: false,
    });
    assert.deepEqual(await writer.ok("CALL", { name: "bump" }), { result: "bump" });
    const denied = await writer.fail("CALL", { name: "wipe" });
    assert.equal(
      denied.message,
      "a token with role write may not call procedure wipe (it needs admin)",
    );
    assert.deepEqual(await boss.ok("CALL", { name: "wipe" }), { result: "wipe" });
  } finally {
    await rcp.stop();
  }
});

const putOrder = { machine: "m", version: 1, definition: orderMachine };

test("auth on: only HELLO/AUTH/PING/BYE before AUTH; roles limit what a token may do", async () => {
  const rcp = await startTestRcp({
    server: {
      tokens: [
        { sha256: hashToken("reader"), role: "read", name: "r" },
        { sha256: hashToken("writer"), role: "write" },
      ],
    },
  });
  try {
    const c = await rcp.connect();
    assert.equal((await c.call("PING")).status, "ok");
    assert.equal((await c.call("HELLO", { protocol_version: 1 })).status, "ok");
    assert.deepEqual(await c.fail("LIST_MACHINES"), {
      code: "UNAUTHORIZED",
      message: "authentication required",
      retryable: false,
    });
    assert.equal((await c.fail("BATCH", { ops: [{ op: "PING" }] })).code, "UNAUTHORIZED");
    assert.equal((await c.call("BYE")).status, "ok");
    const d = await rcp.connect();
    assert.deepEqual(await d.fail("AUTH", { method: "bearer", token: "wrong" }), {
      code: "AUTH_FAILED",
      message: "authentication failed: invalid token",
      retryable: false,
    });
    assert.equal(
      (await d.fail("AUTH", { method: "basic", token: "reader" })).message,
      "authentication failed: unsupported auth method: basic",
    );
    assert.equal(d.isClosed, false, "a failed AUTH keeps the connection");
    assert.deepEqual(await d.ok("AUTH", { method: "bearer", token: "reader" }), {
      authenticated: true,
    });
    assert.deepEqual(await d.ok("LIST_MACHINES"), { items: [] });
    const denied = await d.fail("PUT_MACHINE", {
      machine: "m",
      version: 1,
      definition: orderMachine,
    });
    assert.equal(denied.code, "UNAUTHORIZED");
    const batch = await d.ok("BATCH", {
      ops: [
        { op: "INFO" },
        { op: "PUT_MACHINE", params: { machine: "m", version: 1, definition: orderMachine } },
      ],
    });
    assert.deepEqual(
      batch.results.map((r: { status: string }) => r.status),
      ["ok", "error"],
    );
    assert.equal(batch.results[1].error.code, "UNAUTHORIZED");
    // An AUTH inside an atomic batch that fails is taken back with the rest of the batch.
    const failed = await d.fail("BATCH", {
      mode: "atomic",
      ops: [
        { op: "AUTH", params: { method: "bearer", token: "writer" } },
        { op: "GET_MACHINE", params: { machine: "absent", version: 1 } },
      ],
    });
    assert.equal(failed.code, "BAD_REQUEST");
    assert.equal((await d.fail("PUT_MACHINE", putOrder)).code, "UNAUTHORIZED", "still a reader");
    await d.ok("AUTH", { method: "bearer", token: "writer" });
    await d.ok("PUT_MACHINE", putOrder);
    assert.equal((await d.fail("COMPACT", {})).code, "UNAUTHORIZED", "COMPACT needs admin");
  } finally {
    await rcp.stop();
  }
});

test("auth off: AUTH accepts any non-empty token, refuses an empty one", async () => {
  const rcp = await startTestRcp();
  try {
    const c = await rcp.connect();
    assert.deepEqual(await c.ok("AUTH", { method: "bearer", token: "anything" }), {
      authenticated: true,
    });
    assert.equal(
      (await c.fail("AUTH", { method: "bearer", token: "" })).message,
      "authentication failed: empty token",
    );
    assert.equal(
      (await c.fail("AUTH", { method: "bearer" })).message,
      "invalid request: missing field `token`",
    );
  } finally {
    await rcp.stop();
  }
});

test("TLS and plain on the same port; JSON lines inside TLS", async () => {
  const rcp = await startTestRcp({
    server: { tls: { cert: certs.serverCert, key: certs.serverKey } },
  });
  try {
    const tls = await rcp.connect({ tls: { ca: certs.read(certs.caCert) } });
    assert.deepEqual(await tls.ok("PING"), { pong: true });
    const plain = await rcp.connect();
    assert.deepEqual(await plain.ok("PING"), { pong: true });
    const lines = await rcp.connect({ tls: { ca: certs.read(certs.caCert) }, jsonLines: true });
    assert.deepEqual(await lines.ok("PING"), { pong: true });
    // A client that does not trust the server's CA fails its handshake.
    await assert.rejects(WireClient.connect({ port: rcp.port, tls: {} }));
  } finally {
    await rcp.stop();
  }
});

test("mutual TLS: a client certificate from the CA is required; plain is refused", async () => {
  const rcp = await startTestRcp({
    server: {
      tls: {
        cert: certs.serverCert,
        key: certs.serverKey,
        ca: certs.caCert,
        requireClientCert: true,
      },
    },
  });
  try {
    const ca = certs.read(certs.caCert);
    const good = await rcp.connect({
      tls: { ca, cert: certs.read(certs.clientCert), key: certs.read(certs.clientKey) },
    });
    assert.deepEqual(await good.ok("PING"), { pong: true });
    for (const tls of [
      { ca },
      { ca, cert: certs.read(certs.strangerCert), key: certs.read(certs.strangerKey) },
    ]) {
      const refused = await WireClient.connect({ port: rcp.port, tls }).then(
        async (client) => {
          // TLS 1.3 reports a refused client certificate after the handshake.
          client.send("PING");
          await client.closed;
          return client.messages.length === 0;
        },
        () => true,
      );
      assert.ok(refused, "a client without a valid certificate is refused");
    }
    const plain = await rcp.connect();
    plain.send("PING"); // the server decides on the first byte the client sends
    await plain.closed;
    assert.equal(plain.messages[0]?.error.code, "UNAUTHORIZED");
  } finally {
    await rcp.stop();
  }
});

test("TLS config errors name the option and file", () => {
  assert.throws(() => loadTlsOptions({ cert: "/nonexistent/cert.pem", key: certs.serverKey }), {
    code: "INVALID_ARGUMENT",
    message: "tls.cert: cannot read /nonexistent/cert.pem (ENOENT)",
  });
  assert.throws(
    () => loadTlsOptions({ cert: certs.serverCert, key: certs.serverKey, requireClientCert: true }),
    /needs tls.ca/,
  );
});
