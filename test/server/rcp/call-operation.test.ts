/**
 * Goal: CALL on a read-only server (a follower's RCP port) runs the procedures that declare
 * themselves reads (`role: "read"`, the declaration that already lets a read token call them)
 * and refuses every other one with READ_ONLY_MODE before it runs.
 * Method: an in-process read-only server over a database holding one row; a read procedure
 * answers from it, a write procedure (declared or by default) is refused and changes nothing.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startTestRcp } from "../../support/rcp-server.ts";
import type { TestRcp } from "../../support/rcp-server.ts";

let rcp: TestRcp;

before(async () => {
  rcp = await startTestRcp({
    server: {
      readOnly: true,
      procedureRoles: new Map([
        ["peek", "read"],
        ["bump", "write"],
      ]),
    },
  });
  await rcp.db.admin("create namespace c; create table c::kv { k: int4, v: int4 }");
  await rcp.db.command("insert c::kv [{ k: 1, v: 10 }]");
  rcp.db.defineProcedure("peek", {
    params: { k: "int4" },
    run: (tx, { k }) => tx.table("c::kv").get(k) ?? null,
  });
  for (const name of ["bump", "undeclared"]) {
    rcp.db.defineProcedure(name, {
      params: {},
      run: (tx) => tx.table("c::kv").update(1, { v: 11 }),
    });
  }
});

after(async () => {
  await rcp.stop();
});

test("a read-only server runs a procedure declared read, and refuses the others", async () => {
  const client = await rcp.connect();
  assert.deepEqual(await client.ok("CALL", { name: "peek", args: { k: 1 } }), {
    result: { k: 1, v: 10 },
  });
  const seq = rcp.db.seq;
  for (const name of ["bump", "undeclared"]) {
    assert.deepEqual(await client.fail("CALL", { name, args: {} }), {
      code: "READ_ONLY_MODE",
      message: `server is in read-only mode: procedure ${name} is not declared role read`,
      retryable: false,
    });
  }
  assert.equal(rcp.db.seq, seq, "nothing was written");
});
