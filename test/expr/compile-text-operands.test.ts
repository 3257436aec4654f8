// Goal: text compared with a time, date, datetime or uuid (`==`, `!=`, `<`, `<=`, `>`, `>=`,
// `between`, `in`) is read as that type, whether it is a literal, a parameter or text computed
// at run time, so every operator agrees with the values' order and not with how the text is
// written; text that is no value of the type is TYPE_MISMATCH with its line and column, as it
// is for a parameter or an insert, never a silent lexical comparison.
// Method: (1) fast-check: random times stored in a plain table and in one indexed on the time;
// a constant (mostly a stored one) spelled with random trailing zeros, given as a literal, a
// parameter or a text::concat of two halves, under a random operator; both tables must answer
// what a model comparing seconds answers. (2) The same for datetimes written with a random
// zone offset. (3) Text that is no such value fails each operator with its position in a
// multi-line script.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DbError, open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";

const ops = ["==", "!=", "<", "<=", ">", ">="] as const;
type Op = (typeof ops)[number];
type Form = "literal" | "param" | "computed";

function holds(op: Op, a: number, b: number): boolean {
  switch (op) {
    case "==":
      return a === b;
    case "!=":
      return a !== b;
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
  }
}

/** The constant as `form` writes it; `$k` is bound to `text` for a parameter. */
function operand(form: Form, text: string): string {
  if (form === "literal") return `"${text}"`;
  if (form === "param") return "$k";
  return `text::concat("${text.slice(0, 4)}", "${text.slice(4)}")`;
}

async function ids(db: Database, rql: string, text: string): Promise<number[][]> {
  const { frames } = await db.query(rql, { k: text });
  return frames.map((frame) => frame.map((row) => Number(row["id"])));
}

const pad = (n: number): string => String(n).padStart(2, "0");

const timeArb = fc.record({
  h: fc.integer({ min: 0, max: 23 }),
  m: fc.integer({ min: 0, max: 59 }),
  s: fc.integer({ min: 0, max: 2 }),
  ms: fc.constantFrom(0, 5, 50, 450, 500),
});
type Time = { h: number; m: number; s: number; ms: number };

/** A time spelled with `zeros` extra trailing zeros after its fraction. */
function spellTime(t: Time, zeros: number): string {
  const base = `${pad(t.h)}:${pad(t.m)}:${pad(t.s)}`;
  const fraction = String(t.ms).padStart(3, "0").replace(/0+$/, "");
  if (fraction === "" && zeros === 0) return base;
  return `${base}.${fraction}${"0".repeat(zeros)}`;
}

const msOfTime = (t: Time): number => ((t.h * 60 + t.m) * 60 + t.s) * 1000 + t.ms;

test("text compared with a time is read as a time by every operator and form", async () => {
  const db = await open();
  await db.admin(`create namespace s;
    create table s::plain { id: int8, tm: time } with { primary_key: { id } };
    create table s::indexed { id: int8, tm: time } with { primary_key: { id } };
    create index s::indexed_by_tm on s::indexed { tm }`);
  await fc.assert(
    fc.asyncProperty(
      fc.array(timeArb, { minLength: 1, maxLength: 6 }),
      timeArb,
      fc.option(fc.nat(), { nil: undefined }),
      fc.integer({ min: 0, max: 2 }),
      fc.constantFrom(...ops),
      fc.constantFrom<Form>("literal", "param", "computed"),
      async (times, other, stored, zeros, op, form) => {
        // Mostly a stored time, so that equality and the bounds' edges are met.
        const k = stored === undefined ? other : times[stored % times.length]!;
        const rows = times.map((t, id) => `{ id: ${id}, tm: "${spellTime(t, 0)}" }`).join(", ");
        await db.command(`delete s::plain filter { true }; delete s::indexed filter { true };
          insert s::plain [${rows}]; insert s::indexed [${rows}]`);
        const text = spellTime(k, zeros);
        const expected = times.flatMap((t, id) =>
          holds(op, msOfTime(t), msOfTime(k)) ? [id] : [],
        );
        for (const table of ["s::plain", "s::indexed"]) {
          const rql = `from ${table} filter { tm ${op} ${operand(form, text)} } map { id }`;
          assert.deepEqual(await ids(db, rql, text), [expected], `${rql} with ${text}`);
        }
        const low = operand(form, text);
        const between = `from s::plain filter { tm between ${low} and "23:59:59" } map { id }`;
        const after = times.flatMap((t, id) => (msOfTime(t) >= msOfTime(k) ? [id] : []));
        assert.deepEqual(await ids(db, between, text), [after], `${between} with ${text}`);
        const inList = `from s::indexed filter { tm in [${operand(form, text)}] } map { id }`;
        const equal = times.flatMap((t, id) => (msOfTime(t) === msOfTime(k) ? [id] : []));
        assert.deepEqual(await ids(db, inList, text), [equal], `${inList} with ${text}`);
      },
    ),
    { numRuns: 40 },
  );
});

test("text compared with a datetime is read as an instant, whatever its offset", async () => {
  const db = await open();
  await db.admin(`create namespace s;
    create table s::events { id: int8, at: datetime } with { primary_key: { id } };
    create index s::events_by_at on s::events { at }`);
  const instants = [Date.UTC(2024, 0, 5, 10), Date.UTC(2024, 2, 1), Date.UTC(2024, 2, 1, 1)];
  const rows = instants.map((ms, id) => `{ id: ${id}, at: ${ms} }`).join(", ");
  await db.command(`insert s::events [${rows}]`);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...instants),
      fc.constantFrom(0, -90, 120),
      fc.constantFrom(...ops),
      fc.constantFrom<Form>("literal", "param", "computed"),
      async (k, offsetMinutes, op, form) => {
        const local = new Date(k + offsetMinutes * 60_000).toISOString().slice(0, 19);
        const sign = offsetMinutes < 0 ? "-" : "+";
        const abs = Math.abs(offsetMinutes);
        const text = `${local}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
        const expected = instants.flatMap((ms, id) => (holds(op, ms, k) ? [id] : []));
        const rql = `from s::events filter { at ${op} ${operand(form, text)} } map { id }`;
        assert.deepEqual(await ids(db, rql, text), [expected], `${rql} with ${text}`);
        const inList = `from s::events filter { at in [${operand(form, text)}] } map { id }`;
        const equal = instants.flatMap((ms, id) => (ms === k ? [id] : []));
        assert.deepEqual(await ids(db, inList, text), [equal], `${inList} with ${text}`);
      },
    ),
    { numRuns: 30 },
  );
});

test("a utf8 column compared with a time column is read as a time", async () => {
  const db = await open();
  await db.admin(`create namespace s;
    create table s::slots { id: int8, tm: time, note: utf8 } with { primary_key: { id } }`);
  await db.command(`insert s::slots [{ id: 1, tm: "12:00:00.5", note: "12:00:00.50" },
    { id: 2, tm: "09:00:00", note: "10:00:00.000" }]`);
  const { frames } = await db.query("from s::slots filter { tm == note } map { id }");
  assert.deepEqual(frames, [[{ id: 1 }]]);
  const before = await db.query("from s::slots filter { tm < note } map { id }");
  assert.deepEqual(before.frames, [[{ id: 2 }]]);
});

test("text that is no value of the compared type is TYPE_MISMATCH at its position", async () => {
  const db = await open();
  await db.admin(`create namespace s;
    create table s::t { id: int8, tm: time, d: date, at: datetime, u: uuid4 }
      with { primary_key: { id } }`);
  const u = "0b6f8f8e-4c1a-4a8e-9d2b-3c4d5e6f7a8b";
  await db.command(`insert s::t [{ id: 1, tm: "09:30:00", d: "2024-01-05", at: 0, u: "${u}" }]`);
  const cases: Array<[string, string]> = [
    ['tm > "9:00"', '"9:00"'],
    ['tm == "noon"', '"noon"'],
    ['"noon" != tm', '"noon"'],
    ['tm <= text::concat("9", ":00")', 'text::concat("9", ":00")'],
    ['d between "2024-1-1" and "2024-12-31"', '"2024-1-1"'],
    ['at >= "yesterday"', '"yesterday"'],
    ['u in ["not-a-uuid"]', '"not-a-uuid"'],
  ];
  for (const [filter, fragment] of cases) {
    const rql = `from s::t\n  filter { ${filter} }`;
    const column = 12 + filter.indexOf(fragment.slice(0, 4));
    const caught = await db.query(rql).then(
      () => assert.fail(`${filter} was accepted`),
      (error: unknown) => error,
    );
    assert.ok(caught instanceof DbError, String(caught));
    assert.equal(caught.code, "TYPE_MISMATCH", `${filter}: ${caught.message}`);
    assert.deepEqual([caught.details.line, caught.details.col], [2, column], caught.message);
    assert.equal(caught.details.fragment, fragment, caught.message);
  }
});
