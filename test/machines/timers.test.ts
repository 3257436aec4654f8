/**
 * Goal: durable timers fire exactly once as normal logged events with origin `timer`, only
 * when due, are cancelled by leaving the state, re-armed by re-entering it, and survive a
 * restart (the deadline is in the instance row). `entriesOf` of commits read back from the log
 * after a restart equals the entries of the live commits.
 * Method: manual clock; a temp-dir database closed and reopened.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { open } from "../../src/index.ts";
import type { Commit, Database } from "../../src/index.ts";
import { createManualClock } from "../../src/lib/clock.ts";

const payment = {
  states: ["pending", "paid", "expired", "reminded"],
  initial: "pending",
  after: { pending: { ms: 1_000, event: "TIMEOUT" } },
  transitions: [
    { from: "pending", event: "PAY", to: "paid" },
    { from: "pending", event: "TIMEOUT", to: "expired" },
    { from: "pending", event: "POKE", to: "pending" },
    { from: "paid", event: "SHIP", to: "reminded", after: { ms: 50, event: "NUDGE" } },
    { from: "reminded", event: "NUDGE", to: "reminded", guard: "ctx.nudges" },
  ],
};

test("a state timer fires once when due, as a logged event with origin timer", async () => {
  const clock = createManualClock(10_000);
  const db = await open({ clock });
  db.machines.put("pay", 1, payment);
  db.machines.createInstance({ instance_id: "p1", machine: "pay", version: 1 });
  db.machines.createInstance({ instance_id: "p2", machine: "pay", version: 1 });
  clock.advance(999);
  assert.equal(db.machines.fireDueTimers(), 0);
  db.machines.applyEvent({ instance_id: "p2", event: "PAY" });
  clock.advance(1);
  assert.equal(db.machines.fireDueTimers(), 1, "p2 left pending, so its timer is cancelled");
  assert.equal(db.lastCommit!.origin.kind, "timer");
  assert.equal(db.machines.getInstance("p1").state, "expired");
  assert.equal(db.machines.getInstance("p2").state, "paid");
  assert.deepEqual(
    db.machines.history("p1").map((t) => [t.event, t.ts]),
    [["TIMEOUT", 11_000]],
  );
  clock.advance(10_000);
  assert.equal(db.machines.fireDueTimers(), 0, "fired exactly once");
  await db.close();
});

test("re-entering a state re-arms its timer; a transition's own timer wins", async () => {
  const clock = createManualClock(0);
  const db = await open({ clock });
  db.machines.put("pay", 1, payment);
  db.machines.createInstance({ instance_id: "p", machine: "pay", version: 1 });
  clock.advance(800);
  db.machines.applyEvent({ instance_id: "p", event: "POKE" });
  clock.advance(800);
  assert.equal(db.machines.fireDueTimers(), 0, "POKE at 800 moved the deadline to 1800");
  clock.advance(200);
  assert.equal(db.machines.fireDueTimers(), 1);
  db.machines.createInstance({ instance_id: "q", machine: "pay", version: 1 });
  db.machines.applyEvent({ instance_id: "q", event: "PAY" });
  db.machines.applyEvent({ instance_id: "q", event: "SHIP" });
  const row = db.table("machine::pay").get("q") as Record<string, unknown>;
  assert.deepEqual([row.timer_at, row.timer_event], [1_800 + 50, "NUDGE"]);
  clock.advance(50);
  assert.equal(db.machines.fireDueTimers(), 0, "a refused timer event is dropped");
  const after = db.table("machine::pay").get("q") as Record<string, unknown>;
  assert.deepEqual([after.timer_at, after.timer_event, after.state], [null, null, "reminded"]);
  await db.close();
});

test("timers survive a restart and fire once; entriesOf reads the same from the log", async () => {
  const dir = mkdtempSync(join(tmpdir(), "statebase-timers-"));
  const clock = createManualClock(50_000);
  try {
    let db: Database = await open({ path: dir, clock });
    db.machines.put("pay", 1, payment);
    db.machines.createInstance({ instance_id: "p1", machine: "pay", version: 1 });
    db.machines.applyEvent({ instance_id: "p1", event: "POKE", payload: { x: 1 }, event_id: "e" });
    const live: Commit[] = [];
    for await (const commit of db.changes({ fromSeq: 1 })) {
      live.push(commit);
      if (commit.seq === db.seq) break;
    }
    await db.close();
    clock.advance(1_000);
    db = await open({ path: dir, clock });
    assert.equal(db.machines.getInstance("p1").state, "pending");
    const replayed: Commit[] = [];
    for await (const commit of db.changes({ fromSeq: 1 })) {
      replayed.push(commit);
      if (commit.seq === db.seq) break;
    }
    assert.deepEqual(
      replayed.map((c) => db.machines.entriesOf(c)),
      live.map((c) => db.machines.entriesOf(c)),
    );
    assert.equal(db.machines.fireDueTimers(), 1);
    const seq = db.seq;
    await db.close();
    clock.advance(5_000);
    db = await open({ path: dir, clock });
    assert.equal(db.seq, seq);
    assert.equal(db.machines.fireDueTimers(), 0, "the fired timer stays fired after a restart");
    assert.equal(db.machines.getInstance("p1").state, "expired");
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("states named like Object.prototype members (constructor, __proto__) work", async () => {
  const clock = createManualClock(0);
  const db = await open({ clock });
  const states = ["constructor", "toString", "__proto__", "done"];
  db.machines.put("odd", 1, {
    states,
    initial: "constructor",
    // Parsed, as from a client: a literal `__proto__` key would set the prototype instead.
    after: JSON.parse('{"__proto__": {"ms": 5, "event": "NEXT"}}') as object,
    transitions: [
      { from: "constructor", event: "NEXT", to: "toString" },
      { from: "toString", event: "NEXT", to: "__proto__" },
      { from: "__proto__", event: "NEXT", to: "done" },
    ],
  });
  const definition = db.machines.get("odd", 1).definition as { after?: object };
  assert.deepEqual(Object.keys(definition.after ?? {}), ["__proto__"]);
  db.machines.createInstance({ instance_id: "o", machine: "odd", version: 1 });
  db.machines.applyEvent({ instance_id: "o", event: "NEXT" });
  assert.equal(db.machines.getInstance("o").state, "toString");
  db.machines.applyEvent({ instance_id: "o", event: "NEXT" });
  clock.advance(5);
  assert.equal(db.machines.fireDueTimers(), 1, "the __proto__ state's own timer fires");
  assert.equal(db.machines.getInstance("o").state, "done");
  await db.close();
});

test("a timer event that fails, not by a refusal, is dropped with a warning", async () => {
  const clock = createManualClock(0);
  const warnings: string[] = [];
  const onMessage = (kind: string, message: string): void => {
    if (kind === "warning") warnings.push(message);
  };
  const db = await open({ clock, onMessage });
  db.createNamespace("app");
  db.createCounter("app::expired");
  db.machines.put("hold", 1, {
    states: ["held", "gone"],
    initial: "held",
    after: { held: { ms: 10, event: "EXPIRE" } },
    transitions: [
      { from: "held", event: "EXPIRE", to: "gone", effects: [{ counter: "app::expired", add: 1 }] },
    ],
  });
  db.machines.createInstance({ instance_id: "h1", machine: "hold", version: 1 });
  db.drop("app::expired"); // the effect's object is gone when the timer comes due
  clock.advance(10);
  assert.equal(db.machines.fireDueTimers(), 0);
  assert.equal(db.machines.getInstance("h1").state, "held");
  assert.equal(warnings.length, 1, "said once");
  assert.match(warnings[0]!, /hold: the timer event EXPIRE of instance h1 failed.*app::expired/);
  assert.equal(db.machines.fireDueTimers(), 0, "dropped: not tried again");
  await db.close();
});
