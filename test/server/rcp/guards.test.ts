/**
 * Goal: decision 7 over the wire: guards use Statebase's expression language with rstmdb's
 * semantics, may read the event payload as `payload.x`, several guarded transitions may
 * share (from, event) and the first passing one wins, an unguarded one must be last of its
 * group, and trailing input in a guard is a parse error (BAD_REQUEST), not ignored.
 * Method: definitions stored and events applied through an in-process server.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startTestRcp } from "../../support/rcp-server.ts";
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

const review = {
  states: ["review", "escalated", "approved", "rejected"],
  initial: "review",
  transitions: [
    { from: "review", event: "DECIDE", to: "escalated", guard: "payload.amount > 100" },
    { from: "review", event: "DECIDE", to: "rejected", guard: "ctx.blocked" },
    { from: "review", event: "DECIDE", to: "approved" },
  ],
};

test("ordered guarded alternatives: the first passing guard wins; payload readable", async () => {
  await client.ok("PUT_MACHINE", { machine: "review", version: 1, definition: review });
  const cases: Array<[unknown, unknown, string]> = [
    [{}, { amount: 500 }, "escalated"],
    [{ blocked: true }, { amount: 5 }, "rejected"],
    [{ blocked: true }, { amount: 500 }, "escalated"],
    [{}, { amount: 5 }, "approved"],
  ];
  for (const [index, [ctx, payload, expected]] of cases.entries()) {
    const id = `r-${index}`;
    await client.ok("CREATE_INSTANCE", {
      machine: "review",
      version: 1,
      instance_id: id,
      initial_ctx: ctx,
    });
    const applied = await client.ok("APPLY_EVENT", { instance_id: id, event: "DECIDE", payload });
    assert.equal(applied.to_state, expected, JSON.stringify([ctx, payload]));
  }
});

test("rstmdb guard forms keep their meaning", async () => {
  const forms = {
    states: ["a", "b"],
    initial: "a",
    transitions: [
      {
        from: "a",
        event: "GO",
        to: "b",
        guard: 'ctx.amount >= 10 && (ctx.tier == "gold" || !ctx.new)',
      },
    ],
  };
  await client.ok("PUT_MACHINE", { machine: "forms", version: 1, definition: forms });
  const tries: Array<[unknown, string]> = [
    [{ amount: 10, tier: "gold", new: true }, "ok"],
    [{ amount: 10, new: false }, "ok"],
    [{ amount: 10, new: true }, "GUARD_FAILED"],
    [{ amount: 9, tier: "gold" }, "GUARD_FAILED"],
    [{ amount: "10", tier: "gold" }, "GUARD_FAILED"],
  ];
  for (const [index, [ctx, outcome]] of tries.entries()) {
    const id = `f-${index}`;
    await client.ok("CREATE_INSTANCE", {
      machine: "forms",
      version: 1,
      instance_id: id,
      initial_ctx: ctx,
    });
    const response = await client.call("APPLY_EVENT", { instance_id: id, event: "GO" });
    assert.equal(
      response.status === "ok" ? "ok" : response.error.code,
      outcome,
      JSON.stringify(ctx),
    );
  }
});

test("trailing guard input and a non-final unguarded alternative are BAD_REQUEST", async () => {
  const trailing = {
    states: ["a", "b"],
    initial: "a",
    transitions: [{ from: "a", event: "GO", to: "b", guard: "ctx.a > 1 ctx.b" }],
  };
  const error = await client.fail("PUT_MACHINE", {
    machine: "bad",
    version: 1,
    definition: trailing,
  });
  assert.equal(error.code, "BAD_REQUEST");
  const unguardedFirst = { ...review, transitions: [review.transitions[2], review.transitions[0]] };
  const second = await client.fail("PUT_MACHINE", {
    machine: "bad",
    version: 2,
    definition: unguardedFirst,
  });
  assert.equal(second.code, "BAD_REQUEST");
});
