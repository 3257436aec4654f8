/**
 * Goal: BATCH as specs/rcp.md §2.6 and decision 9 describe: best_effort runs each op and
 * reports each outcome; atomic is one transaction, so one failing op applies nothing; the
 * op limit, unknown ops and malformed items fail the whole batch.
 * Method: batches over a real socket to an in-process server; the database's seq and the
 * instances' states prove what was (not) applied.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { orderMachine, startTestRcp } from "../../support/rcp-server.ts";
import type { TestRcp } from "../../support/rcp-server.ts";
import type { WireClient } from "../../support/rcp-wire.ts";

let rcp: TestRcp;
let client: WireClient;

before(async () => {
  rcp = await startTestRcp({ server: { limits: { batchOpsMax: 5 } } });
  client = await rcp.connect();
  await client.ok("PUT_MACHINE", { machine: "order", version: 1, definition: orderMachine });
});

after(async () => {
  await rcp.stop();
});

const create = (id: string) => ({
  op: "CREATE_INSTANCE",
  params: { machine: "order", version: 1, instance_id: id },
});
const pay = (id: string) => ({ op: "APPLY_EVENT", params: { instance_id: id, event: "PAY" } });

test("best_effort (the default): each op's outcome; failures do not stop the rest", async () => {
  const result = await client.ok("BATCH", {
    ops: [create("b-1"), pay("missing"), pay("b-1"), { op: "PING" }],
  });
  assert.deepEqual(
    result.results.map((r: { status: string }) => r.status),
    ["ok", "error", "ok", "ok"],
  );
  assert.deepEqual(result.results[1], {
    status: "error",
    result: null,
    error: {
      code: "INSTANCE_NOT_FOUND",
      message: "core error: instance not found: missing",
      retryable: false,
    },
  });
  assert.equal(result.results[0].error, null);
  assert.equal((await client.ok("GET_INSTANCE", { instance_id: "b-1" })).state, "paid");
  const modeless = await client.ok("BATCH", { mode: "whatever", ops: [create("b-2")] });
  assert.equal(modeless.results[0].status, "ok", "an unknown mode is best_effort");
});

test("atomic: all ops in one transaction with one commit", async () => {
  const seq = rcp.db.seq;
  const result = await client.ok("BATCH", { mode: "atomic", ops: [create("a-1"), pay("a-1")] });
  assert.deepEqual(
    result.results.map((r: { status: string }) => r.status),
    ["ok", "ok"],
  );
  assert.equal(rcp.db.seq, seq + 1, "one commit");
  assert.equal(result.results[1].result.wal_offset, seq + 1);
});

test("atomic: a failing op rolls back every earlier op (decision 9)", async () => {
  const seq = rcp.db.seq;
  const error = await client.fail("BATCH", {
    mode: "atomic",
    ops: [
      create("r-1"),
      pay("r-1"),
      { op: "APPLY_EVENT", params: { instance_id: "r-1", event: "SHIP" } },
    ],
  });
  assert.equal(error.code, "BAD_REQUEST");
  assert.match(
    error.message,
    /^invalid request: atomic batch failed: op 2 \(APPLY_EVENT\): GUARD_FAILED: core error: guard/,
  );
  assert.equal(error.details.failed_index, 2);
  assert.equal(rcp.db.seq, seq, "nothing committed");
  assert.equal(
    (await client.fail("GET_INSTANCE", { instance_id: "r-1" })).code,
    "INSTANCE_NOT_FOUND",
  );
  const async = await client.fail("BATCH", {
    mode: "atomic",
    ops: [create("r-2"), { op: "WAL_STATS" }],
  });
  assert.match(async.message, /op 1 \(WAL_STATS\) cannot run in a transaction/);
  assert.equal(rcp.db.seq, seq);
});

test("the whole batch fails: too many ops, unknown op, missing op or ops; no nesting", async () => {
  const seq = rcp.db.seq;
  const cases: Array<[unknown, string]> = [
    [
      { ops: Array.from({ length: 6 }, () => ({ op: "PING" })) },
      "invalid request: batch too large: 6 ops (limit 5)",
    ],
    [{ ops: [create("u-1"), { op: "NOPE" }] }, "invalid request: unknown operation: NOPE"],
    [{ ops: [create("u-1"), { params: {} }] }, "invalid request: batch op 1: missing field `op`"],
    [{}, "invalid request: missing ops"],
  ];
  for (const [params, message] of cases) {
    const error = await client.fail("BATCH", params);
    assert.deepEqual([error.code, error.message], ["BAD_REQUEST", message]);
  }
  assert.equal(rcp.db.seq, seq, "nothing ran");
  const nested = await client.ok("BATCH", { ops: [{ op: "BATCH", params: { ops: [] } }] });
  assert.equal(
    nested.results[0].error.message,
    "invalid request: BATCH cannot be nested in a BATCH",
  );
  const bye = await client.ok("BATCH", { ops: [{ op: "BYE" }] });
  assert.deepEqual(bye.results[0].result, { goodbye: true });
  assert.equal((await client.call("PING")).status, "ok", "BYE inside a batch does not close");
});

test("a HELLO in a failed atomic batch is taken back: the output stays binary", async () => {
  const own = await rcp.connect();
  const hello = { op: "HELLO", params: { protocol_version: 1, wire_modes: ["jsonl"] } };
  const error = await own.fail("BATCH", { mode: "atomic", ops: [hello, pay("missing")] });
  assert.equal(error.code, "BAD_REQUEST");
  assert.deepEqual(await own.ok("PING"), { pong: true });
  assert.deepEqual(own.flags, [1, 1], "both answers are frames");
});

test("an UNWATCH in a failed atomic batch is taken back: the subscription goes on", async () => {
  const own = await rcp.connect();
  await own.ok("CREATE_INSTANCE", { machine: "order", version: 1, instance_id: "w-1" });
  const { subscription_id } = await own.ok("WATCH_INSTANCE", { instance_id: "w-1" });
  const unwatch = { op: "UNWATCH", params: { subscription_id } };
  const error = await own.fail("BATCH", { mode: "atomic", ops: [unwatch, pay("missing")] });
  assert.equal(error.code, "BAD_REQUEST");
  await own.ok("APPLY_EVENT", { instance_id: "w-1", event: "PAY" });
  assert.equal((await own.waitForEvents(subscription_id, 1))[0]!.to_state, "paid");
  const done = await own.ok("BATCH", { mode: "atomic", ops: [unwatch, unwatch] });
  assert.deepEqual(
    done.results.map((r: { result: { removed: boolean } }) => r.result.removed),
    [true, false],
  );
  assert.deepEqual((await own.ok("UNWATCH", { subscription_id })).removed, false);
});
