// Goal: a database reopened from its log is indistinguishable from the one that wrote it:
// every primitive's state, the seq, the last commit's time, the retained commits of the change
// feed (ring position included), the allocators, and the views and state machines defined in
// the log. Method: fast-check workloads of the reference model (src/testing/model.ts: random
// transactions over tables, ring buffers, series, counters, histograms and queues, with
// savepoints, throws and rollbacks) run on a database opened on a directory with a small
// retained ring, plus a state machine driven alongside and a view over its instances; close,
// reopen, compare.
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { createManualClock, open } from "../../src/index.ts";
import type { Commit, Database } from "../../src/index.ts";
import {
  ReferenceModel,
  createModelObjects,
  emptyStats,
  engineOf,
  objectNames,
  observe,
  probeAllocators,
  runTransaction,
  targetReader,
  workloadArbitrary,
} from "../../src/testing/model.ts";
import type { Harness, TransactionSpec } from "../../src/testing/model.ts";

/** A failure replays with EQ_SEED (and EQ_PATH) from its report; EQ_RUNS scales the runs. */
function parameters(): fc.Parameters<[TransactionSpec[]]> {
  const seed = Number(process.env.EQ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const base = { seed, numRuns: Number(process.env.EQ_RUNS ?? 40), includeErrorInReport: true };
  const path = process.env.EQ_PATH;
  return path === undefined ? base : { ...base, path };
}

/** Small, so that the workloads wrap the retained ring. */
const commitsRetained = 5;
/** A view over the machine's instances (a view over the model's objects would add changes). */
const statesView = "model::order_states";
const statesQuery = "from machine::order aggregate { n: math::count(id) } by { state }";

const machine = {
  states: ["open", "paid", "done"],
  initial: "open",
  transitions: [
    { from: "open", event: "PAY", to: "paid" },
    { from: "paid", event: "SHIP", to: "done" },
  ],
};

function tempDir(t: TestContext): string {
  const path = mkdtempSync(join(tmpdir(), "statebase-recovery-eq-"));
  t.after(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

/** A commit as plain data: the retained ring holds class instances before and plain after. */
function plainCommit(commit: Commit | undefined): unknown {
  if (commit === undefined) return undefined;
  const { seq, ts, origin, changes } = commit;
  const plain = changes.map(({ object, kind, key, before, after }) => ({
    ...{ object, kind, key, before, after },
  }));
  return { seq, ts, origin, changes: plain };
}

/** Everything a reopened database must reproduce, read from `db`. */
function observeAll(db: Database): unknown {
  const engine = engineOf(db);
  const retained = [];
  for (let seq = db.seq - commitsRetained - 1; seq <= db.seq + 1; seq++) {
    retained.push(plainCommit(engine.retained.get(seq)));
  }
  const instances = db.machines.listInstances({ machine: "order", limit: 1000 }).instances;
  return {
    seq: db.seq,
    lastCommit: plainCommit(db.lastCommit),
    oldestRetained: engine.retained.oldestSeq,
    retained,
    state: observe(targetReader(db, engine)),
    view: db.view(statesView).scan(),
    instances: instances.map((i) => ({ ...db.machines.getInstance(i.id) })),
    history: instances.map((i) => db.machines.history(i.id)),
  };
}

/** The machine's commit after a transaction: create an instance, or send an event to one. */
function machineStep(db: Database, step: number): void {
  // Every third step makes an instance; the next two pay for it, then ship it.
  const id = `o${Math.floor(step / 3)}`;
  if (step % 3 === 0) {
    db.machines.createInstance({ machine: "order", version: 1, instance_id: id });
    return;
  }
  const event = step % 3 === 1 ? "PAY" : "SHIP";
  db.machines.applyEvent({ instance_id: id, event, payload: { step } });
}

async function openAt(path: string, clock: ReturnType<typeof createManualClock>) {
  return open({ path, clock, durability: "async", commitsRetained, snapshotLogBytes: 0 });
}

async function writeThenReopen(path: string, specs: readonly TransactionSpec[]): Promise<void> {
  const clock = createManualClock(1_700_000_000_000);
  const db = await openAt(path, clock);
  const commits: Commit[] = [];
  db.addCommitListener((commit) => commits.push(commit));
  const h: Harness = {
    ...{ clock, db, engine: engineOf(db), model: new ReferenceModel() },
    ...{ commits, stats: emptyStats() },
  };
  let before: unknown;
  let allocators: unknown;
  try {
    createModelObjects(db);
    db.machines.put("order", 1, machine);
    db.createView(statesView, { query: statesQuery });
    for (const [step, spec] of specs.entries()) {
      runTransaction(h, spec);
      machineStep(db, step);
    }
    before = observeAll(db);
    allocators = { rev: h.model.revReplayed, jobId: h.model.orderReplayed };
  } finally {
    await db.close();
  }
  const reopened = await openAt(path, createManualClock(1_600_000_000_000));
  try {
    assert.deepStrictEqual(observeAll(reopened), before);
    // A value a failed op consumed is in no change (model.test.ts's known gap): replayed.
    assert.deepStrictEqual(probeAllocators(reopened), allocators);
  } finally {
    await reopened.close();
  }
}

test("property: a database reopened from its log equals the one that wrote it", async (t) => {
  const root = tempDir(t);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(workloadArbitrary({ transactionsMax: 16 }), async (specs) => {
      await writeThenReopen(join(root, `run-${run++}`), specs);
    }),
    parameters(),
  );
});

test("a reopened database continues: the next commit follows the recovered seq", async (t) => {
  const path = tempDir(t);
  const clock = createManualClock(1_700_000_000_000);
  const db = await openAt(path, clock);
  createModelObjects(db);
  for (let i = 0; i < 20; i++) db.table(objectNames.users).insert({ id: i, team: "a", score: i });
  const seq = db.seq;
  await db.close();
  const reopened = await openAt(path, clock);
  reopened.table(objectNames.users).insert({ id: 99, team: "b", score: 1 });
  assert.equal(reopened.seq, seq + 1);
  assert.equal(engineOf(reopened).retained.get(seq + 1)?.seq, seq + 1);
  await reopened.close();
  const third = await openAt(path, clock);
  assert.equal(third.seq, seq + 1);
  assert.equal(third.table(objectNames.users).size, 21);
  await third.close();
});
