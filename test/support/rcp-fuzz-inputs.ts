/**
 * Fuzz inputs for the RCP server, as fast-check arbitraries: valid requests (every operation,
 * random and mutated params, random and mutated machine definitions) encoded as frames or
 * JSON lines, then broken on purpose: bit flips, truncations, wrong or huge declared
 * lengths, bad CRCs, bad header fields, bad UTF-8 or JSON, random bytes. A case is a few
 * inputs sent back to back on one connection. Used by test/support/rcp-fuzz.ts.
 */
import fc from "fast-check";
import { frame } from "./rcp-wire.ts";
import type { FrameOptions } from "./rcp-wire.ts";

/** One input: what it is (for the report) and its bytes. */
export interface FuzzInput {
  kind: string;
  bytes: Buffer;
}

/** A connection's worth of inputs; `lines` cases speak JSON lines from the first byte. */
export interface FuzzCase {
  inputs: FuzzInput[];
  lines: boolean;
}

/** Machines and instances the fuzzer may touch; the valid workload uses other names. */
const fuzzMachines = ["fz", "fz2", ""];
export const fuzzInstances = ["z-0", "z-1", "z-2", "z-3"];

const opNames = [
  "HELLO", "AUTH", "PING", "BYE", "INFO", "PUT_MACHINE", "GET_MACHINE", "LIST_MACHINES",
  "CREATE_INSTANCE", "GET_INSTANCE", "LIST_INSTANCES", "DELETE_INSTANCE", "APPLY_EVENT",
  "MIGRATE_INSTANCES", "BATCH", "WAL_READ", "WAL_STATS", "COMPACT", "SNAPSHOT_INSTANCE",
  "WATCH_INSTANCE", "WATCH_ALL", "UNWATCH", "CALL",
]; // prettier-ignore

const anyJson = fc.jsonValue({ maxDepth: 3 });
const smallText = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: "binary", maxLength: 8 }),
);
const stateName = fc.oneof(fc.constantFrom("a", "b", "c", "created", "paid"), smallText);
const eventName = fc.oneof(fc.constantFrom("PAY", "SHIP", "GO", "TIMEOUT"), smallText);
const number = fc.oneof(fc.nat(5), fc.integer(), fc.double(), fc.constant(2 ** 53));

const guardText = fc.oneof(
  fc.constantFrom(
    "ctx.ready",
    "payload.amount > 100 && ctx.approved",
    '!ctx.blocked || ctx.tier == "gold"',
    "ctx.a > 1e5",
    "ctx.a > 1 1",
    "payload.x == null",
    "((((ctx.a))))",
    "ctx.",
    "&&",
  ),
  smallText,
  fc.string({ maxLength: 40 }),
);

const transition = fc.record(
  {
    from: fc.oneof(stateName, fc.array(stateName, { maxLength: 3 })),
    event: eventName,
    to: stateName,
    guard: fc.option(guardText),
    after: fc.record({ ms: number, event: eventName }, { requiredKeys: [] }),
    effects: fc.oneof(anyJson, fc.constant([{ counter: "x::y", add: 1 }])),
  },
  { requiredKeys: ["from", "event", "to"] },
);

/** Definitions shaped like the DSL, with random names, guards, timers and effects. */
const shapedDefinition = fc.record(
  {
    states: fc.array(stateName, { maxLength: 5 }),
    initial: stateName,
    transitions: fc.array(transition, { maxLength: 5 }),
    after: fc.dictionary(stateName, fc.record({ ms: number, event: eventName }), {
      maxKeys: 2,
    }),
    meta: anyJson,
  },
  { requiredKeys: [] },
);

/** Put as `fz` version 1 (with instances z-0..z-3) before fuzzing, so events go deep. */
export const validDefinition = {
  states: ["a", "b", "c"],
  initial: "a",
  after: { b: { ms: 60_000, event: "GO" } },
  transitions: [
    { from: "a", event: "PAY", to: "b", guard: "payload.amount >= 0" },
    { from: "b", event: "GO", to: "c" },
    { from: ["b", "c"], event: "SHIP", to: "a" },
  ],
};

/** The valid definition with one field replaced by random JSON or removed. */
const mutatedDefinition = fc
  .tuple(fc.constantFrom("states", "initial", "transitions", "after", "t0", "t1.from"), anyJson)
  .map(([path, value]) => {
    const copy = structuredClone(validDefinition) as Record<string, unknown>;
    const transitions = copy.transitions as Array<Record<string, unknown>>;
    if (path === "t0") transitions[0] = value as Record<string, unknown>;
    else if (path === "t1.from") transitions[1]!.from = value;
    else if (value === null) delete copy[path];
    else copy[path] = value;
    return copy;
  });

const definition = fc.oneof(
  shapedDefinition,
  mutatedDefinition,
  anyJson,
  fc.constant(validDefinition),
);

const putMachine = fc.record({
  machine: fc.oneof(fc.constantFrom(...fuzzMachines), smallText),
  version: fc.oneof(fc.nat(3), number, anyJson),
  definition,
});

const instanceRef = fc.oneof(fc.constantFrom(...fuzzInstances), smallText);

/** Well-typed params for each operation, aimed at the fuzz machines and instances. */
const typedParams: Record<string, fc.Arbitrary<unknown>> = {
  HELLO: fc.record({ protocol_version: fc.oneof(fc.constant(1), number), wire_modes: anyJson }),
  PUT_MACHINE: putMachine,
  GET_MACHINE: fc.record({ machine: fc.constantFrom(...fuzzMachines), version: number }),
  CREATE_INSTANCE: fc.record(
    {
      instance_id: instanceRef,
      machine: fc.constantFrom(...fuzzMachines),
      version: fc.nat(3),
      initial_ctx: anyJson,
      idempotency_key: smallText,
    },
    { requiredKeys: ["machine", "version"] },
  ),
  APPLY_EVENT: fc.record(
    {
      instance_id: instanceRef,
      event: eventName,
      payload: anyJson,
      expected_state: stateName,
      expected_wal_offset: number,
      event_id: smallText,
      idempotency_key: smallText,
    },
    { requiredKeys: ["instance_id", "event"] },
  ),
  DELETE_INSTANCE: fc.record({ instance_id: instanceRef }),
  LIST_INSTANCES: fc.record(
    { machine: anyJson, state: anyJson, limit: number, offset: number },
    { requiredKeys: [] },
  ),
  WAL_READ: fc.record({ from_offset: number, limit: number }, { requiredKeys: [] }),
  // from_offset both in the log and beyond its end (the latter once failed an assertion in
  // watch.ts; rcp-fuzz.test.ts keeps a regression test of it under writes).
  WATCH_ALL: fc.record(
    { from_offset: fc.oneof(fc.nat(10), number), machines: anyJson },
    { requiredKeys: [] },
  ),
  COMPACT: fc.record({ force_snapshot: anyJson }, { requiredKeys: [] }),
};

const request: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc
    .constantFrom(...Object.keys(typedParams))
    .chain((op) => typedParams[op]!.map((params) => ({ op, params }))),
  fc.record({ op: fc.oneof(fc.constantFrom(...opNames), smallText), params: anyJson }),
  fc
    .array(
      fc
        .constantFrom(...Object.keys(typedParams))
        .chain((op) => typedParams[op]!.map((params) => ({ op, params }))),
      { maxLength: 4 },
    )
    .chain((ops) =>
      fc.record({
        op: fc.constant("BATCH"),
        params: fc.record({
          mode: fc.constantFrom("atomic", "best_effort", 7),
          ops: fc.constant(ops),
        }),
      }),
    ),
);

/** The envelope around a request, sometimes broken (numeric id, no type, extra keys). */
const envelope = fc
  .tuple(request, fc.oneof(fc.string({ maxLength: 6 }), anyJson), fc.nat(9))
  .map(([r, id, shape]) => {
    if (shape === 0) return { id, op: r.op, params: r.params };
    if (shape === 1) return { type: "request", id, op: r.op, params: r.params, extra: id };
    const text = typeof id === "string" ? id : JSON.stringify(id);
    return { type: "request", id: text, op: r.op, params: r.params };
  });

type Breakage = { kind: string; apply: (bytes: Buffer, text: string) => Buffer };

/** Ways to break a valid frame of `text`; `none` keeps it valid. */
const breakage: fc.Arbitrary<Breakage> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: "valid", apply: (b: Buffer) => b }) },
  fc.array(fc.nat(), { minLength: 1, maxLength: 4 }).map((bits) => ({
    kind: "bit-flip",
    apply: (b: Buffer) => flipBits(b, bits),
  })),
  fc.nat().map((at) => ({ kind: "truncated", apply: (b: Buffer) => b.subarray(0, at % b.length) })),
  frameKnob(
    "wrong-length",
    fc.oneof(fc.nat(64), fc.nat()).map((n) => ({ payloadLength: n })),
  ),
  frameKnob("huge-length", fc.integer({ min: 2 ** 24 - 1, max: 2 ** 32 - 1 }).map(lengthOf)),
  frameKnob(
    "bad-crc",
    fc.nat(2 ** 32 - 1).map((crcValue) => ({ crcValue })),
  ),
  frameKnob("no-crc", fc.constant({ crc: false })),
  frameKnob(
    "bad-magic",
    fc.string({ minLength: 4, maxLength: 4 }).map((magic) => ({ magic })),
  ),
  frameKnob(
    "bad-version",
    fc.nat(0xffff).map((version) => ({ version })),
  ),
  frameKnob(
    "bad-flags",
    fc.nat(0xffff).map((flags) => ({ flags })),
  ),
  frameKnob(
    "extension",
    fc.nat(40).map((extension) => ({ extension })),
  ),
  fc.tuple(fc.nat(), fc.string({ unit: "binary", maxLength: 3 })).map(([at, insert]) => ({
    kind: "bad-json",
    apply: (_b: Buffer, text: string) => frame(spliceText(text, at, insert)),
  })),
  fc.uint8Array({ maxLength: 6 }).map((junk) => ({
    kind: "bad-utf8",
    apply: (_b: Buffer, text: string) =>
      frame(Buffer.concat([Buffer.from(text), Buffer.from([0xff, 0xc3]), junk])),
  })),
);

function lengthOf(payloadLength: number): FrameOptions {
  return { payloadLength };
}

function frameKnob(kind: string, options: fc.Arbitrary<FrameOptions>): fc.Arbitrary<Breakage> {
  return options.map((knobs) => ({
    kind,
    apply: (_b: Buffer, text: string) => frame(text, knobs),
  }));
}

function flipBits(bytes: Buffer, bits: number[]): Buffer {
  const copy = Buffer.from(bytes);
  for (const bit of bits) {
    const at = (bit >>> 3) % copy.length;
    copy[at]! ^= 1 << (bit & 7);
  }
  return copy;
}

function spliceText(text: string, at: number, insert: string): string {
  const cut = at % (text.length + 1);
  return text.slice(0, cut) + insert + text.slice(cut + (at & 1));
}

const frameInput: fc.Arbitrary<FuzzInput> = fc
  .tuple(envelope, breakage)
  .map(([message, broken]) => {
    const text = JSON.stringify(message);
    return { kind: broken.kind, bytes: broken.apply(frame(text), text) };
  });

/** Valid frames only, so that a case gets deep into a session (random ops and params). */
const validFrameInput: fc.Arbitrary<FuzzInput> = envelope.map((message) => ({
  kind: "valid",
  bytes: frame(JSON.stringify(message)),
}));

const randomBytes: fc.Arbitrary<FuzzInput> = fc
  .uint8Array({ maxLength: 64 })
  .map((bytes) => ({ kind: "random-bytes", bytes: Buffer.from(bytes) }));

const lineInput: fc.Arbitrary<FuzzInput> = fc
  .tuple(envelope, fc.nat(), fc.string({ unit: "binary", maxLength: 2 }), fc.nat(3))
  .map(([message, at, insert, broken]) => {
    const text = JSON.stringify(message);
    const line = broken === 0 ? spliceText(text, at, insert) : text;
    return { kind: broken === 0 ? "line-bad-json" : "line", bytes: Buffer.from(`${line}\n`) };
  });

/** One case: a few frames (or lines), occasionally random bytes. */
export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .array(fc.oneof({ weight: 9, arbitrary: frameInput }, randomBytes), {
        minLength: 1,
        maxLength: 6,
      })
      .map((inputs) => ({ inputs, lines: false })),
  },
  {
    weight: 4,
    arbitrary: fc
      .array(validFrameInput, { minLength: 1, maxLength: 6 })
      .map((inputs) => ({ inputs, lines: false })),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(lineInput, { minLength: 1, maxLength: 4 })
      .map((inputs) => ({ inputs, lines: true })),
  },
);
