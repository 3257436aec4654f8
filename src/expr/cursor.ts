/**
 * @module A cursor over a token list, shared by the expression parser and the RQL statement
 * parser: the RQL parser reads its keywords, hands the same cursor to an ExpressionParser for
 * each embedded expression, and carries on after it. The cursor also owns the nesting budget
 * (queryDepthMax), so statement and expression nesting count against one limit.
 */
import { deadlineTick } from "../lib/deadline.ts";
import { assert } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { queryDepthMax } from "../lib/limits.ts";
import { parseError, quoteFragment } from "./lexer.ts";
import type { Position, SymbolText, Token } from "./lexer.ts";

export type IdentifierToken = Extract<Token, { kind: "identifier" }>;

/** How a token is named in a message: its quoted text, or "end of input". */
export function describeToken(token: Token): string {
  return token.kind === "end" ? "end of input" : quoteFragment(token.text);
}

/** Just the position of a token (nodes keep positions, not whole tokens). */
export function positionOf(token: Position): Position {
  return { offset: token.offset, line: token.line, col: token.col };
}

/** LIMIT_EXCEEDED for nesting deeper than queryDepthMax, at the token that went too deep. */
export function nestingError(token: Token): DbError {
  return new DbError(
    "LIMIT_EXCEEDED",
    `line ${token.line}, column ${token.col}: expression nesting exceeds ${queryDepthMax} levels`,
    { line: token.line, col: token.col, fragment: token.text, limit: queryDepthMax },
  );
}

export class TokenCursor {
  private index = 0;
  private depth = 0;

  constructor(readonly tokens: readonly Token[]) {
    assert(tokens.length > 0, "a token list ends with an end token");
    assert(tokens[tokens.length - 1]!.kind === "end", "a token list ends with an end token");
  }

  /** The index of the current token, to return to with {@link reset}. */
  get position(): number {
    return this.index;
  }

  reset(position: number): void {
    assert(position >= 0 && position < this.tokens.length, "reset within the token list");
    this.index = position;
  }

  /** The token `ahead` places after the current one; the end token repeats forever. */
  peek(ahead = 0): Token {
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)]!;
  }

  /** Returns the current token and moves past it (never past the end token). */
  next(): Token {
    // Parsing a token is a unit of the active query deadline (reparsing after a reset too).
    deadlineTick(1);
    const token = this.peek();
    if (token.kind !== "end") this.index += 1;
    return token;
  }

  atEnd(): boolean {
    return this.peek().kind === "end";
  }

  atSymbol(symbol: SymbolText, ahead = 0): boolean {
    const token = this.peek(ahead);
    return token.kind === "symbol" && token.value === symbol;
  }

  /** Keywords are identifiers matched case-insensitively; `word` is lowercase. */
  atKeyword(word: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return (
      token.kind === "identifier" &&
      token.value.length === word.length &&
      token.value.toLowerCase() === word
    );
  }

  acceptSymbol(symbol: SymbolText): Token | undefined {
    return this.atSymbol(symbol) ? this.next() : undefined;
  }

  acceptKeyword(word: string): Token | undefined {
    return this.atKeyword(word) ? this.next() : undefined;
  }

  /** Consumes `symbol` or fails with "expected <symbol><context>, found <token>". */
  expectSymbol(symbol: SymbolText, context = ""): Token {
    if (this.atSymbol(symbol)) return this.next();
    throw this.unexpected(`${quoteFragment(symbol)}${context}`);
  }

  expectKeyword(word: string, context = ""): Token {
    if (this.atKeyword(word)) return this.next();
    throw this.unexpected(`${quoteFragment(word)}${context}`);
  }

  expectIdentifier(what: string): IdentifierToken {
    const token = this.peek();
    if (token.kind !== "identifier") throw this.unexpected(what);
    this.next();
    return token;
  }

  /** "expected <what>, found <current token>" at the current token. */
  unexpected(what: string): DbError {
    const token = this.peek();
    return parseError(token, `expected ${what}, found ${describeToken(token)}`, token.text);
  }

  /**
   * Enters one level of nesting at `token` (a parenthesis, bracket, call or prefix operator:
   * wherever the grammar recurses); LIMIT_EXCEEDED beyond queryDepthMax.
   */
  enter(token: Token): void {
    this.depth += 1;
    if (this.depth > queryDepthMax) throw nestingError(token);
  }

  leave(): void {
    assert(this.depth > 0, "leave matches enter");
    this.depth -= 1;
  }
}
