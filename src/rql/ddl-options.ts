/**
 * @module Reading `with { ... }` option records of schema statements. Options are read from
 * the syntax tree, not evaluated: `primary_key: { id }` names a column (evaluating it would
 * read a field), while `capacity: 100` or `visibility: 30s` are values (evaluated, so a
 * parameter may supply them).
 */
import { DbError, describeValue } from "../lib/errors.ts";
import { compileExpression } from "../expr/index.ts";
import type { Expr, Position, RecordExpr } from "../expr/index.ts";
import { Duration } from "../values/index.ts";
import type { Params } from "./context.ts";

export class OptionReader {
  private readonly entries = new Map<string, Expr>();
  /** Where each key is written, for errors about the key itself. */
  private readonly keyPositions = new Map<string, Position>();
  private readonly used = new Set<string>();

  constructor(
    private readonly record: RecordExpr | undefined,
    private readonly what: string,
    private readonly params: Params | undefined,
  ) {
    for (const entry of record?.entries ?? []) {
      this.entries.set(entry.key.toLowerCase(), entry.value);
      this.keyPositions.set(entry.key.toLowerCase(), entry.pos);
    }
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Column names: `{ a, b }`, `a`, `"a"` or `[a, b]`; undefined when absent. */
  columns(key: string): string[] | undefined {
    const expr = this.take(key);
    if (expr === undefined) return undefined;
    const names = columnNames(expr);
    if (names === undefined) throw this.invalid(key, "a column name or { columns }");
    return names;
  }

  /** An evaluated value; undefined when absent. */
  value(key: string): unknown {
    const expr = this.take(key);
    if (expr === undefined) return undefined;
    const scope = this.params === undefined ? { row: {} } : { row: {}, params: this.params };
    return compileExpression(expr)(scope);
  }

  /** A whole number option. */
  integer(key: string): number | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    const number = typeof value === "bigint" ? Number(value) : value;
    if (typeof number !== "number" || !Number.isFinite(number)) throw this.invalid(key, "a number");
    return number;
  }

  /** A duration option in ms: `30s`, or a number of ms. */
  durationMs(key: string): number | undefined {
    const value = this.value(key);
    if (value === undefined) return undefined;
    if (value instanceof Duration) return value.ms;
    if (typeof value === "number") return value;
    if (typeof value === "string") return Duration.parse(value).ms;
    throw this.invalid(key, "a duration such as 30s");
  }

  /** A nested option record (`partition: { by: { page } }`). */
  nested(key: string): OptionReader | undefined {
    const expr = this.take(key);
    if (expr === undefined) return undefined;
    if (expr.type !== "record") throw this.invalid(key, "{ options }");
    return new OptionReader(expr, `${this.what} ${key}`, this.params);
  }

  /** Refuses options nobody read: a typo must not pass silently. */
  finish(): void {
    for (const key of this.entries.keys()) {
      if (this.used.has(key)) continue;
      const pos = this.keyPositions.get(key) ?? this.record?.pos;
      throw new DbError(
        "INVALID_ARGUMENT",
        `${pos === undefined ? "" : `line ${pos.line}, column ${pos.col}: `}unknown option ` +
          `"${key}" for ${this.what}`,
        { fragment: key, ...(pos === undefined ? {} : { line: pos.line, col: pos.col }) },
      );
    }
  }

  private take(key: string): Expr | undefined {
    this.used.add(key);
    return this.entries.get(key);
  }

  private invalid(key: string, expected: string): DbError {
    const value = this.entries.get(key);
    return new DbError(
      "INVALID_ARGUMENT",
      `${this.what}: option ${key} must be ${expected}` +
        (value === undefined ? "" : ` (line ${value.pos.line}, column ${value.pos.col})`),
      {
        fragment: key,
        value: describeValue(key),
        ...(value === undefined ? {} : { line: value.pos.line, col: value.pos.col }),
      },
    );
  }
}

function columnNames(expr: Expr): string[] | undefined {
  if (expr.type === "field" && expr.path.length === 1) return [expr.path[0]!];
  if (expr.type === "literal" && expr.kind === "string") return [expr.value];
  if (expr.type === "record") return expr.entries.map((entry) => entry.key);
  if (expr.type === "list") {
    const names = expr.items.map(columnNames);
    if (names.some((name) => name === undefined || name.length !== 1)) return undefined;
    return names.map((name) => name![0]!);
  }
  return undefined;
}
