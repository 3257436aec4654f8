/**
 * @module Incremental views and in-process subscriptions. A view is an RQL pipeline compiled
 * to operators (filter, map/extend, aggregate, join, distinct, top-k, append) that are fed the
 * engine's changes and emit the view's own changes, never re-running the query:
 *
 * 1. `compileView` (compile-view.ts) turns the pipeline into a graph of operators.
 * 2. `ViewManager` (view-manager.ts) feeds it: transactional views from the engine's change
 *    observer inside the writing transaction, deferred views after commit.
 * 3. `ViewObject` (view-object.ts) holds the output as an engine object, so the log,
 *    snapshots and subscriptions treat a view like a table.
 * 4. `subscribe` (subscription.ts) streams a snapshot then per-commit deltas of any object.
 */
export { ViewManager, viewDefinition } from "./view-manager.ts";
export { ViewObject, registerViewFactory } from "./view-object.ts";
export { subscribe } from "./subscription.ts";
export type { SubscribeContext } from "./subscription.ts";
export type { ViewDefinition, ViewMode } from "./view-object.ts";
