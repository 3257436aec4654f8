/**
 * Goal: a view never refuses a write its inputs accept when its types can show the danger:
 * text from the rows compared with a date, time or uuid column or given to a date function
 * (read as that type, failing on text that is none) and a declared column the query's type
 * can never fill are refused when the view is created. What no type can foresee (a division
 * by zero, an overflow, a value out of a narrower declared column) still fails the write,
 * with an error naming the view.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DbError, open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";
import { throwsDb } from "../support/assertions.ts";

async function events(): Promise<Database> {
  const db = await open();
  await db.admin(`create namespace s;
    create table s::e {
      id: int8, day: Option(date), at: Option(time), u: Option(uuid4),
      note: Option(utf8), n: Option(int8), f: Option(float8)
    } with { primary_key: { id } }`);
  return db;
}

const textReadQueries = [
  "from s::e filter { day == note }",
  "from s::e filter { note < at }",
  'from s::e filter { text::lower(note) == day or note == "x" }',
  "from s::e filter { day between note and note }",
  "from s::e filter { u in [note] }",
  "from s::e map { id, same: at == note }",
  "from s::e extend { same: u != note }",
  "from s::e aggregate { n: math::count(id) } by { same: day == note }",
  "from s::e map { id, y: date::year(note) }",
  "from s::e filter { datetime::diff(day, text::trim(note)) > 1d }",
];

test("a view comparing text from the rows with a date, time or uuid is refused", async () => {
  for (const query of textReadQueries) {
    const db = await events();
    throwsDb(() => db.createView("s::v", { query }), {
      code: "TYPE_MISMATCH",
      message: /^line 1, column \d+: in a view, .* would fail the write; declare the text column/,
    });
    // Nothing was created (the name is free), and the table takes any text.
    db.createView("s::v", { query: "from s::e" });
    await db.command("insert s::e [{ id: 1, note: 'not a day' }]");
    await db.close();
  }
});

test("the refusal names the position in an RQL script, and constant text is fine", async () => {
  const db = await events();
  const create = db.admin(`create view s::ok { id: int8 } as {
      from s::e filter { day == "2024-01-02" or at < "12:00:00" } map { id } };
    create view s::bad { id: int8 } as {
      from s::e filter { day == note } map { id } }`);
  await assert.rejects(create, { code: "TYPE_MISMATCH", message: /^line 4, column 30:/ });
  db.createView("s::ok", {
    query: 'from s::e filter { day == "2024-01-02" or at < "12:00:00" } map { id }',
  });
  await db.command("insert s::e [{ id: 1, day: '2024-01-02', note: 'noon' }, { id: 2 }]");
  assert.deepEqual(db.view("s::ok").scan(), [{ id: 1 }]);
  await db.close();
});

test("a declared column the query's type can never fill is refused when created", async () => {
  const db = await events();
  const refused = [
    ["{ id: int8, x: utf8 }", "map { id, x: n }", /declared utf8, but int8 values are never/],
    ["{ id: int8, x: date }", "map { id, x: note }", /declared date, but utf8 is read as date/],
    ["{ id: int8, x: int8 }", "map { id, x: note }", /utf8 values are never int8/],
    ["{ id: int8, x: uuid7 }", "map { id, x: u }", /uuid4 is read as uuid7/],
  ] as const;
  for (const [columns, step, message] of refused) {
    const create = db.admin(`create view s::v ${columns} as { from s::e ${step} }`);
    await assert.rejects(create, { code: "TYPE_MISMATCH", message });
  }
  // Same family, same kind or text: accepted (a narrower number is checked per row).
  await db.admin(`create view s::a { id: int8, x: Option(int4) } as { from s::e map { id, x: n } };
    create view s::b { id: int8, x: Option(utf8) } as { from s::e map { id, x: day } };
    create view s::c { id: int8, x: Option(float8) } as { from s::e map { id, x: n } }`);
  await db.command("insert s::e [{ id: 1, day: '2024-01-02', n: 3 }]");
  assert.deepEqual(db.view("s::b").scan(), [{ id: 1, x: "2024-01-02" }]);
  await db.close();
});

test("a write a view cannot take fails with an error naming the view", async () => {
  const db = await events();
  db.createView("s::ratio", { query: "from s::e map { id, r: 10 / n }" });
  db.createView("s::big", { query: "from s::e map { id, g: f * f }" });
  await db.admin(`create view s::small { id: int8, x: Option(int1) } as {
    from s::e map { id, x: n } }`);
  const table = db.table("s::e");
  const cases = [
    [{ id: 1, n: 0 }, "DIVISION_BY_ZERO", "s::ratio", /^view s::ratio: division by zero/],
    [{ id: 2, n: 1, f: 1e200 }, "ARITHMETIC_OVERFLOW", "s::big", /^view s::big: float overflow/],
    [{ id: 3, n: 1000 }, "OUT_OF_RANGE", "s::small", /^s::small\.x: 1000 is out of range/],
  ] as const;
  for (const [row, code, view, message] of cases) {
    assert.throws(
      () => table.insert(row),
      (error: unknown) => {
        assert.ok(error instanceof DbError, String(error));
        assert.equal(error.code, code, error.message);
        assert.equal(error.details.view, view);
        assert.match(error.message, message);
        return true;
      },
    );
  }
  assert.equal(table.size, 0);
  await db.close();
});

test("a view over a failing view is not named for it: the failing one is", async () => {
  const db = await events();
  db.createView("s::ratio", { query: "from s::e map { id, r: 10 / n }" });
  db.createView("s::over", { query: "from s::ratio filter { r > 1 }" });
  db.table("s::e").insert({ id: 1, n: 2 });
  throwsDb(() => db.table("s::e").update(1, { n: 0 }), {
    code: "DIVISION_BY_ZERO",
    message: /^view s::ratio: /,
  });
  assert.deepEqual(db.view("s::over").scan(), [{ id: 1, r: 5 }]);
  await db.close();
});
