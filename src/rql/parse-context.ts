/**
 * @module The state and small readers every RQL grammar file shares: the token cursor (shared
 * with the expression parser, so one nesting budget covers statements and expressions), the
 * source text (for stored bodies), and readers for names, column lists and column types.
 */
import { ExpressionParser, describeToken } from "../expr/index.ts";
import type { Expr, Position, Token, TokenCursor } from "../expr/index.ts";
import { DbError } from "../lib/errors.ts";
import type { ColumnExpr, ColumnSpec, ObjectRef } from "./ast.ts";

/** Just the position of a token. */
export function positionOf(token: Position): Position {
  return { offset: token.offset, line: token.line, col: token.col };
}

/** RQL_PARSE at a position, naming line, column and fragment in message and details. */
export function rqlParseError(at: Position, message: string, fragment: string): DbError {
  return new DbError("RQL_PARSE", `line ${at.line}, column ${at.col}: ${message}`, {
    line: at.line,
    col: at.col,
    fragment,
  });
}

export class ParseContext {
  readonly expressions: ExpressionParser;

  constructor(
    readonly cursor: TokenCursor,
    readonly source: string,
  ) {
    this.expressions = new ExpressionParser(cursor);
  }

  peek(ahead = 0): Token {
    return this.cursor.peek(ahead);
  }

  /** One expression, stopping at the first token that cannot continue it. */
  expression(): Expr {
    return this.expressions.parseExpression();
  }

  /** "expected <what>, found <token>" at the current token. */
  unexpected(what: string): DbError {
    return this.cursor.unexpected(what);
  }

  /** A plain name: an identifier, or a quoted string. */
  name(what: string): { value: string; pos: Position } {
    const token = this.peek();
    if (token.kind !== "identifier" && token.kind !== "string") throw this.unexpected(what);
    this.cursor.next();
    return { value: token.value, pos: positionOf(token) };
  }

  /** `ns::name` or `name`: namespaces nest with `::`. */
  objectRef(what = "an object name"): ObjectRef {
    const first = this.cursor.peek();
    if (first.kind !== "identifier") throw this.unexpected(what);
    this.cursor.next();
    let name = first.value;
    while (this.cursor.atSymbol("::")) {
      this.cursor.next();
      name += `::${this.cursor.expectIdentifier(`a name after "::" in ${name}`).value}`;
    }
    return { name, pos: positionOf(first) };
  }

  /** `if not exists` at the current token (optional). */
  ifNotExists(): boolean {
    if (!this.cursor.atKeyword("if")) return false;
    this.cursor.next();
    this.cursor.expectKeyword("not", ' in "if not exists"');
    this.cursor.expectKeyword("exists", ' in "if not exists"');
    return true;
  }

  ifExists(): boolean {
    if (!this.cursor.atKeyword("if")) return false;
    this.cursor.next();
    this.cursor.expectKeyword("exists", ' in "if exists"');
    return true;
  }

  /** `{ a, b }`: a braced list of column names (may be empty). */
  nameList(what: string): string[] {
    const open = this.cursor.expectSymbol("{", ` to open the ${what}`);
    this.cursor.enter(open);
    const names: string[] = [];
    while (!this.cursor.atSymbol("}")) {
      names.push(this.name(`a column name in the ${what}`).value);
      if (!this.cursor.acceptSymbol(",")) break;
    }
    this.cursor.expectSymbol("}", ` to close the ${what}`);
    this.cursor.leave();
    return names;
  }

  /**
   * `{ a, b: expr, c * 2 as d }`: named expressions. A bare field is named by its last path
   * segment; any other bare expression needs `as name` or `name: expr`.
   */
  columnExprs(what: string): ColumnExpr[] {
    const open = this.cursor.expectSymbol("{", ` to open the ${what}`);
    this.cursor.enter(open);
    const columns: ColumnExpr[] = [];
    const seen = new Set<string>();
    while (!this.cursor.atSymbol("}")) {
      const column = this.columnExpr(what);
      if (seen.has(column.name)) {
        throw rqlParseError(
          column.pos,
          `duplicate column "${column.name}" in ${what}`,
          column.name,
        );
      }
      seen.add(column.name);
      columns.push(column);
      if (!this.cursor.acceptSymbol(",")) break;
    }
    this.cursor.expectSymbol("}", ` to close the ${what}`);
    this.cursor.leave();
    return columns;
  }

  private columnExpr(what: string): ColumnExpr {
    const token = this.peek();
    const pos = positionOf(token);
    const named = token.kind === "identifier" || token.kind === "string";
    if (named && this.cursor.atSymbol(":", 1)) {
      this.cursor.next();
      this.cursor.next();
      return { name: token.value, expr: this.expression(), pos };
    }
    const expr = this.expression();
    if (this.cursor.acceptKeyword("as"))
      return { name: this.name("a column name").value, expr, pos };
    if (expr.type === "field") return { name: expr.path[expr.path.length - 1]!, expr, pos };
    throw rqlParseError(
      pos,
      `a computed column in ${what} needs a name: write "name: expression"`,
      token.text,
    );
  }

  /** `{ id: int8 with { auto_increment }, note: Option(utf8) }`: column declarations. */
  columnSpecs(what: string): ColumnSpec[] {
    const open = this.cursor.expectSymbol("{", ` to open the ${what}`);
    this.cursor.enter(open);
    const columns: ColumnSpec[] = [];
    while (!this.cursor.atSymbol("}")) {
      columns.push(this.columnSpec(what));
      if (!this.cursor.acceptSymbol(",")) break;
    }
    this.cursor.expectSymbol("}", ` to close the ${what}`);
    this.cursor.leave();
    return columns;
  }

  columnSpec(what: string): ColumnSpec {
    const name = this.name(`a column name in the ${what}`);
    this.cursor.expectSymbol(":", ` after column "${name.value}"`);
    const type = this.typeText();
    let autoIncrement = false;
    if (this.cursor.acceptKeyword("with")) {
      const open = this.cursor.expectSymbol("{", ` to open the options of column "${name.value}"`);
      this.cursor.enter(open);
      while (!this.cursor.atSymbol("}")) {
        const option = this.name(`an option of column "${name.value}"`);
        if (option.value.toLowerCase() !== "auto_increment") {
          throw rqlParseError(option.pos, `unknown column option "${option.value}"`, option.value);
        }
        autoIncrement = true;
        if (!this.cursor.acceptSymbol(",")) break;
      }
      this.cursor.expectSymbol("}", ` to close the options of column "${name.value}"`);
      this.cursor.leave();
    }
    return { name: name.value, type, autoIncrement, pos: name.pos };
  }

  /** A type spelling: `int8`, `text`, `Option(utf8)`; validated by the executor. */
  typeText(): string {
    const token = this.cursor.expectIdentifier("a type");
    if (!this.cursor.atSymbol("(")) return token.value;
    const open = this.cursor.next();
    this.cursor.enter(open);
    const inner = this.typeText();
    this.cursor.expectSymbol(")", ` to close ${token.value}(`);
    this.cursor.leave();
    return `${token.value}(${inner})`;
  }

  /** Ends a statement: `;`, end of input, or `}` closing an enclosing body (not consumed). */
  atStatementEnd(): boolean {
    return this.cursor.atEnd() || this.cursor.atSymbol(";") || this.cursor.atSymbol("}");
  }

  expectStatementEnd(what: string): void {
    if (this.atStatementEnd()) return;
    const token = this.peek();
    throw rqlParseError(
      token,
      `unexpected ${describeToken(token)} after ${what}; statements are separated by ";"`,
      token.text,
    );
  }
}
