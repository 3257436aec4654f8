/**
 * Goal: a change the transaction refuses to record (past changesPerTransactionMax) leaves no
 * trace in the object that made it, whether the caller catches the refusal or the whole
 * transaction rolls back: a primitive applies its change before recording it, and a change
 * that is never recorded is never reverted nor logged.
 * Method: an engine with the primitive factories; a stand-in object fills the transaction up
 * to the limit with one shared change (cheap), then a real counter adds 1 and is dropped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Engine } from "../../src/engine/index.ts";
import type { Change, StoredObject } from "../../src/engine/index.ts";
import { createManualClock } from "../../src/lib/clock.ts";
import { DbError } from "../../src/lib/errors.ts";
import { changesPerTransactionMax } from "../../src/lib/limits.ts";
import {
  Counter,
  counterDefinition,
  registerPrimitiveFactories,
} from "../../src/primitives/index.ts";

function engineWithCounter(): { engine: Engine; counter: Counter } {
  const engine = new Engine({ clock: createManualClock(1_000), commitsRetained: 0 });
  registerPrimitiveFactories(engine.catalog);
  const counter = engine.transact((tx) => engine.catalog.create(tx, counterDefinition("c")));
  assert.ok(counter instanceof Counter);
  return { engine, counter };
}

const filler: StoredObject = {
  kind: "table",
  name: "default::filler",
  definition: { kind: "table", name: "default::filler" },
  applyChange: () => undefined,
  revertChange: () => undefined,
};
const fill: Change = { object: filler.name, kind: "insert", key: 1, before: undefined, after: 1 };

function isLimit(error: unknown): boolean {
  return error instanceof DbError && error.code === "LIMIT_EXCEEDED";
}

test("a change refused at the per-transaction limit is undone, caught or not", () => {
  const { engine, counter } = engineWithCounter();
  assert.throws(
    () =>
      engine.transact((tx) => {
        for (let i = tx.changeCount; i < changesPerTransactionMax; i++) tx.record(filler, fill);
        assert.throws(() => counter.add(tx, 1), isLimit);
        assert.equal(counter.get(), 0, "the refused add left the counter as it was");
        assert.throws(() => engine.catalog.drop(tx, "c"), isLimit);
        assert.equal(engine.catalog.get("c"), counter, "the refused drop left the counter");
        counter.add(tx, 1);
      }),
    isLimit,
  );
  assert.equal(counter.get(), 0, "the rolled-back transaction left the counter as it was");
  engine.transact((tx) => counter.add(tx, 2));
  assert.equal(counter.get(), 2);
});
