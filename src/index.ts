/**
 * @module Statebase's public API: `open` an embedded database, plus the types a caller needs.
 * @example
 * import { open } from "statebase";
 * const db = await open();
 * db.createCounter("default::visits").add(2);
 * db.counter("default::visits").get(); // -> 2
 */
export { open } from "./database.ts";
export { DbError, errorCodes } from "./lib/errors.ts";
export type { ErrorCategory, ErrorCode, ErrorDetails } from "./lib/errors.ts";
export { createManualClock, systemClock } from "./lib/clock.ts";
export type { Clock, ManualClock } from "./lib/clock.ts";
export { Decimal, Duration } from "./values/index.ts";
export type { BaseKind, ValueType } from "./values/index.ts";
export type { Change, Commit, Origin } from "./engine/index.ts";
export type {
  AckOptions,
  ClaimOptions,
  ColumnDefinition,
  ColumnsInput,
  CounterHandle,
  EnqueueOptions,
  EnqueueResult,
  HistogramHandle,
  HistogramReport,
  IndexDefinition,
  MessageState,
  NackOptions,
  QueueHandle,
  QueueMessage,
  RingBufferHandle,
  Row,
  ScanOptions,
  SeriesHandle,
  SeriesRange,
  TableHandle,
} from "./primitives/index.ts";
export type * from "./types.ts";
export type { KeyVersion } from "./durability.ts";
