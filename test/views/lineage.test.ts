/**
 * Goal: a compiled view knows which input columns it reads (so updates of other columns skip
 * it), never too few: every column a step reads and every column the view shows count, through
 * maps, joins and appends; a whole-row step reads every column.
 * Method: compile pipelines against a small catalog and compare the columns read per input.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { systemClock } from "../../src/lib/clock.ts";
import { Engine } from "../../src/engine/index.ts";
import { registerPrimitiveFactories, tableDefinition } from "../../src/primitives/index.ts";
import { compileView } from "../../src/views/compile-view.ts";
import { parseViewQuery } from "../../src/views/view-manager.ts";

function catalog(): Engine["catalog"] {
  const engine = new Engine({ clock: systemClock, commitsRetained: 0 });
  registerPrimitiveFactories(engine.catalog);
  engine.transact((tx) => {
    engine.catalog.createNamespace(tx, "s", false);
    const orders = { id: "int8", customer: "int8", total: "int8", status: "utf8", note: "utf8" };
    engine.catalog.create(tx, tableDefinition("s::orders", { columns: orders, primaryKey: "id" }));
    const customers = { id: "int8", region: "utf8", name: "utf8" };
    engine.catalog.create(
      tx,
      tableDefinition("s::customers", { columns: customers, primaryKey: "id" }),
    );
  });
  return engine.catalog;
}

/** The columns read per input, sorted; "*" when any column may be read. */
function reads(query: string): Record<string, string> {
  const graph = compileView(parseViewQuery("v", query), catalog(), { rescan: true });
  const out: Record<string, string> = {};
  for (const [object, names] of graph.reads) {
    out[object] = names === undefined ? "*" : [...names].sort().join(",");
  }
  return out;
}

test("a view reads the columns its steps use and the columns it shows", () => {
  assert.deepEqual(reads("from s::orders aggregate { n: math::count(id) } by { status }"), {
    "s::orders": "id,status",
  });
  assert.deepEqual(reads("from s::orders filter { total > 9 } map { id, t: total * 2 }"), {
    "s::orders": "id,total",
  });
  assert.deepEqual(reads("from s::orders sort { total: desc } take 3 map { id }"), {
    "s::orders": "id,total",
  });
  assert.deepEqual(reads("from s::orders extend { t: total + 1 }"), {
    "s::orders": "customer,id,note,status,total",
  });
  assert.deepEqual(reads("from s::orders aggregate { n: math::count() }"), {});
});

test("a join reads its keys and what flows on; an append reads both sides", () => {
  assert.deepEqual(
    reads(
      "from s::orders inner join { from s::customers } as c using (customer, c.id) " +
        "aggregate { n: math::count(id), t: math::sum(total) } by { c_region }",
    ),
    { "s::orders": "customer,id,total", "s::customers": "id,region" },
  );
  assert.deepEqual(
    reads("from s::orders map { id } append { from s::customers map { id, name } }"),
    { "s::orders": "id", "s::customers": "id,name" },
  );
  assert.deepEqual(reads("from s::orders map { id, status } distinct {}"), {
    "s::orders": "id,status",
  });
  assert.deepEqual(reads("from s::orders distinct {} map { id }"), {
    "s::orders": "customer,id,note,status,total",
  });
  assert.deepEqual(reads("from s::orders distinct { status } map { status }"), {
    "s::orders": "status",
  });
});
