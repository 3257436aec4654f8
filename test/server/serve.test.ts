// Goal: show that `statebase serve` refuses what would hurt a running server, with a message
// an operator can act on: a second server on a data directory in use exits with an error
// naming the holder's pid while the first keeps serving, a server killed with SIGKILL leaves
// nothing behind that keeps its restart out, a listener address in use names the listener
// and the flag that changes it, a procedure module loads whatever its form,
// and a full disk or a full heap stops the server (exit code 1, the reason printed) with
// every acknowledged commit there after the restart. Method: real server processes
// (test/support); the full disk is a preloaded hook that fails writes with ENOSPC, the full
// heap a 128 MiB heapSizeMbMax filled with 1 MB rows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { rm, stat, writeFile } from "node:fs/promises";
import { spawn } from "node:child_process";
import { createConnection } from "node:net";
import { join, resolve } from "node:path";
import { makeTempDir, startServer } from "../support/server-process.ts";
import type { ServerProcess } from "../support/server-process.ts";
import { connect } from "@nats-io/transport-node";
import { Objm } from "@nats-io/obj";
import { resolveConfig } from "../../src/server/config.ts";
import { serve } from "../../src/server/serve.ts";
import { deleteReplicatedLog, eventually, natsUrl, uniqueStream } from "../support/nats.ts";

const diskFullHook = resolve(import.meta.dirname, "../support/disk-full-hook.js");

const json = { "content-type": "application/json" };

async function post(server: ServerProcess, entry: string, rql: string, params?: object) {
  const response = await fetch(`http://127.0.0.1:${server.http.port}/v1/${entry}`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ rql, params }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function healthy(port: number): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  return response.ok;
}

test("a started server prints its ready line and nothing else (no library warnings)", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  assert.equal(server.output(), `${server.readyLine}\n`);
});

test("a second server on a data directory in use is refused; a SIGKILLed one is not", async (t) => {
  const root = await makeTempDir();
  t.after(() => rm(root, { recursive: true, force: true }));
  const dataDir = join(root, "data");
  const first = await startServer({ dataDir });
  const pid = first.process.pid!;
  await assert.rejects(startServer({ dataDir }), (error: unknown) => {
    const text = String(error);
    return text.includes("code 1") && text.includes(`is in use by process ${pid}`);
  });
  assert.ok(await healthy(first.http.port), "the first server keeps serving");
  await first.kill("SIGKILL");
  const restarted = await startServer({ dataDir });
  assert.ok(await healthy(restarted.http.port));
  assert.equal(await restarted.stop(), 0);
});

test("a listener address in use names the listener and the flag", async (t) => {
  const first = await startServer();
  t.after(() => first.stop());
  const taken = `127.0.0.1:${first.rcp.port}`;
  const root = await makeTempDir();
  t.after(() => rm(root, { recursive: true, force: true }));
  const dataDir = join(root, "data");
  await assert.rejects(startServer({ dataDir, args: ["--rcp", taken] }), (error: unknown) => {
    const text = String(error);
    return (
      text.includes("code 1") &&
      text.includes(`cannot listen for rcp on ${taken}: another process listens there`) &&
      text.includes("--rcp HOST:PORT")
    );
  });
  // Said before the database opened (a large one takes minutes to recover): no data directory.
  await assert.rejects(stat(dataDir), { code: "ENOENT" });
});

test("a wrong procedure module is refused before the database opens", async (t) => {
  const root = await makeTempDir();
  t.after(() => rm(root, { recursive: true, force: true }));
  const dataDir = join(root, "data");
  const bad = join(root, "bad.js");
  await writeFile(bad, "export const procedures = { p: { run: 5 } };\n");
  const cases: Array<[string, RegExp]> = [
    [join(root, "missing.js"), /config key module \(from flag --module\): cannot read .*missing/],
    [bad, /procedure p: run must be a function/],
  ];
  for (const [module, refusal] of cases) {
    await assert.rejects(startServer({ dataDir, args: ["--module", module] }), (error: unknown) =>
      refusal.test(String(error)),
    );
  }
  // Said before the database opened (a large one takes minutes to recover): no data directory.
  await assert.rejects(stat(dataDir), { code: "ENOENT" });
});

test("a procedure module loads as ES, CommonJS or TypeScript, with no package.json", async (t) => {
  const root = await makeTempDir(); // under the system's temporary directory: no package.json
  t.after(() => rm(root, { recursive: true, force: true }));
  const modules = {
    "esm.js": "export const procedures = { hello: { run: () => 1 } };",
    "esm.mjs": "export const procedures = { hello: { run: () => 1 } };",
    "app.ts": "export const procedures = { hello: { run: (): number => 1 } };",
    "cjs.js": "module.exports = { procedures: { hello: { run: () => 1 } } };",
  };
  for (const [name, text] of Object.entries(modules)) {
    const module = join(root, name);
    await writeFile(module, `${text}\n`);
    const server = await startServer({ args: ["--module", module] });
    const url = `http://127.0.0.1:${server.http.port}/v1/call/hello`;
    const answer = await fetch(url, { method: "POST", body: "{}", headers: json });
    assert.deepEqual(await answer.json(), { result: 1 }, name);
    assert.equal(await server.stop(), 0);
  }
});

test("a full disk stops the server; what was acknowledged is there after a restart", async (t) => {
  const root = await makeTempDir();
  t.after(() => rm(root, { recursive: true, force: true }));
  const dataDir = join(root, "data");
  const trigger = join(root, "disk-full");
  const env = { NODE_OPTIONS: `--import ${diskFullHook}`, STATEBASE_TEST_DISK_FULL: trigger };
  const server = await startServer({ dataDir, env });
  const schema = "create namespace s; create table s::t { id: int8 } with { primary_key: { id } }";
  assert.equal((await post(server, "admin", schema)).status, 200);
  for (let id = 1; id <= 5; id++) {
    assert.equal((await post(server, "command", `insert s::t [{ id: ${id} }]`)).status, 200);
  }
  await writeFile(trigger, "");
  const refused = await post(server, "command", "insert s::t [{ id: 6 }]");
  assert.equal(refused.status, 500);
  assert.equal((refused.body.error as { code: string }).code, "IO_ERROR");
  const { code } = await server.exited;
  assert.equal(code, 1, server.output());
  assert.match(server.output(), /the log failed \(.*ENOSPC.*\); .*restart to recover from the log/);

  const restarted = await startServer({ dataDir });
  const count = await post(restarted, "query", "from s::t aggregate { n: math::count(id) }");
  assert.deepEqual(count.body, { frames: [[{ n: 5 }]] });
  assert.equal((await post(restarted, "command", "insert s::t [{ id: 6 }]")).status, 200);
  assert.equal(await restarted.stop(), 0);
});

test("a server thread busy past stallMsMax is stopped; a restart has every commit", async (t) => {
  const root = await makeTempDir();
  t.after(() => rm(root, { recursive: true, force: true }));
  const dataDir = join(root, "data");
  const module = join(root, "spin.js");
  await writeFile(module, "export const procedures = { spin: { run: () => { for (;;) {} } } };\n");
  const env = { STATEBASE_STALL_MS_MAX: "1500" };
  const server = await startServer({ dataDir, env, args: ["--module", module] });
  const schema = "create namespace s; create table s::t { id: int8 } with { primary_key: { id } }";
  assert.equal((await post(server, "admin", schema)).status, 200);
  assert.equal((await post(server, "command", "insert s::t [{ id: 1 }, { id: 2 }]")).status, 200);
  // The call never answers: its procedure loops until the main thread stops the server.
  const url = `http://127.0.0.1:${server.http.port}/v1/call/spin`;
  const call = fetch(url, { method: "POST", body: "{}", headers: json }).catch(() => "cut");
  const { code } = await server.exited;
  assert.equal(code, 1, server.output());
  assert.match(
    server.output(),
    /the server thread has not answered for \d+ s \(limits\.stallMsMax 1500 ms\)/,
  );
  assert.equal(await call, "cut");
  const restarted = await startServer({ dataDir });
  const count = await post(restarted, "query", "from s::t aggregate { n: math::count(id) }");
  assert.deepEqual(count.body, { frames: [[{ n: 2 }]] });
  assert.equal(await restarted.stop(), 0);
});

test("a full heap stops the server, saying what to change; acknowledged rows stay", async (t) => {
  const root = await makeTempDir();
  t.after(() => rm(root, { recursive: true, force: true }));
  const dataDir = join(root, "data");
  const server = await startServer({ dataDir, env: { STATEBASE_HEAP_SIZE_MB_MAX: "128" } });
  const metrics = await (await fetch(`http://127.0.0.1:${server.http.port}/metrics`)).text();
  const limit = Number(/^statebase_heap_limit_bytes (\d+)$/m.exec(metrics)?.[1]);
  assert.ok(limit >= 128 * 2 ** 20 && limit < 1024 * 2 ** 20, `heap limit ${limit}`);
  const schema =
    "create namespace s; create table s::t { id: int8, v: utf8 } with { primary_key: { id } }";
  assert.equal((await post(server, "admin", schema)).status, 200);
  let acknowledged = 0;
  for (let id = 1; id <= 1000; id++) {
    const value = String.fromCharCode(65 + (id % 26)).repeat(1_000_000);
    const insert = "insert s::t [{ id: $id, v: $v }]";
    const answer = await post(server, "command", insert, { id, v: value }).catch(() => undefined);
    if (answer?.status !== 200) break;
    acknowledged = id;
  }
  const { code } = await server.exited;
  assert.equal(code, 1, server.output());
  assert.match(server.output(), /the server ran out of memory \(heapSizeMbMax 128 MiB\)/);
  assert.ok(acknowledged > 10, `only ${acknowledged} rows fit`);

  const restarted = await startServer({ dataDir });
  const count = await post(restarted, "query", "from s::t aggregate { n: math::count(id) }");
  const n = (count.body.frames as Array<Array<{ n: number }>>)[0]![0]!.n;
  // The insert in flight when the heap ran out may have reached the log unacknowledged.
  assert.ok(
    n === acknowledged || n === acknowledged + 1,
    `${n} rows, ${acknowledged} acknowledged`,
  );
  assert.equal(await restarted.stop(), 0);
});

test("a replicated server takes its snapshots by the retention settings", async (t) => {
  const stream = uniqueStream("serve_retention");
  t.after(() => deleteReplicatedLog(stream));
  const env = {
    STATEBASE_REPLICATE_STREAM: stream,
    STATEBASE_SNAPSHOT_LOG_BYTES: "1",
    STATEBASE_SNAPSHOTS_KEPT: "1",
  };
  const flags = { replicate: natsUrl, rcp: "off", http: "127.0.0.1:0" };
  const server = await serve(await resolveConfig(flags, env), { warn: () => undefined });
  t.after(() => server.close());
  const db = server.db;
  await db.admin("create namespace s; create table s::t { k: int8 } with { primary_key: { k } }");
  for (let k = 1; k <= 3; k++) {
    await db.command(`insert s::t [{ k: ${k} }]`);
    // A commit that comes while a snapshot is taken does not start another one.
    await eventually(() => (db.replication?.snapshotSeq ?? 0) > 0, `a snapshot after ${k}`);
  }
  const nc = await connect({ servers: natsUrl });
  t.after(() => nc.close());
  const store = await new Objm(nc).open(`${stream}_snapshots`);
  const kept = async () => (await store.list()).filter((o) => !o.deleted).length;
  await eventually(async () => (await kept()) === 1, "one snapshot kept");
});

test("a replicated server takes replicateNode and replicateLeaseTtlMs", async (t) => {
  const stream = uniqueStream("serve_node");
  t.after(() => deleteReplicatedLog(stream));
  const env = {
    STATEBASE_REPLICATE_STREAM: stream,
    STATEBASE_REPLICATE_NODE: "node-a",
    STATEBASE_REPLICATE_LEASE_TTL_MS: "4500",
  };
  const flags = { replicate: natsUrl, rcp: "off", http: "127.0.0.1:0" };
  const server = await serve(await resolveConfig(flags, env), { warn: () => undefined });
  t.after(() => server.close());
  assert.equal(server.db.replication?.node, "node-a");
  assert.equal(server.db.replication?.leaseTtlMs, 4500, "the new lease bucket's TTL too");
  await eventually(() => server.db.replication?.writer?.node === "node-a", "node-a writes");
});

test("replicateReplicas reaches JetStream: R3 without a NATS cluster is refused", async (t) => {
  const stream = uniqueStream("serve_replicas");
  t.after(() => deleteReplicatedLog(stream));
  // Port 9 (discard) does not answer HTTP: the status then says the monitor could not be read.
  const env = {
    STATEBASE_REPLICATE_STREAM: stream,
    STATEBASE_REPLICATE_REPLICAS: "3",
    STATEBASE_REPLICATE_MONITOR_URL: "http://127.0.0.1:9",
  };
  const flags = { replicate: natsUrl, rcp: "off", http: "127.0.0.1:0" };
  const three = await serve(await resolveConfig(flags, env), { warn: () => undefined }).then(
    (server) => server.close(), // started with one replica: close it so the test ends
    (error: unknown) => error,
  );
  assert.match(String(three), /replicas > 1 not supported in non-clustered mode/);
  const one = { ...env, STATEBASE_REPLICATE_REPLICAS: "1" };
  const server = await serve(await resolveConfig(flags, one), { warn: () => undefined });
  t.after(() => server.close());
  assert.equal(server.db.replication?.streamReplicas, 1);
  assert.doesNotMatch(server.db.replication?.serverSync ?? "", /pass replicate\.monitorUrl/);
});

test("HTTP connections past limits.httpConnectionsMax are closed; the others serve", async (t) => {
  const server = await startServer({ env: { STATEBASE_HTTP_CONNECTIONS_MAX: "2" } });
  t.after(() => server.stop());
  const held = [0, 1].map(() => createConnection(server.http.port, "127.0.0.1"));
  t.after(() => held.forEach((socket) => socket.destroy()));
  await Promise.all(held.map((socket) => new Promise((done) => socket.once("connect", done))));
  // A third connection is closed without an answer.
  const third = createConnection(server.http.port, "127.0.0.1");
  third.on("error", () => undefined); // ECONNRESET, or a plain close: either is the refusal
  third.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
  let answer = "";
  third.on("data", (chunk: Buffer) => {
    answer += chunk.toString();
    third.destroy();
  });
  await new Promise((done) => third.once("close", done));
  assert.equal(answer, "");
  await eventually(() => server.output().includes("limits.httpConnectionsMax 2"), "a warning");
  held[0]!.destroy();
  await eventually(() => healthy(server.http.port).catch(() => false), "room again");
});

for (const thread of ["worker", "main"]) {
  const name = `SIGTERM while the server starts (${thread} thread) stops it, exit 0, never ready`;
  test(name, async (t) => {
    const root = await makeTempDir();
    t.after(() => rm(root, { recursive: true, force: true }));
    // A module that loads slowly stands in for a long recovery: both run inside serve().
    const marker = join(root, "loading");
    const module = join(root, "slow.mjs");
    await writeFile(
      module,
      `import { writeFileSync } from "node:fs";\n` +
        `writeFileSync(${JSON.stringify(marker)}, "");\n` +
        `await new Promise((done) => setTimeout(done, 3000));\n` +
        `export const procedures = {};\n`,
    );
    const bin = resolve(import.meta.dirname, "../../bin/statebase.js");
    const args = [bin, "serve", "--data", join(root, "data"), "--module", module];
    const child = spawn(process.execPath, [...args, "--rcp", "127.0.0.1:0", "--http", "off"], {
      env: { ...process.env, STATEBASE_SERVE_THREAD: thread === "main" ? "main" : "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once("exit", done));
    await eventually(
      () =>
        stat(marker).then(
          () => true,
          () => false,
        ),
      "the module loading",
      30_000,
    );
    child.kill("SIGTERM");
    assert.equal(await exited, 0, output);
    assert.match(output, /SIGTERM: shutting down/);
    assert.doesNotMatch(output, /ready/);
  });
}
