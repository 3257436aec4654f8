// Goal: a table's `*Stored` reads (for the engine's own readers that copy what they hand out)
// give the stored rows themselves, the same rows and order as the copying reads, and follow
// later writes; the copying reads still hand out copies that never follow a write.
// Method: drive `Table` directly on a bare engine: each read in both forms is compared, then
// the rows are updated and both forms read again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cityTableEngine } from "../support/table-engine.ts";

/** A bare engine with `app::t` { id int4 key, city utf8 } and an ordered index on city. */
const cityTable = () => cityTableEngine({ unique: false, ordered: true });

test("stored reads give the stored rows, in the copying reads' order, and follow writes", () => {
  const { engine, table } = cityTable();
  engine.transact((tx) => {
    for (const [id, city] of [
      [3, "rome"],
      [1, "oslo"],
      [2, "rome"],
    ] as const) {
      table.insert(tx, { id, city });
    }
  });
  const copies = {
    get: table.get(2),
    scan: [...table.scan()],
    bounded: [...table.scan({ lower: 2, limit: 1 })],
    lookup: table.lookup("by_city", "rome"),
    range: [...table.range("by_city", { lower: "p" })],
  };
  const stored = {
    get: table.getStored(2),
    scan: [...table.scanStored()],
    bounded: [...table.scanStored({ lower: 2, limit: 1 })],
    lookup: table.lookupStored("by_city", "rome"),
    range: [...table.rangeStored("by_city", { lower: "p" })],
  };
  assert.deepEqual(stored, copies);
  assert.deepEqual(
    copies.scan.map((row) => row.id),
    [1, 2, 3],
  );
  // The same objects each time: the stored rows, not copies.
  assert.equal(table.getStored(2), stored.get);
  assert.equal(table.scanStored().next().value, stored.scan[0]);
  assert.notEqual(table.get(2), copies.get);

  engine.transact((tx) => table.update(tx, 2, { city: "lima" }));
  assert.equal(stored.get!.city, "lima", "a stored row is written in place");
  assert.equal(copies.get!.city, "rome", "a copy keeps the value it was read with");
  assert.deepEqual(
    table.lookupStored("by_city", "rome").map((row) => row.id),
    [3],
  );
  assert.deepEqual(
    [...table.rangeStored("by_city", { upper: "m" })].map((row) => row.city),
    ["lima"],
  );
});

test("stored reads honour bounds, direction and limits as the copying reads do", () => {
  const { engine, table } = cityTable();
  const cities = ["oslo", "rome", "lima", "kyiv", "pune", "doha"];
  engine.transact((tx) => cities.forEach((city, id) => table.insert(tx, { id, city })));
  const scans = [
    {},
    { limit: 0 },
    { limit: 2 },
    { lower: 1, upper: 4, upperExclusive: true },
    { lower: 2, reverse: true, limit: 3 },
  ];
  for (const options of scans) {
    assert.deepEqual(
      [...table.scanStored(options)],
      [...table.scan(options)],
      JSON.stringify(options),
    );
  }
  const ranges = [{}, { lower: "l", limit: 2 }, { upper: "p", reverse: true }, { limit: 0 }];
  for (const options of ranges) {
    assert.deepEqual(
      [...table.rangeStored("by_city", options)],
      [...table.range("by_city", options)],
    );
  }
  assert.throws(() => table.scanStored({ limit: -1 }), { code: "INVALID_ARGUMENT" });
  assert.throws(() => [...table.scan({ limit: -1 })], { code: "INVALID_ARGUMENT" });
});
