/**
 * Goal: for any sequence of events, the machine layer agrees with a tiny reference model:
 * transition choice among guarded alternatives, shallow merge, expected_state conflicts,
 * idempotency (replay and mismatch), history, and rollback of aborted transactions.
 * Method: fast-check generates operation lists; each runs against a fresh in-memory database
 * and the model, comparing every outcome (result or error code) and the final state.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { open } from "../../src/index.ts";

const definition = {
  states: ["a", "b", "c"],
  initial: "a",
  transitions: [
    { from: ["a", "b"], event: "GO", to: "b", guard: "payload.n > 5" },
    { from: ["a", "b"], event: "GO", to: "c" },
    { from: "c", event: "BACK", to: "a", guard: "ctx.n != 3" },
    { from: "b", event: "STAY", to: "b" },
  ],
};

interface Op {
  event: "GO" | "BACK" | "STAY" | "NOPE";
  n: number;
  key: string | undefined;
  expect: string | undefined;
  abort: boolean;
}

interface Model {
  state: string;
  ctx: Record<string, unknown>;
  events: string[];
  keys: Map<string, { request: string; from: string; to: string; ctx: unknown }>;
}

/** What the model says an op does: an error code, or the transition it makes. */
function step(model: Model, op: Op): string {
  const request = JSON.stringify([op.event, op.n, op.expect]);
  if (op.key !== undefined) {
    const earlier = model.keys.get(op.key);
    if (earlier !== undefined) {
      return earlier.request === request
        ? `replay ${earlier.from}->${earlier.to}`
        : "IDEMPOTENCY_MISMATCH";
    }
  }
  if (op.expect !== undefined && op.expect !== model.state) return "STATE_CONFLICT";
  const from = model.state;
  let to: string | undefined;
  if (op.event === "GO" && (from === "a" || from === "b")) to = op.n > 5 ? "b" : "c";
  else if (op.event === "BACK" && from === "c") to = model.ctx.n !== 3 ? "a" : "GUARD_FAILED";
  else if (op.event === "STAY" && from === "b") to = "b";
  if (to === undefined) return "INVALID_TRANSITION";
  if (to === "GUARD_FAILED") return to;
  if (op.abort) return `aborted ${from}->${to}`;
  model.state = to;
  model.ctx = { ...model.ctx, n: op.n };
  model.events.push(op.event);
  if (op.key !== undefined) model.keys.set(op.key, { request, from, to, ctx: model.ctx });
  return `${from}->${to}`;
}

const opArbitrary: fc.Arbitrary<Op> = fc.record({
  event: fc.constantFrom("GO", "BACK", "STAY", "NOPE"),
  n: fc.integer({ min: 0, max: 9 }),
  key: fc.option(fc.constantFrom("k0", "k1", "k2"), { nil: undefined }),
  expect: fc.option(fc.constantFrom("a", "b", "c"), { nil: undefined }),
  abort: fc.boolean(),
});

test("random event sequences match the reference model", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArbitrary, { maxLength: 30 }), async (ops) => {
      const db = await open();
      db.machines.put("m", 1, definition);
      db.machines.createInstance({ instance_id: "i", machine: "m", version: 1 });
      const model: Model = { state: "a", ctx: {}, events: [], keys: new Map() };
      for (const op of ops) {
        const expected = step(model, op);
        let actual: string;
        try {
          const params = {
            instance_id: "i",
            event: op.event,
            payload: { n: op.n },
            ...(op.key === undefined ? {} : { idempotency_key: op.key }),
            ...(op.expect === undefined ? {} : { expected_state: op.expect }),
          };
          const result = db.transact((tx) => {
            const applied = tx.machines.applyEvent(params);
            if (op.abort && applied.applied) throw new Error("abort");
            return applied;
          });
          actual = `${result.applied ? "" : "replay "}${result.from_state}->${result.to_state}`;
        } catch (error) {
          const code = (error as { code?: string }).code;
          actual = code ?? `aborted ${(error as Error).message}`;
          if (code === undefined) actual = expected.startsWith("aborted") ? expected : actual;
        }
        assert.equal(actual, expected, JSON.stringify(op));
      }
      const instance = db.machines.getInstance("i");
      assert.equal(instance.state, model.state);
      assert.deepEqual(instance.ctx, model.ctx);
      assert.deepEqual(
        db.machines.history("i").map((t) => t.event),
        model.events,
      );
      await db.close();
    }),
    { numRuns: 150 },
  );
});
