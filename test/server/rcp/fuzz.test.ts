/**
 * Goal: no input crashes the RCP server or corrupts its log (issue 5 acceptance: fuzzing).
 * Method: fast-check drives three kinds of input at an in-process server over real sockets:
 * mutated bytes of valid frames (each on a fresh connection, followed by a PING that must be
 * answered unless the connection was refused with BAD_REQUEST), well-framed requests with
 * random ops and random params (each must get a response with one of the wire codes), and
 * random machine definitions and events. Afterwards the database is closed and reopened from
 * its log, which must recover to the same seq and answer the same listing.
 * RCP_FUZZ_RUNS sets the number of inputs per property (default small for `npm test`; the
 * full run uses 34000 per property, over 100,000 in all).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { open } from "../../../src/database.ts";
import { wireErrorCodes } from "../../../src/protocol/index.ts";
import { rcpOperations } from "../../../src/server/rcp/index.ts";
import { startTestRcp } from "../../support/rcp-server.ts";
import type { TestRcp } from "../../support/rcp-server.ts";
import { requestFrame } from "../../support/rcp-wire.ts";
import type { WireClient } from "../../support/rcp-wire.ts";

const runs = Number(process.env.RCP_FUZZ_RUNS ?? 100);
const codes = new Set<string>(wireErrorCodes);
let rcp: TestRcp;
let client: WireClient;

before(async () => {
  rcp = await startTestRcp({ durability: "async" });
  client = await rcp.connect();
});

after(async () => {
  await rcp.stop();
});

const ping = requestFrame("ping", "PING", {});
const seeds = [
  requestFrame("1", "PUT_MACHINE", { machine: "m", version: 1, definition: { states: ["a"] } }),
  requestFrame("2", "APPLY_EVENT", { instance_id: "i", event: "E", payload: { x: [1, "y"] } }),
  requestFrame("3", "BATCH", { mode: "atomic", ops: [{ op: "PING" }] }),
];

test("mutated frames: answered or refused with BAD_REQUEST; the server stays up", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      async (seed, mutations) => {
        const bytes = Buffer.from(seed);
        for (const [at, value] of mutations) bytes[at % bytes.length] = value;
        const c = await rcp.connect();
        c.sendRaw(Buffer.concat([bytes, ping]));
        const answered = (m: { id?: unknown; status?: unknown }): boolean =>
          m.id === "ping" || (m.id === "" && m.status === "error");
        const done = await Promise.race([
          c.waitFor(answered, 100).catch(() => undefined),
          c.closed.then(() => c.messages.find(answered)),
        ]);
        // A mutated length can leave the server waiting for more bytes: that is fine too.
        if (done?.id === "") assert.equal(done.error.code, "BAD_REQUEST");
        c.socket.destroy();
      },
    ),
    { numRuns: runs },
  );
  assert.equal((await client.call("PING")).status, "ok");
});

const ops = Object.keys(rcpOperations).filter((op) => op !== "BYE" && op !== "COMPACT");
const name = fc.constantFrom("a", "b", "c", "m", "i", "");
const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record({ machine: name, version: fc.integer({ min: -1, max: 3 }), instance_id: name }),
);

test("random ops with random params always get a response with a wire code", async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...ops), jsonish, async (op, params) => {
      const response = await client.call(op, params);
      assert.equal(response.type, "response");
      if (response.status === "error") {
        assert.ok(codes.has(response.error.code), response.error.code);
        assert.equal(typeof response.error.message, "string");
      }
    }),
    { numRuns: runs },
  );
});

const state = fc.constantFrom("a", "b", "c");
const guard = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom("ctx.ok", "payload.n > 1", 'ctx.a == "x" && !ctx.b', "ctx.", "((", "ctx.a >"),
  fc.string({ maxLength: 12 }),
);
const definition = fc.record({
  states: fc.array(state, { maxLength: 3 }),
  initial: state,
  transitions: fc.array(
    fc.record({
      from: fc.oneof(state, fc.array(state, { maxLength: 2 })),
      event: fc.constantFrom("E", "F"),
      to: state,
      guard,
    }),
    { maxLength: 3 },
  ),
});

test("random definitions and events never break the log", async () => {
  let version = 0;
  await fc.assert(
    fc.asyncProperty(
      definition,
      fc.array(fc.constantFrom("E", "F"), { maxLength: 3 }),
      async (def, events) => {
        version++;
        const clean = JSON.parse(JSON.stringify(def)) as unknown;
        const put = await client.call("PUT_MACHINE", { machine: "fz", version, definition: clean });
        if (put.status !== "ok") {
          assert.ok(["BAD_REQUEST", "MACHINE_VERSION_LIMIT_EXCEEDED"].includes(put.error.code));
          return;
        }
        const id = `fz-${version}`;
        await client.ok("CREATE_INSTANCE", { machine: "fz", version, instance_id: id });
        for (const event of events) {
          const applied = await client.call("APPLY_EVENT", {
            instance_id: id,
            event,
            payload: { n: 2 },
          });
          if (applied.status === "error") assert.ok(codes.has(applied.error.code));
        }
      },
    ),
    { numRuns: runs },
  );
  const listing = await client.ok("LIST_INSTANCES", { limit: 100_000 });
  const seq = rcp.db.seq;
  await rcp.server.close();
  await rcp.db.close();
  const reopened = await open({
    path: rcp.dataDir!,
    durability: "async",
    onMessage: () => undefined,
  });
  try {
    assert.equal(reopened.seq, seq);
    const again = reopened.machines.listInstances({ limit: 100_000 });
    assert.deepEqual(again, listing);
  } finally {
    await reopened.close();
  }
});
