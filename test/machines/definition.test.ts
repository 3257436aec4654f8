/**
 * Goal: machine definitions are validated with errors that name the fault and its path,
 * normalized as rstmdb normalizes them, checksummed exactly as rstmdb does, and versioned
 * immutably (specs/rcp.md §4, §2.6 PUT_MACHINE/GET_MACHINE/LIST_MACHINES, decisions 3, 7, 8).
 * Method: put definitions through `db.machines` and compare results and errors with the
 * spec's examples and test vectors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "../../src/index.ts";
import { definitionChecksum, normalizeDefinition } from "../../src/machines/index.ts";
import { machineTimerDelayMsMax, machineTransitionsMax } from "../../src/lib/limits.ts";
import { throwsDb } from "../support/assertions.ts";

const twoStates = {
  states: ["created", "paid"],
  initial: "created",
  transitions: [{ from: "created", event: "PAY", to: "paid" }],
};

const threeStates = {
  states: ["created", "paid", "shipped"],
  initial: "created",
  transitions: [
    { from: "created", event: "PAY", to: "paid" },
    { from: "paid", event: "SHIP", to: "shipped", guard: "ctx.ready" },
  ],
};

test("checksums are rstmdb's CRC32C test vectors (§4)", () => {
  assert.equal(definitionChecksum(normalizeDefinition(twoStates)), "26adbd14");
  assert.equal(definitionChecksum(normalizeDefinition(threeStates)), "eef67bea");
});

test("normalization: from becomes a list, null guard and unknown keys drop, meta is kept", () => {
  const normalized = normalizeDefinition({
    ...twoStates,
    transitions: [{ from: "created", event: "PAY", to: "paid", guard: null, color: "red" }],
    description: "dropped",
    meta: { z: 1, a: [true, null] },
  });
  assert.equal(
    JSON.stringify(normalized),
    '{"states":["created","paid"],"initial":"created","transitions":[{"from":["created"],' +
      '"event":"PAY","to":"paid"}],"meta":{"a":[true,null],"z":1}}',
  );
  // meta null is absent (serde's Option<Value>), so the checksum is the plain one.
  assert.equal(definitionChecksum(normalizeDefinition({ ...twoStates, meta: null })), "26adbd14");
});

test("put stores a version; the same content again is created:false", async () => {
  const db = await open();
  const put = db.machines.put("order", 1, threeStates);
  assert.deepEqual(put, {
    machine: "order",
    version: 1,
    stored_checksum: "eef67bea",
    created: true,
  });
  const again = db.machines.put("order", 1, { ...threeStates, unknown: 1 });
  assert.deepEqual(again, { ...put, created: false });
  assert.deepEqual(db.machines.get("order", 1), {
    definition: normalizeDefinition(threeStates),
    checksum: "eef67bea",
  });
  throwsDb(() => db.machines.put("order", 1, twoStates), {
    code: "MACHINE_VERSION_EXISTS",
    message: /^machine version already exists: order v1$/,
  });
  throwsDb(() => db.machines.get("order", 2), {
    code: "MACHINE_NOT_FOUND",
    message: /^machine version not found: order v2$/,
  });
  await db.close();
});

test("list: names in byte order, versions ascending; odd names and version 0 work", async () => {
  const db = await open();
  db.machines.put("zeta", 2, twoStates);
  db.machines.put("zeta", 0, twoStates);
  db.machines.put("order-flow", 1, twoStates);
  db.machines.put("", 7, twoStates);
  assert.deepEqual(db.machines.list(), {
    items: [
      { machine: "", versions: [7] },
      { machine: "order-flow", versions: [1] },
      { machine: "zeta", versions: [0, 2] },
    ],
  });
  const instance = db.machines.createInstance({ machine: "order-flow", version: 1 });
  assert.equal(db.machines.getInstance(instance.instance_id).machine, "order-flow");
  await db.close();
});

test("the version limit refuses a new version, not a repeated one", async () => {
  const db = await open({ machines: { versionsMax: 2 } });
  db.machines.put("order", 1, twoStates);
  db.machines.put("order", 2, twoStates);
  assert.equal(db.machines.put("order", 2, twoStates).created, false);
  throwsDb(() => db.machines.put("order", 3, twoStates), {
    code: "MACHINE_VERSION_LIMIT_EXCEEDED",
    message:
      /^machine version limit exceeded: machine 'order' already has 2 versions \(limit: 2\)$/,
  });
  await db.close();
});

test("validation errors name the fault and where it is", async () => {
  const db = await open();
  const cases: Array<[unknown, RegExp]> = [
    [{ ...twoStates, initial: "c" }, /^invalid machine definition: initial state 'c' not in/],
    [{ states: ["a"], transitions: [] }, /^invalid machine definition: missing field 'initial'$/],
    [{ initial: "a", transitions: [] }, /missing field 'states'$/],
    [{ states: ["a"], initial: "a" }, /missing field 'transitions'$/],
    [{ states: "a", initial: "a", transitions: [] }, /states: must be a list/],
    [{ states: ["a", 3], initial: "a", transitions: [] }, /states\[1\]: must be text, got 3/],
    [
      { states: ["a"], initial: "a", transitions: [{ from: "a", event: "E", to: "b" }] },
      /transitions\[0\]\.to: state 'b' not in states list/,
    ],
    [
      { states: ["a"], initial: "a", transitions: [{ from: ["a", "x"], event: "E", to: "a" }] },
      /transitions\[0\]\.from: state 'x' not in states list/,
    ],
    [
      { states: ["a"], initial: "a", transitions: [{ from: "a", to: "a" }] },
      /transitions\[0\]: missing field 'event'/,
    ],
    [
      {
        states: ["a", "b"],
        initial: "a",
        transitions: [
          { from: "a", event: "E", to: "b" },
          { from: "a", event: "E", to: "a", guard: "ctx.x" },
        ],
      },
      /transitions\[1\]: duplicate transition from 'a' on event 'E'/,
    ],
    [[], /a definition must be an object/],
  ];
  for (const [definition, message] of cases) {
    throwsDb(() => db.machines.put("m", 1, definition as Record<string, unknown>), {
      code: "INVALID_DEFINITION",
      message,
    });
  }
  assert.deepEqual(db.machines.list(), { items: [] }, "nothing stored by a refused put");
  await db.close();
});

test("guards are checked at put time; trailing input is an error (decision 7)", async () => {
  const db = await open();
  const withGuard = (guard: string): Record<string, unknown> => ({
    states: ["a"],
    initial: "a",
    transitions: [{ from: "a", event: "E", to: "a", guard }],
  });
  for (const guard of ["", "ctx.", "other.x", "ctx.a > 1 1", '(ctx.a == "x"', "ctx.a >"]) {
    throwsDb(() => db.machines.put("g", 1, withGuard(guard)), {
      code: "INVALID_DEFINITION",
      message: /^invalid guard expression at transitions\[0\]\.guard: /,
    });
  }
  const good = ["ctx.a > 1 && !ctx.b", 'payload.x == "y" || ctx.n <= -2.5', "ctx.a.b"];
  good.forEach((guard, version) => {
    assert.equal(db.machines.put("g", version, withGuard(guard)).created, true);
  });
  await db.close();
});

test("timers and effects are validated at put time", async () => {
  const db = await open();
  const base = { states: ["a", "b"], initial: "a" };
  const hugeTimer = { ms: Number.MAX_SAFE_INTEGER, event: "T" };
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [
      { ...base, transitions: [{ from: "a", event: "E", to: "b", after: { ms: 0, event: "T" } }] },
      /transitions\[0\]\.after\.ms: must be a whole number of ms >= 1/,
    ],
    [
      // Accepted before, then every create failed: the deadline was beyond 2^53 ms.
      { ...base, transitions: [{ from: "a", event: "T", to: "b" }], after: { a: hugeTimer } },
      /after\.a\.ms: at most 3153600000000 ms/,
    ],
    [
      { ...base, transitions: [{ from: "a", event: "E", to: "b", after: { ms: 5, event: "T" } }] },
      /no transition from 'b' on timer event 'T'/,
    ],
    [
      { ...base, transitions: [], after: { c: { ms: 1, event: "T" } } },
      /after: state 'c' not in states list/,
    ],
    [
      {
        ...base,
        transitions: [{ from: "a", event: "E", to: "b", effects: [{ counter: "x::y" }] }],
      },
      /effects\[0\]: a counter effect needs exactly one of add/,
    ],
    [
      {
        ...base,
        transitions: [{ from: "a", event: "E", to: "b", effects: [{ counter: "a::c", add: "+" }] }],
      },
      /effects\[0\]\.add: invalid expression/,
    ],
    [
      {
        ...base,
        transitions: [
          { from: "a", event: "E", to: "b", effects: [{ table: "machine::x", upsert: {} }] },
        ],
      },
      /effects may not write to the machine namespace/,
    ],
    [
      {
        ...base,
        transitions: [
          { from: "a", event: "E", to: "b", effects: [{ queue: "a::q", enqueue: 1, when: 1 }] },
        ],
      },
      /unknown key 'when' in a queue effect/,
    ],
  ];
  for (const [definition, message] of bad) {
    throwsDb(() => db.machines.put("t", 1, definition), { code: "INVALID_DEFINITION", message });
  }
  await db.close();
});

test("the longest timer is accepted and arms a deadline the instance row holds", async () => {
  const db = await open();
  const timer = { ms: machineTimerDelayMsMax, event: "T" };
  const transitions = [{ from: "a", event: "T", to: "b" }];
  db.machines.put("long", 1, {
    states: ["a", "b"],
    initial: "a",
    transitions,
    after: { a: timer },
  });
  db.machines.createInstance({ machine: "long", version: 1, instance_id: "i" });
  assert.equal(db.machines.getInstance("i").state, "a");
  await db.close();
});

test("timer events are checked in linear time: the largest timed definition is quick", () => {
  // Each transition's timer needs a transition from its target; searching the whole list per
  // timer took about 80 s for 100,000 transitions, with the server unable to answer anyone.
  const stateCount = 1000;
  const states = Array.from({ length: stateCount }, (_, i) => `s${i}`);
  const transitions = Array.from({ length: machineTransitionsMax }, (_, i) => ({
    from: `s${i % stateCount}`,
    event: `E${i}`,
    to: `s${(i + 1) % stateCount}`,
    after: { ms: 1000, event: `E${(i + 1) % machineTransitionsMax}` },
  }));
  const started = performance.now();
  const normalized = normalizeDefinition({ states, initial: "s0", transitions });
  assert.equal(normalized.transitions.length, machineTransitionsMax);
  assert.ok(performance.now() - started < 20_000, "validation took more than 20 s");
});

test("bad put parameters are INVALID_ARGUMENT", async () => {
  const db = await open();
  for (const version of [-1, 1.5, 2 ** 32, "1"]) {
    throwsDb(() => db.machines.put("m", version as number, twoStates), {
      code: "INVALID_ARGUMENT",
      message: /^version must be a whole number/,
    });
  }
  throwsDb(() => db.machines.put("x".repeat(70) + "-", 1, twoStates), {
    code: "INVALID_ARGUMENT",
    message: /machine name too long/,
  });
  await db.close();
});

test("effects or meta nested 200,000 levels deep are INVALID_DEFINITION naming where", () => {
  // An effect's template is compiled by recursion: 200,000 nested lists overflowed the stack
  // (RangeError; INTERNAL_ERROR, retryable, over RCP) for what is the client's input.
  const deepList = (depth: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = [value];
    return value;
  };
  const base = { states: ["a"], initial: "a" };
  const withEffect = (template: unknown) => ({
    ...base,
    transitions: [
      { from: "a", event: "E", to: "a", effects: [{ table: "s::t", insert: template }] },
    ],
  });
  throwsDb(() => normalizeDefinition(withEffect(deepList(200_000))), {
    code: "INVALID_DEFINITION",
    message: /transitions\[0\]\.effects\[0\]: nests deeper than 64 levels of lists and objects/,
  });
  throwsDb(() => normalizeDefinition({ ...base, transitions: [], meta: deepList(200_000) }), {
    code: "INVALID_DEFINITION",
    message: /meta: nests deeper than 64 levels/,
  });
  // As deep as a json value may be still goes through.
  normalizeDefinition(withEffect(deepList(50)));
  normalizeDefinition({ ...base, transitions: [], meta: deepList(60) });
});
