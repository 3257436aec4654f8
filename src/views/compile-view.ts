/**
 * @module Compiles an RQL pipeline (src/rql/ast.ts) into a graph of incremental operators:
 * each `from` becomes an entry point keyed by the object's name, each step an operator, and
 * the graph ends in the view's output sink. Names, columns and types are resolved here, once,
 * so a bad view fails at `create view` with the place it went wrong.
 */
import { assertionFailed } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { viewTopKSpareRows } from "../lib/limits.ts";
import { qualifyName } from "../engine/index.ts";
import type { Catalog, StoredObject } from "../engine/index.ts";
import { compileExpression, isPureCall, textReadAs, textReadProblem } from "../expr/index.ts";
import type { CallExpr, Expr } from "../expr/index.ts";
import { Queue, Table } from "../primitives/index.ts";
import type { QueueMessage } from "../primitives/index.ts";
import type { Pipeline, Step } from "../rql/index.ts";
import type { QueryParams } from "../types.ts";
import { AggregateOperator } from "./aggregate.ts";
import { AppendOperator } from "./append.ts";
import { columnsOfObject } from "./columns.ts";
import type { Columns } from "./columns.ts";
import { Operator } from "./delta.ts";
import type { Delta, Row, Sink } from "./delta.ts";
import { DistinctOperator } from "./distinct.ts";
import { FilterOperator } from "./filter.ts";
import { JoinOperator } from "./join.ts";
import type { ReadRow } from "./join.ts";
import { MapOperator } from "./map.ts";
import { forEachRow } from "./input-rows.ts";
import {
  appendLineage,
  callsOf,
  constantLineage,
  derivedLineage,
  fieldsOf,
  inputLineage,
  joinLineage,
  mapLineage,
  markExprsRead,
  markRead,
  readColumnLists,
} from "./lineage.ts";
import type { ColumnsRead, Lineage } from "./lineage.ts";
import { TopKOperator } from "./top-k.ts";
import type { InputScan, SortColumn } from "./top-k.ts";

/** Object kinds a view may read: every row-like primitive and other views. */
const sourceKinds: ReadonlySet<string> = new Set([
  "table",
  "view",
  "ring_buffer",
  "series",
  "queue",
]);

/** Rows written inline in the pipeline (`from [{a: 1}]`): pushed once, at population. */
export interface InlineRows {
  readonly sink: Sink;
  readonly rows: readonly Row[];
}

/** A compiled pipeline: where each input's changes enter, and what comes out. */
export interface ViewGraph {
  /** Input object name to the sinks its changes enter, in the order they were compiled. */
  readonly entries: Map<string, Sink[]>;
  readonly inline: InlineRows[];
  readonly operators: Operator[];
  readonly columns: Columns | undefined;
  /** The order rows are read in when the pipeline ends sorted (`sort`, then `take` ...). */
  readonly order: readonly SortColumn[] | undefined;
  /** Where the graph's output goes; set by the caller with {@link connectGraph}. */
  readonly tail: Operator;
  /**
   * Input object name to the columns the view reads of it (undefined: possibly any); an
   * update changing none of them leaves the view as it is (lineage.ts).
   */
  readonly reads: ReadonlyMap<string, readonly string[] | undefined>;
}

/** A pass-through node: where an input's changes enter the graph, and the graph's tail. */
class SourceNode extends Operator {
  push(delta: Delta): void {
    this.next.push(delta);
  }

  /** As the tail, passes on what the last operator knows of its row (see Sink). */
  pushDiffering(delta: Delta): void {
    this.pushNext(delta, true);
  }
}

/**
 * Where a queue's changes enter: its stored messages become the rows `from q` shows
 * (`Queue.rowOf`), so a view reads the columns a query does.
 */
class QueueRowsNode extends Operator {
  constructor(private readonly queue: Queue) {
    super();
  }

  push(delta: Delta): void {
    this.next.push({
      key: delta.key,
      before: this.rowOf(delta.before),
      after: this.rowOf(delta.after),
    });
  }

  rowOf(message: Row | undefined): Row | undefined {
    return message === undefined ? undefined : this.queue.rowOf(message as unknown as QueueMessage);
  }
}

interface Build {
  readonly catalog: Catalog;
  readonly params: QueryParams | undefined;
  readonly graph: ViewGraph;
  /**
   * Whether operators may read their input again while maintaining (a bounded top-k). Only
   * when changes arrive as the input changes (transactional views, query subscriptions): a
   * deferred view applies older changes to newer inputs.
   */
  readonly rescan: boolean;
  /**
   * Whether each change is fed as it is applied, so an input read while maintaining holds
   * exactly the rows the change left (transactional views; also while rolling back, as a
   * change is fed back before its input reverts it). Query subscriptions are fed whole
   * commits after the fact, so a read there may see later changes of the same commit.
   */
  readonly live: boolean;
  /** The input columns read so far, filled while compiling. */
  readonly read: ColumnsRead;
  /**
   * Whether the view is being created: then an expression or join key that could fail on
   * rows its inputs accept (text read as a date) is refused, as a view must not refuse them.
   */
  readonly created: boolean;
}

/**
 * The first call in `pipeline` whose value depends on when it runs (`datetime::now()`): a
 * view maintained from changes cannot follow the clock, so `create view` refuses it.
 */
export function clockCallOf(pipeline: Pipeline): CallExpr | undefined {
  const exprs: Expr[] = [];
  const pipelines = [pipeline];
  for (let next = pipelines.pop(); next !== undefined; next = pipelines.pop()) {
    if (next.source.type === "inline") exprs.push(next.source.rows);
    for (const step of next.steps) {
      if (step.type === "filter") exprs.push(step.predicate);
      else if (step.type === "map" || step.type === "extend") {
        exprs.push(...step.columns.map((column) => column.expr));
      } else if (step.type === "aggregate") {
        exprs.push(...[...step.aggregates, ...step.by].map((column) => column.expr));
      } else if (step.type === "take") exprs.push(step.count);
      else if (step.type === "join") pipelines.push(step.right);
      else if (step.type === "append") pipelines.push(step.pipeline);
    }
  }
  return callsOf(exprs).find((call) => !isPureCall(call));
}

/** Compiles `pipeline` against the catalog's current objects. */
export function compileView(
  pipeline: Pipeline,
  catalog: Catalog,
  options: {
    params?: QueryParams | undefined;
    rescan: boolean;
    live?: boolean;
    created?: boolean;
  },
): ViewGraph {
  const { params, rescan } = options;
  const live = options.live ?? false;
  const created = options.created ?? false;
  const graph = {
    entries: new Map<string, Sink[]>(),
    inline: [],
    operators: [],
    columns: undefined,
    order: undefined,
    tail: new SourceNode(),
    reads: new Map(),
  };
  const build: Build = { catalog, params, graph, rescan, live, read: new Map(), created };
  const stream = compilePipeline(build, pipeline);
  stream.node.next = graph.tail;
  // The view shows every column of its last stream.
  markRead(build.read, stream.lineage, "all");
  const columns = stream.columns;
  const order = stream.order?.every((key) => columns?.has(key.column) ?? true)
    ? stream.order
    : undefined;
  return { ...graph, columns, order, reads: readColumnLists(build.read) };
}

interface Stream {
  node: Operator;
  columns: Columns | undefined;
  /** How to read the stream's rows again: set while it is an input through filters and maps. */
  scan?: InputScan | undefined;
  /** Set by `sort`; kept by steps that keep row order, dropped by the others. */
  order?: readonly SortColumn[] | undefined;
  /** Where each column comes from. */
  lineage: Lineage;
  /** How to read a row by key: set while the stream is a keyed table's rows, unchanged. */
  read?: ReadRow | undefined;
  /** Rows are arrays of `columns` in order: a join's, read only by the aggregate after it. */
  positional?: boolean | undefined;
}

function compilePipeline(build: Build, pipeline: Pipeline): Stream {
  let stream = compileSource(build, pipeline);
  const steps = pipeline.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const following = steps[i + 1];
    if (step.type === "sort" && following?.type === "take") {
      const sort = step.keys.map((key) => ({ column: key.column, descending: key.descending }));
      const count = takeCount(build, following.count);
      const topK = new TopKOperator(sort, count, stream.columns, spareScan(build, stream));
      markRead(
        build.read,
        stream.lineage,
        sort.map((key) => key.column),
      );
      stream = { ...attach(build, stream, topK), order: sort };
      i++;
      continue;
    }
    const next =
      step.type === "join"
        ? compileJoin(build, stream, step, columnsNeeded(steps, i + 1), following)
        : compileStep(build, stream, step);
    const keepsOrder = ["filter", "map", "extend", "take", "sort"].includes(step.type);
    const order = keepsOrder && next.order === undefined ? stream.order : next.order;
    stream = { ...next, order, scan: rescanOf(stream, next) };
  }
  return stream;
}

function compileStep(build: Build, stream: Stream, step: Step): Stream {
  const { params, read } = build;
  const input = stream.columns;
  const lineage = stream.lineage;
  switch (step.type) {
    case "filter": {
      markExprsRead(read, lineage, [step.predicate]);
      const filter = new FilterOperator(step.predicate, input, params);
      refuseRowDependent(build, [step.predicate], input);
      return attach(build, stream, filter);
    }
    case "map":
    case "extend": {
      const extend = step.type === "extend";
      const map = new MapOperator({ specs: step.columns, input, params, extend });
      refuseRowDependent(
        build,
        step.columns.map((column) => column.expr),
        input,
      );
      return attach(build, stream, map, mapLineage(lineage, step.columns, extend));
    }
    case "aggregate": {
      const positional = stream.positional;
      const options = { aggregates: step.aggregates, by: step.by, input, params, positional };
      const aggregate = new AggregateOperator(options);
      const exprs = [...step.by, ...step.aggregates].map((spec) => spec.expr);
      refuseRowDependent(build, exprs, input);
      markExprsRead(
        read,
        lineage,
        [...step.by, ...step.aggregates].map((spec) => spec.expr),
      );
      return attach(build, stream, aggregate, derivedLineage(aggregate.columns));
    }
    case "sort":
      // A sort without take changes no rows, only the order they are read in.
      return {
        ...stream,
        order: step.keys.map((k) => ({ column: k.column, descending: k.descending })),
      };
    case "take":
      return attach(
        build,
        stream,
        new TopKOperator([], takeCount(build, step.count), input, spareScan(build, stream)),
      );
    case "distinct":
      markRead(read, lineage, step.columns.length > 0 ? step.columns : "all");
      return attach(build, stream, new DistinctOperator(step.columns, input));
    case "join":
      return compileJoin(build, stream, step, undefined, undefined);
    case "append": {
      const other = compilePipeline(build, step.pipeline);
      const append = new AppendOperator(input, other.columns);
      other.node.next = append.otherInput;
      return attach(build, stream, append, appendLineage(lineage, other.lineage));
    }
  }
}

/**
 * The columns of a stream that the steps from `from` on read, when a step among them drops
 * the rest (a map or an aggregate) before anything shows them; undefined: every column.
 */
function columnsNeeded(steps: readonly Step[], from: number): Set<string> | undefined {
  const names = new Set<string>();
  const add = (more: Iterable<string>): void => {
    for (const name of more) names.add(name);
  };
  for (let i = from; i < steps.length; i++) {
    const step = steps[i]!;
    switch (step.type) {
      case "filter":
        add(fieldsOf([step.predicate]));
        break;
      case "sort":
        add(step.keys.map((key) => key.column));
        break;
      case "take":
        break;
      case "distinct":
        if (step.columns.length === 0) return undefined;
        add(step.columns);
        break;
      case "join":
        add(step.using.map((key) => key.left));
        break;
      case "map":
      case "aggregate": {
        const specs = step.type === "map" ? step.columns : [...step.by, ...step.aggregates];
        add(fieldsOf(specs.map((spec) => spec.expr)));
        return names;
      }
      // An extend must still see every column (it may not name one); an append shows all.
      case "extend":
      case "append":
        return undefined;
    }
  }
  return undefined;
}

function compileJoin(
  build: Build,
  stream: Stream,
  step: Step & { type: "join" },
  keep: ReadonlySet<string> | undefined,
  following: Step | undefined,
): Stream {
  const input = stream.columns;
  const right = compilePipeline(build, step.right);
  // Only an aggregate reads positional rows; any other next step gets objects.
  const positional = following?.type === "aggregate";
  if (input === undefined || right.columns === undefined) {
    throw new DbError("INVALID_SCHEMA", "join: both sides need known columns");
  }
  const using = step.using.map((key) => [key.left, key.right] as const);
  if (build.created) refuseTextReadKeys(step, input, right.columns);
  const join = new JoinOperator({
    kind: step.kind,
    alias: step.alias,
    using,
    left: input,
    right: right.columns,
    readLeft: build.live ? stream.read : undefined,
    keep,
    positions: step.using.map((key) => key.pos),
    positional,
  });
  right.node.next = join.rightInput;
  markRead(
    build.read,
    stream.lineage,
    step.using.map((key) => key.left),
  );
  markRead(
    build.read,
    right.lineage,
    step.using.map((key) => key.right),
  );
  const lineage = joinLineage(stream.lineage, right.lineage, join.prefixed);
  return { ...attach(build, stream, join, lineage), positional };
}

function attach(
  build: Build,
  stream: Stream,
  operator: Operator & { columns?: Columns | undefined },
  lineage = stream.lineage,
): Stream {
  stream.node.next = operator;
  build.graph.operators.push(operator);
  return { node: operator, columns: operator.columns ?? stream.columns, lineage };
}

function compileSource(build: Build, pipeline: Pipeline): Stream {
  const source = pipeline.source;
  const node = new SourceNode();
  if (source.type === "inline") {
    const rows = compileExpression(source.rows)(
      build.params === undefined ? { row: {} } : { row: {}, params: build.params },
    );
    if (!Array.isArray(rows))
      throw new DbError("TYPE_MISMATCH", "from: inline rows must be a list of records");
    const list = rows as Row[];
    build.graph.inline.push({ sink: node, rows: list });
    const scan: InputScan = (fn) => list.forEach((row, index) => fn(index, row));
    const first = rows[0] as Row | undefined;
    return {
      node,
      columns:
        first === undefined ? undefined : new Map(Object.keys(first).map((k) => [k, undefined])),
      scan,
      lineage: constantLineage,
    };
  }
  if (source.asOf !== undefined || source.args !== undefined) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `a view cannot read ${source.object.name} as of a past seq`,
      {
        object: source.object.name,
      },
    );
  }
  const object = requireSource(build.catalog, source.object.name);
  if (object instanceof Queue) return queueInput(build, object);
  enter(build, object.name, node);
  const scan: InputScan = (fn) => forEachRow(build.catalog.require(object.name), fn);
  const columns = columnsOfObject(object);
  const read =
    object instanceof Table && object.hasPrimaryKey ? tableRead(build, object.name) : undefined;
  return { node, columns, scan, read, lineage: inputLineage(object.name, columns) };
}

/**
 * Refuses, when the view is being created, an expression that could fail on rows its input
 * accepts (infer.ts textReadProblem): a view must not refuse writes to its inputs.
 */
function refuseRowDependent(build: Build, exprs: readonly Expr[], input: Columns | undefined) {
  if (!build.created) return;
  for (const expr of exprs) {
    const problem = textReadProblem(expr, input);
    if (problem === undefined) continue;
    const { line, col } = problem.node.pos;
    const message = `line ${line}, column ${col}: in a view, ${problem.message}`;
    throw new DbError("TYPE_MISMATCH", message, { line, col });
  }
}

/**
 * Refuses a join key of text with a key of a kind read from text (a time, a uuid): a text that
 * is no such value would fail the write that brings it (a query join fails the query there).
 */
function refuseTextReadKeys(step: Step & { type: "join" }, left: Columns, right: Columns) {
  for (const key of step.using) {
    const leftType = left.get(key.left);
    const rightType = right.get(key.right);
    if (leftType === undefined || rightType === undefined) continue;
    const kind = textReadAs(leftType, rightType);
    if (kind === undefined) continue;
    const { line, col } = key.pos;
    const message =
      `line ${line}, column ${col}: in a view, joining ${leftType.kind} with ` +
      `${rightType.kind} reads text from each row as ${kind}, and text that is no ${kind} ` +
      `would fail the write; declare the text column ${kind}`;
    throw new DbError("TYPE_MISMATCH", message, { line, col });
  }
}

/** Makes `node` where the changes of the input `name` enter the graph. */
function enter(build: Build, name: string, node: Operator): void {
  const entries = build.graph.entries;
  entries.set(name, [...(entries.get(name) ?? []), node]);
}

/** A queue read as its rows; each row column's lineage is the message field it comes from. */
function queueInput(build: Build, queue: Queue): Stream {
  const node = new QueueRowsNode(queue);
  enter(build, queue.name, node);
  const scan: InputScan = (fn) =>
    forEachRow(build.catalog.require(queue.name), (key, row) => fn(key, node.rowOf(row)!));
  const rowColumns = queue.rowColumns();
  const columns: Columns = new Map(rowColumns.map((column) => [column.name, column.type]));
  const storedAs = new Map(rowColumns.map((column) => [column.name, column.field as string]));
  return { node, columns, scan, lineage: inputLineage(queue.name, columns, storedAs) };
}

/** Reads a table's current row by key (the object is looked up again, like a scan does). */
function tableRead(build: Build, name: string): ReadRow {
  return (key) => {
    const table = build.catalog.require(name);
    if (!(table instanceof Table)) assertionFailed(`${name} is no longer a table`);
    return table.get(key);
  };
}

function requireSource(catalog: Catalog, name: string): StoredObject {
  const object = catalog.get(qualifyName(name).qualified);
  if (object === undefined) {
    throw new DbError("UNKNOWN_OBJECT", `unknown object "${name}"`, { object: name });
  }
  if (!sourceKinds.has(object.kind)) {
    throw new DbError(
      "WRONG_OBJECT_KIND",
      `a view cannot read ${object.name}, a ${object.kind.replace("_", " ")}`,
      {
        object: object.name,
      },
    );
  }
  return object;
}

function takeCount(build: Build, expr: Expr): number {
  const scope = build.params === undefined ? { row: {} } : { row: {}, params: build.params };
  const value = compileExpression(expr)(scope);
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    const { line, col } = expr.pos;
    const shown = String(value);
    const message = `line ${line}, column ${col}: take needs a whole number >= 0, got ${shown}`;
    throw new DbError("INVALID_ARGUMENT", message, { line, col, value: shown });
  }
  return value;
}

/** A top-k's way to read its input again, when its input can be read. */
function spareScan(build: Build, stream: Stream): { read: InputScan; spare: number } | undefined {
  if (!build.rescan || stream.scan === undefined) return undefined;
  return { read: stream.scan, spare: viewTopKSpareRows };
}

/** The scan of a stream after a step: filters and maps can be replayed; other steps cannot. */
function rescanOf(before: Stream, after: Stream): InputScan | undefined {
  const scan = before.scan;
  const node = after.node;
  if (scan === undefined) return undefined;
  if (node === before.node) return scan; // a sort: no operator
  if (node instanceof FilterOperator) {
    return (fn) =>
      scan((key, row) => {
        if (node.test(row)) fn(key, row);
      });
  }
  if (node instanceof MapOperator) return (fn) => scan((key, row) => fn(key, node.rewrite(row)));
  return undefined;
}
