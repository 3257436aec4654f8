/**
 * Goal: server configuration resolves file < environment < flags, fills every default, and
 * refuses each kind of mistake once, naming the key and where the value came from.
 * Method: resolveConfig on files written to a temp dir, with explicit environments (never
 * the test process's own), including a property test that a flag always wins.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { parse as parseYaml } from "yaml";
import { DbError } from "../../src/lib/errors.ts";
import { httpBodySizeBytesMax } from "../../src/lib/limits.ts";
import { findToken, hashToken } from "../../src/server/auth.ts";
import { configEnvironment, parseListenAddress, resolveConfig } from "../../src/server/config.ts";
import { configKeyPaths } from "../support/config-keys.ts";

const dir = mkdtempSync(join(tmpdir(), "statebase-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const sha = "a".repeat(64);

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function refused(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DbError, String(error));
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.match(error.message, pattern);
    return true;
  });
}

test("defaults are the DESIGN.md ones", async () => {
  const config = await resolveConfig({}, {});
  assert.equal(config.data, "./statebase-data");
  assert.deepEqual(config.rcp, { host: "127.0.0.1", port: 7401 });
  assert.deepEqual(config.http, { host: "127.0.0.1", port: 8090 });
  assert.equal(config.durability, "sync");
  assert.deepEqual(config.tokens, []);
  assert.equal(config.limits.httpBodySizeBytesMax, httpBodySizeBytesMax);
});

test("file, then environment, then flags", async () => {
  const yaml = file(
    "a.yaml",
    [
      "data: /from/file",
      "durability: async",
      "http: 0.0.0.0:9000",
      "rcp: 'off'",
      "retention: { snapshotsKept: 4 }",
      `auth: { tokens: [{ sha256: "${sha}", role: admin, name: ops }] }`,
      "limits: { httpBodySizeBytesMax: 1000 }",
    ].join("\n"),
  );
  const env = { STATEBASE_DURABILITY: "memory", STATEBASE_SNAPSHOTS_KEPT: "7" };
  const config = await resolveConfig({ config: yaml, data: "/from/flag" }, env);
  assert.equal(config.data, "/from/flag");
  assert.equal(config.durability, "memory");
  assert.deepEqual(config.http, { host: "0.0.0.0", port: 9000 });
  assert.equal(config.rcp, undefined);
  assert.deepEqual(config.retention, { snapshotsKept: 7 });
  assert.deepEqual(config.tokens, [{ sha256: sha, role: "admin", name: "ops" }]);
  assert.equal(config.limits.httpBodySizeBytesMax, 1000);
  const json = file("b.json", JSON.stringify({ http: "[::1]:0" }));
  assert.deepEqual((await resolveConfig({ config: json }, {})).http, { host: "::1", port: 0 });
});

test("tokens from the environment: a JSON array or SHA256:ROLE[:NAME] pairs", async () => {
  const pairs = await resolveConfig(
    {},
    { STATEBASE_TOKENS: `${sha}:read,${"b".repeat(64)}:write:ci` },
  );
  assert.deepEqual(pairs.tokens, [
    { sha256: sha, role: "read" },
    { sha256: "b".repeat(64), role: "write", name: "ci" },
  ]);
  const array = await resolveConfig(
    {},
    {
      STATEBASE_TOKENS: JSON.stringify([{ sha256: sha, role: "admin" }]),
    },
  );
  assert.deepEqual(array.tokens, [{ sha256: sha, role: "admin" }]);
});

test("every mistake names the key and its source", async () => {
  await refused(resolveConfig({ http: "nohost" }, {}), /config key http \(from flag --http\)/);
  await refused(
    resolveConfig({}, { STATEBASE_SNAPSHOTS_KEPT: "many" }),
    /retention\.snapshotsKept \(from environment variable STATEBASE_SNAPSHOTS_KEPT\)/,
  );
  await refused(
    resolveConfig({}, { STATEBASE_TOKENS: `${sha}:root` }),
    /auth\.tokens\.0\.role .*must be read, write or admin/,
  );
  await refused(
    resolveConfig({}, { STATEBASE_TOKENS: "secret:read" }),
    /sha256 .*SHA-256 of the token/,
  );
  await refused(resolveConfig({ durability: "fast" }, {}), /durability .*sync, async or memory/);
  const typo = file("typo.yaml", "limits:\n  httpBodyMax: 5\n");
  await refused(
    resolveConfig({ config: typo }, {}),
    new RegExp(`unknown config key limits\\.httpBodyMax \\(from config file ${typo}\\)`),
  );
  await refused(resolveConfig({ config: file("bad.yaml", "a: [") }, {}), /is not valid/);
  await refused(resolveConfig({ config: join(dir, "missing.yaml") }, {}), /cannot read/);
  await refused(resolveConfig({ config: file("list.yaml", "- 1\n") }, {}), /object of keys/);
  await refused(
    resolveConfig({}, { STATEBASE_TLS_REQUIRE_CLIENT_CERT: "yes" }),
    /tls\.requireClientCert \(from environment variable STATEBASE_TLS_REQUIRE_CLIENT_CERT\): must/,
  );
});

test("heapSizeMbMax: V8's default unless set; below 64 MiB refused", async () => {
  assert.equal((await resolveConfig({}, {})).heapSizeMbMax, undefined);
  const env = { STATEBASE_HEAP_SIZE_MB_MAX: "8192" };
  assert.equal((await resolveConfig({}, env)).heapSizeMbMax, 8192);
  const small = file("heap.yaml", "heapSizeMbMax: 16\n");
  await refused(resolveConfig({ config: small }, {}), /config key heapSizeMbMax \(from config/);
});

test("allowedOrigins: none by default; a comma list from the environment; no paths", async () => {
  assert.deepEqual((await resolveConfig({}, {})).allowedOrigins, []);
  const env = { STATEBASE_ALLOWED_ORIGINS: "http://localhost:3000, https://app.example" };
  const origins = ["http://localhost:3000", "https://app.example"];
  assert.deepEqual((await resolveConfig({}, env)).allowedOrigins, origins);
  await refused(
    resolveConfig({}, { STATEBASE_ALLOWED_ORIGINS: "https://app.example/page" }),
    /allowedOrigins\.0 \(from environment variable STATEBASE_ALLOWED_ORIGINS\): must be an origin/,
  );
});

test("relative paths in the file are the file's; from the environment, the cwd's", async () => {
  const sub = join(dir, "etc");
  mkdirSync(sub, { recursive: true });
  const text = "data: ./d\nmodule: app.js\ntls:\n  cert: c.pem\n  key: /abs/k.pem\n";
  const path = join(sub, "paths.yaml");
  writeFileSync(path, text);
  const config = await resolveConfig({ config: path }, {});
  assert.equal(config.data, join(sub, "d"));
  assert.equal(config.module, join(sub, "app.js"));
  assert.deepEqual(config.tls, { cert: join(sub, "c.pem"), key: "/abs/k.pem" });
  const overridden = await resolveConfig({ config: path }, { STATEBASE_DATA: "./e" });
  assert.equal(overridden.data, "./e");
  assert.equal((await resolveConfig({ config: path, data: "f" }, {})).data, "f");
});

test("a flag always wins over the file and the environment", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 65_535 }),
      fc.integer({ min: 0, max: 65_535 }),
      fc.integer({ min: 0, max: 65_535 }),
      async (filePort, envPort, flagPort) => {
        const path = file("p.yaml", `http: 127.0.0.1:${filePort}\n`);
        const env = { STATEBASE_HTTP: `127.0.0.1:${envPort}` };
        const config = await resolveConfig({ config: path, http: `127.0.0.1:${flagPort}` }, env);
        assert.equal(config.http?.port, flagPort);
        assert.equal((await resolveConfig({ config: path }, env)).http?.port, envPort);
      },
    ),
    { numRuns: 50 },
  );
});

test("listen addresses: HOST:PORT, [IPv6]:PORT, off; ports above 65535 refused", () => {
  assert.deepEqual(parseListenAddress("localhost:0"), { host: "localhost", port: 0 });
  assert.deepEqual(parseListenAddress("[::]:8090"), { host: "::", port: 8090 });
  assert.equal(parseListenAddress("off"), undefined);
  assert.throws(() => parseListenAddress("host:70000"), /up to 65535/);
});

test("write forwarding: on by default; advertiseHttp as a URL or HOST:PORT", async () => {
  const defaults = await resolveConfig({}, {});
  assert.equal(defaults.forwardWrites, true);
  assert.equal(defaults.advertiseHttp, undefined);
  const env = { STATEBASE_FORWARD_WRITES: "false", STATEBASE_ADVERTISE_HTTP: "10.0.0.5:8090" };
  const config = await resolveConfig({}, env);
  assert.equal(config.forwardWrites, false);
  assert.equal(config.advertiseHttp, "http://10.0.0.5:8090");
  const url = file("fw.yaml", "advertiseHttp: https://db-1.example:8443/");
  assert.equal(
    (await resolveConfig({ config: url }, {})).advertiseHttp,
    "https://db-1.example:8443",
  );
  const bad = { STATEBASE_ADVERTISE_HTTP: "ftp://x" };
  await refused(resolveConfig({}, bad), /advertiseHttp .*must be http\(s\):\/\/HOST/);
});

test("a mistake says what the key must be and what was given, in words", async () => {
  await refused(
    resolveConfig({}, { STATEBASE_SNAPSHOTS_KEPT: "many" }),
    /STATEBASE_SNAPSHOTS_KEPT\): must be an integer, got "many"$/,
  );
  await refused(
    resolveConfig({ config: file("tick.yaml", "timerTickMs: 0\n") }, {}),
    /config key timerTickMs \(from config file .*\): must be at least 1, got 0$/,
  );
  await refused(
    resolveConfig({ config: file("origins.yaml", "allowedOrigins: http://a.example\n") }, {}),
    /allowedOrigins .*: must be a list, got "http:\/\/a\.example"$/,
  );
  await refused(
    resolveConfig({ data: "" }, {}),
    /config key data \(from flag --data\): must not be empty/,
  );
});

test("a section missing a key it needs names the key and where the section came from", async () => {
  await refused(
    resolveConfig({}, { STATEBASE_TLS_CERT: "/etc/c.pem" }),
    /config key tls \(from environment variable STATEBASE_TLS_CERT\): key is missing/,
  );
  const token = file("role.yaml", `auth: { tokens: [{ sha256: "${sha}" }] }\n`);
  await refused(
    resolveConfig({ config: token }, {}),
    /auth\.tokens\.0 \(from config file .*\): role is missing/,
  );
});

test("a port above 65535 names the key and its source", async () => {
  await refused(
    resolveConfig({}, { STATEBASE_HTTP: "localhost:99999" }),
    /config key http \(from environment variable STATEBASE_HTTP\): .*65535/,
  );
});

test("retention takes what open() accepts, refused naming the key and its source", async () => {
  await refused(
    resolveConfig({}, { STATEBASE_SEGMENT_SIZE_BYTES: "1" }),
    new RegExp(
      "retention\\.segmentSizeBytes \\(from environment variable " +
        "STATEBASE_SEGMENT_SIZE_BYTES\\): must be at least 4096",
    ),
  );
  await refused(
    resolveConfig({}, { STATEBASE_SEGMENT_SIZE_BYTES: String(2 ** 40) }),
    /retention\.segmentSizeBytes .*: must be at most 1073741824/,
  );
  await refused(
    resolveConfig({}, { STATEBASE_LOG_RETENTION_MS: "99999999999999999999" }),
    /retention\.logRetentionMs .*: must be at most 9007199254740991/,
  );
});

test("a JSON file: a key given twice is refused, and a syntax error says where", async () => {
  const twice = file("twice.json", '{\n  "durability": "sync",\n  "durability": "memory"\n}\n');
  await refused(resolveConfig({ config: twice }, {}), /twice\.json is not valid: .*unique.*line 3/);
  const comma = file("comma.json", '{\n  "data": "/a",\n  "http": 1,\n}\n');
  await refused(
    resolveConfig({ config: comma }, {}),
    /comma\.json is not valid: .*line 4, column 1/,
  );
  // Node 20 gives no position for an unexpected token: the context it quotes is kept whole.
  const token = file("token.json", '{\n  "data": "/a",\n  "http": }\n');
  await refused(resolveConfig({ config: token }, {}), /token\.json is not valid: .*"http": }/);
});

test("a JSON file saved with a byte order mark (Windows editors) is read", async () => {
  const bom = file("bom.json", '\ufeff{ "durability": "memory" }\n');
  assert.equal((await resolveConfig({ config: bom }, {})).durability, "memory");
});

test("a token's hash in upper case (PowerShell's Get-FileHash) matches its token", async () => {
  const upper = hashToken("s3cret").toUpperCase();
  const fromFile = file("upper.yaml", `auth: { tokens: [{ sha256: ${upper}, role: read }] }\n`);
  for (const config of [
    await resolveConfig({}, { STATEBASE_TOKENS: `${upper}:admin` }),
    await resolveConfig({ config: fromFile }, {}),
  ]) {
    assert.notEqual(findToken(config.tokens, "s3cret"), undefined);
  }
});

test("the hash of an empty token ($TOKEN unset when it was hashed) is refused", async () => {
  await refused(
    resolveConfig({}, { STATEBASE_TOKENS: `${sha}:read,${hashToken("")}:admin` }),
    new RegExp(
      "config key auth\\.tokens\\.1\\.sha256 \\(from environment variable STATEBASE_TOKENS\\): " +
        ".*empty token",
    ),
  );
});

test("a token's name from the environment may hold a colon", async () => {
  const config = await resolveConfig({}, { STATEBASE_TOKENS: `${sha}:read:ci:prod` });
  assert.deepEqual(config.tokens, [{ sha256: sha, role: "read", name: "ci:prod" }]);
});

test("replicateStream takes every name the replication layer takes (up to 200)", async () => {
  const long = "s".repeat(200);
  const env = { STATEBASE_REPLICATE_STREAM: long };
  assert.equal((await resolveConfig({}, env)).replicateStream, long);
  await refused(
    resolveConfig({}, { STATEBASE_REPLICATE_STREAM: "s".repeat(201) }),
    /config key replicateStream \(from environment variable STATEBASE_REPLICATE_STREAM\)/,
  );
});

test("replicateNode names this node in the lease; a name with spaces is refused", async () => {
  assert.equal((await resolveConfig({}, {})).replicateNode, undefined);
  const config = await resolveConfig({}, { STATEBASE_REPLICATE_NODE: "node-a.eu-1" });
  assert.equal(config.replicateNode, "node-a.eu-1");
  const yaml = file("node.yaml", "replicateNode: 'node a'\n");
  await refused(
    resolveConfig({ config: yaml }, {}),
    /config key replicateNode \(from config file .*\): must be letters, digits/,
  );
});

test("replicated, snapshotsKept above what the object store keeps is refused here", async () => {
  const env = { STATEBASE_SNAPSHOTS_KEPT: "1001" };
  assert.equal((await resolveConfig({}, env)).retention.snapshotsKept, 1001, "local: no cap");
  await refused(
    resolveConfig({ replicate: "nats://127.0.0.1:4222" }, env),
    new RegExp(
      "config key retention\\.snapshotsKept \\(from environment variable " +
        "STATEBASE_SNAPSHOTS_KEPT\\): must be at most 1000 with replicate, got 1001",
    ),
  );
  const ok = await resolveConfig(
    { replicate: "nats://127.0.0.1:4222" },
    { ...env, STATEBASE_SNAPSHOTS_KEPT: "1000" },
  );
  assert.equal(ok.retention.snapshotsKept, 1000);
});

test("replicate takes NATS URLs (nats://, tls:// or HOST:PORT), not http:// ones", async () => {
  const urls = "nats://a:4222, tls://b:4222,c:4222,nats://user:pw@[::1]:4222";
  assert.equal((await resolveConfig({ replicate: urls }, {})).replicate, urls);
  await refused(
    resolveConfig({ replicate: "nats://a:4222,http://b:8222" }, {}),
    /config key replicate \(from flag --replicate\): http:\/\/b:8222 is no NATS URL/,
  );
  await refused(
    resolveConfig({}, { STATEBASE_REPLICATE: "ws://a:4222" }),
    /config key replicate \(from environment variable STATEBASE_REPLICATE\): ws:\/\/a:4222/,
  );
  await refused(resolveConfig({ replicate: "nats://a:4222," }, {}), /an empty URL/);
});

test("durability memory with replicate is refused here, naming both keys and sources", async () => {
  const url = "nats://127.0.0.1:4222";
  await refused(
    resolveConfig({ replicate: url, durability: "memory" }, {}),
    /config keys durability \(from flag --durability\) and replicate \(from flag --replicate\)/,
  );
  await refused(
    resolveConfig({ replicate: url }, { STATEBASE_DURABILITY: "memory" }),
    /durability \(from environment variable STATEBASE_DURABILITY\).*choose sync .* or async/,
  );
  assert.equal((await resolveConfig({ durability: "memory" }, {})).durability, "memory");
  assert.equal((await resolveConfig({ replicate: url, durability: "async" }, {})).replicate, url);
});

test("rcp and http both off is refused: nobody could reach the server", async () => {
  await refused(
    resolveConfig({ rcp: "off" }, { STATEBASE_HTTP: "off" }),
    new RegExp(
      "rcp \\(from flag --rcp\\) and http \\(from environment variable STATEBASE_HTTP\\) " +
        "are both off",
    ),
  );
  assert.equal((await resolveConfig({ rcp: "off" }, {})).rcp, undefined);
});

test("httpConnectionsMax: room for every WebSocket allowed, plus 1000, unless set", async () => {
  assert.equal((await resolveConfig({}, {})).limits.httpConnectionsMax, 11_000);
  const env = { STATEBASE_WS_CONNECTIONS_MAX: "50000" };
  assert.equal((await resolveConfig({}, env)).limits.httpConnectionsMax, 51_000);
  const set = { ...env, STATEBASE_HTTP_CONNECTIONS_MAX: "20" };
  assert.equal((await resolveConfig({}, set)).limits.httpConnectionsMax, 20);
});

test("an environment variable that is no boolean or token list names the key it sets", async () => {
  const booleans = configEnvironment.filter(([, , kind]) => kind === "boolean");
  assert.ok(booleans.length >= 2, "forwardWrites and tls.requireClientCert are booleans");
  for (const [name, key] of booleans) {
    await refused(
      resolveConfig({}, { [name]: "yes" }),
      new RegExp(
        `^config key ${key.replaceAll(".", "\\.")} \\(from environment variable ${name}\\): ` +
          `must be true or false, got "yes"$`,
      ),
    );
  }
  await refused(
    resolveConfig({}, { STATEBASE_TOKENS: "[{oops" }),
    /^config key auth\.tokens \(from environment variable STATEBASE_TOKENS\): must be a JSON/,
  );
});

test("docs/operations.md's complete file is valid and shows every config key", async () => {
  const page = readFileSync(resolve(import.meta.dirname, "../../docs/operations.md"), "utf8");
  const block = /A complete file:\n\n```yaml\n([\s\S]*?)```/.exec(page);
  assert.ok(block, "docs/operations.md shows a complete config file");
  // The keys shown commented out (`# replicate: ...`) are part of it too.
  const text = block[1]!.replaceAll(/^(\s*)# (\w+): /gm, "$1$2: ");
  await resolveConfig({ config: file("complete.yaml", text) }, {});
  const shown = new Set<string>();
  const walk = (value: unknown, prefix: string): void => {
    if (value === null || typeof value !== "object") return;
    for (const [key, inner] of Object.entries(value)) {
      const path = Array.isArray(value) ? prefix : prefix === "" ? key : `${prefix}.${key}`;
      shown.add(path);
      walk(inner, path);
    }
  };
  walk(parseYaml(text), "");
  assert.deepEqual(
    configKeyPaths().filter((key) => !shown.has(key)),
    [],
    "keys the complete file leaves out",
  );
});

test("a value of the wrong type says what the key takes, not just 'a string'", async () => {
  const cases: Array<[string, RegExp]> = [
    ["rcp: 7401\n", /config key rcp .*: must be HOST:PORT .* or off, got 7401$/],
    ["http: 8090\n", /config key http .*: must be HOST:PORT .* or off, got 8090$/],
    ["durability: 1\n", /config key durability .*: must be sync, async or memory, got 1$/],
    ["replicateNode: 7\n", /config key replicateNode .*: must be letters, digits, .*, got 7$/],
    [
      `auth: { tokens: [{ sha256: "${sha}", role: 1 }] }\n`,
      /config key auth\.tokens\.0\.role .*: must be read, write or admin$/,
    ],
  ];
  for (const [text, pattern] of cases) {
    await refused(resolveConfig({ config: file("typed.yaml", text) }, {}), pattern);
  }
});

test("replicateLeaseTtlMs is read from the file or environment and checked", async () => {
  const config = await resolveConfig({}, { STATEBASE_REPLICATE_LEASE_TTL_MS: "6000" });
  assert.equal(config.replicateLeaseTtlMs, 6000);
  assert.equal((await resolveConfig({}, {})).replicateLeaseTtlMs, undefined);
  await refused(
    resolveConfig({ config: file("lease.yaml", "replicateLeaseTtlMs: 50\n") }, {}),
    /config key replicateLeaseTtlMs \(from config file .*\): must be at least 100, got 50$/,
  );
  await refused(
    resolveConfig({}, { STATEBASE_REPLICATE_LEASE_TTL_MS: "3s" }),
    /replicateLeaseTtlMs \(from environment variable STATEBASE_REPLICATE_LEASE_TTL_MS\)/,
  );
});

test("replicateReplicas (1, 3 or 5) and replicateMonitorUrl are read and checked", async () => {
  const env = {
    STATEBASE_REPLICATE_REPLICAS: "3",
    STATEBASE_REPLICATE_MONITOR_URL: "http://10.0.0.5:8222",
  };
  const config = await resolveConfig({ replicate: "nats://10.0.0.5:4222" }, env);
  assert.equal(config.replicateReplicas, 3);
  assert.equal(config.replicateMonitorUrl, "http://10.0.0.5:8222");
  assert.equal((await resolveConfig({}, {})).replicateReplicas, undefined);
  await refused(
    resolveConfig({ config: file("r2.yaml", "replicateReplicas: 2\n") }, {}),
    /config key replicateReplicas \(from config file .*\): must be 1, 3 or 5, got 2$/,
  );
  await refused(
    resolveConfig({}, { STATEBASE_REPLICATE_MONITOR_URL: "10.0.0.5:8222" }),
    /replicateMonitorUrl \(from environment variable STATEBASE_REPLICATE_MONITOR_URL\): must be/,
  );
});

test("checkFiles: a module or TLS file that cannot be read names its key and source", async () => {
  const pem = file("cert.pem", "not checked here: tls.ts reads it");
  const missing = join(dir, "no-such.pem");
  const env = { STATEBASE_TLS_CERT: pem, STATEBASE_TLS_KEY: missing };
  const checkFiles = { checkFiles: true };
  await refused(
    resolveConfig({}, env, checkFiles),
    new RegExp(
      `^config key tls\\.key \\(from environment variable STATEBASE_TLS_KEY\\): ` +
        `cannot read ${missing} \\(ENOENT\\)$`,
    ),
  );
  await refused(
    resolveConfig({ module: join(dir, "app.js") }, {}, checkFiles),
    /^config key module \(from flag --module\): cannot read .*app\.js \(ENOENT\)$/,
  );
  const readable = { ...env, STATEBASE_TLS_KEY: pem };
  assert.equal((await resolveConfig({}, readable, checkFiles)).tls?.key, pem);
});
