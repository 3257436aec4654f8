// Goal: the tokenizer produces every RQL token kind with exact values and 1-based positions,
// and rejects malformed input with RQL_PARSE naming line, column and fragment.
// Method: table-driven cases over small sources, comparing kinds, texts and decoded values.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { tokenize } from "../../src/expr/index.ts";
import type { Token } from "../../src/expr/index.ts";
import { DbError } from "../../src/lib/errors.ts";
import { Duration } from "../../src/values/index.ts";

function summary(source: string, options = {}): string[] {
  return tokenize(source, options)
    .slice(0, -1)
    .map((t) => `${t.kind}:${t.text}`);
}

function only(source: string, options = {}): Token {
  const tokens = tokenize(source, options);
  assert.equal(tokens.length, 2, `one token in ${source}`);
  return tokens[0]!;
}

function lexError(source: string, options = {}): DbError {
  try {
    tokenize(source, options);
  } catch (error) {
    assert.ok(error instanceof DbError);
    assert.equal(error.code, "RQL_PARSE");
    return error;
  }
  assert.fail(`expected a lexing error for ${source}`);
}

describe("lexer: token kinds", () => {
  it("lexes identifiers, including Unicode letters and underscores", () => {
    assert.deepEqual(summary("abc _x1 Ünïcode 名前 AND"), [
      "identifier:abc",
      "identifier:_x1",
      "identifier:Ünïcode",
      "identifier:名前",
      "identifier:AND",
    ]);
  });

  it("lexes every symbol, longest match first", () => {
    const symbols = ":: == != <= >= ?? && || { } [ ] ( ) , : ; | . < > + - * / % ! =";
    const tokens = tokenize(symbols).slice(0, -1);
    assert.deepEqual(
      tokens.map((t) => t.kind),
      tokens.map(() => "symbol"),
    );
    assert.deepEqual(
      tokens.map((t) => t.value),
      symbols.split(" "),
    );
    assert.deepEqual(summary("a<=b"), ["identifier:a", "symbol:<=", "identifier:b"]);
    assert.deepEqual(summary("a||b|c"), [
      "identifier:a",
      "symbol:||",
      "identifier:b",
      "symbol:|",
      "identifier:c",
    ]);
    assert.deepEqual(summary("ns::f"), ["identifier:ns", "symbol:::", "identifier:f"]);
  });
});

describe("lexer: literals", () => {
  it("lexes integers as numbers, and as bigints beyond 2^53", () => {
    assert.equal(only("42").value, 42);
    assert.equal(only("007").value, 7);
    assert.equal(only("9007199254740991").value, 9007199254740991);
    assert.equal(only("9007199254740992").value, 9007199254740992n);
    const wide = only("340282366920938463463374607431768211455");
    assert.equal(wide.kind, "integer");
    assert.equal(wide.value, 2n ** 128n - 1n);
  });

  it("lexes floats with points and exponents, including .5 and 5.", () => {
    const cases: [string, number][] = [
      ["1.5", 1.5],
      [".5", 0.5],
      ["5.", 5],
      ["1e3", 1000],
      ["1E-3", 0.001],
      ["2.5e+2", 250],
      ["5.e1", 50],
    ];
    for (const [source, value] of cases) {
      const token = only(source);
      assert.equal(token.kind, "float", source);
      assert.equal(token.value, value, source);
    }
  });

  it("lexes durations", () => {
    const cases: [string, number][] = [
      ["30s", 30_000],
      ["250ms", 250],
      ["5m", 300_000],
      ["1h30m", 5_400_000],
      ["2d", 172_800_000],
      ["1w", 604_800_000],
      ["1.5h", 5_400_000],
    ];
    for (const [source, ms] of cases) {
      const token = only(source);
      assert.equal(token.kind, "duration", source);
      assert.ok(token.value instanceof Duration);
      assert.equal(token.value.ms, ms, source);
    }
  });

  it("decodes escapes in double- and single-quoted strings", () => {
    assert.equal(only(String.raw`"a\nb\tc\\d\"e\'f"`).value, "a\nb\tc\\d\"e'f");
    assert.equal(only(String.raw`'it\'s'`).value, "it's");
    assert.equal(only(String.raw`"\u{1F600}\u{41}\r\0"`).value, "😀A\r\0");
    assert.equal(only(`'say "hi"'`).value, 'say "hi"');
    assert.equal(only(`""`).value, "");
  });

  it("keeps strings raw in guard mode: a backslash only protects the next character", () => {
    const token = only(String.raw`"a\"b\\"`, { rawStrings: true });
    assert.equal(token.value, String.raw`a\"b\\`);
    assert.equal(only(String.raw`"\n"`, { rawStrings: true }).value, String.raw`\n`);
    assert.equal(only(String.raw`"\q"`, { rawStrings: true }).value, String.raw`\q`);
  });

  it("lexes named and positional parameters", () => {
    const named = only("$amount");
    assert.equal(named.kind, "parameter");
    assert.equal(named.value, "amount");
    const positional = only("$12");
    assert.equal(positional.kind, "parameter");
    assert.equal(positional.value, 12);
  });
});

describe("lexer: layout", () => {
  it("skips line comments and Unicode whitespace", () => {
    assert.deepEqual(summary("a -- comment ≠ 1\n\u00a0\u2003\u0085b\u3000-- end"), [
      "identifier:a",
      "identifier:b",
    ]);
    assert.deepEqual(summary("a - -1"), ["identifier:a", "symbol:-", "symbol:-", "integer:1"]);
  });

  it("lexes path segments after a dot as names, even when they start with digits", () => {
    assert.deepEqual(summary("ctx.a.0.b"), [
      "identifier:ctx",
      "symbol:.",
      "identifier:a",
      "symbol:.",
      "identifier:0",
      "symbol:.",
      "identifier:b",
    ]);
    // After an operator the same characters are a float.
    assert.deepEqual(summary("a > .5"), ["identifier:a", "symbol:>", "float:.5"]);
    assert.deepEqual(summary("x.1e5"), ["identifier:x", "symbol:.", "identifier:1e5"]);
  });

  it("ends with an end token at the end of the source", () => {
    const tokens = tokenize("ab ");
    const end = tokens[tokens.length - 1]!;
    assert.equal(end.kind, "end");
    assert.equal(end.offset, 3);
    assert.equal(end.col, 4);
    assert.equal(tokenize("").length, 1);
  });
});

describe("lexer: positions", () => {
  it("gives 1-based lines and columns and 0-based offsets", () => {
    const tokens = tokenize('a ==\n  "x"\r\n\tb\rc');
    const positions = tokens.map((t) => [t.text, t.line, t.col, t.offset]);
    assert.deepEqual(positions, [
      ["a", 1, 1, 0],
      ["==", 1, 3, 2],
      ['"x"', 2, 3, 7],
      ["b", 3, 2, 13],
      ["c", 4, 1, 15],
      ["", 4, 2, 16],
    ]);
  });

  it("counts lines inside strings and comments", () => {
    const tokens = tokenize('"a\nb" -- c\nd');
    assert.equal(tokens[1]!.text, "d");
    assert.equal(tokens[1]!.line, 3);
    assert.equal(tokens[1]!.col, 1);
  });
});

describe("lexer: errors", () => {
  const cases: [string, number, number, string][] = [
    ["a # b", 1, 3, "#"],
    ["a & b", 1, 3, "&"],
    ["a ? b", 1, 3, "?"],
    ['x == "abc', 1, 6, '"abc'],
    ["1 +\n  5abc", 2, 3, "5abc"],
    ["1e", 1, 1, "1e"],
    ["$", 1, 1, "$"],
    ["$0", 1, 1, "$0"],
    [String.raw`"\q"`, 1, 2, String.raw`\q`],
    [String.raw`"\u{D800}"`, 1, 2, String.raw`\u{D800}`],
    [String.raw`"\u{110000}"`, 1, 2, String.raw`\u{110000}`],
    [String.raw`"\u{zz}"`, 1, 2, String.raw`\u{zz}`],
    ["1e999", 1, 1, "1e999"],
    ["340282366920938463463374607431768211456", 1, 1, "340282366920938463463374607431768211456"],
  ];
  for (const [source, line, col, fragment] of cases) {
    it(`rejects ${JSON.stringify(source)} at ${line}:${col}`, () => {
      const error = lexError(source);
      assert.equal(error.details.line, line);
      assert.equal(error.details.col, col);
      assert.equal(error.details.fragment, fragment);
      assert.match(error.message, new RegExp(`^line ${line}, column ${col}: `));
    });
  }

  it("rejects an unterminated raw string too", () => {
    const error = lexError(String.raw`"abc\"`, { rawStrings: true });
    assert.match(error.message, /unterminated string/);
  });

  it("names the range of positional parameters, for $0 and for one past 2^53 alike", () => {
    // $99999999999999999999 said "positional parameters start at $1", which it does.
    for (const text of ["$0", "$9007199254740992", "$99999999999999999999"]) {
      assert.equal(
        lexError(`x == ${text}`).message,
        `line 1, column 6: positional parameters run from $1 to $9007199254740991, found ${text}`,
      );
    }
    assert.equal(only("$9007199254740991").value, 9007199254740991);
  });

  it("hints at the operator meant by a lone & or ?", () => {
    assert.match(lexError("a & b").message, /use "&&" or "and"/);
    assert.match(lexError("a ? b").message, /use "\?\?"/);
  });
});
