/**
 * Goal: `statebase query` and `statebase call` reach a server over HTTPS with the RCP
 * commands' TLS options (`--ca-cert`, `--server-name`, `-k/--insecure`, `--client-cert`,
 * `--client-key`) and their RSTMDB_* variables: same names, same meaning, a flag over its
 * variable; any of them implies TLS.
 * Method: a real `statebase serve` with a certificate from a throwaway CA
 * (test/support/tls-certs.ts); the commander program runs in-process with captured output.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createProgram } from "../../src/cli/main.ts";
import { hashToken } from "../../src/server/auth.ts";
import { cli } from "../support/cli.ts";
import { startServer } from "../support/server-process.ts";
import type { ServerProcess } from "../support/server-process.ts";
import { makeTestCerts } from "../support/tls-certs.ts";
import type { TestCerts } from "../support/tls-certs.ts";

let server: ServerProcess;
let certs: TestCerts;
let http: string;

before(async () => {
  certs = makeTestCerts();
  server = await startServer({
    args: ["--durability", "memory", "--rcp", "off"],
    env: { STATEBASE_TLS_CERT: certs.serverCert, STATEBASE_TLS_KEY: certs.serverKey },
  });
  http = `127.0.0.1:${server.http.port}`;
});

after(async () => {
  await server.stop();
  certs.remove();
});

const rql = "from [{ answer: 42 }]";

test("query --ca-cert trusts a private CA and implies TLS", async () => {
  const result = await cli("query", rql, "--http", http, "--ca-cert", certs.caCert, "--json");
  assert.deepEqual(result, { out: ['{"frames":[[{"answer":42}]]}'], err: [], code: 0 });
});

test("query --tls without the CA is refused naming --ca-cert and -k", async () => {
  const result = await cli("query", rql, "--http", http, "--tls");
  assert.equal(result.code, 1);
  assert.equal(result.err.length, 1);
  assert.match(result.err[0]!, /certificate/);
  assert.match(result.err[0]!, /--ca-cert/);
  assert.deepEqual(result.out, []);
});

test("query -k accepts any certificate; --server-name is checked against it", async () => {
  const insecure = await cli("query", rql, "--http", http, "-k", "--json");
  assert.deepEqual(insecure.out, ['{"frames":[[{"answer":42}]]}']);
  const named = ["--ca-cert", certs.caCert, "--server-name"];
  const localhost = await cli("query", rql, "--http", http, ...named, "localhost", "--json");
  assert.deepEqual(localhost.out, ['{"frames":[[{"answer":42}]]}']);
  const wrong = await cli("query", rql, "--http", http, ...named, "elsewhere.example");
  assert.equal(wrong.code, 1);
  assert.match(wrong.err[0]!, /elsewhere\.example/);
});

test("call takes the same TLS options", async () => {
  const result = await cli("call", "no_such_proc", "--http", http, "--ca-cert", certs.caCert);
  assert.equal(result.code, 2);
  assert.match(result.err[0]!, /no_such_proc/);
});

test("a TLS file that cannot be read, or a lone --client-cert, is a usage error", async () => {
  await assert.rejects(cli("query", rql, "--http", http, "--ca-cert", "/nonexistent/ca.crt"), {
    name: "UsageError",
    message: "--ca-cert: cannot read /nonexistent/ca.crt (ENOENT)",
  });
  await assert.rejects(cli("call", "p", "--http", http, "--client-cert", certs.clientCert), {
    name: "UsageError",
    message: "--client-cert and --client-key go together",
  });
});

/** Runs `fn` with these RSTMDB_* variables set, then restores the environment. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.keys(vars).map((name) => [name, process.env[name]] as const);
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

test("query and call read the RCP commands' RSTMDB_* TLS variables", async () => {
  // RSTMDB_CA_CERT alone implies TLS, as for the RCP commands.
  const viaCa = await withEnv({ RSTMDB_CA_CERT: certs.caCert }, () =>
    cli("query", rql, "--http", http, "--json"),
  );
  assert.deepEqual(viaCa, { out: ['{"frames":[[{"answer":42}]]}'], err: [], code: 0 });
  const called = await withEnv({ RSTMDB_CA_CERT: certs.caCert }, () =>
    cli("call", "no_such_proc", "--http", http),
  );
  assert.equal(called.code, 2, called.err.join("\n"));
  // RSTMDB_TLS=1 asks for TLS without a CA: the server's certificate is refused.
  const untrusted = await withEnv({ RSTMDB_TLS: "1" }, () => cli("query", rql, "--http", http));
  assert.equal(untrusted.code, 1);
  assert.match(untrusted.err[0]!, /--ca-cert/);
  await withEnv({ RSTMDB_TLS: "maybe" }, () =>
    assert.rejects(cli("query", rql, "--http", http), {
      name: "UsageError",
      message: 'RSTMDB_TLS must be true or false (or 1, 0), got "maybe"',
    }),
  );
  await withEnv({ RSTMDB_CLIENT_CERT: certs.clientCert }, () =>
    assert.rejects(cli("query", rql, "--http", http), {
      message: "--client-cert and --client-key go together",
    }),
  );
});

test("a TLS flag wins over its RSTMDB_* variable", async () => {
  const vars = { RSTMDB_CA_CERT: "/nonexistent/ca.crt", RSTMDB_TLS: "0" };
  const result = await withEnv(vars, () =>
    cli("query", rql, "--http", http, "--ca-cert", certs.caCert, "--json"),
  );
  assert.deepEqual(result.out, ['{"frames":[[{"answer":42}]]}']);
  // Without the flag the variable is used: the error names it.
  await withEnv(vars, () =>
    assert.rejects(cli("query", rql, "--http", http), {
      message: "RSTMDB_CA_CERT: cannot read /nonexistent/ca.crt (ENOENT)",
    }),
  );
});

test("query and call read $RSTMDB_TOKEN or $STATEBASE_TOKEN, as the RCP commands do", async (t) => {
  const secured = await startServer({
    args: ["--durability", "memory", "--rcp", "off"],
    env: { STATEBASE_TOKENS: `${hashToken("s3cret")}:read` },
  });
  t.after(() => secured.stop());
  const at = `127.0.0.1:${secured.http.port}`;
  const refused = await cli("query", rql, "--http", at);
  assert.equal(refused.code, 2, "no token: the server's 401 is the caller's mistake");
  for (const name of ["RSTMDB_TOKEN", "STATEBASE_TOKEN"]) {
    const result = await withEnv({ [name]: "s3cret" }, () => cli("query", rql, "--http", at));
    assert.equal(result.code, 0, `${name}: ${result.err.join("\n")}`);
    const called = await withEnv({ [name]: "s3cret" }, () => cli("call", "nope", "--http", at));
    assert.match(called.err.join("\n"), /nope/, `${name}: call is authenticated too`);
  }
  // The flag wins over the variables, as for the RCP commands.
  const flagWins = await withEnv({ RSTMDB_TOKEN: "wrong" }, () =>
    cli("query", rql, "--http", at, "--token", "s3cret"),
  );
  assert.equal(flagWins.code, 0, flagWins.err.join("\n"));
});

test("query and call --help list the TLS options", () => {
  for (const command of ["query", "call"]) {
    const program = createProgram({
      line: () => Promise.resolve(),
      warn: () => undefined,
      progress: () => undefined,
      exitCode: 0,
    });
    const help = program.commands.find((c) => c.name() === command)!.helpInformation();
    for (const flag of ["--ca-cert <file>", "--server-name <name>", "-k, --insecure"]) {
      assert.ok(help.includes(flag), `${command} --help lacks ${flag}:\n${help}`);
    }
  }
});

test("--params (one parser with --args) keeps integers beyond 2^53 exact, as digits", async () => {
  // JSON.parse rounded 9007199254740993 to ...992: the wrong row was written and read.
  const tls = ["--http", http, "--ca-cert", certs.caCert];
  const ddl =
    "create namespace wide; create table wide::t { id: int8 } with { primary_key: { id } }";
  const made = await cli("query", ddl, ...tls, "--entry", "admin");
  assert.deepEqual(made.err, []);
  const insert = "insert wide::t [{ id: $id }]";
  const params = ["--params", '{"id": 9007199254740993}'];
  const inserted = await cli("query", insert, ...tls, "--entry", "command", ...params);
  assert.deepEqual(inserted.err, []);
  const read = await cli(
    "query",
    "from wide::t filter { id == $1 }",
    ...tls,
    "--json",
    "--params",
    "[9007199254740993]",
  );
  assert.deepEqual(read, { out: ['{"frames":[[{"id":"9007199254740993"}]]}'], err: [], code: 0 });
});

test("--params with a number past float8's range is a usage error, not null", async () => {
  await assert.rejects(
    cli("query", "from [{ a: $x }]", "--http", http, "--params", '{"x": 1e999}'),
    {
      code: "commander.invalidArgument",
    },
  );
});
