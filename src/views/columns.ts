/**
 * @module The columns a stream carries at each point of a view's pipeline: names in output
 * order with static types when known. Expressions compile against them, so an unknown column
 * is an error when the view is created, not when a row first reaches it.
 */
import type { ValueType } from "../values/index.ts";

/** Column name to static type (undefined when unknown), in output order. */
export type Columns = ReadonlyMap<string, ValueType | undefined>;

/** The columns of a stored object that has a schema (tables, ring buffers, series, views). */
export function columnsOfObject(object: unknown): Columns | undefined {
  const holder = object as {
    schema?: { columns?: ReadonlyArray<{ name: string; type: ValueType }> };
    columns?: Columns;
  };
  if (holder.columns instanceof Map) return holder.columns;
  const list = holder.schema?.columns;
  if (list === undefined) return undefined;
  return new Map(list.map((column) => [column.name, column.type]));
}
