/**
 * @module The expression parser: recursive descent over tokens, one method per precedence
 * level (lowest first): or/||, xor, and/&&, not/!, comparisons (== != < <= > >=, between,
 * [not] in), ??, + -, * / %, unary -, then primaries (literals, lists, records, parameters,
 * field paths and `ns::name(args)` calls). Comparisons do not chain. queryDepthMax bounds both
 * the parser's recursion (through the cursor) and the height of every tree it builds, and so
 * every recursive walk over an AST (compiler, printer, type inference).
 */
import { DbError } from "../lib/errors.ts";
import { expressionLengthMax, functionArgumentsMax, queryDepthMax } from "../lib/limits.ts";
import { comparisonOps, reservedWords } from "./ast.ts";
import type { BinaryOp, ComparisonOp, Expr, RecordEntry, Semantics } from "./ast.ts";
import { TokenCursor, describeToken, nestingError, positionOf } from "./cursor.ts";
import type { IdentifierToken } from "./cursor.ts";
import { hasFunction } from "./functions/index.ts";
import { parseError, tokenize } from "./lexer.ts";
import type { Token } from "./lexer.ts";

export interface ParseOptions {
  /** "guard" lexes strings raw (rstmdb) and names a blank source "empty guard expression". */
  semantics?: Semantics;
}

type OperatorOf = (token: Token) => BinaryOp | undefined;

function keywordOf(token: Token): string | undefined {
  return token.kind === "identifier" ? token.value.toLowerCase() : undefined;
}

function symbolOf(token: Token): string | undefined {
  return token.kind === "symbol" ? token.value : undefined;
}

const orOperator: OperatorOf = (t) =>
  keywordOf(t) === "or" || symbolOf(t) === "||" ? "or" : undefined;
const xorOperator: OperatorOf = (t) => (keywordOf(t) === "xor" ? "xor" : undefined);
const andOperator: OperatorOf = (t) =>
  keywordOf(t) === "and" || symbolOf(t) === "&&" ? "and" : undefined;
const coalesceOperator: OperatorOf = (t) => (symbolOf(t) === "??" ? "??" : undefined);
const additiveOperator: OperatorOf = (t) => {
  const symbol = symbolOf(t);
  return symbol === "+" || symbol === "-" ? symbol : undefined;
};
const multiplicativeOperator: OperatorOf = (t) => {
  const symbol = symbolOf(t);
  return symbol === "*" || symbol === "/" || symbol === "%" ? symbol : undefined;
};

/**
 * Parses one expression at a cursor's current token and leaves the cursor after it. The RQL
 * parser uses it for every embedded expression; it stops at the first token that cannot
 * continue the expression (`}`, `|`, `,`, a keyword such as `take`).
 */
export class ExpressionParser {
  /** Heights of the composite nodes built so far; a node missing here is a leaf (height 1). */
  private readonly heights = new WeakMap<Expr, number>();

  constructor(readonly cursor: TokenCursor) {}

  /** Parses the longest expression starting at the current token. */
  parseExpression(): Expr {
    return this.parseOr();
  }

  private parseOr(): Expr {
    return this.leftAssociative(() => this.parseXor(), orOperator);
  }

  private parseXor(): Expr {
    return this.leftAssociative(() => this.parseAnd(), xorOperator);
  }

  private parseAnd(): Expr {
    return this.leftAssociative(() => this.parseNot(), andOperator);
  }

  /**
   * Records the height of a node built from `children` and refuses trees taller than
   * queryDepthMax. The cursor's nesting count bounds the parser's own recursion, but not the
   * height of what it builds: `((a + b + c) + d + e)` is a left-leaning tree as tall as all
   * its chains together, and every recursive walk over an AST (compiler, printer, inference)
   * relies on this bound.
   */
  private built<T extends Expr>(node: T, token: Token, children: readonly Expr[]): T {
    let height = 0;
    for (const child of children) height = Math.max(height, this.heights.get(child) ?? 1);
    height += 1;
    if (height > queryDepthMax) throw nestingError(token);
    this.heights.set(node, height);
    return node;
  }

  /** One precedence level of left-associative operators (the loop does not recurse). */
  private leftAssociative(operand: () => Expr, operatorOf: OperatorOf): Expr {
    let left = operand();
    for (;;) {
      const token = this.cursor.peek();
      const op = operatorOf(token);
      if (op === undefined) return left;
      this.cursor.next();
      const right = operand();
      const node: Expr = { type: "binary", op, left, right, pos: positionOf(token) };
      left = this.built(node, token, [left, right]);
    }
  }

  private parseNot(): Expr {
    const token = this.cursor.peek();
    if (keywordOf(token) !== "not" && symbolOf(token) !== "!") return this.parseComparison();
    this.cursor.next();
    this.cursor.enter(token);
    const operand = this.parseNot();
    this.cursor.leave();
    return this.built({ type: "unary", op: "not", operand, pos: positionOf(token) }, token, [
      operand,
    ]);
  }

  /** A comparison, `between` or `in`; at most one, since comparisons do not chain. */
  private parseComparison(): Expr {
    const left = this.parseCoalesce();
    const token = this.cursor.peek();
    if (token.kind === "symbol" && comparisonOps.has(token.value)) {
      this.cursor.next();
      const right = this.parseCoalesce();
      const op = token.value as ComparisonOp;
      this.rejectChainedComparison();
      const node: Expr = { type: "binary", op, left, right, pos: positionOf(token) };
      return this.built(node, token, [left, right]);
    }
    const negated = this.cursor.atKeyword("not") && this.atRangeKeyword(1);
    if (negated) this.cursor.next();
    if (!this.atRangeKeyword(0)) return left;
    const keyword = this.cursor.next();
    const pos = positionOf(keyword);
    if (keywordOf(keyword) === "in") {
      const list = this.parseCoalesce();
      return this.built({ type: "in", negated, operand: left, list, pos }, keyword, [left, list]);
    }
    const low = this.parseCoalesce();
    this.cursor.expectKeyword("and", ' between the bounds of "between"');
    const high = this.parseCoalesce();
    const node: Expr = { type: "between", negated, operand: left, low, high, pos };
    return this.built(node, keyword, [left, low, high]);
  }

  /** `a < b < c` reads like maths but is not: say so instead of "unexpected <". */
  private rejectChainedComparison(): void {
    const token = this.cursor.peek();
    if (token.kind !== "symbol" || !comparisonOps.has(token.value)) return;
    const found = describeToken(token);
    const message = `comparisons do not chain: found ${found}; combine them with "and"`;
    throw parseError(token, message, token.text);
  }

  private atRangeKeyword(ahead: number): boolean {
    return this.cursor.atKeyword("in", ahead) || this.cursor.atKeyword("between", ahead);
  }

  private parseCoalesce(): Expr {
    return this.leftAssociative(() => this.parseAdditive(), coalesceOperator);
  }

  private parseAdditive(): Expr {
    return this.leftAssociative(() => this.parseMultiplicative(), additiveOperator);
  }

  private parseMultiplicative(): Expr {
    return this.leftAssociative(() => this.parseUnary(), multiplicativeOperator);
  }

  private parseUnary(): Expr {
    const token = this.cursor.peek();
    if (symbolOf(token) !== "-") return this.parsePrimary();
    this.cursor.next();
    this.cursor.enter(token);
    const operand = this.parseUnary();
    this.cursor.leave();
    const node: Expr = { type: "unary", op: "-", operand, pos: positionOf(token) };
    return this.built(node, token, [operand]);
  }

  private parsePrimary(): Expr {
    const token = this.cursor.peek();
    const pos = positionOf(token);
    switch (token.kind) {
      case "integer":
        this.cursor.next();
        return { type: "literal", kind: "integer", value: token.value, pos };
      case "float":
        this.cursor.next();
        return { type: "literal", kind: "float", value: token.value, text: token.text, pos };
      case "string":
        this.cursor.next();
        return { type: "literal", kind: "string", value: token.value, pos };
      case "duration":
        this.cursor.next();
        return { type: "literal", kind: "duration", value: token.value, pos };
      case "parameter":
        this.cursor.next();
        return { type: "param", name: token.value, pos };
      case "identifier":
        return this.parseName(token);
      case "symbol":
        if (token.value === "(") return this.parseParenthesized(token);
        if (token.value === "[") return this.parseList(token);
        if (token.value === "{") return this.parseRecord(token);
        break;
      case "end":
        break;
    }
    throw this.cursor.unexpected("an expression");
  }

  private parseParenthesized(open: Token): Expr {
    this.cursor.next();
    this.cursor.enter(open);
    const inner = this.parseOr();
    this.cursor.expectSymbol(")", ` to close "(" from line ${open.line}, column ${open.col}`);
    this.cursor.leave();
    return inner;
  }

  private parseList(open: Token): Expr {
    this.cursor.next();
    this.cursor.enter(open);
    const items: Expr[] = [];
    while (!this.cursor.atSymbol("]")) {
      items.push(this.parseOr());
      if (!this.cursor.acceptSymbol(",")) break;
    }
    this.cursor.expectSymbol("]", ` to close "[" from line ${open.line}, column ${open.col}`);
    this.cursor.leave();
    return this.built({ type: "list", items, pos: positionOf(open) }, open, items);
  }

  /** `{a: 1, "b c": x, d}`: identifier or string keys; `{d}` is short for `{d: d}`. */
  private parseRecord(open: Token): Expr {
    this.cursor.next();
    this.cursor.enter(open);
    const entries: RecordEntry[] = [];
    const keys = new Set<string>();
    while (!this.cursor.atSymbol("}")) {
      const entry = this.parseRecordEntry();
      if (keys.has(entry.key)) {
        throw parseError(
          entry.pos,
          `duplicate key ${JSON.stringify(entry.key)} in record`,
          entry.key,
        );
      }
      keys.add(entry.key);
      entries.push(entry);
      if (!this.cursor.acceptSymbol(",")) break;
    }
    this.cursor.expectSymbol("}", ` to close "{" from line ${open.line}, column ${open.col}`);
    this.cursor.leave();
    const values = entries.map((entry) => entry.value);
    return this.built({ type: "record", entries, pos: positionOf(open) }, open, values);
  }

  private parseRecordEntry(): RecordEntry {
    const token = this.cursor.peek();
    const pos = positionOf(token);
    if (token.kind !== "identifier" && token.kind !== "string") {
      throw this.cursor.unexpected("a record key");
    }
    this.cursor.next();
    if (this.cursor.acceptSymbol(":")) return { key: token.value, value: this.parseOr(), pos };
    const shorthand = token.kind === "identifier" && !reservedWords.has(token.value.toLowerCase());
    if (!shorthand) throw this.cursor.unexpected(`":" after key ${describeToken(token)}`);
    return { key: token.value, value: { type: "field", path: [token.value], pos }, pos };
  }

  /** A literal keyword, a call `ns::name(...)` or a field path `root.key.key`. */
  private parseName(token: IdentifierToken): Expr {
    const word = token.value.toLowerCase();
    const pos = positionOf(token);
    if (word === "true" || word === "false") {
      this.cursor.next();
      return { type: "literal", kind: "bool", value: word === "true", pos };
    }
    if (word === "none" || word === "null") {
      this.cursor.next();
      return { type: "literal", kind: "none", value: null, pos };
    }
    if (reservedWords.has(word)) throw this.cursor.unexpected("an expression");
    this.cursor.next();
    if (this.cursor.atSymbol("::")) return this.parseCall(token);
    if (this.cursor.atSymbol("(")) {
      const message =
        `unknown function ${token.text}: ` + "functions are called as namespace::name(...)";
      throw new DbError("UNKNOWN_FUNCTION", `line ${pos.line}, column ${pos.col}: ${message}`, {
        line: pos.line,
        col: pos.col,
        fragment: token.text,
      });
    }
    const path = [token.value];
    while (this.cursor.acceptSymbol(".")) {
      const segment = this.cursor.peek();
      if (segment.kind !== "identifier") {
        throw this.cursor.unexpected('a field name after "." (empty field name)');
      }
      this.cursor.next();
      path.push(segment.value);
    }
    return { type: "field", path, pos };
  }

  private parseCall(namespaceToken: IdentifierToken): Expr {
    this.cursor.next();
    const nameToken = this.cursor.expectIdentifier('a function name after "::"');
    const namespace = namespaceToken.value.toLowerCase();
    const name = nameToken.value.toLowerCase();
    const pos = positionOf(namespaceToken);
    if (!hasFunction(namespace, name)) {
      const fragment = `${namespaceToken.text}::${nameToken.text}`;
      throw new DbError(
        "UNKNOWN_FUNCTION",
        `line ${pos.line}, column ${pos.col}: unknown function ${fragment}`,
        { line: pos.line, col: pos.col, fragment },
      );
    }
    const open = this.cursor.expectSymbol("(", ` after ${namespace}::${name}`);
    this.cursor.enter(open);
    const args: Expr[] = [];
    while (!this.cursor.atSymbol(")")) {
      if (args.length === functionArgumentsMax) throw this.tooManyArguments();
      args.push(this.parseOr());
      if (!this.cursor.acceptSymbol(",")) break;
    }
    this.cursor.expectSymbol(")", ` to close the arguments of ${namespace}::${name}`);
    this.cursor.leave();
    return this.built({ type: "call", namespace, name, args, pos }, namespaceToken, args);
  }

  private tooManyArguments(): DbError {
    const token = this.cursor.peek();
    return new DbError(
      "LIMIT_EXCEEDED",
      `line ${token.line}, column ${token.col}: more than ${functionArgumentsMax} arguments`,
      { line: token.line, col: token.col, fragment: token.text, limit: functionArgumentsMax },
    );
  }
}

/**
 * Parses a whole source text as one expression; input left after it is an error.
 *
 * @example
 * parseExpression("a + 1").type; // -> "binary"
 */
export function parseExpression(source: string, options: ParseOptions = {}): Expr {
  if (source.length > expressionLengthMax) {
    throw new DbError(
      "LIMIT_EXCEEDED",
      `expression is ${source.length} characters; the limit is ${expressionLengthMax}`,
      { limit: expressionLengthMax, value: source.length },
    );
  }
  const guard = options.semantics === "guard";
  const cursor = new TokenCursor(tokenize(source, { rawStrings: guard }));
  if (guard && cursor.atEnd()) {
    throw parseError(cursor.peek(), "empty guard expression", "");
  }
  const expression = new ExpressionParser(cursor).parseExpression();
  const rest = cursor.peek();
  if (rest.kind !== "end") {
    const hint = rest.kind === "symbol" && rest.value === "=" ? ' (use "==" to compare)' : "";
    const message = `unexpected ${describeToken(rest)} after the expression${hint}`;
    throw parseError(rest, message, rest.text);
  }
  return expression;
}
