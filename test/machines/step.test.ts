/**
 * Goal: guards decide transitions as rcp.md §3 and decision 7 say: every rstmdb guard form
 * with rstmdb's result on the current ctx, `payload.x`, and ordered guarded alternatives where
 * the first passing one wins and an unguarded one is the fallback.
 * Method: one machine per guard, a fresh instance per case, apply and compare the outcome.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { throwsDb } from "../support/assertions.ts";

let instanceCount = 0;

/** Does the guard let event E through for an instance with this ctx and payload? */
function passes(db: Database, guard: string, ctx: Record<string, unknown>, payload?: unknown) {
  const version = instanceCount;
  db.machines.put("g", version, {
    states: ["a", "b"],
    initial: "a",
    transitions: [{ from: "a", event: "E", to: "b", guard }],
  });
  const id = `i-${instanceCount++}`;
  db.machines.createInstance({ instance_id: id, machine: "g", version, initial_ctx: ctx });
  try {
    db.machines.applyEvent({ instance_id: id, event: "E", payload });
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === "GUARD_FAILED") return false;
    throw error;
  }
}

test("rstmdb guard forms give rstmdb's answers", async () => {
  const db = await open();
  const cases: Array<[string, Record<string, unknown>, boolean]> = [
    ["ctx.ok", { ok: true }, true],
    ["ctx.ok", { ok: 0 }, false],
    ["ctx.ok", { ok: [] }, false],
    ["ctx.ok", { ok: {} }, false],
    ["ctx.ok", { ok: "" }, false],
    ["ctx.ok", { ok: "x" }, true],
    ["ctx.missing", {}, false],
    ["ctx.missing == null", {}, true],
    ['ctx.missing != "x"', {}, true],
    ["ctx.n > 100", { n: 150 }, true],
    ["ctx.n > 100", { n: "150" }, false],
    ["ctx.n >= 1.5", { n: 1.5 }, true],
    ["ctx.n < -2", { n: -3 }, true],
    ["ctx.n <= 0", { n: null }, false],
    ["ctx.n == 2", { n: 2 }, true],
    ['ctx.n == "2"', { n: 2 }, false],
    ['ctx.tier == "gold"', { tier: "gold" }, true],
    ["ctx.flag == true", { flag: true }, true],
    ["ctx.flag != false", { flag: true }, true],
    ["ctx.a.b.c == 1", { a: { b: { c: 1 } } }, true],
    ["ctx.items.length > 0", { items: [1, 2] }, false],
    ["ctx.a || ctx.b && ctx.c", { a: true, b: false }, true],
    ["(ctx.a || ctx.b) && ctx.c", { a: true, b: false }, false],
    ["!ctx.a", { a: false }, true],
    ["!!ctx.a", { a: 1 }, true],
    ["ctx.amount > 100 && ctx.approved", { amount: 101, approved: true }, true],
  ];
  for (const [guard, ctx, expected] of cases) {
    assert.equal(passes(db, guard, ctx), expected, `${guard} on ${JSON.stringify(ctx)}`);
  }
  await db.close();
});

test("guards read the current ctx (before the merge) and payload.x", async () => {
  const db = await open();
  assert.equal(passes(db, "ctx.ready", {}, { ready: true }), false);
  assert.equal(passes(db, "payload.ready", {}, { ready: true }), true);
  assert.equal(passes(db, "payload.amount > ctx.limit", { limit: 5 }, { amount: 6 }), true);
  assert.equal(passes(db, "payload.amount > ctx.limit", { limit: 5 }, { amount: 4 }), false);
  assert.equal(passes(db, "payload.x", {}, undefined), false, "no payload reads as none");
  await db.close();
});

test("guarded alternatives: first passing wins, unguarded is the fallback", async () => {
  const db = await open();
  db.machines.put("review", 1, {
    states: ["new", "auto", "manual", "rejected"],
    initial: "new",
    transitions: [
      { from: "new", event: "SUBMIT", to: "auto", guard: "payload.amount < 100" },
      { from: "new", event: "SUBMIT", to: "rejected", guard: "payload.amount > 10000" },
      { from: "new", event: "SUBMIT", to: "manual", guard: "payload.amount >= 100" },
    ],
  });
  const submit = (id: string, amount: number): string => {
    db.machines.createInstance({ instance_id: id, machine: "review", version: 1 });
    return db.machines.applyEvent({ instance_id: id, event: "SUBMIT", payload: { amount } })
      .to_state;
  };
  assert.equal(submit("r1", 50), "auto");
  assert.equal(submit("r2", 500), "manual");
  assert.equal(submit("r3", 20000), "rejected", "the earlier passing alternative wins");
  db.machines.put("review", 2, {
    states: ["new", "fast", "slow"],
    initial: "new",
    transitions: [
      { from: "new", event: "GO", to: "fast", guard: "payload.vip" },
      { from: ["new"], event: "GO", to: "slow" },
    ],
  });
  db.machines.createInstance({ instance_id: "v1", machine: "review", version: 2 });
  db.machines.createInstance({ instance_id: "v2", machine: "review", version: 2 });
  const go = (id: string, payload: unknown) =>
    db.machines.applyEvent({ instance_id: id, event: "GO", payload }).to_state;
  assert.equal(go("v1", { vip: true }), "fast");
  assert.equal(go("v2", { vip: false }), "slow");
  await db.close();
});

/** Machine m: event E from a goes to b when payload.x == 1, else to c when `second` holds. */
function putTwoGuards(db: Database, second: string): void {
  db.machines.put("m", 1, {
    states: ["a", "b", "c"],
    initial: "a",
    transitions: [
      { from: "a", event: "E", to: "b", guard: "payload.x == 1" },
      { from: "a", event: "E", to: "c", guard: second },
    ],
  });
}

test("when no alternative passes, GUARD_FAILED names every transition tried", async () => {
  const db = await open();
  putTwoGuards(db, "payload.x == 2");
  db.machines.createInstance({ instance_id: "i", machine: "m", version: 1 });
  throwsDb(() => db.machines.applyEvent({ instance_id: "i", event: "E", payload: { x: 3 } }), {
    code: "GUARD_FAILED",
    message:
      /^guard failed: no guard passed for event 'E' in state 'a' \(tried 'a' -> 'b', 'a' -> 'c'\)$/,
  });
  await db.close();
});

test("a guard that fails to evaluate says which guard, keeping the error's code", async () => {
  const db = await open();
  putTwoGuards(db, "ctx.n / payload.d > 1");
  db.machines.createInstance({ instance_id: "i", machine: "m", version: 1, initial_ctx: { n: 1 } });
  // It said only "division by zero: 1 / 0", with nothing about a guard.
  throwsDb(() => db.machines.applyEvent({ instance_id: "i", event: "E", payload: { d: 0 } }), {
    code: "DIVISION_BY_ZERO",
    message: new RegExp(
      String.raw`^guard of transition 'a' -> 'c' on event 'E' \(transitions\[1\]\.guard\): ` +
        String.raw`division by zero: 1 / 0$`,
    ),
  });
  await db.close();
});

test("self transitions are allowed and merge the payload", async () => {
  const db = await open();
  db.machines.put("counter", 1, {
    states: ["on"],
    initial: "on",
    transitions: [{ from: "on", event: "SET", to: "on" }],
  });
  db.machines.createInstance({ instance_id: "c", machine: "counter", version: 1 });
  db.machines.applyEvent({ instance_id: "c", event: "SET", payload: { n: 1 } });
  const result = db.machines.applyEvent({ instance_id: "c", event: "SET", payload: { m: 2 } });
  assert.deepEqual([result.from_state, result.to_state, result.ctx], ["on", "on", { n: 1, m: 2 }]);
  await db.close();
});

test("the merge keeps the spread's order and plain objects; a __proto__ key stays", async () => {
  const db = await open();
  db.machines.put("doc", 1, {
    states: ["on"],
    initial: "on",
    transitions: [{ from: "on", event: "SET", to: "on" }],
  });
  const initial = { b: 1, a: 2 };
  db.machines.createInstance({
    instance_id: "d",
    machine: "doc",
    version: 1,
    initial_ctx: initial,
  });
  const payload: unknown = JSON.parse('{"c": 3, "a": 4, "__proto__": {"polluted": true}}');
  const { ctx } = db.machines.applyEvent({ instance_id: "d", event: "SET", payload });
  const spread = { ...initial, ...(payload as object) };
  assert.deepStrictEqual(ctx, spread, "the same keys, values and prototype as a spread");
  assert.deepEqual(Object.keys(ctx as object), ["b", "a", "c", "__proto__"]);
  assert.equal(Object.getPrototypeOf(ctx), Object.prototype);
  assert.equal((ctx as { polluted?: unknown }).polluted, undefined);
  await db.close();
});
