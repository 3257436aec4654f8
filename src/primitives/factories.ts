/**
 * @module The one place that knows every primitive's constructor: registers a factory per
 * object kind with a catalog, so a database, a replica or a time-travel copy builds objects
 * from definitions the same way.
 */
import type { Catalog } from "../engine/index.ts";
import { Counter } from "./counter.ts";
import type { CounterDefinition } from "./counter.ts";
import { Histogram } from "./histogram.ts";
import type { HistogramDefinition } from "./histogram.ts";
import { Queue } from "./queue.ts";
import type { QueueDefinition } from "./queue.ts";
import { RingBuffer } from "./ring-buffer.ts";
import type { RingBufferDefinition } from "./ring-buffer.ts";
import { Series } from "./series.ts";
import type { SeriesDefinition } from "./series.ts";
import { Table } from "./table.ts";
import type { TableDefinition } from "./table.ts";

/** Registers the factory of every primitive kind. */
export function registerPrimitiveFactories(catalog: Catalog): void {
  catalog.registerFactory("table", (d, created) => new Table(d as TableDefinition, created));
  catalog.registerFactory("ring_buffer", (d) => new RingBuffer(d as RingBufferDefinition));
  catalog.registerFactory("series", (d) => new Series(d as SeriesDefinition));
  catalog.registerFactory("counter", (d, created) => new Counter(d as CounterDefinition, created));
  catalog.registerFactory("histogram", (d) => new Histogram(d as HistogramDefinition));
  catalog.registerFactory("queue", (d, created) => new Queue(d as QueueDefinition, created));
}
