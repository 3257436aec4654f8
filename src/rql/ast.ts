/**
 * @module The RQL syntax tree: what the statement parser produces and the planner, the
 * executor and the views compiler (src/views) consume. Expressions inside statements are the
 * expression language's own nodes (src/expr/ast.ts): there is one expression language.
 *
 * Every node is a discriminated union member on `type` and carries the source position of its
 * first token, so later stages can point errors at the text. Object names are kept as
 * written (`shop::orders`, or `orders` in the default namespace); the catalog qualifies them.
 * The tree is plain data, never mutated after parsing, and shared between every execution of
 * a cached statement.
 */
import type { Expr, ListExpr, Position, RecordExpr } from "../expr/index.ts";

export type { Expr, Position } from "../expr/index.ts";

interface NodeBase {
  readonly pos: Position;
}

/** An object name as written: `shop::orders`, `orders`, `system::objects`. */
export interface ObjectRef extends NodeBase {
  readonly name: string;
}

/** One named output column: `total: price * qty`, or `{id}` short for `id: id`. */
export interface ColumnExpr extends NodeBase {
  readonly name: string;
  readonly expr: Expr;
}

// ---- Pipelines ----

/**
 * `from shop::orders`, optionally `as of <seq>` (time travel) and, for `system::history`,
 * an argument record: `from system::history { object: "shop::orders", key: 7 }`. The object
 * may be any readable kind: table, view, ring buffer, series, counter, histogram, queue,
 * machine instance table or `system::*` table; the executor resolves the kind.
 */
export interface ObjectSource extends NodeBase {
  readonly type: "object";
  readonly object: ObjectRef;
  /** `as of N`: a commit seq (an integer literal or a parameter). */
  readonly asOf?: Expr;
  /** Arguments of a table function such as `system::history`. */
  readonly args?: RecordExpr;
}

/** `from [{a: 1}, {a: 2}]`: inline records; the list is any list-valued expression. */
export interface InlineSource extends NodeBase {
  readonly type: "inline";
  readonly rows: ListExpr;
}

export type Source = ObjectSource | InlineSource;

/** `filter { expr }` (braces optional): keeps rows where expr is true. */
export interface FilterStep extends NodeBase {
  readonly type: "filter";
  readonly predicate: Expr;
}

/** `map { a, b: expr }`: replaces the columns with these, in this order. */
export interface MapStep extends NodeBase {
  readonly type: "map";
  readonly columns: readonly ColumnExpr[];
}

/** `extend { c: expr }`: adds columns; a name that already exists is an error. */
export interface ExtendStep extends NodeBase {
  readonly type: "extend";
  readonly columns: readonly ColumnExpr[];
}

/**
 * `aggregate { n: math::count(id) } by { g1, g2 }`: one row per group holding the `by`
 * columns then the aggregates. Without `by` (or with `by {}`) there is one group. Aggregate
 * columns are expressions over aggregate calls (`math::sum(x) / 2` is allowed).
 */
export interface AggregateStep extends NodeBase {
  readonly type: "aggregate";
  readonly aggregates: readonly ColumnExpr[];
  readonly by: readonly ColumnExpr[];
}

export interface SortKey extends NodeBase {
  readonly column: string;
  readonly descending: boolean;
}

/** `sort { a, b: desc }`: stable; ascending unless `desc`; none sorts first. */
export interface SortStep extends NodeBase {
  readonly type: "sort";
  readonly keys: readonly SortKey[];
}

/** `take N`: the first N rows (N an integer literal or parameter). */
export interface TakeStep extends NodeBase {
  readonly type: "take";
  readonly count: Expr;
}

/** `distinct { a, b }`: the first row of each distinct value of the columns (all if empty). */
export interface DistinctStep extends NodeBase {
  readonly type: "distinct";
  readonly columns: readonly string[];
}

/** One equi-join condition of `using (a, y.b)`: left column `a` equals right column `b`. */
export interface JoinKey extends NodeBase {
  readonly left: string;
  readonly right: string;
}

/**
 * `inner join { from Y } as y using (a, y.b)` / `left join ...`. Output rows hold the left
 * columns then every right column prefixed with `alias_`; a left join fills them with none
 * when nothing matches. Several conditions: `using (a, y.b), (c, y.d)`.
 */
export interface JoinStep extends NodeBase {
  readonly type: "join";
  readonly kind: "inner" | "left";
  readonly right: Pipeline;
  readonly alias: string;
  readonly using: readonly JoinKey[];
}

/** `append { from Y }`: the rows of this pipeline followed by those of Y. */
export interface AppendStep extends NodeBase {
  readonly type: "append";
  readonly pipeline: Pipeline;
}

export type Step =
  | FilterStep
  | MapStep
  | ExtendStep
  | AggregateStep
  | SortStep
  | TakeStep
  | DistinctStep
  | JoinStep
  | AppendStep;

export type StepType = Step["type"];

/** A source then steps, read top to bottom. */
export interface Pipeline extends NodeBase {
  readonly source: Source;
  readonly steps: readonly Step[];
}

// ---- Statements: queries and data changes ----

/** A pipeline on its own: yields one frame. */
export interface QueryStatement extends NodeBase {
  readonly type: "query";
  readonly pipeline: Pipeline;
}

/** One row of an insert: a record, or a positional tuple `(3, "cy", 7.0)` in column order. */
export type InsertRow =
  | (NodeBase & { readonly kind: "record"; readonly value: Expr })
  | (NodeBase & { readonly kind: "tuple"; readonly values: readonly Expr[] });

/**
 * `insert shop::orders [{...}, (...)]` or `insert shop::orders {...}`; `rows` is empty and
 * `source` is set when the rows come from one list-valued expression (`insert t $rows`).
 */
export interface InsertStatement extends NodeBase {
  readonly type: "insert";
  readonly target: ObjectRef;
  readonly rows: readonly InsertRow[];
  readonly source?: Expr;
  readonly returning?: readonly ColumnExpr[];
}

/** `update t { col: expr } filter { pred } [returning { ... }]`: filter is required. */
export interface UpdateStatement extends NodeBase {
  readonly type: "update";
  readonly target: ObjectRef;
  readonly set: readonly ColumnExpr[];
  readonly filter: Expr;
  readonly returning?: readonly ColumnExpr[];
}

/** `delete t filter { pred } [returning { ... }]`: filter is required. */
export interface DeleteStatement extends NodeBase {
  readonly type: "delete";
  readonly target: ObjectRef;
  readonly filter: Expr;
  readonly returning?: readonly ColumnExpr[];
}

/** `counter X add N [by { key: value }]` (N may be negative); yields `{counter, value}`. */
export interface CounterAddStatement extends NodeBase {
  readonly type: "counter_add";
  readonly target: ObjectRef;
  readonly amount: Expr;
  readonly key?: RecordExpr;
}

/** `histogram X record V`. */
export interface HistogramRecordStatement extends NodeBase {
  readonly type: "histogram_record";
  readonly target: ObjectRef;
  readonly value: Expr;
}

/** `queue X claim N` (yields the claimed messages), `queue X ack E`, `queue X nack E`. */
export interface QueueStatement extends NodeBase {
  readonly type: "queue";
  readonly target: ObjectRef;
  readonly action: "claim" | "ack" | "nack";
  /** The count for claim; the message id (or a list of ids) for ack and nack. */
  readonly argument: Expr;
}

/** `call ns::p(args)`: positional arguments in parameter order, or one record of named ones. */
export interface CallStatement extends NodeBase {
  readonly type: "call";
  readonly procedure: ObjectRef;
  readonly args: readonly Expr[];
}

// ---- Statements: schema (DDL) ----

/** A column declaration: `id: int8 with { auto_increment }`; `type` is RQL type text. */
export interface ColumnSpec extends NodeBase {
  readonly name: string;
  readonly type: string;
  readonly autoIncrement: boolean;
}

export interface CreateNamespaceStatement extends NodeBase {
  readonly type: "create_namespace";
  readonly name: string;
  readonly ifNotExists: boolean;
}

/**
 * `create table|ringbuffer|series|queue X { cols } [with { ... }]`. The `with` record is kept
 * as an expression and read by the executor per kind: `primary_key: { id }` (table),
 * `capacity`, `partition: { by: { col } }` (ring buffer), `key: col` (series),
 * `visibility`, `attempts` (queue).
 */
export interface CreateRowObjectStatement extends NodeBase {
  readonly type: "create_table" | "create_ringbuffer" | "create_series" | "create_queue";
  readonly name: ObjectRef;
  readonly columns: readonly ColumnSpec[];
  readonly options?: RecordExpr;
  readonly ifNotExists: boolean;
}

/** `create counter X [by { page: utf8 }] [with {...}]`. */
export interface CreateCounterStatement extends NodeBase {
  readonly type: "create_counter";
  readonly name: ObjectRef;
  readonly keyColumns: readonly ColumnSpec[];
  readonly options?: RecordExpr;
  readonly ifNotExists: boolean;
}

/** `create histogram X [with { min, max, digits }]`. */
export interface CreateHistogramStatement extends NodeBase {
  readonly type: "create_histogram";
  readonly name: ObjectRef;
  readonly options?: RecordExpr;
  readonly ifNotExists: boolean;
}

/** `create primary key on X { cols }`. */
export interface CreatePrimaryKeyStatement extends NodeBase {
  readonly type: "create_primary_key";
  readonly table: ObjectRef;
  readonly columns: readonly string[];
}

/** `create [unique] index NAME on X { cols }`; NAME may be qualified like an object. */
export interface CreateIndexStatement extends NodeBase {
  readonly type: "create_index";
  readonly name: ObjectRef;
  readonly table: ObjectRef;
  readonly columns: readonly string[];
  readonly unique: boolean;
  readonly ifNotExists: boolean;
}

/** `alter table X add column name: type`. */
export interface AlterTableAddColumnStatement extends NodeBase {
  readonly type: "alter_table_add_column";
  readonly table: ObjectRef;
  readonly column: ColumnSpec;
}

/**
 * `create [transactional|deferred] view X { cols } as { pipeline }`; plain `create view` is
 * transactional. `text` is the pipeline's source text, for storing the definition.
 */
export interface CreateViewStatement extends NodeBase {
  readonly type: "create_view";
  readonly name: ObjectRef;
  readonly mode: "transactional" | "deferred";
  readonly columns: readonly ColumnSpec[];
  readonly pipeline: Pipeline;
  readonly text: string;
  readonly ifNotExists: boolean;
}

/**
 * `create procedure ns::p { id: int8 } as { statements }`. `body` is the script between the
 * braces as source text (stored durably and parsed again on load); `statements` its parse.
 */
export interface CreateProcedureStatement extends NodeBase {
  readonly type: "create_procedure";
  readonly name: ObjectRef;
  readonly params: readonly ColumnSpec[];
  readonly body: string;
  readonly statements: readonly Statement[];
  readonly ifNotExists: boolean;
}

/** The object kinds a `drop` names. */
export type DropKind =
  | "namespace"
  | "table"
  | "view"
  | "ringbuffer"
  | "series"
  | "counter"
  | "histogram"
  | "queue"
  | "procedure"
  | "index";

/** `drop <kind> [if exists] X`. */
export interface DropStatement extends NodeBase {
  readonly type: "drop";
  readonly kind: DropKind;
  readonly name: ObjectRef;
  readonly ifExists: boolean;
}

export type Statement =
  | QueryStatement
  | InsertStatement
  | UpdateStatement
  | DeleteStatement
  | CounterAddStatement
  | HistogramRecordStatement
  | QueueStatement
  | CallStatement
  | CreateNamespaceStatement
  | CreateRowObjectStatement
  | CreateCounterStatement
  | CreateHistogramStatement
  | CreatePrimaryKeyStatement
  | CreateIndexStatement
  | AlterTableAddColumnStatement
  | CreateViewStatement
  | CreateProcedureStatement
  | DropStatement;

export type StatementType = Statement["type"];

/** A parsed request: statements in order, separated by `;` in the text. */
export interface Script {
  readonly statements: readonly Statement[];
  /** The highest positional parameter used (`$3` → 3), 0 when none. */
  readonly positionalParamsMax: number;
}
