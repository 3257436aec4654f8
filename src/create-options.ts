/**
 * @module The option keys each embedded create* call reads. A key it does not read is refused:
 * a typo (`primarykey`, `partition`, `mod`) would otherwise create an object that silently
 * lacks what was asked, a table without a primary key or a transactional view. The tables are
 * typed by the options' interfaces, so the compiler keeps them in step.
 */
import { DbError, describeValue } from "./lib/errors.ts";
import type {
  CounterOptions,
  CreateOptions,
  HistogramOptions,
  QueueOptions,
  RingBufferOptions,
  SeriesOptions,
  TableOptions,
  ViewOptions,
} from "./types.ts";

const createOptionKeys: Record<keyof CreateOptions, true> = { ifNotExists: true };

/** The options each object kind's create call reads, by the name its errors give the kind. */
export const objectOptionKeys = {
  table: { columns: true, primaryKey: true, indexes: true } satisfies Record<
    keyof TableOptions,
    true
  >,
  "ring buffer": { columns: true, capacity: true, partitionBy: true } satisfies Record<
    keyof RingBufferOptions,
    true
  >,
  series: { columns: true, key: true } satisfies Record<keyof SeriesOptions, true>,
  counter: { by: true } satisfies Record<keyof CounterOptions, true>,
  histogram: { min: true, max: true, digits: true } satisfies Record<keyof HistogramOptions, true>,
  queue: { columns: true, visibility: true, attempts: true } satisfies Record<
    keyof QueueOptions,
    true
  >,
  view: { query: true, mode: true, columns: true } satisfies Record<keyof ViewOptions, true>,
} as const;

export type CreatedKind = keyof typeof objectOptionKeys;

/** Refuses options of `name`'s create call that are no object or hold a key it does not read. */
export function checkCreateOptions(
  kind: CreatedKind,
  name: string,
  options: unknown,
  create: unknown,
): void {
  checkKeys(name, `${kind} options`, options, objectOptionKeys[kind]);
  checkCreateFlags(name, create);
}

/** The same for the `{ ifNotExists }` argument every create call takes. */
export function checkCreateFlags(name: string, create: unknown): void {
  checkKeys(name, "create options", create, createOptionKeys);
}

function checkKeys(name: string, what: string, options: unknown, known: object): void {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `${name}: ${what} must be an object, got ${describeValue(options)}`,
      { object: name, value: describeValue(options) },
    );
  }
  const unknown = Object.keys(options).find((key) => !Object.hasOwn(known, key));
  if (unknown === undefined) return;
  const option = what.replace(/s$/, "");
  throw new DbError(
    "INVALID_ARGUMENT",
    `${name}: unknown ${option} ${unknown}; the options are ${Object.keys(known).join(", ")}`,
    { object: name, field: unknown },
  );
}
