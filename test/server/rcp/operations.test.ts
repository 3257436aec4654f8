/**
 * Goal: every RCP operation of specs/rcp.md §2.6 answers with rstmdb's result shape and
 * field names, plus the Statebase decisions about results (4, 5, 6, 8, 11, 12, 15).
 * Method: an in-process server on a real socket (ephemeral port) and the black-box client
 * of test/support/rcp-wire.ts; each test drives one operation family end to end.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { orderMachine, startTestRcp } from "../../support/rcp-server.ts";
import type { TestRcp } from "../../support/rcp-server.ts";
import type { WireClient } from "../../support/rcp-wire.ts";

let rcp: TestRcp;
let client: WireClient;

before(async () => {
  rcp = await startTestRcp();
  client = await rcp.connect();
});

after(async () => {
  await rcp.stop();
});

const packageVersion = "0.1.0";

test("HELLO, PING, INFO: protocol 1, statebase's name and version (decision 15)", async () => {
  const hello = await client.ok("HELLO", {
    protocol_version: 1,
    client_name: "t",
    wire_modes: ["binary_json"],
    features: ["batch", "wal_read", "nope"],
  });
  assert.deepEqual(hello, {
    protocol_version: 1,
    wire_mode: "binary_json",
    server_name: "statebase",
    server_version: packageVersion,
    features: ["batch", "wal_read"],
  });
  assert.deepEqual(await client.ok("PING"), { pong: true });
  const info = await client.ok("INFO", "anything: params are ignored");
  assert.equal(info.server_name, "statebase");
  assert.equal(info.protocol_version, 1);
  assert.equal(info.max_frame_bytes, 16_777_216);
  assert.equal(info.max_batch_ops, 100);
  for (const feature of ["idempotency", "batch", "wal_read"]) {
    assert.ok(info.features.includes(feature));
  }
  assert.equal(info.replication, undefined, "a local log reports no replication");
  assert.deepEqual(await client.ok("REPLICATION_STATUS"), { role: "standalone" });
  const bad = await client.fail("HELLO", { protocol_version: 2 });
  assert.deepEqual(bad, {
    code: "BAD_REQUEST",
    message: "invalid request: unsupported protocol version: 2",
    retryable: false,
  });
});

test("PUT_MACHINE / GET_MACHINE / LIST_MACHINES with rstmdb's checksum (decision 8)", async () => {
  const simple = {
    states: ["created", "paid"],
    initial: "created",
    transitions: [{ from: "created", event: "PAY", to: "paid" }],
    ignored: true,
  };
  const put = await client.ok("PUT_MACHINE", { machine: "m1", version: 1, definition: simple });
  assert.deepEqual(put, { machine: "m1", version: 1, stored_checksum: "26adbd14", created: true });
  const again = await client.ok("PUT_MACHINE", {
    machine: "m1",
    version: 1,
    definition: simple,
    checksum: "ignored",
  });
  assert.equal(again.created, false);
  const order = await client.ok("PUT_MACHINE", {
    machine: "order",
    version: 1,
    definition: orderMachine,
  });
  assert.equal(order.stored_checksum, "eef67bea");
  await client.ok("PUT_MACHINE", { machine: "m1", version: 2, definition: simple });
  const got = await client.ok("GET_MACHINE", { machine: "m1", version: 1 });
  assert.deepEqual(got, {
    definition: {
      states: ["created", "paid"],
      initial: "created",
      transitions: [{ from: ["created"], event: "PAY", to: "paid" }],
    },
    checksum: "26adbd14",
  });
  const list = await client.ok("LIST_MACHINES");
  const m1 = list.items.find((item: { machine: string }) => item.machine === "m1");
  assert.deepEqual(m1, { machine: "m1", versions: [1, 2] });
  const names = list.items.map((item: { machine: string }) => item.machine);
  assert.deepEqual(names, [...names].sort());
});

test("CREATE_INSTANCE / GET_INSTANCE: ctx defaults to {} (decision 5)", async () => {
  const created = await client.ok("CREATE_INSTANCE", {
    machine: "order",
    version: 1,
    instance_id: "o-1",
  });
  assert.deepEqual(Object.keys(created).sort(), ["instance_id", "state", "wal_offset"]);
  assert.equal(created.state, "created");
  assert.equal(created.wal_offset, rcp.db.seq);
  const got = await client.ok("GET_INSTANCE", { instance_id: "o-1" });
  assert.deepEqual(got, {
    machine: "order",
    version: 1,
    state: "created",
    ctx: {},
    last_wal_offset: created.wal_offset,
  });
  const generated = await client.ok("CREATE_INSTANCE", { machine: "order", version: 1 });
  assert.match(
    generated.instance_id,
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  const notObject = await client.fail("CREATE_INSTANCE", {
    machine: "order",
    version: 1,
    initial_ctx: [1],
  });
  assert.equal(notObject.code, "BAD_REQUEST");
  // Payload merging works on a defaulted ctx (rstmdb's null ctx would ignore the payload).
  const applied = await client.ok("APPLY_EVENT", {
    instance_id: "o-1",
    event: "PAY",
    payload: { ready: true },
  });
  assert.deepEqual(applied.ctx, { ready: true });
});

test("APPLY_EVENT: result shape, expected_state/expected_wal_offset, event_id", async () => {
  await client.ok("CREATE_INSTANCE", {
    machine: "order",
    version: 1,
    instance_id: "o-2",
    initial_ctx: { n: 1 },
  });
  const conflict = await client.fail("APPLY_EVENT", {
    instance_id: "o-2",
    event: "PAY",
    expected_state: "paid",
  });
  assert.deepEqual(conflict, {
    code: "CONFLICT",
    message: "core error: state conflict: expected 'paid', actual 'created'",
    retryable: false,
  });
  const offset = (await client.ok("GET_INSTANCE", { instance_id: "o-2" })).last_wal_offset;
  const stale = await client.fail("APPLY_EVENT", {
    instance_id: "o-2",
    event: "PAY",
    expected_wal_offset: Number(offset) + 100,
  });
  assert.equal(stale.code, "CONFLICT");
  assert.match(stale.message, /^core error: WAL offset conflict: expected \d+, actual \d+$/);
  const applied = await client.ok("APPLY_EVENT", {
    instance_id: "o-2",
    event: "PAY",
    payload: { ready: true },
    expected_state: "created",
    expected_wal_offset: offset,
    event_id: "e-1",
  });
  assert.deepEqual(applied, {
    from_state: "created",
    to_state: "paid",
    ctx: { n: 1, ready: true },
    wal_offset: rcp.db.seq,
    applied: true,
    event_id: "e-1",
  });
  const got = await client.ok("GET_INSTANCE", { instance_id: "o-2" });
  assert.equal(got.last_event_id, "e-1");
  assert.equal(got.last_wal_offset, applied.wal_offset);
});

test("idempotency keys replay the original result, applied:false, no commit (dec. 6)", async () => {
  await client.ok("CREATE_INSTANCE", {
    machine: "order",
    version: 1,
    instance_id: "o-3",
    idempotency_key: "c-3",
  });
  const retryCreate = await client.ok("CREATE_INSTANCE", {
    machine: "order",
    version: 1,
    instance_id: "o-3",
    idempotency_key: "c-3",
  });
  assert.equal(retryCreate.instance_id, "o-3");
  const first = await client.ok("APPLY_EVENT", {
    instance_id: "o-3",
    event: "PAY",
    idempotency_key: "k",
  });
  const seq = rcp.db.seq;
  const retry = await client.ok("APPLY_EVENT", {
    instance_id: "o-3",
    event: "PAY",
    idempotency_key: "k",
  });
  assert.equal(rcp.db.seq, seq, "a replay commits nothing");
  assert.deepEqual(retry, { ...first, applied: false });
  const reused = await client.fail("APPLY_EVENT", {
    instance_id: "o-3",
    event: "SHIP",
    idempotency_key: "k",
  });
  assert.equal(reused.code, "BAD_REQUEST");
});

test("LIST_INSTANCES: ordered by id, filters, paging, commit timestamps (dec. 12)", async () => {
  await client.ok("PUT_MACHINE", { machine: "lst", version: 1, definition: orderMachine });
  for (const id of ["c", "a", "b", "d"]) {
    await client.ok("CREATE_INSTANCE", { machine: "lst", version: 1, instance_id: `l-${id}` });
  }
  await client.ok("APPLY_EVENT", { instance_id: "l-b", event: "PAY" });
  const all = await client.ok("LIST_INSTANCES", { machine: "lst" });
  assert.deepEqual(
    all.instances.map((i: { id: string }) => i.id),
    ["l-a", "l-b", "l-c", "l-d"],
  );
  assert.equal(all.total, 4);
  assert.equal(all.has_more, false);
  const first = all.instances[0];
  assert.deepEqual(Object.keys(first).sort(), [
    "created_at",
    "id",
    "last_wal_offset",
    "machine",
    "state",
    "updated_at",
    "version",
  ]);
  assert.ok(first.created_at > 1_600_000_000_000, "Unix milliseconds");
  const paid = await client.ok("LIST_INSTANCES", { machine: "lst", state: "paid" });
  assert.deepEqual(
    paid.instances.map((i: { id: string }) => i.id),
    ["l-b"],
  );
  const page = await client.ok("LIST_INSTANCES", { machine: "lst", limit: 2, offset: 1 });
  assert.deepEqual(
    page.instances.map((i: { id: string }) => i.id),
    ["l-b", "l-c"],
  );
  assert.equal(page.total, 4);
  assert.equal(page.has_more, true);
  // Null params are accepted (rstmdb 0.2).
  const everything = await client.call("LIST_INSTANCES", null);
  assert.equal(everything.status, "ok");
});

test("DELETE_INSTANCE: soft delete reads as not found, id reusable (decision 11)", async () => {
  await client.ok("CREATE_INSTANCE", { machine: "order", version: 1, instance_id: "del-1" });
  const deleted = await client.ok("DELETE_INSTANCE", { instance_id: "del-1" });
  assert.deepEqual(deleted, { instance_id: "del-1", deleted: true, wal_offset: rcp.db.seq });
  const again = await client.ok("DELETE_INSTANCE", { instance_id: "del-1" });
  assert.equal(again.wal_offset, deleted.wal_offset, "re-delete returns the earlier offset");
  const missing = await client.fail("GET_INSTANCE", { instance_id: "del-1" });
  assert.deepEqual(missing, {
    code: "INSTANCE_NOT_FOUND",
    message: "core error: instance not found: del-1",
    retryable: false,
  });
  assert.equal(
    (await client.fail("APPLY_EVENT", { instance_id: "del-1", event: "PAY" })).code,
    "INSTANCE_NOT_FOUND",
  );
  await client.ok("CREATE_INSTANCE", { machine: "order", version: 1, instance_id: "del-1" });
  assert.equal((await client.ok("GET_INSTANCE", { instance_id: "del-1" })).state, "created");
  const noId = await client.fail("DELETE_INSTANCE", {});
  assert.equal(noId.message, "invalid request: missing instance_id");
});

test("SNAPSHOT_INSTANCE: id, offset, size and checksum of the instance image", async () => {
  await client.ok("CREATE_INSTANCE", { machine: "order", version: 1, instance_id: "s-1" });
  const snap = await client.ok("SNAPSHOT_INSTANCE", { instance_id: "s-1" });
  assert.match(snap.snapshot_id, /^snap-[0-9a-f-]{36}$/);
  assert.equal(snap.instance_id, "s-1");
  assert.equal(
    snap.wal_offset,
    (await client.ok("GET_INSTANCE", { instance_id: "s-1" })).last_wal_offset,
  );
  assert.ok(snap.size_bytes > 0);
  assert.match(snap.checksum, /^[0-9a-f]{8}$/);
  assert.equal(
    (await client.fail("SNAPSHOT_INSTANCE", {})).message,
    "invalid request: missing instance_id",
  );
});

test("WAL_READ: offsets are seqs, rstmdb entry shapes, limit, next_offset (dec. 4)", async () => {
  rcp.db.createCounter("default::hits").add(1); // a commit that touches no machine
  const counterSeq = rcp.db.seq;
  const all = await client.ok("WAL_READ", { from_offset: 0 });
  const offsets = all.records.map((r: { offset: number }) => r.offset);
  assert.equal(offsets[0], 1);
  assert.equal(offsets.at(-1), rcp.db.seq);
  assert.equal(all.next_offset, rcp.db.seq + 1);
  for (const record of all.records) assert.equal(record.sequence, record.offset);
  const put = all.records[0].entry;
  assert.equal(put.type, "put_machine");
  assert.equal(put.definition_hash, "26adbd14");
  const counter = all.records.find((r: { offset: number }) => r.offset === counterSeq);
  assert.equal(counter.entry.type, "commit");
  const apply = all.records.find(
    (r: { entry: { type: string } }) => r.entry.type === "apply_event",
  );
  for (const key of ["instance_id", "event", "from_state", "to_state", "payload", "ctx"]) {
    assert.ok(key in apply.entry, key);
  }
  const two = await client.ok("WAL_READ", { from_offset: 3, limit: 2 });
  assert.deepEqual(
    two.records.map((r: { offset: number }) => r.offset),
    [3, 4],
  );
  assert.equal(two.next_offset, 5);
  const past = await client.ok("WAL_READ", { from_offset: rcp.db.seq + 1 });
  assert.deepEqual(past, { records: [], next_offset: null });
  assert.equal((await client.fail("WAL_READ", {})).message, "invalid request: missing from_offset");
  assert.equal((await client.fail("WAL_READ", { from_offset: 1.5 })).code, "BAD_REQUEST");
});

test("WAL_STATS and COMPACT in memory mode", async () => {
  const stats = await client.ok("WAL_STATS");
  assert.equal(stats.entry_count, rcp.db.seq);
  assert.equal(stats.latest_offset, rcp.db.seq);
  assert.deepEqual(Object.keys(stats.io_stats).sort(), [
    "bytes_read",
    "bytes_written",
    "fsyncs",
    "reads",
    "writes",
  ]);
  const compact = await client.fail("COMPACT", {});
  assert.equal(compact.code, "BAD_REQUEST");
  assert.match(compact.message, /^invalid request: compaction needs a data directory/);
});

test("MIGRATE_INSTANCES moves instances between versions with a state map", async () => {
  const v2 = { ...orderMachine, states: ["new", "paid", "shipped"], initial: "new" };
  v2.transitions = [
    { from: "new", event: "PAY", to: "paid" },
    ...orderMachine.transitions.slice(1),
  ];
  await client.ok("PUT_MACHINE", { machine: "order", version: 2, definition: v2 });
  await client.ok("CREATE_INSTANCE", { machine: "order", version: 1, instance_id: "mig-1" });
  const migrated = await client.ok("MIGRATE_INSTANCES", {
    machine: "order",
    from_version: 1,
    to_version: 2,
    state_map: { created: "new", paid: "paid", shipped: "shipped" },
    instance_ids: ["mig-1"],
  });
  assert.equal(migrated.migrated, 1);
  const got = await client.ok("GET_INSTANCE", { instance_id: "mig-1" });
  assert.deepEqual([got.version, got.state], [2, "new"]);
});

test("CALL runs a procedure in one transaction and answers its JSON result", async () => {
  rcp.db.createCounter("default::calls");
  rcp.db.defineProcedure("bump", {
    params: { by: "int8" },
    run: (tx, args) => {
      tx.counter("default::calls").add(Number(args.by));
      return { total: tx.counter("default::calls").get() };
    },
  });
  const result = await client.ok("CALL", { name: "bump", args: { by: 5 } });
  assert.deepEqual(result, { result: { total: 5 } });
  assert.equal(rcp.db.counter("default::calls").get(), 5);
});

test("BYE answers goodbye, then the server closes the connection", async () => {
  const other = await rcp.connect();
  assert.deepEqual(await other.ok("BYE"), { goodbye: true });
  await other.closed;
});
