/**
 * An engine without a database around it and one table `app::t` { id int4 key, city utf8 }
 * with an index `by_city` (unique or not, hash or ordered): for tests that drive `Table`
 * directly (replayed changes, a refused log append, snapshot chunks, stored reads).
 */
import assert from "node:assert/strict";
import { Engine } from "../../src/engine/index.ts";
import { createManualClock } from "../../src/lib/clock.ts";
import { Table, registerPrimitiveFactories, tableDefinition } from "../../src/primitives/index.ts";

export function cityTableEngine(options: { unique: boolean; ordered?: boolean }): {
  engine: Engine;
  table: Table;
} {
  const engine = new Engine({ clock: createManualClock(1_000), commitsRetained: 64 });
  registerPrimitiveFactories(engine.catalog);
  const definition = tableDefinition("app::t", {
    columns: { id: "int4", city: "utf8" },
    primaryKey: "id",
    indexes: [
      {
        name: "by_city",
        columns: ["city"],
        unique: options.unique,
        ...(options.ordered === true ? { ordered: true } : {}),
      },
    ],
  });
  engine.transact((tx) => {
    engine.catalog.createNamespace(tx, "app");
    engine.catalog.create(tx, definition);
  });
  const table = engine.catalog.require("app::t");
  assert.ok(table instanceof Table);
  return { engine, table };
}
