/**
 * @module The tokenizer for the whole RQL token set. Expressions, state machine guards and
 * RQL statements all lex through here, so a literal, an operator or an error position means
 * the same thing everywhere. Keywords are plain identifiers: matching them (case-insensitively)
 * is the parser's job, which keeps the lexer free of any grammar.
 */
import { DbError } from "../lib/errors.ts";
import { assert } from "../lib/assert.ts";
import { deadlineTick } from "../lib/deadline.ts";
import { Duration } from "../values/index.ts";

/** Every punctuation and operator token, longest spellings first within each family. */
export type SymbolText =
  | "::"
  | "=="
  | "!="
  | "<="
  | ">="
  | "??"
  | "&&"
  | "||"
  | "{"
  | "}"
  | "["
  | "]"
  | "("
  | ")"
  | ","
  | ":"
  | ";"
  | "|"
  | "."
  | "<"
  | ">"
  | "+"
  | "-"
  | "*"
  | "/"
  | "%"
  | "!"
  | "=";

/** Where a token or node starts: 1-based line and column (UTF-16 units), 0-based offset. */
export interface Position {
  readonly offset: number;
  readonly line: number;
  readonly col: number;
}

interface TokenBase extends Position {
  /** The exact source text of the token ("" for the end token). */
  readonly text: string;
}

export type Token = TokenBase &
  (
    | { readonly kind: "identifier"; readonly value: string }
    | { readonly kind: "integer"; readonly value: number | bigint }
    | { readonly kind: "float"; readonly value: number }
    | { readonly kind: "duration"; readonly value: Duration }
    | { readonly kind: "string"; readonly value: string }
    /** `$name` carries the name, `$1` the 1-based index. */
    | { readonly kind: "parameter"; readonly value: string | number }
    | { readonly kind: "symbol"; readonly value: SymbolText }
    | { readonly kind: "end"; readonly value: "" }
  );

export type TokenKind = Token["kind"];

export interface LexOptions {
  /**
   * Guard mode (rstmdb compatibility): string literals are not escape-decoded. A backslash
   * only protects the next character from ending the string, and both stay in the value.
   */
  rawStrings?: boolean;
}

/** The largest positional parameter, `$N`: N is read as a number, exact to 2^53 - 1. */
const parameterIndexMax = Number.MAX_SAFE_INTEGER;

const twoCharSymbols: ReadonlySet<string> = new Set([
  "::",
  "==",
  "!=",
  "<=",
  ">=",
  "??",
  "&&",
  "||",
]);
const oneCharSymbols: ReadonlySet<string> = new Set("{}[](),:;|.<>+-*/%!=");
const durationPattern = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const identifierCharPattern = /^[\p{Alphabetic}\p{N}_]$/u;
const identifierStartPattern = /^[\p{Alphabetic}_]$/u;
const whitespacePattern = /^\p{White_Space}$/u;
/** Integers wider than this cannot be any RQL integer type (uint16 is the widest). */
const integerLiteralMax = 2n ** 128n - 1n;
const codePointMax = 0x10ffff;

/**
 * Splits `source` into tokens, ending with one `end` token. Throws RQL_PARSE naming the line,
 * column and fragment of the first character that cannot start or continue a token.
 *
 * @example
 * tokenize("a >= 1").map((t) => t.text); // -> ["a", ">=", "1", ""]
 */
export function tokenize(source: string, options: LexOptions = {}): Token[] {
  const lexer = new Lexer(source, options.rawStrings === true);
  const tokens: Token[] = [];
  for (;;) {
    // A token is a unit of the active query deadline's work: a script of millions of tokens
    // takes seconds to split, and must stop at a server's deadline (no-op without one).
    deadlineTick(1);
    const token = lexer.next();
    // Every token but the end consumes source, so the loop ends within source.length steps.
    assert(token.kind === "end" || token.text.length > 0, "a token consumes source");
    tokens.push(token);
    if (token.kind === "end") return tokens;
  }
}

/** Builds the RQL_PARSE error every syntax failure uses: position, message and fragment. */
export function parseError(at: Position, message: string, fragment: string): DbError {
  return new DbError("RQL_PARSE", `line ${at.line}, column ${at.col}: ${message}`, {
    line: at.line,
    col: at.col,
    fragment,
  });
}

/** Quotes a fragment for a message: short, and visibly the source text. */
export function quoteFragment(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isAsciiLetter(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90);
}

/** Letters, digits and `_`: rstmdb's field characters (Unicode alphanumerics), ASCII fast. */
function isIdentifierChar(code: number): boolean {
  if (code < 128) return isAsciiLetter(code) || isDigit(code) || code === 95;
  return identifierCharPattern.test(String.fromCodePoint(code));
}

function isIdentifierStart(code: number): boolean {
  if (code < 128) return isAsciiLetter(code) || code === 95;
  return identifierStartPattern.test(String.fromCodePoint(code));
}

function isWhitespace(code: number): boolean {
  if (code < 128) return code === 32 || (code >= 9 && code <= 13);
  return whitespacePattern.test(String.fromCodePoint(code));
}

function unitLength(code: number): number {
  return code > 0xffff ? 2 : 1;
}

/** A single pass over the source; it only remembers where the current line starts. */
class Lexer {
  private offset = 0;
  private line = 1;
  private lineStart = 0;
  /** The previous token was an identifier, so `.` continues a field path. */
  private afterIdentifier = false;
  /** The previous token was such a `.`, directly followed by a segment name. */
  private memberPending = false;

  constructor(
    private readonly source: string,
    private readonly rawStrings: boolean,
  ) {}

  /** Lexes the next token; the end token repeats once the source is exhausted. */
  next(): Token {
    const token = this.lex();
    this.afterIdentifier = token.kind === "identifier";
    return token;
  }

  private lex(): Token {
    if (this.memberPending) {
      // A path segment after `.` may start with a digit (`ctx.a.0`), like rstmdb's fields.
      this.memberPending = false;
      return this.word(this.here());
    }
    this.skipBlank();
    const start = this.here();
    if (this.offset >= this.source.length) return makeToken(start, "end", "", "");
    const code = this.source.codePointAt(this.offset)!;
    const dotNumber = code === 46 && isDigit(this.codeAt(this.offset + 1)) && !this.afterIdentifier;
    if (isDigit(code) || dotNumber) return this.number(start);
    if (isIdentifierStart(code)) return this.word(start);
    if (code === 34 || code === 39) return this.string(start, code);
    if (code === 36) return this.parameter(start);
    const token = this.symbol(start);
    if (token.value === "." && this.afterIdentifier) {
      this.memberPending = isIdentifierChar(this.codeAt(this.offset));
    }
    return token;
  }

  private here(): Position {
    return { offset: this.offset, line: this.line, col: this.offset - this.lineStart + 1 };
  }

  private codeAt(offset: number): number {
    return offset < this.source.length ? this.source.codePointAt(offset)! : -1;
  }

  /** Moves over one code point, counting a line break (`\n`, or `\r` not before `\n`). */
  private advance(): void {
    const code = this.source.codePointAt(this.offset)!;
    this.offset += unitLength(code);
    const lineBreak = code === 10 || (code === 13 && this.codeAt(this.offset) !== 10);
    if (lineBreak) {
      this.line += 1;
      this.lineStart = this.offset;
    }
  }

  /** Skips Unicode whitespace and `--` comments, which run to the end of the line. */
  private skipBlank(): void {
    while (this.offset < this.source.length) {
      const code = this.source.codePointAt(this.offset)!;
      if (isWhitespace(code)) {
        this.advance();
      } else if (code === 45 && this.codeAt(this.offset + 1) === 45) {
        while (this.offset < this.source.length && this.codeAt(this.offset) !== 10) {
          this.advance();
        }
      } else {
        return;
      }
    }
  }

  private word(start: Position): Token {
    while (this.offset < this.source.length && isIdentifierChar(this.codeAt(this.offset))) {
      this.advance();
    }
    const text = this.source.slice(start.offset, this.offset);
    assert(text.length > 0, "a word has at least one character");
    return makeToken(start, "identifier", text, text);
  }

  private skipDigits(): void {
    while (isDigit(this.codeAt(this.offset))) this.advance();
  }

  /** Integers, floats (`1.5`, `.5`, `5.`, `1e-3`) and durations (`1h30m`, `250ms`). */
  private number(start: Position): Token {
    this.skipDigits();
    let float = false;
    if (this.codeAt(this.offset) === 46) {
      float = true;
      this.advance();
      this.skipDigits();
    }
    const e = this.codeAt(this.offset);
    const afterE = this.codeAt(this.offset + 1);
    const signed = afterE === 43 || afterE === 45;
    if ((e === 101 || e === 69) && isDigit(signed ? this.codeAt(this.offset + 2) : afterE)) {
      float = true;
      this.advance();
      if (signed) this.advance();
      this.skipDigits();
    }
    if (isIdentifierChar(this.codeAt(this.offset))) return this.duration(start);
    const text = this.source.slice(start.offset, this.offset);
    return float ? floatToken(start, text) : integerToken(start, text);
  }

  /** A number glued to letters must be a whole duration literal, else it is a typo. */
  private duration(start: Position): Token {
    while (isIdentifierChar(this.codeAt(this.offset))) this.advance();
    const text = this.source.slice(start.offset, this.offset);
    if (!durationPattern.test(text)) {
      throw parseError(start, `invalid number or duration literal ${quoteFragment(text)}`, text);
    }
    return makeToken(start, "duration", Duration.parse(text), text);
  }

  private parameter(start: Position): Token {
    this.advance();
    const first = this.codeAt(this.offset);
    if (isDigit(first)) {
      this.skipDigits();
      const text = this.source.slice(start.offset, this.offset);
      const index = Number(text.slice(1));
      // The range, not only its start: "$99999999999999999999" is refused for its end.
      if (index < 1 || index > parameterIndexMax) {
        const range = `$1 to $${parameterIndexMax}`;
        throw parseError(start, `positional parameters run from ${range}, found ${text}`, text);
      }
      return makeToken(start, "parameter", index, text);
    }
    if (!isIdentifierStart(first)) {
      throw parseError(start, `expected a parameter name after "$"`, "$");
    }
    while (isIdentifierChar(this.codeAt(this.offset))) this.advance();
    const text = this.source.slice(start.offset, this.offset);
    return makeToken(start, "parameter", text.slice(1), text);
  }

  private symbol(start: Position): Token {
    const two = this.source.slice(this.offset, this.offset + 2);
    const text = twoCharSymbols.has(two) ? two : this.source.slice(this.offset, this.offset + 1);
    if (!twoCharSymbols.has(text) && !oneCharSymbols.has(text)) {
      const char = String.fromCodePoint(this.source.codePointAt(this.offset)!);
      const hint = text === "&" ? ' (use "&&" or "and")' : text === "?" ? ' (use "??")' : "";
      throw parseError(start, `unexpected character ${quoteFragment(char)}${hint}`, char);
    }
    this.advance();
    if (text.length === 2) this.advance();
    return makeToken(start, "symbol", text as SymbolText, text);
  }

  /** A quoted string; decodes escapes unless lexing raw guard strings. */
  private string(start: Position, quote: number): Token {
    this.advance();
    let value = "";
    let chunkStart = this.offset;
    for (;;) {
      if (this.offset >= this.source.length) {
        const text = this.source.slice(start.offset);
        throw parseError(start, "unterminated string literal", text);
      }
      const code = this.source.codePointAt(this.offset)!;
      if (code === quote) break;
      if (code !== 92) {
        this.advance();
        continue;
      }
      if (this.rawStrings) {
        // rstmdb: the backslash protects the next character and both stay in the value.
        this.advance();
        if (this.offset < this.source.length) this.advance();
        continue;
      }
      value += this.source.slice(chunkStart, this.offset);
      value += this.escape();
      chunkStart = this.offset;
    }
    value += this.source.slice(chunkStart, this.offset);
    this.advance();
    const text = this.source.slice(start.offset, this.offset);
    return makeToken(start, "string", value, text);
  }

  /** Decodes one escape sequence at the backslash: \n \t \r \0 \\ \" \' and \u{hex}. */
  private escape(): string {
    const at = this.here();
    this.advance();
    const code = this.codeAt(this.offset);
    const simple = simpleEscapes.get(code);
    if (simple !== undefined) {
      this.advance();
      return simple;
    }
    if (code === 117 && this.codeAt(this.offset + 1) === 123) return this.unicodeEscape(at);
    const fragment = this.source.slice(at.offset, this.offset + (code < 0 ? 0 : unitLength(code)));
    throw parseError(at, `invalid escape sequence ${quoteFragment(fragment)}`, fragment);
  }

  private unicodeEscape(at: Position): string {
    const close = this.source.indexOf("}", this.offset);
    const hex = close < 0 ? "" : this.source.slice(this.offset + 2, close);
    const codePoint = /^[0-9a-fA-F]{1,6}$/.test(hex) ? Number.parseInt(hex, 16) : -1;
    const surrogate = codePoint >= 0xd800 && codePoint <= 0xdfff;
    if (codePoint < 0 || codePoint > codePointMax || surrogate) {
      const end = close < 0 ? this.offset + 2 : close + 1;
      const fragment = this.source.slice(at.offset, end);
      throw parseError(at, `invalid unicode escape ${quoteFragment(fragment)}`, fragment);
    }
    while (this.offset <= close) this.advance();
    return String.fromCodePoint(codePoint);
  }
}

const simpleEscapes: ReadonlyMap<number, string> = new Map([
  [110, "\n"],
  [116, "\t"],
  [114, "\r"],
  [48, "\0"],
  [92, "\\"],
  [34, '"'],
  [39, "'"],
]);

/**
 * Builds a token with every property spelled out: object spread (`{...start}`) is a slow path
 * in V8 11 and would dominate lexing time.
 */
function makeToken<K extends TokenKind>(
  start: Position,
  kind: K,
  value: Extract<Token, { kind: K }>["value"],
  text: string,
): Token {
  const token = { offset: start.offset, line: start.line, col: start.col, kind, value, text };
  return token as Token;
}

function integerToken(start: Position, text: string): Token {
  const asNumber = Number(text);
  if (Number.isSafeInteger(asNumber)) return makeToken(start, "integer", asNumber, text);
  const wide = BigInt(text);
  if (wide > integerLiteralMax) {
    throw parseError(start, `integer literal ${quoteFragment(text)} exceeds 128 bits`, text);
  }
  return makeToken(start, "integer", wide, text);
}

function floatToken(start: Position, text: string): Token {
  const value = Number(text);
  if (!Number.isFinite(value)) {
    throw parseError(start, `float literal ${quoteFragment(text)} is out of range`, text);
  }
  return makeToken(start, "float", value, text);
}
