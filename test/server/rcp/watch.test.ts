/**
 * Goal: watch subscriptions as specs/rcp.md §1.10, §2.7 and decisions 10 and 13 describe:
 * events only for applied transitions (plus lifecycle on request), rstmdb's filter rules,
 * include_ctx, UNWATCH, resume from an offset with no gap and no duplicate (also from the
 * log, past the in-memory feed), `end: lagged` for a reader that stops reading, and no idle
 * timeout for connections that hold subscriptions.
 * Method: in-process servers over real sockets; writes come from other connections and from
 * the embedded API; the events received are compared with the commits made.
 */
import { once } from "node:events";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startTestRcp } from "../../support/rcp-server.ts";
import type { TestRcp } from "../../support/rcp-server.ts";
import type { Message, WireClient } from "../../support/rcp-wire.ts";

const loop = {
  states: ["a", "b"],
  initial: "a",
  transitions: [
    { from: "a", event: "GO", to: "b" },
    { from: "b", event: "BACK", to: "a" },
    { from: ["a", "b"], event: "STAY", to: "b" },
  ],
};

let rcp: TestRcp;
let writer: WireClient;

before(async () => {
  rcp = await startTestRcp({ server: { limits: { idleTimeoutMs: 300 } } });
  writer = await rcp.connect();
  await writer.ok("PUT_MACHINE", { machine: "loop", version: 1, definition: loop });
  await writer.ok("PUT_MACHINE", { machine: "other", version: 1, definition: loop });
});

after(async () => {
  await rcp.stop();
});

const create = (machine: string, id: string) =>
  writer.ok("CREATE_INSTANCE", { machine, version: 1, instance_id: id });
const apply = (id: string, event: string, payload?: unknown) =>
  writer.ok("APPLY_EVENT", { instance_id: id, event, payload });

/** Waits for `subscriptionId`'s end and checks it says its instance was deleted at `walOffset`. */
async function endOnDeletion(
  watcher: WireClient,
  subscriptionId: unknown,
  walOffset: unknown,
): Promise<Message> {
  const end = await watcher.waitFor((m) => m.type === "end");
  assert.deepEqual(end, {
    type: "end",
    subscription_id: subscriptionId,
    reason: "deleted",
    wal_offset: walOffset,
  });
  return end;
}

test("WATCH_INSTANCE: result shape, event fields, include_ctx, only applied events", async () => {
  await create("loop", "w-1");
  await create("loop", "w-2");
  const watcher = await rcp.connect();
  const sub = await watcher.ok("WATCH_INSTANCE", { instance_id: "w-1" });
  assert.match(sub.subscription_id, /^sub-[0-9a-f-]{36}$/);
  assert.deepEqual(
    { ...sub, subscription_id: "" },
    {
      subscription_id: "",
      instance_id: "w-1",
      current_state: "a",
      current_wal_offset: rcp.db.seq - 1,
    },
  );
  const noCtx = await watcher.ok("WATCH_INSTANCE", { instance_id: "w-1", include_ctx: false });
  await apply("w-2", "GO");
  const applied = await apply("w-1", "GO", { n: 1 });
  await apply("w-1", "BACK");
  await writer.ok("DELETE_INSTANCE", { instance_id: "w-2" });
  const [first, second] = await watcher.waitForEvents(sub.subscription_id, 2);
  assert.deepEqual(first, {
    type: "event",
    subscription_id: sub.subscription_id,
    instance_id: "w-1",
    machine: "loop",
    version: 1,
    wal_offset: applied.wal_offset,
    from_state: "a",
    to_state: "b",
    event: "GO",
    payload: { n: 1 },
    ctx: { n: 1 },
  });
  assert.equal(second!.payload, null, "payload is null when the request had none");
  const [plain] = await watcher.waitForEvents(noCtx.subscription_id, 1);
  assert.equal("ctx" in plain!, false);
  assert.equal(watcher.events(sub.subscription_id).length, 2, "one event per applied transition");
  assert.equal(
    (await watcher.fail("WATCH_INSTANCE", { instance_id: "nope" })).code,
    "INSTANCE_NOT_FOUND",
  );
});

test("WATCH_ALL filters: AND across lists, OR within one; one event per matching sub", async () => {
  await create("loop", "f-1");
  await create("other", "f-2");
  const watcher = await rcp.connect();
  const subs = {
    all: await watcher.ok("WATCH_ALL", {}),
    loop: await watcher.ok("WATCH_ALL", { machines: ["loop"] }),
    go: await watcher.ok("WATCH_ALL", { machines: ["loop", "other"], events: ["GO"] }),
    toB: await watcher.ok("WATCH_ALL", { to_states: ["b"], from_states: ["a"] }),
    none: await watcher.ok("WATCH_ALL", { machines: ["other"], events: ["BACK"] }),
  };
  assert.equal(subs.all.wal_offset, rcp.db.seq);
  await apply("f-1", "GO");
  await apply("f-2", "GO");
  await apply("f-1", "BACK");
  await apply("f-2", "STAY");
  await watcher.waitForEvents(subs.all.subscription_id, 4);
  const seen = (name: keyof typeof subs): string[] =>
    watcher.events(subs[name].subscription_id).map((e: Message) => `${e.instance_id}:${e.event}`);
  assert.deepEqual(seen("all"), ["f-1:GO", "f-2:GO", "f-1:BACK", "f-2:STAY"]);
  assert.deepEqual(seen("loop"), ["f-1:GO", "f-1:BACK"]);
  assert.deepEqual(seen("go"), ["f-1:GO", "f-2:GO"]);
  assert.deepEqual(seen("toB"), ["f-1:GO", "f-2:GO"]);
  assert.deepEqual(seen("none"), []);
});

test("include_lifecycle adds creation and deletion events (decision 10)", async () => {
  const watcher = await rcp.connect();
  const sub = await watcher.ok("WATCH_ALL", { include_lifecycle: true, machines: ["other"] });
  await create("other", "life-1");
  await apply("life-1", "GO");
  await writer.ok("DELETE_INSTANCE", { instance_id: "life-1" });
  const events = await watcher.waitForEvents(sub.subscription_id, 3);
  assert.deepEqual(
    events.map((e: Message): unknown[] => [e.lifecycle, e.event, e.to_state]),
    [
      ["created", "", "a"],
      [undefined, "GO", "b"],
      ["deleted", "", ""],
    ],
  );
  assert.deepEqual(events[0]!.ctx, {});
});

test("an idempotent retry sends no second event (decision 6)", async () => {
  await create("loop", "idem-1");
  const watcher = await rcp.connect();
  const sub = await watcher.ok("WATCH_INSTANCE", { instance_id: "idem-1" });
  const params = { instance_id: "idem-1", event: "GO", idempotency_key: "k1" };
  await writer.ok("APPLY_EVENT", params);
  await writer.ok("APPLY_EVENT", params);
  await apply("idem-1", "BACK");
  const events = await watcher.waitForEvents(sub.subscription_id, 2);
  assert.deepEqual(
    events.map((e: Message): unknown => e.event),
    ["GO", "BACK"],
  );
});

test("UNWATCH stops events; an unknown id is removed:false", async () => {
  await create("loop", "u-1");
  const watcher = await rcp.connect();
  const sub = await watcher.ok("WATCH_INSTANCE", { instance_id: "u-1" });
  assert.deepEqual(await watcher.ok("UNWATCH", { subscription_id: sub.subscription_id }), {
    subscription_id: sub.subscription_id,
    removed: true,
  });
  assert.deepEqual(await watcher.ok("UNWATCH", { subscription_id: "sub-x" }), {
    subscription_id: "sub-x",
    removed: false,
  });
  await apply("u-1", "GO");
  assert.equal((await watcher.call("PING")).status, "ok");
  assert.equal(watcher.events(sub.subscription_id).length, 0);
});

test("resume from from_offset: history then live, no gap, no duplicate (decision 10)", async () => {
  await create("loop", "r-1");
  for (let i = 0; i < 10; i++) await apply("r-1", i % 2 === 0 ? "GO" : "BACK");
  const resumeFrom = rcp.db.seq - 6;
  const watcher = await rcp.connect();
  // Writes race with the subscription's replay, from another connection and in-process.
  const racing = (async () => {
    for (let i = 0; i < 20; i++) await apply("r-1", "STAY");
  })();
  const sub = await watcher.ok("WATCH_ALL", { from_offset: resumeFrom, machines: ["loop"] });
  for (let i = 0; i < 5; i++) rcp.db.machines.applyEvent({ instance_id: "r-1", event: "STAY" });
  await racing;
  const expected = (await writer.ok("WAL_READ", { from_offset: resumeFrom + 1 })).records
    .filter((r: Message) => r.entry.type === "apply_event" && r.entry.machine === "loop")
    .map((r: Message) => r.offset as number);
  const events = await watcher.waitForEvents(sub.subscription_id, expected.length);
  assert.deepEqual(
    events.map((e: Message): unknown => e.wal_offset),
    expected,
  );
  assert.equal(expected.length, 6 + 25);
  const past = await watcher.fail("WATCH_ALL", { from_offset: -1 });
  assert.equal(past.code, "BAD_REQUEST");
});

test("WATCH_INSTANCE of a deleted instance: INSTANCE_NOT_FOUND with no resume point", async () => {
  await create("loop", "gone-1");
  const deleted = await writer.ok("DELETE_INSTANCE", { instance_id: "gone-1" });
  const watcher = await rcp.connect();
  for (const params of [{}, { from_offset: deleted.wal_offset }, { from_offset: rcp.db.seq }]) {
    const error = await watcher.fail("WATCH_INSTANCE", { instance_id: "gone-1", ...params });
    assert.equal(error.code, "INSTANCE_NOT_FOUND", JSON.stringify(params));
    assert.match(error.message, /instance not found: gone-1/);
  }
  const never = await watcher.fail("WATCH_INSTANCE", { instance_id: "never", from_offset: 0 });
  assert.equal(never.code, "INSTANCE_NOT_FOUND");
});

test("a resume point before a deletion replays the history, then ends: deleted", async () => {
  await create("loop", "gone-2");
  await create("loop", "gone-2-other");
  const from = rcp.db.seq;
  const go = await apply("gone-2", "GO");
  const back = await apply("gone-2", "BACK");
  const deleted = await writer.ok("DELETE_INSTANCE", { instance_id: "gone-2" });
  await apply("gone-2-other", "STAY"); // a later commit of another instance: not part of this watch
  for (const includeLifecycle of [false, true]) {
    const watcher = await rcp.connect();
    const params = { instance_id: "gone-2", from_offset: from };
    const sub = await watcher.ok("WATCH_INSTANCE", {
      ...params,
      include_lifecycle: includeLifecycle,
    });
    assert.deepEqual(
      { ...sub, subscription_id: "" },
      {
        subscription_id: "",
        instance_id: "gone-2",
        current_state: "",
        current_wal_offset: deleted.wal_offset,
      },
    );
    const end = await endOnDeletion(watcher, sub.subscription_id, deleted.wal_offset);
    const events = watcher.events(sub.subscription_id);
    const expected = [
      [go.wal_offset, "GO", undefined],
      [back.wal_offset, "BACK", undefined],
      ...(includeLifecycle ? [[deleted.wal_offset, "", "deleted"]] : []),
    ];
    assert.deepEqual(
      events.map((e: Message): unknown[] => [e.wal_offset, e.event, e.lifecycle]),
      expected,
    );
    // The end comes after the last event: nothing follows it.
    assert.equal(watcher.messages.at(-1), end);
  }
});

test("a live WATCH_INSTANCE ends with reason deleted when its instance is deleted", async () => {
  await create("loop", "gone-3");
  const watcher = await rcp.connect();
  const sub = await watcher.ok("WATCH_INSTANCE", { instance_id: "gone-3" });
  const all = await watcher.ok("WATCH_ALL", { machines: ["loop"] });
  const go = await apply("gone-3", "GO");
  const deleted = await writer.ok("DELETE_INSTANCE", { instance_id: "gone-3" });
  await endOnDeletion(watcher, sub.subscription_id, deleted.wal_offset);
  assert.deepEqual(
    watcher.events(sub.subscription_id).map((e: Message): unknown => e.wal_offset),
    [go.wal_offset],
  );
  // The id created again is a new instance: the ended watch gets none of it; WATCH_ALL does.
  await create("loop", "gone-3");
  const again = await apply("gone-3", "GO");
  const later = await watcher.waitForEvents(all.subscription_id, 2);
  assert.deepEqual(
    later.map((e: Message): unknown => e.wal_offset),
    [go.wal_offset, again.wal_offset],
  );
  assert.equal(watcher.events(sub.subscription_id).length, 1);
});

test("a reader that stops reading gets end:lagged with its resume offset", async () => {
  const small = await startTestRcp({
    open: { commitsRetained: 5000 },
    server: { limits: { pendingEventsMax: 20 } },
  });
  try {
    const c = await small.connect();
    await c.ok("PUT_MACHINE", { machine: "loop", version: 1, definition: loop });
    await c.ok("CREATE_INSTANCE", { machine: "loop", version: 1, instance_id: "slow" });
    const sub = await c.ok("WATCH_INSTANCE", { instance_id: "slow" });
    c.socket.pause();
    const big = "x".repeat(4096);
    for (let i = 0; i < 2000; i++) {
      small.db.machines.applyEvent({ instance_id: "slow", event: "STAY", payload: { big } });
    }
    c.socket.resume();
    const end = await c.waitFor((m) => m.type === "end");
    assert.equal(end.subscription_id, sub.subscription_id);
    assert.equal(end.reason, "lagged");
    const events = c.events(sub.subscription_id);
    assert.ok(events.length < 2000, "events stopped");
    assert.equal(end.wal_offset, events.at(-1)!.wal_offset, "resume point = last delivered");
    const resumed = await c.ok("WATCH_INSTANCE", {
      instance_id: "slow",
      from_offset: end.wal_offset,
      include_ctx: false,
    });
    const rest = await c.waitForEvents(resumed.subscription_id, 2000 - events.length);
    assert.equal(rest[0]!.wal_offset, Number(end.wal_offset) + 1);
    assert.equal(rest.at(-1)!.wal_offset, small.db.seq);
  } finally {
    await small.stop();
  }
});

test("an event larger than a frame ends its subscription, resumable without ctx", async () => {
  // The event's ctx grew past 16 MiB by merging; writing it failed an assertion (exit).
  const own = await startTestRcp(); // without the short idle timeout: 9 MiB events are slow
  try {
    const big = "x".repeat(9 * 1024 * 1024);
    own.db.machines.put("loop", 1, loop);
    const initial_ctx = { big };
    own.db.machines.createInstance({ machine: "loop", version: 1, instance_id: "h", initial_ctx });
    const watcher = await own.connect();
    const sub = await watcher.ok("WATCH_INSTANCE", { instance_id: "h" });
    const small = own.db.machines.applyEvent({ instance_id: "h", event: "STAY" });
    own.db.machines.applyEvent({ instance_id: "h", event: "STAY", payload: { more: big } });
    const end = await watcher.waitFor((m) => m.type === "end");
    assert.deepEqual(end, {
      type: "end",
      subscription_id: sub.subscription_id,
      reason: "too_large",
      wal_offset: small.wal_offset,
    });
    assert.equal(watcher.events(sub.subscription_id).length, 1);
    const resumed = await watcher.ok("WATCH_INSTANCE", {
      instance_id: "h",
      from_offset: end.wal_offset,
      include_ctx: false,
    });
    const [event] = await watcher.waitForEvents(resumed.subscription_id, 1);
    assert.equal(event!.payload.more, big);
    assert.deepEqual(await watcher.ok("PING"), { pong: true });
  } finally {
    await own.stop();
  }
});

test("a commit with an event too large for a frame is not half sent, so not repeated", async () => {
  // One commit, two events: the small one went out, the end said to resume before the
  // commit, and the resumed subscription sent the small one a second time.
  const own = await startTestRcp();
  try {
    // Just under a frame: one more small key makes h's event too large; without ctx it is small.
    const big = "x".repeat(16 * 1024 * 1024 - 200);
    own.db.machines.put("loop", 1, loop);
    own.db.machines.createInstance({ machine: "loop", version: 1, instance_id: "s" });
    const initial_ctx = { big };
    own.db.machines.createInstance({ machine: "loop", version: 1, instance_id: "h", initial_ctx });
    const before = own.db.seq;
    const watcher = await own.connect();
    const sub = await watcher.ok("WATCH_ALL", {});
    own.db.transact((tx) => {
      tx.machines.applyEvent({ instance_id: "s", event: "STAY" });
      tx.machines.applyEvent({
        instance_id: "h",
        event: "STAY",
        payload: { more: "y".repeat(999) },
      });
    });
    const end = await watcher.waitFor((m) => m.type === "end");
    assert.deepEqual([end.reason, end.wal_offset], ["too_large", before]);
    assert.equal(watcher.events(sub.subscription_id).length, 0, "nothing of the commit");
    const resumed = await watcher.ok("WATCH_ALL", { from_offset: before, include_ctx: false });
    const events = await watcher.waitForEvents(resumed.subscription_id, 2);
    assert.deepEqual(
      events.map((event) => [event.instance_id as string, event.wal_offset as number]),
      [
        ["s", before + 1],
        ["h", before + 1],
      ],
    );
  } finally {
    await own.stop();
  }
});

test("resume past the in-memory feed reads history from the log", async () => {
  const logged = await startTestRcp({ durability: "async", open: { commitsRetained: 4 } });
  try {
    const c = await logged.connect();
    await c.ok("PUT_MACHINE", { machine: "loop", version: 1, definition: loop });
    await c.ok("CREATE_INSTANCE", { machine: "loop", version: 1, instance_id: "old" });
    const from = logged.db.seq;
    for (let i = 0; i < 30; i++) await c.ok("APPLY_EVENT", { instance_id: "old", event: "STAY" });
    const sub = await c.ok("WATCH_ALL", { from_offset: from });
    await c.ok("APPLY_EVENT", { instance_id: "old", event: "STAY" });
    const events = await c.waitForEvents(sub.subscription_id, 31);
    assert.deepEqual(
      events.map((e: Message): unknown => e.wal_offset),
      Array.from({ length: 31 }, (_, i) => from + 1 + i),
    );
    const read = await c.ok("WAL_READ", { from_offset: 1, limit: 3 });
    assert.deepEqual(
      read.records.map((r: Message) => r.entry.type as string),
      ["put_machine", "create_instance", "apply_event"],
    );
  } finally {
    await logged.stop();
  }
});

test("idle connections close; connections with subscriptions stay (decision 13)", async () => {
  const idle = await rcp.connect();
  const watching = await rcp.connect();
  await idle.ok("PING");
  await watching.ok("WATCH_ALL", {});
  await idle.closed;
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(watching.isClosed, false);
  assert.equal((await watching.call("PING")).status, "ok");
});

test("a connection that never sends a byte is idle too, and closes", async () => {
  const silent = connect(rcp.port, "127.0.0.1");
  await once(silent, "connect");
  const closed = once(silent, "close").then(() => "closed");
  const waited = new Promise((resolve) => setTimeout(resolve, 3_000, "still open"));
  const outcome = await Promise.race([closed, waited]);
  silent.destroy();
  assert.equal(outcome, "closed", "the 300 ms idle timeout applies before the first byte");
});
