/**
 * @module A query maintained for one subscriber: the pipeline compiled like a view, but
 * detached from the catalog and the log. It is fed each commit after the fact (commits are
 * final, so nothing needs undoing) and reports its output changes as row deltas.
 */
import { DbError, describeValue } from "../lib/errors.ts";
import type { Commit, Engine } from "../engine/index.ts";
import type { QueryParams, RowDelta } from "../types.ts";
import { compileView } from "./compile-view.ts";
import type { Delta, Sink } from "./delta.ts";
import { OutputSink } from "./output.ts";
import { parseViewQuery, populateGraph } from "./view-manager.ts";
import { ViewObject } from "./view-object.ts";

export class QueryFeed {
  private readonly object: ViewObject;
  private readonly output: OutputSink;
  private readonly entries: Map<string, Sink[]>;
  /** The objects the query reads, by name. */
  readonly inputs: ReadonlySet<string>;
  private collected: RowDelta[] = [];

  constructor(engine: Engine, query: string, params: QueryParams | undefined) {
    if (typeof query !== "string") {
      throw new DbError("INVALID_ARGUMENT", "a query subscription needs RQL text");
    }
    if (params !== undefined && params !== null && typeof params !== "object") {
      const value = describeValue(params);
      throw new DbError(
        "INVALID_ARGUMENT",
        `a query subscription's params must be a record or a list, got ${value}`,
        { value },
      );
    }
    this.object = new ViewObject({
      kind: "view",
      name: "subscription::query",
      mode: "transactional",
      query,
    });
    const graph = compileView(parseViewQuery("query", query), engine.catalog, {
      params,
      rescan: true,
    });
    this.output = new OutputSink(this.object, graph.columns, undefined);
    graph.tail.next = this.output;
    this.entries = graph.entries;
    this.inputs = new Set(graph.entries.keys());
    populateGraph(engine.catalog, graph);
    this.output.replaceAll(undefined);
    this.object.onWrite = (key, before, after) => this.collected.push(rowDelta(key, before, after));
  }

  /** The query's current rows. */
  rows(): Array<Record<string, unknown>> {
    return [...this.object.scan()] as Array<Record<string, unknown>>;
  }

  /** Feeds one commit; returns the output changes it caused (empty when none). */
  apply(commit: Commit): RowDelta[] {
    for (const change of commit.changes) {
      const sinks = this.entries.get(change.object);
      if (sinks === undefined) continue;
      for (const sink of sinks) sink.push(change as Delta);
      this.output.flush(undefined);
    }
    const out = this.collected;
    this.collected = [];
    return out;
  }
}

/** A row change in the subscription message shape. */
export function rowDelta(key: unknown, before: unknown, after: unknown): RowDelta {
  const op = before === undefined ? "insert" : after === undefined ? "remove" : "update";
  const delta: RowDelta = { op, key };
  if (after !== undefined) delta.row = after as Record<string, unknown>;
  if (before !== undefined) delta.before = before as Record<string, unknown>;
  return delta;
}
