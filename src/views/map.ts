/**
 * @module `map { a, b: expr }` and `extend { c: expr }`: stateless row rewriting. A delta keeps
 * its key; each side is rewritten on its own. `extend` keeps the input columns and adds new
 * ones; naming a column that exists is an error at view creation.
 */
import { DbError } from "../lib/errors.ts";
import { compileExpression, inferType } from "../expr/index.ts";
import type { Evaluator, Expr } from "../expr/index.ts";
import type { QueryParams } from "../types.ts";
import type { ValueType } from "../values/index.ts";
import type { Columns } from "./columns.ts";
import { Operator } from "./delta.ts";
import type { Delta, Row } from "./delta.ts";

/** One output column: its name and the expression that computes it. */
export interface ColumnSpec {
  readonly name: string;
  readonly expr: Expr;
}

export class MapOperator extends Operator {
  /** The columns this operator outputs. */
  readonly columns: Columns;
  private readonly names: readonly string[];
  private readonly evaluators: readonly Evaluator[];
  private readonly scope: { row: Row; params?: QueryParams };

  constructor(options: {
    specs: readonly ColumnSpec[];
    input: Columns | undefined;
    params: QueryParams | undefined;
    /** `extend`: keep the input columns. */
    extend: boolean;
  }) {
    super();
    const { specs, input, params, extend } = options;
    const compileOptions = input === undefined ? {} : { fields: input };
    const out = new Map<string, ValueType | undefined>(extend && input ? input : []);
    for (const spec of specs) {
      if (out.has(spec.name)) {
        const what = extend ? "extend cannot replace existing column" : "map repeats column";
        throw new DbError("INVALID_SCHEMA", `${what} ${spec.name}`, { column: spec.name });
      }
      out.set(spec.name, inferType(spec.expr, input));
    }
    this.columns = out;
    this.names = specs.map((spec) => spec.name);
    this.evaluators = specs.map((spec) => compileExpression(spec.expr, compileOptions));
    this.extend = extend;
    this.scope = params === undefined ? { row: {} } : { row: {}, params };
  }

  private readonly extend: boolean;

  push(delta: Delta): void {
    const before = delta.before === undefined ? undefined : this.rewrite(delta.before);
    const after = delta.after === undefined ? undefined : this.rewrite(delta.after);
    this.next.push({ key: delta.key, before, after });
  }

  /** The output row for one input row. */
  rewrite(row: Row): Row {
    this.scope.row = row;
    const out: Record<string, unknown> = this.extend ? { ...row } : {};
    const names = this.names;
    const evaluators = this.evaluators;
    for (let i = 0; i < names.length; i++) out[names[i]!] = evaluators[i]!(this.scope);
    return out;
  }
}
