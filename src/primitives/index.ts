/** @module Public surface of the state primitives: one room per primitive, plus their handles. */
export { Table, TableHandle, tableDefinition } from "./table.ts";
export type { ScanOptions, TableDefinition, TableOptions } from "./table.ts";
export { RingBuffer, RingBufferHandle, ringBufferDefinition } from "./ring-buffer.ts";
export type { RingBufferDefinition, RingBufferOptions } from "./ring-buffer.ts";
export { Series, SeriesHandle, seriesDefinition } from "./series.ts";
export type { SeriesDefinition, SeriesOptions, SeriesRange } from "./series.ts";
export { Counter, CounterHandle, counterDefinition } from "./counter.ts";
export type { CounterDefinition, CounterOptions } from "./counter.ts";
export { Histogram, HistogramHandle, histogramDefinition } from "./histogram.ts";
export type {
  HistogramDefinition,
  HistogramImage,
  HistogramOptions,
  HistogramReport,
} from "./histogram.ts";
export { Queue, QueueHandle, queueDefinition } from "./queue.ts";
export type {
  AckOptions,
  ClaimOptions,
  EnqueueOptions,
  EnqueueResult,
  MessageState,
  NackOptions,
  QueueDefinition,
  QueueMessage,
  QueueRowColumn,
  QueueOptions,
} from "./queue.ts";
export { Schema } from "./schema.ts";
export type { Column, ColumnDefinition, ColumnsInput, Row } from "./schema.ts";
export type { IndexDefinition } from "./secondary-index.ts";
export { registerPrimitiveFactories } from "./factories.ts";
