/**
 * Goal: every error code path of specs/rcp.md §2.5 that Statebase can produce answers with
 * the right code, rstmdb's message pattern and `retryable` (decision 3: only rstmdb's codes
 * plus READ_ONLY_MODE; invalid definitions and guards are BAD_REQUEST).
 * Method: one in-process server per configuration, each error provoked through the wire.
 * WAL_IO_ERROR and INTERNAL_ERROR need a failing disk or a bug; their mapping is checked
 * through toWireError directly.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DbError } from "../../../src/lib/errors.ts";
import { wireErrorCodes } from "../../../src/protocol/index.ts";
import { toWireError } from "../../../src/server/rcp/failure.ts";
import { orderMachine, startTestRcp } from "../../support/rcp-server.ts";
import type { TestRcp } from "../../support/rcp-server.ts";
import { frame } from "../../support/rcp-wire.ts";
import type { WireClient } from "../../support/rcp-wire.ts";

let rcp: TestRcp;
let client: WireClient;

before(async () => {
  rcp = await startTestRcp({ open: { machines: { versionsMax: 2 } } });
  client = await rcp.connect();
  await client.ok("PUT_MACHINE", { machine: "order", version: 1, definition: orderMachine });
  await client.ok("CREATE_INSTANCE", { machine: "order", version: 1, instance_id: "i-1" });
});

after(async () => {
  await rcp.stop();
});

/** Checks that the error is well-formed, then returns [code, message]. */
async function failure(op: string, params: unknown): Promise<[string, string]> {
  const error = await client.fail(op, params);
  assert.ok((wireErrorCodes as readonly string[]).includes(error.code), error.code);
  const retryable = ["WAL_IO_ERROR", "INTERNAL_ERROR", "RATE_LIMITED"].includes(error.code);
  assert.equal(error.retryable, retryable);
  return [error.code, error.message];
}

test("machine errors: codes and rstmdb's `core error:` messages", async () => {
  const changed = { ...orderMachine, states: [...orderMachine.states, "x"] };
  assert.deepEqual(await failure("GET_MACHINE", { machine: "order", version: 9 }), [
    "MACHINE_NOT_FOUND",
    "core error: machine version not found: order v9",
  ]);
  assert.deepEqual(
    await failure("CREATE_INSTANCE", { machine: "nope", version: 1, instance_id: "z" }),
    ["MACHINE_NOT_FOUND", "core error: machine version not found: nope v1"],
  );
  assert.deepEqual(
    await failure("PUT_MACHINE", { machine: "order", version: 1, definition: changed }),
    ["MACHINE_VERSION_EXISTS", "core error: machine version already exists: order v1"],
  );
  await client.ok("PUT_MACHINE", { machine: "order", version: 2, definition: orderMachine });
  const [limitCode, limitMessage] = await failure("PUT_MACHINE", {
    machine: "order",
    version: 3,
    definition: orderMachine,
  });
  assert.equal(limitCode, "MACHINE_VERSION_LIMIT_EXCEEDED");
  assert.match(limitMessage, /^machine version limit exceeded: machine 'order' already has 2/);
});

test("instance errors and transitions", async () => {
  assert.deepEqual(await failure("GET_INSTANCE", { instance_id: "missing" }), [
    "INSTANCE_NOT_FOUND",
    "core error: instance not found: missing",
  ]);
  assert.deepEqual(
    await failure("CREATE_INSTANCE", { machine: "order", version: 1, instance_id: "i-1" }),
    ["INSTANCE_EXISTS", "core error: instance already exists: i-1"],
  );
  assert.deepEqual(await failure("APPLY_EVENT", { instance_id: "i-1", event: "SHIP" }), [
    "INVALID_TRANSITION",
    "core error: invalid transition: cannot apply 'SHIP' in state 'created'",
  ]);
  await client.ok("APPLY_EVENT", { instance_id: "i-1", event: "PAY" });
  assert.deepEqual(await failure("APPLY_EVENT", { instance_id: "i-1", event: "SHIP" }), [
    "GUARD_FAILED",
    "core error: guard failed: guard failed for transition 'paid' -> 'shipped' on event 'SHIP'",
  ]);
  assert.deepEqual(
    await failure("APPLY_EVENT", { instance_id: "i-1", event: "SHIP", expected_state: "x" }),
    ["CONFLICT", "core error: state conflict: expected 'x', actual 'paid'"],
  );
});

test("decision 3: invalid definitions and guards are BAD_REQUEST, not INTERNAL_ERROR", async () => {
  const badInitial = { states: ["a"], initial: "c", transitions: [] };
  const [code, message] = await failure("PUT_MACHINE", {
    machine: "bad",
    version: 1,
    definition: badInitial,
  });
  assert.equal(code, "BAD_REQUEST");
  assert.match(message, /^core error: invalid machine definition: .*'c'/);
  const badGuard = {
    states: ["a", "b"],
    initial: "a",
    transitions: [{ from: "a", event: "E", to: "b", guard: "ctx.a >" }],
  };
  const [guardCode] = await failure("PUT_MACHINE", {
    machine: "bad",
    version: 1,
    definition: badGuard,
  });
  assert.equal(guardCode, "BAD_REQUEST");
  const [missingCode, missingMessage] = await failure("PUT_MACHINE", {
    machine: "bad",
    version: 1,
  });
  assert.deepEqual(
    [missingCode, missingMessage],
    ["BAD_REQUEST", "invalid request: missing field `definition`"],
  );
});

test("JSON nested 200,000 deep is BAD_REQUEST wherever it is; the server goes on", async () => {
  // Deep effects in a definition overflowed the stack of the code compiling them:
  // INTERNAL_ERROR, retryable, for the client's input. Built as text: JSON.stringify recurses.
  const deep = `${"[".repeat(200_000)}${"]".repeat(200_000)}`;
  const effect = `{"table": "s::t", "insert": ${deep}}`;
  const transition = `{"from": "a", "event": "E", "to": "a", "effects": [${effect}]}`;
  const definition = `{"states": ["a"], "initial": "a", "transitions": [${transition}]}`;
  await client.ok("CREATE_INSTANCE", { machine: "order", version: 1, instance_id: "deep" });
  const metaDefinition = `{"states": ["a"], "initial": "a", "transitions": [], "meta": ${deep}}`;
  const deepEvent = `{"instance_id": "deep", "event": "PAY", "payload": {"x": ${deep}}}`;
  const requests: Array<[string, string, RegExp]> = [
    ["PUT_MACHINE", `{"machine": "d", "version": 1, "definition": ${definition}}`, /effects\[0\]/],
    ["PUT_MACHINE", `{"machine": "d", "version": 1, "definition": ${metaDefinition}}`, /meta/],
    ["APPLY_EVENT", deepEvent, /64/],
    ["APPLY_EVENT", `{"instance_id": "deep", "event": "PAY", "payload": ${deep}}`, /64/],
    ["CREATE_INSTANCE", `{"machine": "order", "version": 1, "initial_ctx": {"x": ${deep}}}`, /64/],
    ["BATCH", `{"mode": "atomic", "ops": [{"op": "APPLY_EVENT", "params": ${deepEvent}}]}`, /64/],
  ];
  for (const [index, [op, params, message]] of requests.entries()) {
    const id = `deep-${index}`;
    client.sendRaw(frame(`{"type": "request", "id": "${id}", "op": "${op}", "params": ${params}}`));
    const response = await client.waitFor((m) => m.id === id);
    const error = response.error as { code: string; message: string; retryable: boolean };
    assert.deepEqual([error.code, error.retryable], ["BAD_REQUEST", false], error.message);
    assert.match(error.message, message);
  }
  assert.deepEqual(await client.ok("PING"), { pong: true });
});

test("param errors read like serde's", async () => {
  assert.deepEqual(await failure("GET_MACHINE", { version: 1 }), [
    "BAD_REQUEST",
    "invalid request: missing field `machine`",
  ]);
  assert.deepEqual(await failure("GET_MACHINE", { machine: "order", version: 1.0001 }), [
    "BAD_REQUEST",
    "invalid request: invalid type: floating point `1.0001`, expected u32 for `version`",
  ]);
  assert.deepEqual(await failure("GET_MACHINE", { machine: "order", version: -1 }), [
    "BAD_REQUEST",
    "invalid request: invalid value: integer `-1`, expected u32 for `version`",
  ]);
  // Offsets from 2^53 to 2^64 said "expected u64", which they are: name the range taken.
  const range = "expected u64 from 0 to 9007199254740991 (2^53 - 1)";
  const offsets: Array<[string, Record<string, unknown>, string]> = [
    ["WAL_READ", { from_offset: 2 ** 53 }, "from_offset"],
    ["WAL_READ", { from_offset: 1, limit: 2 ** 63 }, "limit"],
    ["WATCH_ALL", { from_offset: 2 ** 64 - 1 }, "from_offset"],
    [
      "APPLY_EVENT",
      { instance_id: "i-1", event: "E", expected_wal_offset: -1 },
      "expected_wal_offset",
    ],
  ];
  for (const [op, params, field] of offsets) {
    const value = String(params[field]);
    assert.deepEqual(await failure(op, params), [
      "BAD_REQUEST",
      `invalid request: invalid value: integer \`${value}\`, ${range} for \`${field}\``,
    ]);
  }
  // A list with one wrong item said "invalid type: sequence, expected a sequence of strings".
  assert.deepEqual(await failure("WATCH_ALL", { machines: ["order", 5] }), [
    "BAD_REQUEST",
    "invalid request: invalid type: integer `5`, expected a string for `machines[1]`",
  ]);
  assert.deepEqual(await failure("WATCH_ALL", { events: "PAY" }), [
    "BAD_REQUEST",
    'invalid request: invalid type: string "PAY", expected a sequence of strings for `events`',
  ]);
  assert.deepEqual(await failure("HELLO", "x"), [
    "BAD_REQUEST",
    'invalid request: invalid type: string "x", expected struct HelloParams',
  ]);
  assert.deepEqual(await failure("CALL", { name: "nope" }), [
    "NOT_FOUND",
    'unknown procedure "nope"',
  ]);
});

test("an answer larger than a frame is BAD_REQUEST; the connection and server go on", async () => {
  // A BATCH of two reads of a 9 MiB context failed an assertion: the server exited.
  const big = "x".repeat(9 * 1024 * 1024);
  rcp.db.machines.createInstance({
    machine: "order",
    version: 1,
    instance_id: "big",
    initial_ctx: { big },
  });
  const read = { op: "GET_INSTANCE", params: { instance_id: "big" } };
  for (const jsonLines of [false, true]) {
    const c = await rcp.connect({ jsonLines });
    assert.equal((await c.ok("GET_INSTANCE", { instance_id: "big" })).ctx.big, big);
    const error = await c.fail("BATCH", { ops: [read, read] });
    assert.equal(error.code, "BAD_REQUEST");
    assert.match(
      error.message,
      /^invalid request: the answer is 18874\d{3} bytes, over the frame limit of 16777216 bytes/,
    );
    assert.deepEqual(await c.ok("PING"), { pong: true });
    await c.close();
  }
});

test("READ_ONLY_MODE for writes on a read-only server; reads still work", async () => {
  const readOnly = await startTestRcp({ server: { readOnly: true } });
  try {
    const c = await readOnly.connect();
    for (const op of [
      "PUT_MACHINE",
      "CREATE_INSTANCE",
      "APPLY_EVENT",
      "DELETE_INSTANCE",
      "COMPACT",
    ]) {
      const error = await c.fail(op, {});
      assert.deepEqual(error, {
        code: "READ_ONLY_MODE",
        message: "server is in read-only mode",
        retryable: false,
      });
    }
    assert.deepEqual(await c.ok("LIST_MACHINES"), { items: [] });
  } finally {
    await readOnly.stop();
  }
});

test("RATE_LIMITED: over the connection limit, one error frame, then close (dec. 13)", async () => {
  const limited = await startTestRcp({ server: { limits: { connectionsMax: 1 } } });
  try {
    const first = await limited.connect();
    assert.equal((await first.call("PING")).status, "ok");
    const second = await limited.connect();
    await second.closed;
    assert.equal(second.messages.length, 1);
    assert.deepEqual(second.messages[0], {
      type: "response",
      id: "",
      status: "error",
      error: { code: "RATE_LIMITED", message: "too many connections (limit 1)", retryable: true },
    });
    assert.equal((await first.call("PING")).status, "ok");
  } finally {
    await limited.stop();
  }
});

test("toWireError: IO is WAL_IO_ERROR, anything unexpected INTERNAL_ERROR, both retryable", () => {
  assert.deepEqual(toWireError(new DbError("IO_ERROR", "fsync failed")), {
    code: "WAL_IO_ERROR",
    message: "core error: WAL error: fsync failed",
    retryable: true,
  });
  assert.deepEqual(toWireError(new TypeError("boom")), {
    code: "INTERNAL_ERROR",
    message: "internal error: boom",
    retryable: true,
  });
  assert.equal(toWireError(new DbError("STATE_CONFLICT", "x")).code, "CONFLICT");
  assert.equal(toWireError(new DbError("IDEMPOTENCY_MISMATCH", "k")).code, "BAD_REQUEST");
  assert.equal(toWireError(new DbError("UNKNOWN_PROCEDURE", "p")).code, "NOT_FOUND");
  assert.equal(toWireError(new DbError("READ_ONLY", "r")).code, "READ_ONLY_MODE");
});
