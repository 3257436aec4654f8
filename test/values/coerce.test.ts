// Goal: every outside value reaches storage only through coercion (src/values/coerce.ts). It is
// range-checked at the exact boundaries of every integer kind, normalised to the representation
// src/values/types.ts documents (numbers while safe, bigints beyond, Decimal, Duration, copies
// of Dates, blobs and documents), and refused with a stable code (TYPE_MISMATCH, OUT_OF_RANGE,
// MISSING_COLUMN, UNKNOWN_COLUMN, LIMIT_EXCEEDED, INVALID_SCHEMA) whose details and message name
// the object, the column and the value.
// Method: black box through the embedded API. One table per column type holds a single column
// `v`; each case inserts a value and compares the stored row, or the error, with the expected.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { open, DbError, Decimal, Duration } from "../../src/index.ts";
import type { ErrorCode, TableHandle } from "../../src/index.ts";
import { throwsDb } from "../support/assertions.ts";

const db = await open();
const textLengthMax = 16 * 1024 * 1024;
const tables = new Map<string, TableHandle>();

/** The qualified name of the single-column table for a type spelling. */
function tableName(type: string): string {
  const option = /^Option\((.+)\)$/.exec(type);
  return option ? `default::o_${option[1]!}` : `default::c_${type}`;
}

function tableFor(type: string): TableHandle {
  const name = tableName(type);
  let table = tables.get(name);
  if (table === undefined) {
    table = db.createTable(name, { columns: { v: type } });
    tables.set(name, table);
  }
  return table;
}

/** Stores `value` in a column of `type` and returns it as stored. */
function store(type: string, value: unknown): unknown {
  return tableFor(type).insert({ v: value }).v;
}

/** Storing `value` into `type` fails with `code`, naming the table, column `v` and the value. */
function refuses(type: string, value: unknown, code: ErrorCode, shown: string): void {
  const object = tableName(type);
  throwsDb(() => store(type, value), { code, object, column: "v", value: shown });
  throwsDb(() => store(type, value), { code, message: new RegExp(`^${object}\\.v: `) });
}

describe("integer kinds: exact inclusive bounds", () => {
  const bounds: Array<[string, bigint, bigint]> = [
    ["int1", -128n, 127n],
    ["int2", -32768n, 32767n],
    ["int4", -2147483648n, 2147483647n],
    ["int8", -(2n ** 63n), 2n ** 63n - 1n],
    ["int16", -(2n ** 127n), 2n ** 127n - 1n],
    ["uint1", 0n, 255n],
    ["uint2", 0n, 65535n],
    ["uint4", 0n, 4294967295n],
    ["uint8", 0n, 2n ** 64n - 1n],
    ["uint16", 0n, 2n ** 128n - 1n],
  ];
  /** Values are passed as numbers while safe (what callers do), else as bigints. */
  const asInput = (value: bigint): number | bigint =>
    Number.isSafeInteger(Number(value)) ? Number(value) : value;
  /** The documented representation: int16/uint16 always bigint, others number while safe. */
  const asStored = (kind: string, value: bigint): number | bigint =>
    kind === "int16" || kind === "uint16" ? value : asInput(value);

  for (const [kind, min, max] of bounds) {
    test(`${kind} accepts its min and max`, () => {
      assert.equal(store(kind, asInput(min)), asStored(kind, min));
      assert.equal(store(kind, asInput(max)), asStored(kind, max));
    });

    test(`${kind} refuses min - 1 and max + 1 with OUT_OF_RANGE naming the range`, () => {
      for (const beyond of [min - 1n, max + 1n]) {
        refuses(kind, asInput(beyond), "OUT_OF_RANGE", `${beyond}`);
        throwsDb(() => store(kind, asInput(beyond)), {
          code: "OUT_OF_RANGE",
          message: new RegExp(`out of range for ${kind} \\[${min}, ${max}\\]`),
        });
      }
    });
  }

  test("int1 and uint1 boundaries also hold for bigint and text input", () => {
    assert.equal(store("int1", -128n), -128);
    assert.equal(store("int1", "127"), 127);
    refuses("int1", 128n, "OUT_OF_RANGE", "128");
    refuses("int1", "-129", "OUT_OF_RANGE", '"-129"');
    assert.equal(store("uint1", "255"), 255);
    refuses("uint1", -1n, "OUT_OF_RANGE", "-1");
    refuses("uint1", "256", "OUT_OF_RANGE", '"256"');
  });

  test("int8 keeps numbers while safe and bigints beyond, never a bigint that fits", () => {
    assert.equal(store("int8", 5n), 5);
    assert.equal(store("int8", Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
    assert.equal(store("int8", -Number.MAX_SAFE_INTEGER), -Number.MAX_SAFE_INTEGER);
    assert.equal(store("int8", 2n ** 53n), 2n ** 53n);
    assert.equal(store("int8", "9223372036854775807"), 2n ** 63n - 1n);
    assert.equal(store("int8", "-9223372036854775808"), -(2n ** 63n));
    refuses("int8", "9223372036854775808", "OUT_OF_RANGE", '"9223372036854775808"');
    assert.equal(store("uint8", 2n ** 64n - 1n), 2n ** 64n - 1n);
  });

  test("an unsafe number is refused rather than stored imprecisely", () => {
    refuses("int8", 2 ** 53, "TYPE_MISMATCH", "9007199254740992");
    throwsDb(() => store("int8", 2 ** 63), { code: "TYPE_MISMATCH", message: /pass a bigint/ });
    refuses("uint16", 2 ** 60, "TYPE_MISMATCH", "1152921504606847000");
  });

  test("int16 and uint16 are always bigints", () => {
    assert.equal(store("int16", 7), 7n);
    assert.equal(store("uint16", "42"), 42n);
    assert.equal(store("int16", Decimal.parse("5")), 5n);
  });

  test("non-integers are TYPE_MISMATCH in every integer kind", () => {
    for (const kind of ["int1", "int4", "int8", "uint2", "uint16"]) {
      refuses(kind, 1.5, "TYPE_MISMATCH", "1.5");
      refuses(kind, Number.NaN, "TYPE_MISMATCH", "NaN");
      refuses(kind, Infinity, "TYPE_MISMATCH", "Infinity");
      refuses(kind, "1e3", "TYPE_MISMATCH", '"1e3"');
      refuses(kind, "12abc", "TYPE_MISMATCH", '"12abc"');
      refuses(kind, true, "TYPE_MISMATCH", "true");
      refuses(kind, Decimal.parse("4.2"), "TYPE_MISMATCH", '"4.2"');
    }
    throwsDb(() => store("int4", 1.5), { code: "TYPE_MISMATCH", message: /not an integer/ });
  });

  test("integer text and whole decimals are accepted", () => {
    assert.equal(store("int4", " -7 "), -7);
    assert.equal(store("int4", "+12"), 12);
    assert.equal(store("int2", Decimal.parse("42.000")), 42);
  });

  test("-0 is stored as 0 in every integer kind", () => {
    for (const kind of ["int1", "int2", "int4", "int8", "uint1", "uint2", "uint4", "uint8"]) {
      assert.ok(Object.is(store(kind, -0), 0), `${kind} kept -0`);
    }
    assert.equal(store("int16", -0), 0n);
  });
});

describe("floats", () => {
  test("float8 keeps numbers and converts bigints and decimals", () => {
    assert.equal(store("float8", 1.5), 1.5);
    assert.equal(store("float8", 5n), 5);
    assert.equal(store("float8", Decimal.parse("2.25")), 2.25);
    assert.equal(store("float8", Number.MAX_VALUE), Number.MAX_VALUE);
    assert.ok(Object.is(store("float8", -0), 0));
  });

  test("float8 refuses non-finite values and text", () => {
    refuses("float8", Infinity, "OUT_OF_RANGE", "Infinity");
    refuses("float8", -Infinity, "OUT_OF_RANGE", "-Infinity");
    refuses("float8", Number.NaN, "OUT_OF_RANGE", "NaN");
    refuses("float8", 2n ** 1024n, "OUT_OF_RANGE", `${2n ** 1024n}`);
    refuses("float8", "1.5", "TYPE_MISMATCH", '"1.5"');
    refuses("float8", false, "TYPE_MISMATCH", "false");
  });

  test("float4 rounds to single precision and refuses values beyond its range", () => {
    assert.equal(store("float4", 0.1), Math.fround(0.1));
    const float4Max = 3.4028234663852886e38;
    assert.equal(store("float4", float4Max), float4Max);
    assert.equal(store("float4", -float4Max), -float4Max);
    refuses("float4", 3.5e38, "OUT_OF_RANGE", "3.5e+38");
    refuses("float4", -3.5e38, "OUT_OF_RANGE", "-3.5e+38");
    refuses("float4", Infinity, "OUT_OF_RANGE", "Infinity");
    assert.ok(Object.is(store("float4", -0), 0), "float4 kept -0 where float8 does not");
  });

  test("the float aliases: float is float8", () => {
    assert.equal(store("float", 0.1), 0.1);
  });
});

describe("bool, text and decimal", () => {
  test("bool takes only booleans", () => {
    assert.equal(store("bool", true), true);
    assert.equal(store("bool", false), false);
    refuses("bool", 1, "TYPE_MISMATCH", "1");
    refuses("bool", "true", "TYPE_MISMATCH", '"true"');
  });

  test("utf8 takes only strings; text and string are aliases", () => {
    assert.equal(store("utf8", ""), "");
    assert.equal(store("utf8", "héllo"), "héllo");
    refuses("utf8", 5, "TYPE_MISMATCH", "5");
    refuses("text", 5n, "TYPE_MISMATCH", "5");
    refuses("string", ["a"], "TYPE_MISMATCH", '["a"]');
  });

  test("utf8 longer than textLengthMax is LIMIT_EXCEEDED; exactly the limit is stored", () => {
    const atLimit = "x".repeat(textLengthMax);
    assert.equal((store("utf8", atLimit) as string).length, textLengthMax);
    throwsDb(() => store("utf8", `${atLimit}x`), {
      code: "LIMIT_EXCEEDED",
      object: "default::c_utf8",
      column: "v",
      message: /^default::c_utf8\.v: text longer than 16777216/,
    });
  });

  test("decimal parses text and converts numbers exactly as their shortest spelling", () => {
    const fromText = store("decimal", "12.50");
    assert.ok(fromText instanceof Decimal);
    assert.equal(fromText.toString(), "12.5");
    assert.equal(String(store("decimal", 0.1)), "0.1");
    assert.equal(String(store("decimal", 10n)), "10");
    assert.equal(String(store("decimal", "-1e-3")), "-0.001");
    const given = Decimal.parse("3.14");
    assert.equal(store("decimal", given), given);
  });

  test("decimal refuses what is not a finite decimal, naming the column", () => {
    refuses("decimal", "abc", "TYPE_MISMATCH", '"abc"');
    refuses("decimal", "1.", "TYPE_MISMATCH", '"1."');
    refuses("decimal", Number.NaN, "TYPE_MISMATCH", "NaN");
    refuses("decimal", Infinity, "TYPE_MISMATCH", "Infinity");
    refuses("decimal", true, "TYPE_MISMATCH", "true");
  });
});

describe("blob", () => {
  test("bytes are copied, so the caller's array cannot change stored state", () => {
    const source = new Uint8Array([1, 2, 3]);
    const stored = store("blob", source);
    source[0] = 99;
    assert.deepEqual(stored, new Uint8Array([1, 2, 3]));
    assert.notEqual(stored, source);
    assert.deepEqual(store("blob", Buffer.from([7])), new Uint8Array([7]));
  });

  test("0x-prefixed hex is decoded; anything else is refused", () => {
    assert.deepEqual(store("blob", "0x0aFF"), new Uint8Array([10, 255]));
    assert.deepEqual(store("blob", "0x"), new Uint8Array([]));
    refuses("blob", "0xabc", "TYPE_MISMATCH", '"0xabc"');
    refuses("blob", "abcd", "TYPE_MISMATCH", '"abcd"');
    refuses("blob", [1, 2], "TYPE_MISMATCH", "[1,2]");
    throwsDb(() => store("blob", "0xzz"), { code: "TYPE_MISMATCH", message: /0x-prefixed hex/ });
  });

  test("a blob larger than blobSizeBytesMax is LIMIT_EXCEEDED", () => {
    const blobSizeBytesMax = 64 * 1024 * 1024;
    throwsDb(() => store("blob", new Uint8Array(blobSizeBytesMax + 1)), {
      code: "LIMIT_EXCEEDED",
      object: "default::c_blob",
      column: "v",
    });
  });
});

describe("temporal kinds", () => {
  test("date takes valid YYYY-MM-DD text and Dates (as their UTC day)", () => {
    assert.equal(store("date", "2024-02-29"), "2024-02-29");
    assert.equal(store("date", new Date(Date.UTC(2024, 2, 5, 23, 59))), "2024-03-05");
  });

  test("date refuses impossible days and other spellings", () => {
    refuses("date", "2023-02-29", "TYPE_MISMATCH", '"2023-02-29"');
    refuses("date", "2024-13-01", "TYPE_MISMATCH", '"2024-13-01"');
    refuses("date", "2024-04-31", "TYPE_MISMATCH", '"2024-04-31"');
    refuses("date", "2024-1-1", "TYPE_MISMATCH", '"2024-1-1"');
    refuses("date", 20240101, "TYPE_MISMATCH", "20240101");
    refuses("date", new Date(Number.NaN), "TYPE_MISMATCH", "Invalid Date");
    throwsDb(() => store("date", "x"), { code: "TYPE_MISMATCH", message: /expected YYYY-MM-DD/ });
  });

  test("date holds years 0000 to 9999: a Date beyond is OUT_OF_RANGE, not cut text", () => {
    // Was stored as "+275760-09" and "-000001-01", text no date function reads.
    for (const ms of [8.64e15, Date.UTC(10_000, 0, 1), -8.64e15, Date.UTC(-1, 11, 31)]) {
      const date = new Date(ms);
      refuses("date", date, "OUT_OF_RANGE", date.toISOString());
    }
    assert.equal(store("date", new Date(Date.UTC(9999, 11, 31, 23))), "9999-12-31");
    const yearZero = new Date(0);
    yearZero.setUTCFullYear(0, 0, 1);
    assert.equal(store("date", yearZero), "0000-01-01");
    // Year 0 is a leap year (as the Date of 0000-02-29 already said); 100 is not.
    assert.equal(store("date", "0000-02-29"), "0000-02-29");
    refuses("date", "0100-02-29", "TYPE_MISMATCH", '"0100-02-29"');
  });

  test("datetime takes Dates (copied), Unix ms and ISO 8601 text", () => {
    const source = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
    const stored = store("datetime", source) as Date;
    source.setTime(0);
    assert.equal(stored.toISOString(), "2024-01-02T03:04:05.000Z");
    assert.deepEqual(store("datetime", 0), new Date(0));
    assert.deepEqual(store("datetime", "2024-01-02T03:04:05Z"), stored);
    assert.deepEqual(store("datetime", "2024-01-02"), new Date(Date.UTC(2024, 0, 2)));
  });

  test("datetime refuses unparseable text, NaN and invalid Dates", () => {
    refuses("datetime", "yesterday", "TYPE_MISMATCH", '"yesterday"');
    refuses("datetime", "2024-13-45", "TYPE_MISMATCH", '"2024-13-45"');
    refuses("datetime", Number.NaN, "TYPE_MISMATCH", "NaN");
    refuses("datetime", Infinity, "TYPE_MISMATCH", "Infinity");
    refuses("datetime", new Date(Number.NaN), "TYPE_MISMATCH", "Invalid Date");
  });

  test("time takes HH:MM:SS with up to nine fraction digits, within the day", () => {
    assert.equal(store("time", "00:00:00"), "00:00:00");
    assert.equal(store("time", "23:59:59.999999999"), "23:59:59.999999999");
    refuses("time", "24:00:00", "TYPE_MISMATCH", '"24:00:00"');
    refuses("time", "12:60:00", "TYPE_MISMATCH", '"12:60:00"');
    refuses("time", "12:00:60", "TYPE_MISMATCH", '"12:00:60"');
    refuses("time", "12:00", "TYPE_MISMATCH", '"12:00"');
    refuses("time", "12:00:00.1234567890", "TYPE_MISMATCH", '"12:00:00.1234567890"');
    refuses("time", 43200, "TYPE_MISMATCH", "43200");
  });

  test("duration takes compact and ISO text, ms and Duration values", () => {
    assert.equal((store("duration", "1h30m") as Duration).ms, 5_400_000);
    assert.equal((store("duration", "PT30S") as Duration).ms, 30_000);
    assert.equal((store("duration", "-5s") as Duration).ms, -5_000);
    assert.equal((store("duration", 250) as Duration).ms, 250);
    const given = new Duration(7);
    assert.equal(store("duration", given), given);
  });

  test("duration refuses other spellings and non-finite numbers", () => {
    refuses("duration", "5 minutes", "TYPE_MISMATCH", '"5 minutes"');
    refuses("duration", "P", "TYPE_MISMATCH", '"P"');
    refuses("duration", "PT", "TYPE_MISMATCH", '"PT"');
    refuses("duration", Infinity, "TYPE_MISMATCH", "Infinity");
    refuses("duration", true, "TYPE_MISMATCH", "true");
  });
});

describe("uuid4 and uuid7", () => {
  const v4 = "f47ac10b-58cc-4372-a567-0e02b2c3d479";
  const v7 = "01890a5d-ac96-774b-bcce-b302099a8057";

  test("valid UUIDs are stored lowercase", () => {
    assert.equal(store("uuid4", v4.toUpperCase()), v4);
    assert.equal(store("uuid7", v7), v7);
  });

  test("the version and the variant must match the column", () => {
    refuses("uuid4", v7, "TYPE_MISMATCH", JSON.stringify(v7));
    refuses("uuid7", v4, "TYPE_MISMATCH", JSON.stringify(v4));
    const badVariant = "f47ac10b-58cc-4372-c567-0e02b2c3d479";
    refuses("uuid4", badVariant, "TYPE_MISMATCH", JSON.stringify(badVariant));
    const undashed = v4.replaceAll("-", "");
    refuses("uuid4", undashed, "TYPE_MISMATCH", JSON.stringify(undashed));
    refuses("uuid7", 7, "TYPE_MISMATCH", "7");
    throwsDb(() => store("uuid7", v4), { code: "TYPE_MISMATCH", message: /version 7 UUID/ });
  });
});

describe("json", () => {
  test("documents are deep copies without undefined members", () => {
    const source = { a: [1, { b: "x" }], c: null, gone: undefined };
    const stored = store("json", source);
    source.a.push(2);
    assert.deepEqual(stored, { a: [1, { b: "x" }], c: null });
    assert.equal(store("json", null), null);
    assert.equal(store("json", "text"), "text");
  });

  test("-0 in a document is stored as 0, as the log carries it back", () => {
    const stored = store("json", { n: -0, list: [-0] }) as { n: number; list: number[] };
    assert.ok(Object.is(stored.n, 0) && Object.is(stored.list[0], 0));
    assert.ok(Object.is(store("json", -0), 0));
  });

  test("a key named __proto__ stays a key of a plain object, at any depth", () => {
    const source: unknown = JSON.parse('{"a": 1, "__proto__": {"x": 1}, "n": {"__proto__": 2}}');
    const stored = store("json", source) as Record<string, unknown>;
    assert.deepStrictEqual(stored, source);
    assert.deepEqual(Object.keys(stored), ["a", "__proto__", "n"]);
    assert.equal(Object.getPrototypeOf(stored), Object.prototype);
    assert.equal((stored as { x?: unknown }).x, undefined, "the prototype was not set");
    assert.deepEqual(Object.keys(stored["n"] as object), ["__proto__"]);
  });

  test("non-JSON values anywhere in a document are TYPE_MISMATCH", () => {
    refuses("json", { n: Number.NaN }, "TYPE_MISMATCH", "NaN");
    throwsDb(() => store("json", [Infinity]), {
      code: "TYPE_MISMATCH",
      message: /JSON numbers are finite/,
    });
    throwsDb(() => store("json", { at: new Date(0) }), {
      code: "TYPE_MISMATCH",
      column: "v",
      message: /not a JSON value/,
    });
    throwsDb(() => store("json", new Map()), { code: "TYPE_MISMATCH", message: /not a JSON/ });
    throwsDb(() => store("json", { f: () => 1 }), { code: "TYPE_MISMATCH" });
    throwsDb(() => store("json", 5n), { code: "TYPE_MISMATCH" });
  });

  /** `levels` arrays nested inside each other around `inner`. */
  function nested(levels: number, inner?: unknown): unknown {
    let value: unknown = inner === undefined ? [] : [inner];
    for (let i = 1; i < levels; i++) value = [value];
    return value;
  }

  test("nesting up to jsonDepthMax (64) is stored; 65 is LIMIT_EXCEEDED", () => {
    assert.deepEqual(store("json", nested(64, 1)), nested(64, 1));
    assert.deepEqual(store("json", nested(64)), nested(64));
    for (const deep of [nested(65, 1), nested(65)]) {
      throwsDb(() => store("json", deep), {
        code: "LIMIT_EXCEEDED",
        object: "default::c_json",
        column: "v",
        message: /deeper than 64/,
      });
    }
  });
});

describe("any", () => {
  test("values the log carries are deep copies, so the caller's objects cannot change them", () => {
    const source = {
      list: [1, "a", true, null, 5n, new Date(0), new Uint8Array([1])],
      d: Decimal.parse("1.5"),
      t: Duration.parse("2s"),
      nested: { x: 1 },
    };
    const stored = store("any", source) as typeof source;
    source.nested.x = 2;
    source.list.push(9);
    (source.list[5] as Date).setTime(7);
    assert.deepEqual(stored.nested, { x: 1 });
    assert.equal(stored.list.length, 7);
    assert.equal((stored.list[5] as Date).getTime(), 0);
    assert.equal(store("any", -0), 0);
  });

  test("what the log would lose or refuse is TYPE_MISMATCH naming the column", () => {
    // Each was stored, then read back from the log as {} (or stopped the commit: NaN).
    refuses("any", new Map([[1, 2]]), "TYPE_MISMATCH", "{}");
    throwsDb(() => store("any", { s: new Set([1]) }), {
      code: "TYPE_MISMATCH",
      message: /^default::c_any\.v: .*a Set cannot be stored/,
    });
    refuses("any", [Number.NaN], "TYPE_MISMATCH", "NaN");
    // Was stored, and the log then refused to open: an invalid date's time is NaN.
    throwsDb(() => store("any", { at: new Date(Number.NaN) }), {
      code: "TYPE_MISMATCH",
      message: /^default::c_any\.v: .*an invalid date cannot be stored/,
    });
    throwsDb(() => store("any", { f: () => 1 }), { code: "TYPE_MISMATCH", message: /function/ });
    throwsDb(() => store("any", Symbol("s")), { code: "TYPE_MISMATCH", message: /symbol/ });
    throwsDb(() => store("any", new (class Point {})()), {
      code: "TYPE_MISMATCH",
      message: /a Point cannot be stored/,
    });
    throwsDb(() => store("any", [/x/]), { code: "TYPE_MISMATCH", message: /a RegExp/ });
    let deep: unknown = 1;
    for (let i = 0; i < 65; i++) deep = { deep };
    throwsDb(() => store("any", deep), { code: "LIMIT_EXCEEDED", message: /deeper than 64/ });
  });

  test("text in any and json values has the utf8 limit, in values and in keys", () => {
    const atLimit = "x".repeat(textLengthMax);
    const over = `${atLimit}x`;
    assert.equal((store("any", { s: atLimit }) as { s: string }).s.length, textLengthMax);
    for (const type of ["any", "json"]) {
      for (const value of [over, [1, over], { a: { b: over } }, { [over]: 1 }]) {
        throwsDb(() => store(type, value), {
          code: "LIMIT_EXCEEDED",
          object: tableName(type),
          column: "v",
          message: new RegExp(`^${tableName(type)}\\.v: text longer than ${textLengthMax}`),
        });
      }
    }
    // A schema-free queue body is an any value: refused when enqueued, nothing taken.
    const q = db.createQueue("default::free_text");
    throwsDb(() => q.enqueue({ note: over }), {
      code: "LIMIT_EXCEEDED",
      object: "default::free_text",
    });
    assert.equal(q.size, 0);
    assert.deepEqual(q.enqueue({ note: "ok" }), { id: 1, enqueued: true });
  });
});

describe("none, missing and unknown columns", () => {
  test("Option(T) stores none for null, undefined and a missing column", () => {
    const table = tableFor("Option(int4)");
    assert.equal(table.insert({ v: null }).v, null);
    assert.equal(table.insert({ v: undefined }).v, null);
    assert.equal(table.insert({}).v, null);
    assert.equal(table.insert({ v: 3 }).v, 3);
    refuses("Option(int4)", 2 ** 31, "OUT_OF_RANGE", "2147483648");
  });

  test("a non-optional column refuses none and requires a value", () => {
    refuses("int4", null, "TYPE_MISMATCH", "none");
    throwsDb(() => store("int4", null), { code: "TYPE_MISMATCH", message: /Option\(T\)/ });
    throwsDb(() => tableFor("int4").insert({}), {
      code: "MISSING_COLUMN",
      object: "default::c_int4",
      column: "v",
      message: /column v \(int4\) is required/,
    });
  });

  test("an unknown column is refused by name and nothing is stored", () => {
    const table = tableFor("int2");
    const before = table.size;
    throwsDb(() => table.insert({ v: 1, extra: 2 }), {
      code: "UNKNOWN_COLUMN",
      object: "default::c_int2",
      column: "extra",
      message: /has no column "extra"/,
    });
    assert.equal(table.size, before);
  });

  test("a row that is not an object is TYPE_MISMATCH", () => {
    const table = tableFor("int2");
    for (const row of [5, null, [1], "v"]) {
      throwsDb(() => table.insert(row as never), {
        code: "TYPE_MISMATCH",
        object: "default::c_int2",
        message: /a row must be an object/,
      });
    }
  });

  test("insertMany names the failing row (1-based) in details and message", () => {
    const table = tableFor("uint1");
    const before = table.size;
    throwsDb(() => table.insertMany([{ v: 1 }, { v: 256 }]), {
      code: "OUT_OF_RANGE",
      column: "v",
      value: "256",
      message: /\(row 2\)$/,
    });
    assert.throws(
      () => table.insertMany([{ v: 1 }, { v: 2 }, {}]),
      (error: unknown) => error instanceof DbError && error.details.row === 3,
    );
    assert.equal(table.size, before);
  });
});

describe("type spellings in schemas", () => {
  test("spellings are case-insensitive and Option(T) may be spaced", () => {
    const table = db.createTable("spell", { columns: { a: "INT4", b: "option( Utf8 )" } });
    assert.deepEqual(table.insert({ a: 1 }), { a: 1, b: null });
    throwsDb(() => table.insert({ a: "x" }), { code: "TYPE_MISMATCH", column: "a" });
  });

  test("an unknown type is INVALID_SCHEMA naming object and column", () => {
    throwsDb(() => db.createTable("bad_type", { columns: { a: "int3" } }), {
      code: "INVALID_SCHEMA",
      object: "default::bad_type",
      column: "a",
      message: /unknown type "int3"/,
    });
    assert.ok(!db.system("objects").some((o) => o.name === "bad_type"), "nothing was created");
  });

  test("Option(Option(T)) is INVALID_SCHEMA", () => {
    throwsDb(() => db.createTable("nested_opt", { columns: { a: "Option(Option(int4))" } }), {
      code: "INVALID_SCHEMA",
      column: "a",
      message: /nested Option/,
    });
  });

  test("auto_increment needs an integer column", () => {
    throwsDb(
      () => db.createTable("auto_text", { columns: { a: { type: "utf8", autoIncrement: true } } }),
      { code: "INVALID_SCHEMA", object: "default::auto_text", column: "a" },
    );
  });

  test("column lists need valid, distinct names and at least one column", () => {
    throwsDb(
      () =>
        db.createTable("dup_col", {
          columns: [
            { name: "a", type: "int4" },
            { name: "a", type: "utf8" },
          ],
        }),
      { code: "INVALID_SCHEMA", column: "a", message: /appears twice/ },
    );
    throwsDb(() => db.createTable("bad_col", { columns: { "a-b": "int4" } }), {
      code: "INVALID_NAME",
      value: "a-b",
    });
    throwsDb(() => db.createTable("no_cols", { columns: {} }), {
      code: "INVALID_SCHEMA",
      object: "no_cols",
    });
    throwsDb(() => db.createTable("typeless", { columns: [{ name: "a" }] as never }), {
      code: "INVALID_SCHEMA",
      message: /column 1 needs a name and a type/,
    });
  });
});
