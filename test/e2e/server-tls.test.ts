/**
 * Goal: with `tls` in the config file, HTTP and the WebSocket endpoint serve only over TLS:
 * a client that trusts the certificate runs RQL over https and wss, a plain-text request is
 * not answered, and a client that does not trust the certificate is refused by TLS.
 * Method: a throwaway self-signed certificate made with `openssl` in a temp dir, a real
 * server process configured by a YAML file, node:https and the TypeScript client (given
 * the CA through `webSocketOptions`).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { connect } from "../../src/client/index.ts";
import { makeTempDir, startServer } from "../support/server-process.ts";
import type { ServerProcess } from "../support/server-process.ts";

let dir: string;
let server: ServerProcess;
let ca: Buffer;

before(async () => {
  dir = await makeTempDir();
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"],
      ...["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
      ...["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
    ],
    { stdio: "ignore" },
  );
  ca = readFileSync(join(dir, "cert.pem"));
  const config = join(dir, "statebase.yaml");
  await writeFile(
    config,
    `tls:\n  cert: ${join(dir, "cert.pem")}\n  key: ${join(dir, "key.pem")}\n`,
  );
  server = await startServer({ dataDir: join(dir, "data"), args: ["--config", config] });
});

after(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

function get(path: string, trust: Buffer | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const options = {
      host: "127.0.0.1",
      port: server.http.port,
      path,
      ...(trust ? { ca: trust } : {}),
    };
    const req = request(options, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("https and wss answer a client that trusts the certificate", async () => {
  assert.deepEqual(await get("/healthz", ca), { status: 200, body: '{"serving":true}' });
  const client = await connect(`https://127.0.0.1:${server.http.port}`, {
    transport: "websocket",
    webSocketOptions: { ca },
  });
  try {
    assert.equal(client.connected, true);
    await client.admin(
      "create namespace sec; create table sec::notes { id: int8 } with { primary_key: { id } }",
    );
    await client.command("insert sec::notes [{ id: 1 }]");
    assert.deepEqual((await client.query("from sec::notes")).frames, [[{ id: 1 }]]);
  } finally {
    await client.close();
  }
});

test("plain HTTP and untrusted clients get no answer", async () => {
  await assert.rejects(get("/healthz", undefined), /self-signed|certificate/i);
  await assert.rejects(
    fetch(`http://127.0.0.1:${server.http.port}/healthz`),
    "a plain-text request to the TLS port is not answered",
  );
});
