/**
 * @module Keeps every view of one engine maintained. Transactional views are fed each change
 * as it is recorded (the engine's change observer), so they are correct inside the writing
 * transaction and roll back with it. Deferred views are fed after commit, in commit order,
 * in a follow-up commit of their own. The manager also activates views (compile, populate),
 * refuses drops of objects a view reads, and rebuilds views from their inputs after a restart.
 */
import { assert, assertionFailed } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import { viewsMax } from "../lib/limits.ts";
import { catalogObjectName, changedColumnsUnknown } from "../engine/index.ts";
import type {
  Catalog,
  Change,
  ChangeObserver,
  Commit,
  Engine,
  ObjectDefinition,
  StoredObject,
  Transaction,
} from "../engine/index.ts";
import { Table } from "../primitives/index.ts";
import { parseScript } from "../rql/index.ts";
import type { CreateViewStatement, Pipeline } from "../rql/index.ts";
import type { ViewHost } from "../rql/host.ts";
import type { QueryParams, ViewOptions } from "../types.ts";
import { clockCallOf, compileView } from "./compile-view.ts";
import type { ViewGraph } from "./compile-view.ts";
import type { Delta, Row, Sink } from "./delta.ts";
import { OutputSink, refuseDeclaredTypes } from "./output.ts";
import { TopKOperator } from "./top-k.ts";
import { forEachRow } from "./input-rows.ts";
import { ViewObject } from "./view-object.ts";
import type { ViewDefinition } from "./view-object.ts";
import type { Columns } from "./columns.ts";

/** A view being maintained: its object, compiled graph and (deferred) backlog. */
export interface ActiveView {
  readonly object: ViewObject;
  readonly graph: ViewGraph;
  readonly output: OutputSink;
  /** Deferred: commits whose changes the view has not applied yet, oldest first. */
  pending: Commit[];
  /** Deferred: how many changes of the creating commit (`seq`) population already covered. */
  covered: { seq: number; count: number } | undefined;
  /** Deferred: why maintenance stopped, if it failed. */
  error: unknown;
  /** Deferred: failed attempts in a row, and when (clock ms) the next may run. */
  failures: number;
  retryAtMs: number;
}

/**
 * A failed deferred view is retried by a rebuild from all its inputs, so a view that keeps
 * failing (over a million rows) must not rebuild at every commit: the wait between attempts
 * starts here and doubles up to the maximum.
 */
export const deferredViewRetryDelayMsMin = 1_000;
export const deferredViewRetryDelayMsMax = 60_000;

/** A transactional view reading one input: where that input's changes enter its graph. */
interface Reader {
  readonly view: ActiveView;
  readonly sinks: readonly Sink[];
  /** The columns of the input the view reads; undefined: possibly any (lineage.ts). */
  readonly columns: readonly string[] | undefined;
  /** The same as changed-columns bits, when the input is a table whose updates name them. */
  readonly columnBits: number | undefined;
}

/** Parses a view's stored query text into its pipeline. */
export function parseViewQuery(name: string, query: string): Pipeline {
  const script = parseScript(query);
  const statement = script.statements[0];
  if (script.statements.length !== 1 || statement?.type !== "query") {
    throw new DbError("INVALID_ARGUMENT", `${name}: a view's query must be one pipeline`, {
      object: name,
    });
  }
  return statement.pipeline;
}

export class ViewManager implements ChangeObserver, ViewHost {
  private readonly active = new Map<string, ActiveView>();
  /**
   * Input object name to the transactional views that read it. The lists are replaced, never
   * changed in place, so a list taken while feeding a change stays the set it fed.
   */
  private readonly readers = new Map<string, readonly Reader[]>();
  /** Input object name to the deferred views that read it. */
  private readonly deferredReaders = new Map<string, ActiveView[]>();
  private drainScheduled = false;
  /** Views arrived through re-applied commits and wait for activation. */
  private activationPending = false;
  private waiters: Array<() => void> = [];

  constructor(private readonly engine: Engine) {
    engine.setChangeObserver(this);
    engine.catalog.setDropGuard((object) => this.refuseDropInUse(object));
    engine.addCommitListener((commit) => this.onCommit(commit));
  }

  // ---- ChangeObserver: transactional maintenance ----

  observes(object: string): boolean {
    // Asked for every change: with no view reading anything, no map lookup (4 a transfer).
    return (
      this.activationPending ||
      object === catalogObjectName ||
      (this.readers.size !== 0 && this.readers.has(object))
    );
  }

  onChange(tx: Transaction, change: Change, changedColumns: number): void {
    const readers = this.readers.get(change.object);
    // Views created by replicated commits start here; they populate from inputs that
    // already hold this change, so only the views active before it are fed it.
    if (this.activationPending) this.activatePending(tx);
    if (change.object === catalogObjectName) {
      this.onCatalogChange(tx, change);
      return;
    }
    if (readers === undefined) return;
    let maintained = 0;
    try {
      for (; maintained < readers.length; maintained++) {
        const reader = readers[maintained]!;
        if (!unread(reader, change, changedColumns)) {
          this.maintain(reader.view, reader.sinks, change, tx);
        }
      }
    } catch (error) {
      // The views fed before the failure take the change back; the failed one is stale.
      for (let i = maintained - 1; i >= 0; i--) this.unmaintain(readers[i]!, change);
      throw error;
    }
  }

  /**
   * On rollback every view the change fed is fed it inverted. The views reading its object
   * now are the ones it fed: a view activated after the change was deactivated by its own
   * undo action (which ran first), and one dropped after it was registered again.
   */
  onRevert(_tx: Transaction, change: Change): void {
    const readers = this.readers.get(change.object);
    if (readers === undefined) return;
    for (let i = readers.length - 1; i >= 0; i--) this.unmaintain(readers[i]!, change);
  }

  private activatePending(tx: Transaction): void {
    this.activationPending = false;
    this.engine.catalog.forEachObject((object) => {
      if (!(object instanceof ViewObject) || this.active.has(object.name)) return;
      const view = this.activate(object, tx);
      tx.onRollback(() => {
        this.deactivate(view);
        this.activationPending = true;
      });
    });
  }

  /**
   * Feeds one change through a view's operators and records the view's output changes in
   * the transaction. Operators keep no undo log: on rollback the same change is fed back
   * inverted (operator state is a function of the input rows, so this restores it), and a
   * change that failed half-way leaves the view stale, rebuilt from its inputs on next use.
   */
  private maintain(
    view: ActiveView,
    sinks: readonly Sink[],
    change: Change,
    tx: Transaction | undefined,
  ): void {
    if (view.object.stale) {
      // Its rows came from the log (recovery, replication): rebuild from the inputs, which
      // already hold this change, and record the difference as this change's effect.
      try {
        this.rebuild(view, tx);
      } catch (error) {
        throw namedByView(error, view.object.name);
      }
      return;
    }
    try {
      for (let i = 0; i < sinks.length; i++) sinks[i]!.push(change as Delta);
      view.output.flush(tx);
    } catch (error) {
      view.output.discard();
      view.object.stale = true;
      throw namedByView(error, view.object.name);
    }
  }

  /** Feeds a change back inverted: the operators return to their state before it. */
  private unmaintain(reader: Reader, change: Change): void {
    const view = reader.view;
    if (view.object.stale || this.active.get(view.object.name) !== view) return;
    if (unread(reader, change)) return; // it skipped the change forward too
    const inverse: Delta = {
      key: change.key,
      before: change.after as Row | undefined,
      after: change.before as Row | undefined,
    };
    const operators = view.graph.operators;
    for (const operator of operators)
      if (operator instanceof TopKOperator) operator.refillAllowed = false;
    try {
      for (const sink of reader.sinks) sink.push(inverse);
    } catch {
      // The forward change evaluated cleanly, so this cannot fail; if it does, rebuild.
      view.object.stale = true;
    }
    for (const operator of operators) {
      if (operator instanceof TopKOperator) operator.refillAllowed = true;
      // An operator that needed its input (a top-k refill) rebuilds when next used.
      if (operator.lost) view.object.stale = true;
    }
    // The view's rows are restored by reverting its recorded changes, not from here.
    view.output.discard();
  }

  /** Re-applied commits bypass the operators: the views they touch must be rebuilt. */
  applied(commit: Commit): void {
    // Index loops and no `?? []`: this runs for every record recovery or a follower replays,
    // and the iterators and empty arrays were 64 bytes of garbage a record.
    const changes = commit.changes;
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i]!;
      if (change.object === catalogObjectName) {
        if (change.kind === "create" && (change.after as ObjectDefinition).kind === "view") {
          // Activated by the next local transaction (or at open): never mid-replay.
          this.activationPending = true;
        }
        continue;
      }
      const readers = this.readers.get(change.object);
      if (readers !== undefined) {
        for (let r = 0; r < readers.length; r++) readers[r]!.view.object.stale = true;
      }
      const deferred = this.deferredReaders.get(change.object);
      if (deferred !== undefined) {
        for (let d = 0; d < deferred.length; d++) deferred[d]!.object.stale = true;
      }
    }
  }

  private onCatalogChange(tx: Transaction, change: Change): void {
    if (change.kind === "create" && (change.after as ObjectDefinition).kind === "view") {
      const object = this.engine.catalog.get(change.key as string);
      assert(object instanceof ViewObject, "created view is not a view object");
      const view = this.activate(object, tx, true);
      tx.onRollback(() => this.deactivate(view));
      return;
    }
    if (change.kind === "drop" && (change.before as ObjectDefinition).kind === "view") {
      const view = this.active.get(change.key as string);
      if (view === undefined) return;
      this.deactivate(view);
      tx.onRollback(() => this.register(view));
    }
  }

  // ---- Activation ----

  /**
   * Compiles a view, registers it with its inputs and populates it from their current rows,
   * recording its output in `tx` (or writing it silently without one: a read-only rebuild).
   */
  private activate(object: ViewObject, tx: Transaction | undefined, created = false): ActiveView {
    if (this.active.size >= viewsMax) {
      throw new DbError("LIMIT_EXCEEDED", `at most ${viewsMax} views`, { object: object.name });
    }
    const view = this.build(object, tx, created);
    if (tx !== undefined && object.mode === "deferred") {
      // The running transaction commits as the next seq (transactions are serial).
      view.covered = { seq: this.engine.seq + 1, count: tx.changeCount };
    }
    this.register(view);
    return view;
  }

  /**
   * Compiles a view's graph and fills it from the inputs; the view ends up holding its rows.
   * A view being `created` is also refused if it could refuse rows its inputs accept (not one
   * rebuilt at open, which was accepted by the version that created it).
   */
  private build(object: ViewObject, tx: Transaction | undefined, created = false): ActiveView {
    const definition = object.definition;
    const pipeline = parseViewQuery(object.name, definition.query);
    const transactional = definition.mode === "transactional";
    const graph = compileView(pipeline, this.engine.catalog, {
      rescan: transactional,
      live: transactional,
      created,
    });
    if (created) refuseDeclaredTypes(object.name, definition.columns, graph.columns);
    const output = new OutputSink(object, graph.columns, definition.columns);
    graph.tail.next = output;
    object.columns = graph.columns;
    object.sort = graph.order;
    const view: ActiveView = {
      object,
      graph,
      output,
      pending: [],
      failures: 0,
      retryAtMs: 0,
      covered: undefined,
      error: undefined,
    };
    this.populate(view);
    output.replaceAll(tx);
    object.stale = false;
    return view;
  }

  /** Replaces a stale view's operators with ones rebuilt from its inputs' current rows. */
  private rebuild(stale: ActiveView, tx: Transaction | undefined): void {
    const view = this.build(stale.object, tx);
    view.pending = stale.pending;
    this.deactivate(stale);
    this.register(view);
    // A rollback takes the inputs back: the rebuilt operators no longer match them.
    tx?.onRollback(() => (view.object.stale = true));
  }

  private populate(view: ActiveView): void {
    populateGraph(this.engine.catalog, view.graph);
  }

  private register(view: ActiveView): void {
    this.active.set(view.object.name, view);
    for (const [name, sinks] of view.graph.entries) {
      if (view.object.mode === "transactional") {
        // An input none of whose columns the view reads still feeds it inserts and deletes.
        const columns = view.graph.reads.has(name) ? view.graph.reads.get(name) : [];
        const input = this.engine.catalog.get(name);
        const columnBits =
          columns !== undefined && input instanceof Table
            ? input.schema.columnBits(columns)
            : undefined;
        const reader = { view, sinks, columns, columnBits };
        this.readers.set(name, [...(this.readers.get(name) ?? []), reader]);
      } else {
        this.deferredReaders.set(name, [...(this.deferredReaders.get(name) ?? []), view]);
      }
    }
  }

  private deactivate(view: ActiveView): void {
    if (this.active.get(view.object.name) !== view) return;
    this.active.delete(view.object.name);
    for (const name of view.graph.entries.keys()) {
      const readers = this.readers.get(name)?.filter((reader) => reader.view !== view);
      if (readers !== undefined) setOrDelete(this.readers, name, readers);
      const deferred = this.deferredReaders.get(name)?.filter((candidate) => candidate !== view);
      if (deferred !== undefined) setOrDelete(this.deferredReaders, name, deferred);
    }
  }

  /**
   * Activates every view of a recovered catalog, in creation order (inputs first): each is
   * recomputed from its inputs and, where its logged rows differ (a deferred view that had
   * not caught up before a crash), corrected in one commit. A read-only engine corrects
   * silently.
   */
  activateAll(): void {
    this.activationPending = false;
    const views: ViewObject[] = [];
    this.engine.catalog.forEachObject((object) => {
      if (object instanceof ViewObject && !this.active.has(object.name)) views.push(object);
    });
    for (const object of views) {
      if (this.engine.readOnly) {
        this.activate(object, undefined);
        continue;
      }
      this.engine.transact((tx) => this.activate(object, tx), {
        origin: { kind: "view_rebuild", detail: object.name },
      });
    }
  }

  private refuseDropInUse(object: StoredObject): void {
    const users = [...this.active.values()].filter((view) => view.graph.entries.has(object.name));
    if (users.length === 0) return;
    const names = users.map((view) => view.object.name).join(", ");
    throw new DbError("OBJECT_IN_USE", `${object.name} cannot be dropped: view ${names} reads it`, {
      object: object.name,
      views: users.map((view) => view.object.name),
    });
  }

  // ---- Deferred maintenance ----

  private onCommit(commit: Commit): void {
    if (this.deferredReaders.size === 0) return;
    let queued = false;
    for (const change of commit.changes) {
      const views = this.deferredReaders.get(change.object);
      if (views === undefined) continue;
      for (const view of views) {
        // A failed view keeps only its oldest missed commit (for its lag): it is rebuilt.
        const keep = view.error === undefined || view.pending.length === 0;
        if (keep && view.pending.at(-1) !== commit) view.pending.push(commit);
        queued = true;
      }
    }
    if (queued && !this.drainScheduled && !this.engine.readOnly) {
      this.drainScheduled = true;
      queueMicrotask(() => this.drain());
    }
  }

  /** Applies every deferred view's backlog, each in one follow-up commit. */
  private drain(): void {
    this.drainScheduled = false;
    if (this.engine.closed) return;
    for (const view of [...this.active.values()]) {
      if (view.pending.length === 0) continue;
      if (view.error !== undefined && this.engine.clock.now() < view.retryAtMs) continue;
      this.drainView(view);
    }
    if (this.totalPending() === 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private drainView(view: ActiveView): void {
    const commits = view.pending;
    view.pending = [];
    try {
      this.engine.transact((tx) => this.applyDeferred(view, commits, tx), {
        origin: { kind: "view", detail: { view: view.object.name, seq: commits.at(-1)!.seq } },
      });
      view.error = undefined;
      view.failures = 0;
    } catch (error) {
      // The view stops here, visibly: error says why and its lag keeps growing from the
      // oldest commit it missed. It is stale, so a commit that reaches it once the wait is
      // over retries by rebuilding from its inputs, which may no longer hold what made it
      // fail; the backlog is not kept (a rebuild needs none). A rebuild made in the failed
      // transaction may have replaced `view`: the failure is the active one's.
      const failed = this.active.get(view.object.name) ?? view;
      failed.error = error;
      failed.object.stale = true;
      failed.pending = [commits[0]!];
      const delayMs = deferredViewRetryDelayMsMin * 2 ** Math.min(view.failures, 16);
      failed.retryAtMs = this.engine.clock.now() + Math.min(delayMs, deferredViewRetryDelayMsMax);
      failed.failures = view.failures + 1;
    }
  }

  private applyDeferred(view: ActiveView, commits: readonly Commit[], tx: Transaction): void {
    const entries = view.graph.entries;
    for (const commit of commits) {
      if (view.object.stale) {
        this.rebuild(view, tx);
        break;
      }
      const covered = view.covered?.seq === commit.seq ? view.covered.count : 0;
      const changes = commit.changes;
      for (let i = covered; i < changes.length; i++) {
        const change = changes[i]!;
        const sinks = entries.get(change.object);
        if (sinks === undefined) continue;
        this.maintain(view, sinks, change, tx);
        const reader = { view, sinks, columns: undefined, columnBits: undefined };
        tx.onRollback(() => this.unmaintain(reader, change));
      }
    }
    view.covered = undefined;
  }

  private totalPending(): number {
    let count = 0;
    for (const view of this.active.values())
      if (view.error === undefined) count += view.pending.length;
    return count;
  }

  /** Resolves when every deferred view has applied every commit so far. */
  settled(): Promise<void> {
    if (this.totalPending() === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  // ---- Reads ----

  /** How many commits a view is behind (0 for transactional views and caught-up ones). */
  lagOf(name: string): number {
    const object = this.engine.catalog.require(name, "view");
    // A view that arrived through replication and is not active yet is exactly the log's.
    const view = this.active.get(object.name);
    if (view === undefined) return 0;
    const oldest = view.pending[0];
    return oldest === undefined ? 0 : this.engine.seq - oldest.seq + 1;
  }

  /** Why a deferred view stopped being maintained, if it did. */
  errorOf(name: string): unknown {
    return this.requireActive(name).error;
  }

  requireActive(name: string): ActiveView {
    const object = this.engine.catalog.require(name, "view");
    const view = this.active.get(object.name);
    if (view === undefined) assertionFailed(`${object.name} is not active`);
    return view;
  }

  // ---- ViewHost (RQL's create view / drop view / from view) ----

  create(tx: Transaction, statement: CreateViewStatement): boolean {
    // Checked as parsed within the script first, so that the error names its line and column.
    refuseClock(statement.name.name, statement.pipeline);
    const definition = viewDefinition(statement.name.name, {
      mode: statement.mode,
      query: statement.text,
      columns: statement.columns.map((column) => ({ name: column.name, type: column.type })),
    });
    const existing = this.engine.catalog.get(definition.name);
    if (existing !== undefined && statement.ifNotExists) return false;

    // Compiled first as parsed within the script, so an error names the script's line and
    // column; activation compiles the stored text again, whose positions start at the body.
    const transactional = definition.mode === "transactional";
    compileView(statement.pipeline, this.engine.catalog, {
      rescan: transactional,
      live: transactional,
      created: true,
    });
    this.engine.catalog.create(tx, definition);
    return true;
  }

  drop(tx: Transaction, name: string, ifExists: boolean): boolean {
    const object = this.engine.catalog.get(name);
    if (object === undefined && ifExists) return false;
    this.engine.catalog.require(name, "view");
    return this.engine.catalog.drop(tx, name, ifExists);
  }

  read(object: StoredObject): { columns: Columns; rows: Iterable<Row> } | undefined {
    if (!(object instanceof ViewObject)) return undefined;
    // Re-iterable: each iteration scans the view's current rows afresh.
    const rows: Iterable<Row> = { [Symbol.iterator]: () => object.scan() };
    return { columns: object.columns ?? noColumns, rows };
  }
}

/**
 * Whether a change is an update that leaves every column the view reads of its input as it
 * was, so it cannot change the view (a stale view is fed anyway: it rebuilds on the next
 * change). Values compare by identity: an equal value in a new object counts as a change.
 * An update that names its changed columns is answered from the bits alone, which say the
 * same (so a rollback, which compares values, skips exactly what the change skipped).
 */
function unread(
  reader: Reader,
  change: Change,
  changedColumns: number = changedColumnsUnknown,
): boolean {
  const columns = reader.columns;
  if (columns === undefined || change.before === undefined || change.after === undefined) {
    return false;
  }
  if (reader.view.object.stale) return false;
  const bits = reader.columnBits;
  if (changedColumns !== changedColumnsUnknown && bits !== undefined) {
    return (changedColumns & bits) === 0;
  }
  const before = change.before as Row;
  const after = change.after as Row;
  for (let i = 0; i < columns.length; i++) {
    if (before[columns[i]!] !== after[columns[i]!]) return false;
  }
  return true;
}

function setOrDelete<T>(map: Map<string, readonly T[]>, name: string, list: readonly T[]): void {
  if (list.length === 0) map.delete(name);
  else map.set(name, list);
}

/**
 * A view's failure to take a change its input accepted (a division by zero, an overflow, a
 * value out of a declared column's range), naming the view: the write fails because of it,
 * and whoever wrote to the input needs to know which view to fix. Only errors are renamed,
 * so maintenance that succeeds pays nothing for it.
 */
function namedByView(error: unknown, view: string): unknown {
  if (!(error instanceof DbError) || error.details.view !== undefined) return error;
  // A declared column's coercion names its site (`shop::v.total: ...`) already.
  const message = error.details.object === view ? error.message : `view ${view}: ${error.message}`;
  const named = new DbError(error.code, message, {
    ...error.details,
    view,
  });
  if (error.stack !== undefined) named.stack = error.stack;
  return named;
}

/** Refuses a view whose pipeline reads the clock (see {@link clockCallOf}). */
function refuseClock(name: string, pipeline: Pipeline): void {
  const clock = clockCallOf(pipeline);
  if (clock === undefined) return;
  const { line, col } = clock.pos;
  const call = `${clock.namespace}::${clock.name}()`;
  throw new DbError(
    "INVALID_ARGUMENT",
    `line ${line}, column ${col}: view ${name} cannot use ${call}: a view changes only ` +
      "when its inputs do, not as time passes; filter by time in queries",
    { object: name, line, col, fragment: call },
  );
}

/** The definition of a new view; one that reads the clock is refused. */
export function viewDefinition(name: string, options: ViewOptions): ViewDefinition {
  if (typeof options.query === "string") refuseClock(name, parseViewQuery(name, options.query));
  const columns = options.columns;
  const list =
    columns === undefined
      ? undefined
      : Array.isArray(columns)
        ? (columns as ReadonlyArray<{ name: string; type: string }>).map((c) => ({
            name: c.name,
            type: c.type,
          }))
        : Object.entries(columns).map(([n, type]) => ({ name: n, type: type as string }));
  return {
    kind: "view",
    name,
    mode: options.mode ?? "transactional",
    query: options.query,
    ...(list === undefined || list.length === 0 ? {} : { columns: list }),
  };
}

/** Pushes every row of every input (and inline rows) through a fresh graph. */
export function populateGraph(catalog: Catalog, graph: ViewGraph): void {
  // Later inputs first: a join's right side is in place before its left rows arrive.
  for (const name of [...graph.entries.keys()].reverse()) {
    const sinks = graph.entries.get(name)!;
    forEachRow(catalog.require(name), (key, row) => {
      const delta: Delta = { key, before: undefined, after: row };
      for (const sink of sinks) sink.push(delta);
    });
  }
  for (const { sink, rows } of graph.inline) {
    rows.forEach((row, index) => sink.push({ key: index, before: undefined, after: row }));
  }
  for (const operator of graph.operators) operator.populated();
}

/** The columns of a view not yet activated: none known. */
const noColumns: Columns = new Map();

export type { QueryParams };
