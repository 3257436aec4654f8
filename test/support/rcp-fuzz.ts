/**
 * The RCP fuzz harness: a real `statebase serve --durability sync` process gets a valid
 * workload, then seeded fast-check cases (test/support/rcp-fuzz-inputs.ts), each on its own
 * connection followed by a PING probe and a half-close; every case must end with the server
 * closing the connection. Throughout, a fresh connection must get PING answered. Afterwards
 * the valid workload must still work; then the server is SIGKILLed, `statebase verify`
 * must pass on its data directory, and after a restart the whole state read over RCP (every
 * machine, every instance, the whole log) must equal what it was before the kill, with every
 * acknowledged valid write in it. Used by test/server/rcp-fuzz.test.ts and bench/rcp-fuzz.ts.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { connect as connectTcp } from "node:net";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { RcpClient } from "../../src/protocol/index.ts";
import { fuzzCase, fuzzInstances, validDefinition } from "./rcp-fuzz-inputs.ts";
import type { FuzzCase } from "./rcp-fuzz-inputs.ts";
import { requestFrame } from "./rcp-wire.ts";
import { makeTempDir, startServer } from "./server-process.ts";
import type { ServerProcess } from "./server-process.ts";

export interface RcpFuzzOptions {
  /** Inputs to send in all (a case holds one to six). */
  inputs: number;
  seed: number;
  /** Cases in flight at once, each on its own connection. */
  parallel: number;
  onProgress?: (inputs: number) => void;
}

export interface RcpFuzzReport {
  inputs: number;
  cases: number;
  /** Inputs by kind of breakage (`valid` frames included). */
  kinds: Record<string, number>;
  /** Cases whose trailing PING was still answered (the stream stayed in sync). */
  probesAnswered: number;
  /** Fuzz requests answered `ok` (the probes not counted). */
  okAnswers: number;
  healthChecks: number;
  validWrites: number;
  logRecords: number;
}

const serverArgs = ["--durability", "sync", "--http", "off"];
const caseBatch = 500;
const caseTimeoutMs = 20_000;
const healthEveryInputs = 2000;
const validInstances = 8;
const bin = resolve(import.meta.dirname, "..", "..", "bin", "statebase.js");

/** Runs the fuzz campaign and the checks after it; throws on the first violation. */
export async function runRcpFuzz(options: RcpFuzzOptions): Promise<RcpFuzzReport> {
  const dataDir = join(await makeTempDir("statebase-rcp-fuzz-"), "data");
  const report: RcpFuzzReport = {
    inputs: 0,
    cases: 0,
    kinds: {},
    probesAnswered: 0,
    okAnswers: 0,
    healthChecks: 0,
    validWrites: 0,
    logRecords: 0,
  };
  let server = await startServer({ dataDir, args: serverArgs });
  try {
    await fuzzSetUp(server);
    const valid = await validWorkload(server, "before");
    await fuzz(server, options, report);
    const after = await validWorkload(server, "after");
    report.validWrites = valid + after;
    const before = await readState(server);
    await server.kill("SIGKILL");
    assert.equal(await verifyLog(dataDir), 0, "statebase verify passes after the fuzzing");
    server = await startServer({ dataDir, args: serverArgs });
    const restarted = await readState(server);
    assert.deepEqual(restarted, before, "the state after a restart is the state before it");
    report.logRecords = restarted.log.length;
    return report;
  } finally {
    await server.kill();
    await rm(join(dataDir, ".."), { recursive: true, force: true });
  }
}

// ---- Fuzzing ----

async function fuzz(
  server: ServerProcess,
  options: RcpFuzzOptions,
  report: RcpFuzzReport,
): Promise<void> {
  let nextHealth = healthEveryInputs;
  for (let batch = 0; report.inputs < options.inputs; batch++) {
    const cases = fc.sample(fuzzCase, { seed: options.seed + batch, numRuns: caseBatch });
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cases.length && report.inputs < options.inputs) {
        const one = cases[next++]!;
        report.inputs += one.inputs.length;
        report.cases++;
        for (const input of one.inputs) {
          report.kinds[input.kind] = (report.kinds[input.kind] ?? 0) + 1;
        }
        const answer = await sendCase(server, one);
        if (answer.includes(probeAnswer)) report.probesAnswered++;
        report.okAnswers += countOk(answer);
      }
    };
    await Promise.all(Array.from({ length: options.parallel }, worker));
    if (report.inputs >= nextHealth || report.inputs >= options.inputs) {
      nextHealth += healthEveryInputs;
      await checkHealth(server);
      report.healthChecks++;
    }
    options.onProgress?.(report.inputs);
  }
}

const probeAnswer = '"id":"probe-9","status":"ok"';

/** Successful answers in what a case received, its probe's excluded. */
function countOk(answer: string): number {
  const oks = answer.split('"status":"ok"').length - 1;
  return answer.includes(probeAnswer) ? oks - 1 : oks;
}

/** The machine and instances the fuzzed requests aim at. */
async function fuzzSetUp(server: ServerProcess): Promise<void> {
  const client = await RcpClient.connect({ host: "127.0.0.1", port: server.rcp.port });
  await client.request("PUT_MACHINE", { machine: "fz", version: 1, definition: validDefinition });
  for (const id of fuzzInstances) {
    await client.request("CREATE_INSTANCE", { instance_id: id, machine: "fz", version: 1 });
  }
  await client.close();
}

/**
 * Sends a case, a PING probe and a half-close; resolves what the server sent (as latin1
 * text) once it closed the connection.
 */
function sendCase(server: ServerProcess, one: FuzzCase): Promise<string> {
  const probe = one.lines
    ? Buffer.from('{"type":"request","id":"probe-9","op":"PING"}\n')
    : requestFrame("probe-9", "PING", {});
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    const socket = connectTcp({ host: "127.0.0.1", port: server.rcp.port }, () => {
      for (const input of one.inputs) socket.write(input.bytes);
      socket.end(probe);
    });
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new Error(`the server did not close a case's connection: ${describe(one)}`));
    }, caseTimeoutMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    // A reset is one way for the server to refuse; what matters is that it ends.
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      done(Buffer.concat(chunks).toString("latin1"));
    });
  });
}

function describe(one: FuzzCase): string {
  return JSON.stringify(one.inputs.map((i) => [i.kind, i.bytes.toString("base64")]));
}

/** The process is alive and a fresh connection gets PING answered. */
async function checkHealth(server: ServerProcess): Promise<void> {
  assert.equal(server.process.exitCode, null, `the server exited:\n${server.output()}`);
  const client = await RcpClient.connect({ host: "127.0.0.1", port: server.rcp.port });
  assert.deepEqual(await client.request("PING"), { pong: true });
  await client.close();
}

// ---- The valid workload and the state it leaves ----

const validMachine = {
  states: ["created", "paid", "shipped"],
  initial: "created",
  transitions: [
    { from: "created", event: "PAY", to: "paid", guard: "payload.amount > 0" },
    { from: "paid", event: "SHIP", to: "shipped" },
    { from: "shipped", event: "RETURN", to: "created" },
  ],
};

/**
 * Round `before`: creates the valid instances and pays them. Round `after`: ships and
 * returns them. Every answer is checked, so the fuzzing did not break the plain path.
 * Resolves the number of writes acknowledged.
 */
async function validWorkload(server: ServerProcess, round: "before" | "after"): Promise<number> {
  const client = await RcpClient.connect({ host: "127.0.0.1", port: server.rcp.port });
  let writes = 0;
  try {
    if (round === "before") {
      await client.request("PUT_MACHINE", {
        machine: "valid",
        version: 1,
        definition: validMachine,
      });
      writes++;
    }
    for (let i = 0; i < validInstances; i++) {
      const id = `valid-${i}`;
      const events = round === "before" ? ["PAY"] : ["SHIP", "RETURN", "PAY"];
      if (round === "before") {
        await client.request("CREATE_INSTANCE", { instance_id: id, machine: "valid", version: 1 });
        writes++;
      }
      for (const [n, event] of events.entries()) {
        const request = {
          instance_id: id,
          event,
          payload: { amount: i + 1, round },
          idempotency_key: `${round}-${i}-${n}`,
        };
        const result = await client.request<{ applied: boolean; to_state: string }>(
          "APPLY_EVENT",
          request,
        );
        assert.equal(result.applied, true);
        assert.deepEqual(await client.request("APPLY_EVENT", request), {
          ...result,
          applied: false,
        });
        writes++;
      }
      const view = await client.request<{ state: string }>("GET_INSTANCE", { instance_id: id });
      assert.equal(view.state, "paid");
    }
  } finally {
    await client.close();
  }
  return writes;
}

interface StateImage {
  machines: unknown[];
  instances: unknown[];
  log: unknown[];
}

/** Everything a client can read: machines with definitions, instances, the whole log. */
async function readState(server: ServerProcess): Promise<StateImage> {
  const client = await RcpClient.connect({ host: "127.0.0.1", port: server.rcp.port });
  try {
    const list = await client.request<{ items: Array<{ machine: string; versions: number[] }> }>(
      "LIST_MACHINES",
    );
    const machines: unknown[] = [];
    for (const { machine, versions } of list.items) {
      for (const version of versions) {
        machines.push(await client.request("GET_MACHINE", { machine, version }));
      }
    }
    const listed = await client.request<{ instances: Array<{ id: string }>; has_more: boolean }>(
      "LIST_INSTANCES",
      { limit: 100_000 },
    );
    assert.equal(listed.has_more, false);
    const instances = await Promise.all(
      listed.instances.map(async (row) => ({
        row,
        view: await client.request("GET_INSTANCE", { instance_id: row.id }),
      })),
    );
    const log = await client.request<{ records: unknown[] }>("WAL_READ", {
      from_offset: 0,
      limit: 100_000,
    });
    assert.ok(log.records.length < 100_000, "the whole log fits in one WAL_READ");
    return { machines, instances, log: log.records };
  } finally {
    await client.close();
  }
}

/** `statebase verify DIR`; resolves its exit code. */
function verifyLog(dataDir: string): Promise<number | null> {
  const child = spawn(process.execPath, [bin, "verify", dataDir], { stdio: "ignore" });
  return new Promise((done) => child.once("exit", (code) => done(code)));
}
