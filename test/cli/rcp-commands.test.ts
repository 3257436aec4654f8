/**
 * Goal: rstmdb-cli's commands and flags (specs/rcp.md §5) work against a Statebase server:
 * human-readable output by default, `--json` for scripts, `@file` definitions, tokens from
 * flags or the environment, TLS options, exit codes, the REPL and its aliases.
 * Method: the commander program runs in-process with a captured output context against an
 * in-process server on a real socket; the REPL runs as a real `statebase repl` process.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { createProgram } from "../../src/cli/main.ts";
import { cli } from "../support/cli.ts";
import { splitReplLine } from "../../src/cli/commands/repl.ts";
import { hashToken } from "../../src/server/auth.ts";
import { orderMachine, startTestRcp } from "../support/rcp-server.ts";
import type { TestRcp } from "../support/rcp-server.ts";
import { makeTestCerts } from "../support/tls-certs.ts";
import type { TestCerts } from "../support/tls-certs.ts";

let rcp: TestRcp;
let certs: TestCerts;
let server: string;

before(async () => {
  certs = makeTestCerts();
  rcp = await startTestRcp({
    server: {
      tokens: [{ sha256: hashToken("s3cret"), role: "admin" }],
      tls: { cert: certs.serverCert, key: certs.serverKey },
    },
  });
  server = `127.0.0.1:${rcp.port}`;
});

after(async () => {
  await rcp.stop();
  certs.remove();
});

const auth = () => ["-s", server, "-t", "s3cret"];

test("hash-token prints the SHA-256 hex offline", async () => {
  assert.deepEqual((await cli("hash-token", "s3cret")).out, [hashToken("s3cret")]);
});

test('hash-token refuses an empty token (hash-token "$TOKEN" with TOKEN unset)', async () => {
  await assert.rejects(cli("hash-token", ""), /the token is empty/);
});

test("machine and instance commands, human output and --json", async () => {
  const file = join(certs.dir, "order.json");
  writeFileSync(file, JSON.stringify(orderMachine));
  assert.deepEqual((await cli("ping", ...auth())).out, ["PONG"]);
  assert.deepEqual(
    (await cli("put-machine", ...auth(), "-n", "order", "-v", "1", `@${file}`)).out,
    ["stored order v1 (checksum eef67bea)"],
  );
  const created = await cli(
    "create-instance",
    ...auth(),
    "-m",
    "order",
    "-V",
    "1",
    "-i",
    "o-1",
    "-c",
    '{"a":1}',
  );
  assert.deepEqual(created.out, [`created o-1 in state created (offset ${rcp.db.seq})`]);
  const applied = await cli(
    "apply-event",
    ...auth(),
    "-i",
    "o-1",
    "-e",
    "PAY",
    "-p",
    '{"ready":true}',
  );
  assert.deepEqual(applied.out, [
    `created -> paid (offset ${rcp.db.seq})`,
    'ctx: {"a":1,"ready":true}',
  ]);
  const got = await cli("get-instance", ...auth(), "o-1", "--json");
  assert.deepEqual(JSON.parse(got.out[0]!), {
    machine: "order",
    version: 1,
    state: "paid",
    ctx: { a: 1, ready: true },
    last_wal_offset: rcp.db.seq,
  });
  assert.deepEqual((await cli("list-machines", ...auth())).out, ["order  versions 1"]);
  const listed = await cli("list-instances", ...auth(), "-m", "order");
  assert.deepEqual(listed.out, [`o-1  order v1  paid  offset ${rcp.db.seq}`, "1 of 1 instances"]);
  const wal = await cli("wal-read", ...auth(), "-f", "2", "-l", "1");
  assert.deepEqual(wal.out, ["2  create_instance o-1 order v1 -> created", "next offset: 3"]);
  const gm = await cli("get-machine", ...auth(), "-n", "order", "-v", "1", "--json");
  assert.equal(JSON.parse(gm.out[0]!).checksum, "eef67bea");
  assert.equal((await cli("wal-stats", ...auth())).out[0], `entry_count: ${rcp.db.seq}`);
  assert.deepEqual((await cli("delete-instance", ...auth(), "o-1")).out, [
    `deleted o-1 (offset ${rcp.db.seq})`,
  ]);
});

test("server errors: one line with the code; exit 1, or 2 for BAD_REQUEST", async () => {
  const missing = await cli("get-instance", ...auth(), "nope");
  assert.deepEqual(
    [missing.code, missing.err],
    [1, ["INSTANCE_NOT_FOUND: core error: instance not found: nope"]],
  );
  const compact = await cli("compact", ...auth());
  assert.equal(compact.code, 2);
  const anonymous = await cli("list-machines", "-s", server);
  assert.deepEqual(anonymous.err, ["UNAUTHORIZED: authentication required"]);
  const wrong = await cli("ping", "-s", server, "-t", "wrong");
  assert.deepEqual(wrong.err, ["AUTH_FAILED: authentication failed: invalid token"]);
  const refused = await cli("ping", "-s", "127.0.0.1:1");
  assert.deepEqual(
    [refused.code, refused.err],
    [1, ["cannot connect to 127.0.0.1:1: ECONNREFUSED"]],
  );
});

test("pointed at an HTTP port, a command says the server does not answer in RCP", async (t) => {
  const http = createServer((_request, response) => response.end("not RCP"));
  await new Promise<void>((done) => http.listen(0, "127.0.0.1", done));
  t.after(() => http.close());
  const address = `127.0.0.1:${(http.address() as AddressInfo).port}`;
  const { code, err } = await cli("ping", "-s", address);
  assert.equal(code, 1);
  assert.equal(err.length, 1);
  assert.match(err[0]!, new RegExp(`^${address} does not answer in RCP \\(.*bad magic 0x48545450`));
});

test("--connect-timeout gives up on a server that never answers the TLS handshake", async (t) => {
  const silent = createNetServer((socket) => void socket.resume());
  await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
  t.after(() => silent.close());
  const address = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
  const { code, err } = await cli("ping", "-s", address, "--tls", "--connect-timeout", "200");
  assert.equal(code, 1);
  assert.deepEqual(err, [
    `CONNECT_TIMEOUT: could not connect to ${address} within 200 ms (TLS handshake included)`,
  ]);
  await assert.rejects(cli("ping", "-s", address, "--connect-timeout", "0"), /positive integer/);
  await assert.rejects(cli("ping", "-s", address, "--connect-timeout", "2147483648"), /at most/);
});

test("TLS to an IP address checks the certificate's IP, with no deprecation warning", async () => {
  // Node warns on stderr (DEP0123) when an IP address is sent as the TLS server name (SNI),
  // once per process: so this test runs before the other TLS tests.
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning.message);
  process.on("warning", onWarning);
  try {
    const tls = await cli("ping", ...auth(), "--ca-cert", certs.caCert);
    assert.deepEqual([tls.out, tls.err, tls.code], [["PONG"], [], 0]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  } finally {
    process.off("warning", onWarning);
  }
});

test("token from $RSTMDB_TOKEN or $STATEBASE_TOKEN; TLS flags connect over TLS", async () => {
  for (const name of ["RSTMDB_TOKEN", "STATEBASE_TOKEN"]) {
    process.env[name] = "s3cret";
    try {
      assert.deepEqual((await cli("list-machines", "-s", server)).out, ["order  versions 1"]);
    } finally {
      delete process.env[name];
    }
  }
  const tls = await cli("ping", ...auth(), "--ca-cert", certs.caCert, "--server-name", "localhost");
  assert.deepEqual(tls.out, ["PONG"]);
  assert.deepEqual((await cli("ping", ...auth(), "--tls", "-k")).out, ["PONG"]);
});

test("TLS failures are one line saying so: no TLS on the port, an untrusted cert", async (t) => {
  const plain = await startTestRcp();
  t.after(() => plain.stop());
  const noTls = await cli("ping", "-s", `127.0.0.1:${plain.port}`, "--tls");
  assert.equal(noTls.code, 1);
  assert.equal(noTls.err.length, 1);
  assert.match(noTls.err[0]!, /^TLS with 127\.0\.0\.1:\d+ failed: wrong version number \(/);
  assert.match(noTls.err[0]!, /does the server use TLS on this port\?/);
  const untrusted = await cli("ping", ...auth(), "--tls");
  assert.equal(untrusted.code, 1);
  assert.equal(untrusted.err.length, 1);
  assert.match(untrusted.err[0]!, /^TLS with 127\.0\.0\.1:\d+ failed: .*certificate.* --ca-cert/);
});

test("watch-all prints events as JSON lines, resumes with --from-offset", async () => {
  await cli("create-instance", ...auth(), "-m", "order", "-V", "1", "-i", "w-1");
  const from = rcp.db.seq;
  rcp.db.machines.applyEvent({ instance_id: "w-1", event: "PAY" });
  const watched = await cli(
    "watch-all",
    ...auth(),
    "--from-offset",
    String(from),
    "--count",
    "1",
    "--no-ctx",
  );
  const event = JSON.parse(watched.out[0]!);
  assert.deepEqual(
    [event.type, event.instance_id, event.event, "ctx" in event],
    ["event", "w-1", "PAY", false],
  );
});

test("watch --count N prints N events, also when the replayed history has more", async () => {
  await cli("create-instance", ...auth(), "-m", "order", "-V", "1", "-i", "w-2");
  const from = rcp.db.seq;
  rcp.db.machines.applyEvent({ instance_id: "w-2", event: "PAY", payload: { ready: true } });
  rcp.db.machines.applyEvent({ instance_id: "w-2", event: "SHIP" });
  for (const command of [["watch-all"], ["watch-instance", "w-2"]]) {
    const watched = await cli(...command, ...auth(), "--from-offset", String(from), "--count", "1");
    // It printed every replayed event that arrived before its UNWATCH was answered.
    assert.deepEqual(
      watched.out.map((line) => (JSON.parse(line) as { event: string }).event),
      ["PAY"],
    );
  }
});

test("watch-instance of an instance deleted ends with its end line and exit code 0", async () => {
  await cli("create-instance", ...auth(), "-m", "order", "-V", "1", "-i", "w-3");
  const from = rcp.db.seq;
  rcp.db.machines.applyEvent({ instance_id: "w-3", event: "PAY" });
  rcp.db.machines.deleteInstance({ instance_id: "w-3" });
  const watched = await cli("watch-instance", "w-3", ...auth(), "--from-offset", String(from));
  // The instance will never change again: the watch saw all of it, which is success.
  assert.equal(watched.code, 0, watched.err.join("\n"));
  const lines = watched.out.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(
    lines.map((line) => [line.type, line.event ?? line.reason]),
    [
      ["event", "PAY"],
      ["end", "deleted"],
    ],
  );
});

test("watch-all whose server goes away says so on stderr and exits 1", async () => {
  const own = await startTestRcp();
  const watching = cli("watch-all", "-s", `127.0.0.1:${own.port}`);
  while (own.server.connections === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, 200)); // its WATCH_ALL is answered
  await own.stop();
  const watched = await watching;
  assert.equal(watched.code, 1);
  assert.deepEqual(watched.out, []);
  assert.deepEqual(watched.err, [
    `the connection to 127.0.0.1:${own.port} closed before the subscription ended`,
  ]);
});

test("put-machine: a definition not JSON or a file that cannot be read is named", async () => {
  for (const [definition, message] of [
    ["{states", /argument 'definition'.* not JSON/],
    ["@/nonexistent/order.json", /argument 'definition'.* cannot read \/nonexistent\//],
  ] as const) {
    const err: string[] = [];
    const warn = (text: string): void => void err.push(text);
    const context = { line: () => Promise.resolve(), warn, progress: warn, exitCode: 0 };
    const program = createProgram(context);
    const args = ["put-machine", ...auth(), "-n", "x", "-v", "1", definition];
    // It exited with code 2 and printed nothing.
    await assert.rejects(program.parseAsync(["node", "statebase", ...args]), {
      code: "commander.invalidArgument",
    });
    assert.equal(err.length, 1);
    assert.match(err[0]!, message);
  }
});

test("a request larger than a frame is refused by the client, naming its size", async () => {
  // It failed an assertion ("unexpected failure") and then crashed with a stack trace.
  const file = join(certs.dir, "huge.json");
  const meta = { text: "x".repeat(17 * 1024 * 1024) };
  writeFileSync(file, JSON.stringify({ states: ["a"], initial: "a", transitions: [], meta }));
  const put = await cli("put-machine", ...auth(), "-n", "huge", "-v", "1", `@${file}`);
  assert.equal(put.code, 2);
  assert.equal(put.err.length, 1);
  assert.match(put.err[0]!, /^BAD_REQUEST: the request is 17825\d{3} bytes, over the frame limit/);
});

test("--limit takes a positive count and says so", async () => {
  for (const args of [
    ["list-instances", "-l", "abc"],
    ["wal-read", "-l", "0"],
  ]) {
    const err: string[] = [];
    const warn = (text: string): void => void err.push(text);
    const program = createProgram({
      line: () => Promise.resolve(),
      warn,
      progress: warn,
      exitCode: 0,
    });
    const run = program.parseAsync(["node", "statebase", ...args, ...auth()]);
    await assert.rejects(run, { code: "commander.invalidArgument" });
    // It said "SEQ must be a non-negative integer." for a limit, and took 0.
    assert.match(err[0]!, /argument '(abc|0)' is invalid\. N must be a positive integer\.$/);
  }
});

test("REPL: aliases, JSON with spaces, errors stay in the session", async () => {
  assert.deepEqual(splitReplLine(`c order 1 r-1 {"a": [1, "x y"]}`), [
    "c",
    "order",
    "1",
    "r-1",
    '{"a": [1, "x y"]}',
  ]);
  assert.deepEqual(splitReplLine(`a "my id" GO`), ["a", "my id", "GO"]);
  const script = ['c order 1 r-1 {"n": 1}', 'a r-1 PAY {"m": 2}', "g r-1", "bogus", "q"].join("\n");
  const root = resolve(import.meta.dirname, "..", "..");
  const out = await new Promise<string>((done, fail) => {
    const child = execFile(
      process.execPath,
      [join(root, "bin", "statebase.js"), "repl", ...auth()],
      (error: Error | null, stdout: string) => {
        if (error === null) done(stdout);
        else fail(error);
      },
    );
    child.stdin!.end(`${script}\n`);
  });
  const lines = out.trim().split("\n");
  assert.deepEqual(lines.slice(0, 3), [
    `created r-1 in state created (offset ${rcp.db.seq - 1})`,
    `created -> paid (offset ${rcp.db.seq})`,
    'ctx: {"n":1,"m":2}',
  ]);
  assert.ok(lines.includes("state: paid"));
  assert.equal(lines.at(-1), 'unknown command "bogus" (try help)');
});

test("REPL: a reconnect that fails is an error line; the session goes on", async () => {
  const own = await startTestRcp();
  const root = resolve(import.meta.dirname, "..", "..");
  const address = `127.0.0.1:${own.port}`;
  const repl = [join(root, "bin", "statebase.js"), "repl", "-s", address];
  const child = execFile(process.execPath, repl);
  let out = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  child.stdin!.write("ping\n");
  while (!out.includes("PONG")) await new Promise((done) => setTimeout(done, 50));
  await own.stop();
  child.stdin!.end("rc\nping\nq\n");
  assert.equal(await exited, 0);
  const lines = out.trim().split("\n");
  assert.match(lines[1]!, new RegExp(`^error: cannot connect to ${address}: .*ECONNREFUSED`));
  assert.match(lines[2]!, /^error: CONNECTION_CLOSED/);
});
