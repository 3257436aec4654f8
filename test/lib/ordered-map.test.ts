// Goal: show that the B+tree ordered map behaves exactly like a sorted map and stays a valid,
// balanced B+tree through any mix of operations. Method: example tests pin the API and range
// semantics; fast-check runs random set/del/get sequences against a reference model (a plain Map
// sorted on demand), comparing size, lookups, full and ranged iteration and the tree's structural
// invariants; a seeded stress test inserts 100k keys and deletes them all in random order.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkOrderedMapInvariants,
  createOrderedMap,
  type OrderedMap,
  type Range,
} from "../../src/lib/ordered-map.ts";

const byNumber = (a: number, b: number): number => a - b;

/** mulberry32: a tiny seeded generator, so the stress test is reproducible. */
function seededRandom(seed: number): (bound: number) => number {
  let state = seed >>> 0;
  return (bound) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * bound);
  };
}

/** The model's answer to a ranged iteration: filter the sorted keys, then maybe reverse. */
function modelRange(sortedKeys: readonly number[], range: Range<number>): number[] {
  const { lower, upper } = range;
  const inRange = sortedKeys.filter(
    (k) =>
      (lower === undefined || (range.lowerExclusive === true ? k > lower : k >= lower)) &&
      (upper === undefined || (range.upperExclusive === true ? k < upper : k <= upper)),
  );
  return range.reverse === true ? inRange.reverse() : inRange;
}

function numberMap(keys: Iterable<number>): OrderedMap<number, string> {
  const map = createOrderedMap<number, string>(byNumber);
  for (const k of keys) map.set(k, `v${k}`);
  return map;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

test("basic operations", () => {
  const map = createOrderedMap<number, string>(byNumber);
  assert.equal(map.size, 0);
  assert.equal(map.get(1), undefined);
  assert.equal(map.first(), undefined);
  assert.equal(map.last(), undefined);
  assert.deepEqual([...map.entries()], []);
  assert.deepEqual([...map.entries({ reverse: true })], []);

  map.set(5, "five");
  map.set(1, "one");
  map.set(3, "three");
  assert.equal(map.size, 3);
  assert.equal(map.get(3), "three");
  assert.equal(map.has(3), true);
  assert.equal(map.has(4), false);
  map.set(3, "THREE");
  assert.equal(map.size, 3, "replacing does not grow the map");
  assert.equal(map.get(3), "THREE");
  assert.deepEqual(map.first(), [1, "one"]);
  assert.deepEqual(map.last(), [5, "five"]);
  assert.deepEqual([...map.keys()], [1, 3, 5]);
  assert.deepEqual([...map.values()], ["one", "THREE", "five"]);

  assert.equal(map.del(3), true);
  assert.equal(map.del(3), false, "deleting is idempotent");
  assert.equal(map.size, 2);
  assert.equal(map.get(3), undefined);
  map.clear();
  assert.equal(map.size, 0);
  assert.deepEqual([...map.entries()], []);
  map.set(7, "seven");
  assert.deepEqual([...map.entries()], [[7, "seven"]]);
  checkOrderedMapInvariants(map);
});

test("undefined values are stored and distinguished by has()", () => {
  const map = createOrderedMap<number, string | undefined>(byNumber);
  map.set(1, undefined);
  assert.equal(map.has(1), true);
  assert.equal(map.size, 1);
  assert.deepEqual([...map.entries()], [[1, undefined]]);
});

test("bounds: inclusive, exclusive, reverse, open-ended and empty", () => {
  // Even keys only, and enough of them to span many leaves, so bounds fall between keys too.
  const keys = range(1000).map((i) => i * 2);
  const map = numberMap(keys);
  const cases: Range<number>[] = [
    {},
    { lower: 10, upper: 20 },
    { lower: 10, upper: 20, lowerExclusive: true },
    { lower: 10, upper: 20, upperExclusive: true },
    { lower: 10, upper: 20, lowerExclusive: true, upperExclusive: true, reverse: true },
    { lower: 11, upper: 19 },
    { lower: 11, upper: 19, reverse: true },
    { lower: 1500 },
    { upper: 7, reverse: true },
    { lower: 126, upper: 130, upperExclusive: true, reverse: true },
    { lower: -5, upper: 0 },
    { lower: 1998, lowerExclusive: true },
    { lower: 5000 },
    { upper: -1, reverse: true },
    { lower: 20, upper: 10 },
    { lower: 20, upper: 10, reverse: true },
    { lower: 10, upper: 10, lowerExclusive: true },
    { lower: 10, upper: 10, reverse: true },
  ];
  for (const r of cases) {
    const expected = modelRange(keys, r);
    const label = JSON.stringify(r);
    assert.deepEqual([...map.keys(r)], expected, label);
    assert.deepEqual(
      [...map.entries(r)],
      expected.map((k) => [k, `v${k}`]),
      label,
    );
    const visited: number[] = [];
    map.forEach((v, k) => {
      assert.equal(v, `v${k}`);
      visited.push(k);
    }, r);
    assert.deepEqual(visited, expected, label);
  }
});

test("forEach stops when the callback returns false", () => {
  const map = numberMap(range(500));
  const seen: number[] = [];
  map.forEach((_, k) => {
    seen.push(k);
    return k < 199;
  });
  assert.deepEqual(seen, range(200));
  seen.length = 0;
  map.forEach(
    (_, k) => {
      seen.push(k);
      return seen.length < 3;
    },
    { reverse: true, upper: 100, upperExclusive: true },
  );
  assert.deepEqual(seen, [99, 98, 97]);
});

test("iteration starts lazily and rejects structural change mid-way", () => {
  const map = numberMap(range(10));
  const early = map.keys();
  map.set(-1, "v-1");
  map.del(9);
  assert.deepEqual([...early], [-1, 0, 1, 2, 3, 4, 5, 6, 7, 8], "sees mutations before start");

  const it = map.keys();
  it.next();
  map.set(100, "x");
  assert.throws(() => it.next(), /changed during iteration/);
  assert.throws(() => {
    map.forEach((_, k) => {
      map.del(k);
    });
  }, /changed structurally/);

  // Replacing values is not structural: a map-in-place loop is allowed.
  for (const [k, v] of map.entries()) map.set(k, `${v}!`);
  assert.equal(map.get(0), "v0!");
  map.forEach((v, k) => map.set(k, `${v}?`));
  assert.equal(map.get(100), "x!?");
});

test("string keys with a custom comparator (case-insensitive, then by code unit)", () => {
  const compare = (a: string, b: string): number => {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    if (x !== y) return x < y ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  };
  const map = createOrderedMap<string, number>(compare);
  const words = ["banana", "Apple", "cherry", "apple", "Banana", "date", "Cherry", "elder"];
  words.forEach((w, i) => map.set(w, i));
  const sorted = [...words].sort(compare);
  assert.deepEqual([...map.keys()], sorted);
  assert.deepEqual(
    [...map.keys({ lower: "b", upper: "c" })],
    ["Banana", "banana"],
    "bounds need not be present keys",
  );
  assert.deepEqual(
    [...map.keys({ lower: "Banana", lowerExclusive: true, reverse: true })],
    ["elder", "date", "cherry", "Cherry", "banana"],
  );
  assert.equal(map.get("APPLE"), undefined, "the comparator, not lowercasing, decides equality");
  assert.equal(map.get("apple"), 3);
  assert.equal(map.del("Apple"), true);
  assert.deepEqual(map.first(), ["apple", 3]);

  // Many string keys, to exercise splits and merges under a non-numeric comparator.
  const big = createOrderedMap<string, number>(compare);
  const all = range(3000).map((i) => `key-${(i * 7919) % 3000}`);
  for (const k of all) big.set(k, 0);
  for (const k of all.slice(0, 2000)) big.del(k);
  checkOrderedMapInvariants(big);
  assert.deepEqual([...big.keys()], all.slice(2000).sort(compare));
});

type Op =
  | { kind: "set"; key: number; value: number }
  | { kind: "del"; key: number }
  | { kind: "get"; key: number }
  | { kind: "range"; range: Range<number> };

const keyArb = fc.integer({ min: 0, max: 300 });
const boundArb = fc.option(fc.integer({ min: -5, max: 305 }), { nil: undefined });
const rangeArb = fc
  .record({
    lower: boundArb,
    upper: boundArb,
    lowerExclusive: fc.boolean(),
    upperExclusive: fc.boolean(),
    reverse: fc.boolean(),
  })
  .map(({ lower, upper, ...flags }): Range<number> => ({
    ...flags,
    ...(lower === undefined ? {} : { lower }),
    ...(upper === undefined ? {} : { upper }),
  }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant("set" as const), key: keyArb, value: fc.integer() }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("del" as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("get" as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("range" as const), range: rangeArb }) },
);

/** Full comparison of map and model: size, ends, order, every key's value, invariants. */
function assertMatchesModel(map: OrderedMap<number, number>, model: Map<number, number>): void {
  checkOrderedMapInvariants(map);
  assert.equal(map.size, model.size);
  const sorted = [...model.entries()].sort((a, b) => a[0] - b[0]);
  assert.deepEqual([...map.entries()], sorted);
  assert.deepEqual([...map.entries({ reverse: true })], [...sorted].reverse());
  assert.deepEqual(map.first(), sorted[0]);
  assert.deepEqual(map.last(), sorted[sorted.length - 1]);
}

function applyOp(map: OrderedMap<number, number>, model: Map<number, number>, op: Op): void {
  switch (op.kind) {
    case "set":
      map.set(op.key, op.value);
      model.set(op.key, op.value);
      break;
    case "del":
      assert.equal(map.del(op.key), model.delete(op.key));
      break;
    case "get":
      assert.equal(map.get(op.key), model.get(op.key));
      assert.equal(map.has(op.key), model.has(op.key));
      break;
    case "range": {
      const expected = modelRange(
        [...model.keys()].sort((a, b) => a - b),
        op.range,
      );
      assert.deepEqual([...map.keys(op.range)], expected);
      const visited: number[] = [];
      map.forEach((_, k) => void visited.push(k), op.range);
      assert.deepEqual(visited, expected);
      break;
    }
  }
}

test("random operation sequences agree with a sorted Map model", () => {
  fc.assert(
    // size "max": fast-check's default size would keep sequences to about ten operations.
    fc.property(fc.array(opArb, { maxLength: 2000, size: "max" }), (ops) => {
      const map = createOrderedMap<number, number>(byNumber);
      const model = new Map<number, number>();
      ops.forEach((op, i) => {
        applyOp(map, model, op);
        assert.equal(map.size, model.size);
        if (i % 100 === 99) assertMatchesModel(map, model);
      });
      assertMatchesModel(map, model);
    }),
    { numRuns: 150 },
  );
});

test("random batch inserts and deletes reshape a three-level tree correctly", () => {
  // Small key ranges never grow past two levels; batches of thousands of keys reach a third, so
  // branches, not just leaves, get split, borrowed from and merged.
  const batchArb = fc.record({
    del: fc.boolean(),
    start: fc.integer({ min: 0, max: 20_000 }),
    count: fc.integer({ min: 1, max: 6000 }),
    stride: fc.integer({ min: 1, max: 7 }),
  });
  fc.assert(
    fc.property(fc.array(batchArb, { minLength: 1, maxLength: 12 }), (batches) => {
      const map = createOrderedMap<number, number>(byNumber);
      const model = new Map<number, number>();
      for (const { del, start, count, stride } of batches) {
        for (let i = 0, k = start; i < count; i++, k += stride) {
          if (del) map.del(k);
          else map.set(k, i);
          if (del) model.delete(k);
          else model.set(k, i);
        }
        assertMatchesModel(map, model);
      }
    }),
    { numRuns: 40 },
  );
});

test("100k sequential inserts, then deletes in seeded random order", () => {
  const n = 100_000;
  const map = createOrderedMap<number, number>(byNumber);
  for (let i = 0; i < n; i++) map.set(i, i * 2);
  checkOrderedMapInvariants(map);
  assert.equal(map.size, n);
  assert.deepEqual(map.last(), [n - 1, 2 * (n - 1)]);

  const order = range(n);
  const random = seededRandom(0x5eed);
  for (let i = n - 1; i > 0; i--) {
    const j = random(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const present = new Uint8Array(n).fill(1);
  order.forEach((key, i) => {
    assert.equal(map.del(key), true);
    present[key] = 0;
    if (i % 10_000 === 9_999) {
      checkOrderedMapInvariants(map);
      const expected = range(n).filter((k) => present[k] === 1);
      assert.deepEqual([...map.keys()], expected);
      assert.equal(map.size, expected.length);
    }
  });
  assert.equal(map.size, 0);
  assert.equal(map.first(), undefined);
  assert.deepEqual([...map.entries()], []);
  checkOrderedMapInvariants(map);
});

test("keys past the last one (the append path): replace, invalidate, interleave", () => {
  // set() puts a key greater than every other straight into the last leaf; the same key again
  // must replace its value, an append must still invalidate a running iteration, and appends
  // mixed with deletes at the end and inserts before it must keep the tree valid.
  const map = createOrderedMap<number, number>(byNumber);
  const model = new Map<number, number>();
  for (let k = 0; k < 5000; k++) {
    map.set(k, k);
    model.set(k, k);
    if (k % 7 === 0) {
      map.set(k, -k); // the last key again: a replacement
      model.set(k, -k);
    }
    if (k % 97 === 96) {
      map.del(k); // the last key goes; the next append lands after its neighbour
      model.delete(k);
    }
    if (k % 131 === 130) {
      map.set(k - 65.5, 1); // one leaf back: through the ordinary descent
      model.set(k - 65.5, 1);
    }
  }
  assertMatchesModel(map, model);
  const iterator = map.keys();
  iterator.next();
  map.set(10_000, 0);
  assert.throws(() => iterator.next());
});
