/**
 * Goal: a definition refused when it is created (an Option primary key or queue id, a counter
 * key column named value) is still built when a log or snapshot written before that refusal
 * existed is replayed, so an upgraded database opens with its objects instead of failing.
 * Method: an engine with the primitive factories; creating each definition in a transaction
 * is refused, then the same definition arrives as a logged `create` change (applyCommit, as
 * recovery and replication apply it) and as a snapshot's catalog image (restoreImage).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Engine } from "../../src/engine/index.ts";
import type { Commit, ObjectDefinition } from "../../src/engine/index.ts";
import { createManualClock } from "../../src/lib/clock.ts";
import { DbError } from "../../src/lib/errors.ts";
import {
  counterDefinition,
  queueDefinition,
  registerPrimitiveFactories,
  tableDefinition,
} from "../../src/primitives/index.ts";

const definitions: readonly ObjectDefinition[] = [
  tableDefinition("default::t", { columns: { id: "Option(int4)" }, primaryKey: "id" }),
  queueDefinition("default::q", { columns: { id: "Option(int4)", n: "int4" } }),
  counterDefinition("default::c", { by: { value: "utf8" } }),
];

function engine(): Engine {
  const made = new Engine({ clock: createManualClock(1_000), commitsRetained: 0 });
  registerPrimitiveFactories(made.catalog);
  return made;
}

test("creating each definition is INVALID_SCHEMA", () => {
  const e = engine();
  for (const definition of definitions) {
    assert.throws(
      () => e.transact((tx) => e.catalog.create(tx, definition)),
      (error: unknown) => error instanceof DbError && error.code === "INVALID_SCHEMA",
      definition.name,
    );
  }
  assert.equal(e.seq, 0);
});

test("a logged create of each definition is replayed, and the object works", () => {
  const e = engine();
  const changes = definitions.map((definition) => ({
    object: e.catalog.name,
    kind: "create",
    key: definition.name,
    before: undefined,
    after: definition,
  }));
  const commit: Commit = { seq: 1, ts: 1_000, origin: { kind: "test" }, changes };
  e.applyCommit(commit);
  for (const definition of definitions) {
    assert.equal(e.catalog.get(definition.name)?.kind, definition.kind);
  }
});

test("a snapshot's catalog image of each definition is restored", () => {
  const e = engine();
  const built = e.catalog.restoreImage(["default"], definitions);
  assert.deepEqual(
    built.map((object) => object.name),
    definitions.map((definition) => definition.name),
  );
});
