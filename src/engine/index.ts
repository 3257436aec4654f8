/** @module Public surface of the engine: transactions, the catalog, commits and the feed. */
export { Engine, apiOrigin } from "./engine.ts";
export type { EngineOptions } from "./engine.ts";
export { Transaction, ChangeRecord } from "./transaction.ts";
export {
  Catalog,
  catalogObjectName,
  checkIdentifier,
  defaultNamespace,
  qualifyName,
  systemNamespace,
} from "./catalog.ts";
export type { ObjectFactory } from "./catalog.ts";
export { CommitRing, readChanges } from "./change-feed.ts";
export type { ChangeFeedOptions, ChangeFeedSource } from "./change-feed.ts";
export type {
  Change,
  ChangeObserver,
  ColumnDescription,
  Commit,
  ObjectDefinition,
  ObjectKind,
  Origin,
  SnapshotSource,
  StoredObject,
  TransactOptions,
} from "./types.ts";
export { changedColumnsUnknown } from "./types.ts";
export { SystemTable, registerSystemTables } from "./system-tables.ts";
