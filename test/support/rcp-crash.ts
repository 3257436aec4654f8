/**
 * The RCP crash harness: a real `statebase serve --durability sync` process, a machine with a
 * durable timer and guards, several RCP connections applying events with idempotency keys,
 * and SIGKILLs at seeded random moments, each followed by a restart on the same data
 * directory. After every restart it checks, over RCP only (WAL_READ, GET_INSTANCE,
 * APPLY_EVENT retries):
 * - every acknowledged event is in the log at its `wal_offset`, with the acknowledged states;
 * - retrying an acknowledged request with its idempotency key returns the original result
 *   with `applied: false`;
 * - a request cut off by the kill was applied exactly when the log holds its key, and its
 *   retry says so;
 * - each instance's history in the log is one chain (every `from_state` is the previous
 *   `to_state`), GET_INSTANCE agrees with it, and no timer fired twice (a second TIMEOUT
 *   would move `expired` to `doubled`).
 * At the end it waits until every pending timer has fired and checks that none is left.
 * Used by test/server/rcp-crash.test.ts (a few kills) and bench/rcp-crash.ts (hundreds).
 */
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { createPrng } from "../../src/lib/prng.ts";
import type { Prng } from "../../src/lib/prng.ts";
import { RcpClient, RcpClientError } from "../../src/protocol/index.ts";
import { makeTempDir, startServer } from "./server-process.ts";
import type { ServerProcess } from "./server-process.ts";

export interface RcpCrashOptions {
  kills: number;
  seed: number;
  connections: number;
  instances: number;
  /** Random run time of the workload before each kill. */
  killDelayMsMin: number;
  killDelayMsMax: number;
  /** The durable timer of state `waiting`. */
  timerMs: number;
  onCycle?: (cycle: RcpCrashCycle) => void;
}

export interface RcpCrashCycle {
  index: number;
  acknowledged: number;
  cutOff: number;
  walRecords: number;
}

export interface RcpCrashReport {
  kills: number;
  /** Successful APPLY_EVENT answers, each checked in the log and retried. */
  acknowledged: number;
  /** Answers that were errors the workload expects (INVALID_TRANSITION, GUARD_FAILED). */
  refused: number;
  /** Requests in flight at a kill, and how many of them the log turned out to hold. */
  cutOff: number;
  cutOffApplied: number;
  timersFired: number;
  /** TIMEOUTs logged after a restart for a state entered before it (a lower bound). */
  timersAcrossRestart: number;
  walRecords: number;
}

/** The machine under test: a timer on `waiting`, guarded alternatives on FINISH. */
export const crashMachine = {
  states: ["idle", "waiting", "expired", "done", "doubled"],
  initial: "idle",
  after: { waiting: { ms: 0, event: "TIMEOUT" } },
  transitions: [
    { from: "idle", event: "START", to: "waiting", guard: "payload.n >= 0" },
    { from: "waiting", event: "FINISH", to: "done", guard: "payload.ok == true" },
    { from: "waiting", event: "FINISH", to: "idle" },
    { from: "waiting", event: "TIMEOUT", to: "expired" },
    // Nobody sends TIMEOUT: it reaches `expired` only from a timer firing a second time.
    { from: "expired", event: "TIMEOUT", to: "doubled" },
    { from: ["expired", "done"], event: "RESET", to: "idle" },
  ],
};

interface Apply {
  instance_id: string;
  event: string;
  payload: Record<string, unknown>;
  idempotency_key: string;
}

interface ApplyResult {
  from_state: string;
  to_state: string;
  ctx: unknown;
  wal_offset: number;
  applied: boolean;
}

interface WalEntry {
  type: string;
  instance_id?: string;
  event?: string;
  from_state?: string;
  to_state?: string;
  initial_state?: string;
  initial_ctx?: unknown;
  ctx?: unknown;
  idempotency_key?: string;
}

/** What the harness knows: the log read so far and the answers not yet checked. */
interface Knowledge {
  wal: Map<number, WalEntry>;
  walEnd: number;
  /** Per instance: the offsets of its entries, in order. */
  byInstance: Map<string, number[]>;
  unchecked: Array<{ request: Apply; result: ApplyResult }>;
  cutOff: Apply[];
  /** The last offset each restart recovered (read first thing, so at least that far). */
  restarts: number[];
  report: RcpCrashReport;
}

const expectedRefusals = new Set(["INVALID_TRANSITION", "GUARD_FAILED"]);
const serverArgs = ["--durability", "sync", "--http", "off"];
const walReadLimit = 1000;
const timersDrainMsMax = 30_000;

const instanceId = (index: number): string => `order-${index}`;

/** Runs the kill/restart cycles; throws (an assertion) on the first violation. */
export async function runRcpCrash(options: RcpCrashOptions): Promise<RcpCrashReport> {
  const prng = createPrng(options.seed);
  const dataDir = join(await makeTempDir("statebase-rcp-crash-"), "data");
  const known: Knowledge = {
    wal: new Map(),
    walEnd: 0,
    byInstance: new Map(),
    unchecked: [],
    cutOff: [],
    restarts: [],
    report: {
      kills: 0,
      acknowledged: 0,
      refused: 0,
      cutOff: 0,
      cutOffApplied: 0,
      timersFired: 0,
      timersAcrossRestart: 0,
      walRecords: 0,
    },
  };
  const env = { STATEBASE_TIMER_TICK_MS: "20" };
  let server = await startServer({ dataDir, args: serverArgs, env });
  try {
    await setUp(server, options);
    for (let index = 0; index < options.kills; index++) {
      await runUntilKilled(server, options, prng, index, known);
      server = await startServer({ dataDir, args: serverArgs, env });
      await checkRestart(server, options, known);
      known.report.kills++;
      options.onCycle?.({
        index,
        acknowledged: known.report.acknowledged,
        cutOff: known.report.cutOff,
        walRecords: known.wal.size,
      });
    }
    await drainTimers(server, options, known);
    known.report.walRecords = known.wal.size;
    return known.report;
  } finally {
    await server.kill();
    await rm(join(dataDir, ".."), { recursive: true, force: true });
  }
}

async function setUp(server: ServerProcess, options: RcpCrashOptions): Promise<void> {
  const client = await connect(server);
  const definition = {
    ...crashMachine,
    after: { waiting: { ms: options.timerMs, event: "TIMEOUT" } },
  };
  await client.request("PUT_MACHINE", { machine: "crash", version: 1, definition });
  for (let i = 0; i < options.instances; i++) {
    await client.request("CREATE_INSTANCE", {
      instance_id: instanceId(i),
      machine: "crash",
      version: 1,
      idempotency_key: `create-${i}`,
    });
  }
  await client.close();
}

function connect(server: ServerProcess): Promise<RcpClient> {
  return RcpClient.connect({ host: "127.0.0.1", port: server.rcp.port });
}

// ---- The workload ----

/** Starts one writer per connection, kills the server after a random delay, waits for them. */
async function runUntilKilled(
  server: ServerProcess,
  options: RcpCrashOptions,
  prng: Prng,
  cycle: number,
  known: Knowledge,
): Promise<void> {
  const state = { killed: false };
  const writers: Array<Promise<void>> = [];
  for (let c = 0; c < options.connections; c++) {
    const owned = ownedInstances(options, c);
    const writerPrng = createPrng(prng.int(0x7fff_ffff));
    writers.push(
      runWriter(await connect(server), owned, writerPrng, `${cycle}-${c}`, state, known),
    );
  }
  const span = options.killDelayMsMax - options.killDelayMsMin;
  await sleep(options.killDelayMsMin + prng.int(span + 1));
  state.killed = true;
  await server.kill("SIGKILL");
  await Promise.all(writers);
}

function ownedInstances(options: RcpCrashOptions, connection: number): string[] {
  const owned: string[] = [];
  for (let i = connection; i < options.instances; i += options.connections) {
    owned.push(instanceId(i));
  }
  return owned;
}

/** One connection: unpipelined APPLY_EVENTs until the server dies under it. */
async function runWriter(
  client: RcpClient,
  owned: string[],
  prng: Prng,
  keyPrefix: string,
  state: { killed: boolean },
  known: Knowledge,
): Promise<void> {
  const guesses = new Map<string, string>();
  for (let n = 0; ; n++) {
    const id = owned[prng.int(owned.length)]!;
    const request = nextRequest(id, guesses.get(id), prng, `${keyPrefix}-${n}`);
    try {
      const result = await client.request<ApplyResult>("APPLY_EVENT", request);
      assert.equal(result.applied, true, `a fresh key applies: ${JSON.stringify(result)}`);
      known.unchecked.push({ request, result });
      known.report.acknowledged++;
      guesses.set(id, result.to_state);
    } catch (error) {
      if (error instanceof RcpClientError && expectedRefusals.has(error.code)) {
        known.report.refused++;
        guesses.delete(id);
        continue;
      }
      // Anything else must be the kill: the request's fate is decided by the log.
      assert.ok(state.killed, `unexpected failure before the kill: ${String(error)}`);
      known.cutOff.push(request);
      known.report.cutOff++;
      return;
    }
  }
}

/** A plausible next event for the guessed state; sometimes a wrong one on purpose. */
function nextRequest(id: string, guess: string | undefined, prng: Prng, key: string): Apply {
  const roll = prng.next();
  let event: string;
  let payload: Record<string, unknown> = {};
  if (guess === "idle" || (guess === undefined && roll < 0.3)) {
    event = "START";
    // One START in ten fails its guard.
    payload = { n: prng.int(10) - 1 };
  } else if (guess === "waiting" || (guess === undefined && roll < 0.6)) {
    event = "FINISH";
    payload = { ok: prng.next() < 0.5 };
  } else {
    event = prng.next() < 0.9 ? "RESET" : "START";
  }
  return { instance_id: id, event, payload, idempotency_key: key };
}

// ---- Checks after a restart ----

async function checkRestart(
  server: ServerProcess,
  options: RcpCrashOptions,
  known: Knowledge,
): Promise<void> {
  const client = await connect(server);
  try {
    const stats = await client.request<{ entry_count: number }>("WAL_STATS");
    known.restarts.push(stats.entry_count);
    const instances = await getInstances(client, options);
    await readWal(client, known);
    checkAcknowledged(known);
    await retryAcknowledged(client, known);
    await resolveCutOff(client, known);
    checkInstances(instances, known);
  } finally {
    await client.close();
  }
}

type InstanceView = { state: string; ctx: unknown; last_wal_offset: number };

async function getInstances(
  client: RcpClient,
  options: RcpCrashOptions,
): Promise<Map<string, InstanceView>> {
  const views = new Map<string, InstanceView>();
  for (let i = 0; i < options.instances; i++) {
    const id = instanceId(i);
    views.set(id, await client.request<InstanceView>("GET_INSTANCE", { instance_id: id }));
  }
  return views;
}

/** Reads the log from where the last read ended; every record read is on disk now. */
async function readWal(client: RcpClient, known: Knowledge): Promise<void> {
  for (;;) {
    const page = await client.request<{
      records: Array<{ offset: number; entry: WalEntry }>;
      next_offset: number | null;
    }>("WAL_READ", { from_offset: known.walEnd + 1, limit: walReadLimit });
    for (const { offset, entry } of page.records) {
      assert.equal(offset, known.walEnd + 1, "offsets are gapless");
      known.wal.set(offset, entry);
      known.walEnd = offset;
      if (entry.instance_id !== undefined) {
        const offsets = known.byInstance.get(entry.instance_id) ?? [];
        offsets.push(offset);
        known.byInstance.set(entry.instance_id, offsets);
      }
    }
    if (page.records.length < walReadLimit) return;
  }
}

/** Every acknowledged event is in the log at its offset, as acknowledged. */
function checkAcknowledged(known: Knowledge): void {
  for (const { request, result } of known.unchecked) {
    const entry = known.wal.get(result.wal_offset);
    assert.ok(entry !== undefined, `acknowledged offset ${result.wal_offset} lost`);
    const at = `acknowledged offset ${result.wal_offset}`;
    assert.equal(entry.type, "apply_event", at);
    assert.equal(entry.instance_id, request.instance_id, at);
    assert.equal(entry.event, request.event);
    assert.equal(entry.idempotency_key, request.idempotency_key);
    assert.equal(entry.from_state, result.from_state);
    assert.equal(entry.to_state, result.to_state);
    assert.deepEqual(entry.ctx, result.ctx);
  }
}

/** A retry with the same key answers the original result, marked `applied: false`. */
async function retryAcknowledged(client: RcpClient, known: Knowledge): Promise<void> {
  const retries = known.unchecked.map(({ request }) => client.request("APPLY_EVENT", request));
  const answers = await Promise.all(retries);
  known.unchecked.forEach(({ result }, index) => {
    assert.deepEqual(answers[index], { ...result, applied: false }, "retry answers the original");
  });
  known.unchecked = [];
}

/** A request cut off by the kill: its retry must agree with whether the log holds its key. */
async function resolveCutOff(client: RcpClient, known: Knowledge): Promise<void> {
  for (const request of known.cutOff) {
    const logged = (known.byInstance.get(request.instance_id) ?? []).find(
      (offset) => known.wal.get(offset)!.idempotency_key === request.idempotency_key,
    );
    let answer: ApplyResult | undefined;
    try {
      answer = await client.request<ApplyResult>("APPLY_EVENT", request);
    } catch (error) {
      assert.ok(error instanceof RcpClientError && expectedRefusals.has(error.code), String(error));
      assert.equal(logged, undefined, "a logged request's retry is answered from its key");
      continue;
    }
    if (logged !== undefined) {
      known.report.cutOffApplied++;
      assert.equal(answer.applied, false, "the log holds it: the retry must not apply again");
      assert.equal(answer.wal_offset, logged);
    } else {
      // It was lost before it was acknowledged, which sync mode allows; now it is applied.
      assert.equal(answer.applied, true);
      known.unchecked.push({ request, result: answer });
      known.report.acknowledged++;
    }
  }
  known.cutOff = [];
}

/** Each instance's log entries form one chain that ends where GET_INSTANCE says. */
function checkInstances(instances: Map<string, InstanceView>, known: Knowledge): void {
  for (const [id, view] of instances) {
    const offsets = known.byInstance.get(id) ?? [];
    let state: string | undefined;
    let ctx: unknown;
    for (const offset of offsets) {
      if (offset > view.last_wal_offset) break;
      const entry = known.wal.get(offset)!;
      if (entry.type === "create_instance") {
        [state, ctx] = [entry.initial_state, entry.initial_ctx];
        continue;
      }
      assert.equal(entry.from_state, state, `${id}: the history at ${offset} is one chain`);
      assert.notEqual(entry.to_state, "doubled", `${id}: a timer fired twice (at ${offset})`);
      [state, ctx] = [entry.to_state, entry.ctx];
    }
    assert.ok(offsets.includes(view.last_wal_offset), `${id}: last_wal_offset is its entry`);
    assert.equal(view.state, state, `${id}: GET_INSTANCE agrees with the log`);
    assert.deepEqual(view.ctx, ctx);
  }
}

/**
 * Counts the TIMEOUTs in the log, and those whose state was entered before a restart and
 * that fired after it. Only clients enter `waiting`, and they wait for the restart's check,
 * so an entry at or below a restart's recovered offset was made before the kill.
 */
function countTimers(known: Knowledge): void {
  for (const [offset, entry] of known.wal) {
    if (entry.event !== "TIMEOUT") continue;
    known.report.timersFired++;
    const offsets = known.byInstance.get(entry.instance_id!)!;
    const entered = offsets[offsets.indexOf(offset) - 1]!;
    if (known.restarts.some((at) => entered <= at && at < offset)) {
      known.report.timersAcrossRestart++;
    }
  }
}

/** With no more events, every `waiting` instance must time out, once. */
async function drainTimers(
  server: ServerProcess,
  options: RcpCrashOptions,
  known: Knowledge,
): Promise<void> {
  const client = await connect(server);
  try {
    const deadline = performance.now() + timersDrainMsMax;
    let instances = await getInstances(client, options);
    while ([...instances.values()].some((view) => view.state === "waiting")) {
      assert.ok(performance.now() < deadline, "a pending timer never fired");
      await sleep(options.timerMs);
      instances = await getInstances(client, options);
    }
    await readWal(client, known);
    checkInstances(instances, known);
    countTimers(known);
  } finally {
    await client.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
