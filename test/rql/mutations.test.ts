// Goal: no RQL text, however mangled, does harm. A script either runs or is refused with a
// DbError carrying a known code; a refused script leaves everything as it was (data, catalog,
// counters, seq), whichever of its statements failed; and after every script, a transactional
// view still equals its query run from scratch.
// Method: fast-check edits valid multi-statement scripts token by token (delete, insert, replace,
// swap, or splice in another script) and runs each result on a fresh database through a
// random entry point, comparing a dump of the whole state before and after. The tokens
// inserted come from the scripts themselves and from a list of hostile literals.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DbError, errorCodes, open } from "../../src/index.ts";
import type { Database } from "../../src/index.ts";

const schema = `
create namespace shop;
create table shop::orders {
  id: int8 with { auto_increment }, customer: utf8, total: float8, status: Option(utf8)
} with { primary_key: { id } };
create index shop::orders_by_customer on shop::orders { customer };
create table shop::customers { name: utf8, region: utf8 } with { primary_key: { name } };
create counter shop::visits;
create view shop::spend { customer: utf8, n: int8, s: float8 } as {
  from shop::orders aggregate { n: math::count(id), s: math::sum(total) } by { customer } }`;

const data = `
insert shop::orders [
  { customer: "ada", total: 150.0, status: "open" }, { customer: "bob", total: 80.0, status: none },
  { customer: "cy", total: 300.0, status: "paid" }, { customer: "ada", total: 20.0, status: "open" }
];
insert shop::customers [{ name: "ada", region: "eu" }, { name: "bob", region: "us" }];
counter shop::visits add 5`;

/** The view's query, run from scratch to check the maintained view. */
const spendQuery =
  "from shop::orders aggregate { n: math::count(id), s: math::sum(total) } by { customer }";

/** Valid scripts; several change data in one statement and fail-prone steps in a later one. */
const scripts = [
  'insert shop::orders [{ customer: "dan", total: 10.0, status: "open" }]; ' +
    'update shop::orders { total: total * 2 } filter { customer == "ada" } returning { id, total }',
  "delete shop::orders filter { total < 100 }; " +
    'insert shop::customers [{ name: "eve", region: "eu" }]',
  "from shop::orders inner join { from shop::customers } as c using (customer, c.name) " +
    "aggregate { n: math::count(id), s: math::sum(total) } by { c_region } sort { s: desc }",
  "create table shop::t { id: int4, v: Option(utf8) } with { primary_key: { id } }; " +
    'insert shop::t [(1, "a"), (2, none)]',
  'update shop::orders { status: "paid" } filter { status == "open" and total > 100 }; ' +
    "counter shop::visits add 1",
  'from shop::orders filter { customer in ["ada", "bob"] } map { id, t: total + 1 } take 2',
  "create view shop::paid { id: int8, total: float8 } as " +
    '{ from shop::orders filter { status == "paid" } map { id, total } }',
  'insert shop::orders [{ id: 9, customer: "zed", total: 1.5, status: none }]; ' +
    'update shop::customers { region: "apac" } filter { name == "bob" }; ' +
    "drop table shop::customers",
  "from shop::orders sort { total: desc } take 3 map { customer, cents: total * 100 }",
];

const hostile = [
  "9007199254740993",
  "-9223372036854775809",
  "18446744073709551616",
  "1e400",
  "-0",
  "none",
  '"\\u0000"',
  '"__proto__"',
  "__proto__",
  "constructor",
  "$p",
  "$1",
  "(",
  ")",
  "{",
  "}",
  "[",
  "]",
  ",",
  ";",
  "|",
  "as of",
  '""',
  "uuid::v4()",
  "math::sum",
  "cast(",
];

/** Tokens: strings, names with `::`, numbers, two-character operators, any other character. */
const tokenPattern = new RegExp(
  [
    /"(?:[^"\\]|\\.)*"/.source,
    /[A-Za-z_]\w*(?:::[A-Za-z_]\w*)*/.source,
    /\d+(?:\.\d+)?/.source,
    /==|!=|<=|>=|&&|\|\|/.source,
    /\S/.source,
  ].join("|"),
  "g",
);

function tokens(text: string): string[] {
  return text.match(tokenPattern) ?? [];
}

const vocabulary = [...new Set([...scripts.flatMap(tokens), ...hostile])];

/** Values a literal may be replaced with: most still parse, and fail (or not) when run. */
const literals = [
  ...hostile.filter((token) => /^[-"\d$n]/.test(token)),
  "0",
  "-1",
  "2.5",
  '"ada"',
  '"x"',
  "true",
];

type Edit =
  | { kind: "delete" | "swap"; at: number; other: number }
  | { kind: "insert" | "replace" | "literal"; at: number; token: string }
  | { kind: "append"; at: number; script: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constantFrom("delete", "swap"), at: fc.nat(), other: fc.nat() }),
  fc.record({
    kind: fc.constantFrom("insert", "replace"),
    at: fc.nat(),
    token: fc.constantFrom(...vocabulary),
  }),
  // Weighted: literal swaps and appended statements mostly keep a script parseable, so the
  // runtime's refusals (types, ranges, constraints, unknown objects) are reached too.
  {
    arbitrary: fc.record({
      kind: fc.constant("literal"),
      at: fc.nat(),
      token: fc.constantFrom(...literals),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("append"),
      at: fc.nat(),
      script: fc.nat(scripts.length - 1),
    }),
    weight: 2,
  },
);

const isLiteral = (token: string): boolean => /^(?:"|\d|none$|true$|false$)/.test(token);

function applyEdit(list: string[], change: Edit): void {
  const at = change.at % (list.length + 1);
  const within = at % Math.max(1, list.length);
  switch (change.kind) {
    case "delete":
      list.splice(within, 1);
      return;
    case "swap": {
      const other = change.other % Math.max(1, list.length);
      [list[within], list[other]] = [list[other]!, list[within]!];
      return;
    }
    case "insert":
      list.splice(at, 0, change.token);
      return;
    case "replace":
      list[within] = change.token;
      return;
    case "literal": {
      // The at-th literal (counting round), if the script has any.
      const positions = list.flatMap((token, i) => (isLiteral(token) ? [i] : []));
      if (positions.length > 0) list[positions[change.at % positions.length]!] = change.token;
      return;
    }
    case "append":
      list.push(";", ...tokens(scripts[change.script]!));
  }
}

/** Everything a refused script must leave as it was. */
async function dump(db: Database): Promise<unknown> {
  const frames = await db.query(
    `from system::objects; from shop::orders; from shop::customers; from shop::spend;
     from shop::visits`,
  );
  return { seq: db.seq, frames: frames.frames };
}

async function expectViewCurrent(db: Database): Promise<void> {
  const view = (await db.query("from shop::spend sort { customer }")).frames[0];
  const fresh = (await db.query(`${spendQuery} sort { customer }`)).frames[0];
  assert.deepEqual(view, fresh, "the view equals its query run from scratch");
}

test("mangled scripts run or are refused with a DbError; a refusal changes nothing", async () => {
  let ran = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.nat(scripts.length - 1),
      fc.array(edit, { minLength: 1, maxLength: 3 }),
      fc.constantFrom("query", "command", "admin", "admin"),
      fc.constantFrom(undefined, { p: 1 }, { p: "x", 1: null }),
      async (index, edits, entry, params) => {
        const db = await open();
        try {
          await db.admin(schema);
          await db.command(data);
          const list = tokens(scripts[index]!);
          for (const change of edits) applyEdit(list, change);
          const text = list.join(" ");
          const before = await dump(db);
          try {
            await db[entry](text, params);
            ran++;
          } catch (error) {
            assert.ok(error instanceof DbError, `not a DbError for ${text}: ${String(error)}`);
            assert.ok(error.code in errorCodes, `unknown code ${error.code}`);
            assert.deepEqual(await dump(db), before, `a refused script changed state: ${text}`);
            refused++;
          }
          await expectViewCurrent(db);
        } finally {
          await db.close();
        }
      },
    ),
    { numRuns: 600, seed: 2026 },
  );
  // The edits must leave some scripts valid, or this would test only the parser's refusals.
  assert.ok(ran >= 20, `only ${ran} of ${ran + refused} mangled scripts ran`);
});
