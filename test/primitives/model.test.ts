// Goal: show that random operation sequences on every primitive, with random throws and
// aborts mid-transaction, expected failures (caught or not) and nested savepoints, leave the
// database equal to a simple reference model, and that rolled-back transactions leave no trace
// in state, indexes or the change feed.
// Method: fast-check generates workloads (lists of transactions) with src/testing/model.ts,
// whose harness runs each transaction on a real engine and on a naive model in lockstep. It
// compares every op's result or error code, the full observable state after each transaction
// and at random points inside them (table scans, point reads, every index lookup and ordered
// ranges, ring buffers per partition, series ranges, counters for all keys, histogram
// count/min/max/sum exactly and percentiles within the precision bound, queue lists per
// state), the exact state before and after every rollback, one commit per transaction with
// changes (seqs gapless, changes as predicted), and a replay of the commits into a fresh
// engine. A failure prints its seed; rerun with MODEL_SEED=<seed> (and MODEL_PATH=<path> for
// the shrunk case) to replay it exactly.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  EngineDatabase,
  createHarness,
  checkReplay,
  objectNames,
  primitiveNames,
  runTransaction,
  runWorkload,
  workloadArbitrary,
} from "../../src/testing/model.ts";
import type {
  HarnessStats,
  ModelOp,
  PrimitiveName,
  Step,
  TransactionSpec,
} from "../../src/testing/model.ts";
import { createManualClock } from "../../src/lib/clock.ts";

const seed = Number(process.env.MODEL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const path = process.env.MODEL_PATH;
/** Scales every property's run count (e.g. MODEL_RUNS=10 for a long soak). */
const runsScale = Number(process.env.MODEL_RUNS ?? 1);

function parameters(numRuns: number): fc.Parameters<[TransactionSpec[]]> {
  const runs = Math.max(1, Math.round(numRuns * runsScale));
  return path === undefined ? { seed, numRuns: runs } : { seed, path, numRuns: runs };
}

function addStats(total: HarnessStats, stats: HarnessStats): void {
  total.transactions += stats.transactions;
  total.commits += stats.commits;
  total.rollbacks += stats.rollbacks;
  total.opsSucceeded += stats.opsSucceeded;
  total.opsFailed += stats.opsFailed;
}

function emptyStats(): HarnessStats {
  return { transactions: 0, commits: 0, rollbacks: 0, opsSucceeded: 0, opsFailed: 0 };
}

/** Runs a property and checks the workloads really exercised commits, rollbacks and failures. */
function checkWorkloads(
  arbitrary: fc.Arbitrary<TransactionSpec[]>,
  numRuns: number,
  diagnostic: (message: string) => void,
): void {
  const total = emptyStats();
  diagnostic(`seed ${seed}: rerun with MODEL_SEED=${seed}`);
  fc.assert(
    fc.property(arbitrary, (specs) => {
      addStats(total, runWorkload(specs).stats);
    }),
    parameters(numRuns),
  );
  diagnostic(JSON.stringify(total));
  assert.ok(total.commits > 0 && total.rollbacks > 0, "workloads commit and roll back");
  assert.ok(total.opsSucceeded > total.opsFailed && total.opsFailed > 0, "ops mostly succeed");
}

describe("primitives against the reference model", () => {
  it("every primitive together", (t) => {
    checkWorkloads(workloadArbitrary(), 150, (m) => t.diagnostic(m));
  });

  for (const primitive of primitiveNames) {
    it(`${primitive} alone, longer sequences`, (t) => {
      const options = { primitives: [primitive] as PrimitiveName[], transactionsMax: 20 };
      checkWorkloads(workloadArbitrary(options), 40, (m) => t.diagnostic(m));
    });
  }

  it("rolled-back transactions leave no trace in state, indexes or the change feed", (t) => {
    // Build some state, then run transactions that all end in a throw: each must leave the
    // exact observable state and no commit (checked by runTransaction), and the feed must
    // stay gapless for the next commit (checked by the replay).
    const doomed = workloadArbitrary({ transactionsMax: 6 }).map((specs) =>
      specs.map((spec): TransactionSpec => ({ ...spec, auto: false, ending: "throw" })),
    );
    const arbitrary = fc
      .tuple(
        workloadArbitrary({ transactionsMax: 6 }),
        doomed,
        workloadArbitrary({ transactionsMax: 2 }),
      )
      .map(([before, rolledBack, after]) => [...before, ...rolledBack, ...after]);
    checkWorkloads(arbitrary, 60, (m) => t.diagnostic(m));
  });
});

// ---- Regressions found by the properties, pinned as examples ----

/** A transaction made of plain op steps at a clock advance. */
function transaction(advanceMs: number, ...ops: ModelOp[]): TransactionSpec {
  const steps = ops.map((op): Step => ({ kind: "op", op, caught: false }));
  return { advanceMs, auto: false, steps, ending: "return" };
}

describe("reference model examples", () => {
  it("the harness itself: a savepoint that throws reverts only its own part", () => {
    const h = createHarness();
    const insert = (id: number): ModelOp => ({
      kind: "table.insert",
      row: { id, team: "red", score: id },
    });
    runTransaction(h, {
      advanceMs: 0,
      auto: false,
      ending: "return",
      steps: [
        { kind: "op", op: insert(1), caught: false },
        { kind: "nested", throwAtEnd: true, steps: [{ kind: "op", op: insert(2), caught: false }] },
        // A caught duplicate insert: the transaction goes on.
        { kind: "op", op: insert(1), caught: true },
      ],
    });
    assert.deepEqual(
      h.db
        .table(objectNames.users)
        .scan()
        .map((row) => row.id),
      [1],
    );
    checkReplay(h);
  });

  it("a fresh engine replays an empty feed to an empty state", () => {
    const db = new EngineDatabase(createManualClock());
    assert.equal(db.seq, 0);
  });
});
