/**
 * @module Queues: enqueue (with an optional dedup key and not-before time), claim N messages
 * for a visibility timeout, ack, nack with an attempt limit, and a dead-letter list. Every
 * decision uses the transaction's time, so claims expire deterministically and replay needs
 * no clock. A message is one record keyed by its id; each step is an insert, update or delete.
 */
import { assert } from "../lib/assert.ts";
import { DbError, describeValue } from "../lib/errors.ts";
import {
  queueAttemptsMax,
  queueClaimCountMax,
  queueDedupKeyLengthMax,
  queueDelayMsMax,
} from "../lib/limits.ts";
import { createOrderedMap } from "../lib/ordered-map.ts";
import type { OrderedMap } from "../lib/ordered-map.ts";
import { rowConstructor } from "../lib/row-object.ts";
import { ChangeRecord } from "../engine/index.ts";
import type {
  Change,
  ColumnDescription,
  Engine,
  ObjectDefinition,
  SnapshotSource,
  StoredObject,
  Transaction,
} from "../engine/index.ts";
import { mapChunks } from "./snapshot-source.ts";
import {
  Duration,
  coerceValue,
  copyStorable,
  mapKeyOf,
  typeName,
  uuid4,
  uuid7,
  valueType,
} from "../values/index.ts";
import type { MapKey, ValueType } from "../values/index.ts";
import { Handle } from "./handle.ts";
import { Schema, normalizeColumns } from "./schema.ts";
import type { ColumnDefinition, ColumnsInput, Row } from "./schema.ts";

export interface QueueDefinition extends ObjectDefinition {
  readonly kind: "queue";
  /** Message columns; a column named `id` is the message id. Absent: bodies are JSON. */
  readonly columns?: readonly ColumnDefinition[];
  readonly visibilityMs: number;
  /** Claims allowed per message before it is dead-lettered. */
  readonly attempts: number;
}

export interface QueueOptions {
  columns?: ColumnsInput;
  /** Default claim visibility: ms, or a duration such as "30s" (default 30 s). */
  visibility?: number | string;
  /** Claims allowed before dead-lettering (default 5). */
  attempts?: number;
}

export type MessageState = "ready" | "claimed" | "dead";

/** One message as stored and as returned by claims. */
export interface QueueMessage {
  readonly id: unknown;
  readonly body: unknown;
  readonly state: MessageState;
  /** Claims made so far (back to 0 when a dead message is requeued). */
  readonly attempts: number;
  /**
   * The number of the message's latest claim (0 before its first): unique in the queue, never
   * reused, so a worker passes it to ack or nack and a claim that expired and was replaced
   * (or whose message was deleted and its id enqueued again) is refused. Absent on messages
   * logged before it existed (read as `attempts`).
   */
  readonly claim: number;
  /** When the message can next be claimed (ready) or when its claim expires (claimed). */
  readonly availableAt: number;
  readonly enqueuedAt: number;
  readonly dedupKey: string | null;
  /** Enqueue order, the tiebreak between messages available at the same time. */
  readonly order: number;
}

/**
 * Makes stored messages (frozen), by constructor rather than object literal: the change feed
 * keeps the last commits' messages, and V8 may decide to pretenure a literal's objects
 * (lib/young-array.ts). They stay plain objects (lib/row-object.ts).
 */
const MessageObject = rowConstructor();

function newMessage(
  id: unknown,
  body: unknown,
  state: MessageState,
  attempts: number,
  claim: number,
  availableAt: number,
  enqueuedAt: number,
  dedupKey: string | null,
  order: number,
): QueueMessage {
  const message = new MessageObject();
  message.id = id;
  message.body = body;
  message.state = state;
  message.attempts = attempts;
  message.claim = claim;
  message.availableAt = availableAt;
  message.enqueuedAt = enqueuedAt;
  message.dedupKey = dedupKey;
  message.order = order;
  return Object.freeze(message) as unknown as QueueMessage;
}

/** `message` with a new state, attempt count and availability (and claim, when claimed). */
function messageWith(
  message: QueueMessage,
  state: MessageState,
  attempts: number,
  availableAt: number,
  claim = claimOf(message),
): QueueMessage {
  const { id, body, enqueuedAt, dedupKey, order } = message;
  return newMessage(id, body, state, attempts, claim, availableAt, enqueuedAt, dedupKey, order);
}

/** The number of a message's latest claim; a message logged without one counts attempts. */
function claimOf(message: QueueMessage): number {
  return Number.isSafeInteger(message.claim) ? message.claim : message.attempts;
}

/** A column of the rows queries, views and subscriptions see of a queue (`Queue.rowOf`). */
export interface QueueRowColumn {
  readonly name: string;
  /** The body column's type; undefined for the message fields and a schema-free body. */
  readonly type: ValueType | undefined;
  /** The stored message's field the column's value comes from. */
  readonly field: keyof QueueMessage;
}

/** The message fields every queue row carries after its body, under their row names. */
const messageFieldColumns: readonly QueueRowColumn[] = [
  { name: "state", type: undefined, field: "state" },
  { name: "attempts", type: undefined, field: "attempts" },
  { name: "available_at", type: undefined, field: "availableAt" },
  { name: "enqueued_at", type: undefined, field: "enqueuedAt" },
];

/** The types of the message fields rows carry (a schema-free queue's ids count from 1). */
const messageFieldTypes: Partial<Record<keyof QueueMessage, string>> = {
  id: "int8",
  state: "utf8",
  attempts: "int4",
  availableAt: "int8",
  enqueuedAt: "int8",
};

export interface EnqueueOptions {
  dedupKey?: string;
  /** Not claimable before this time (Unix ms or Date). */
  notBefore?: number | Date;
  /** Not claimable for this long (ms). */
  delayMs?: number;
}

export interface EnqueueResult {
  readonly id: unknown;
  /** False when the dedup key matched a message already in the queue. */
  readonly enqueued: boolean;
}

export interface ClaimOptions {
  visibilityMs?: number;
}

/** How a worker names the claim it settles. */
export interface AckOptions {
  /** The `claim` of the message as the worker claimed it; a later claim's is refused. */
  claim?: number;
}

export interface NackOptions extends AckOptions {
  /** Not claimable again for this long (ms; default 0). */
  delayMs?: number;
}

export const visibilityDefaultMs = 30_000;
export const attemptsDefault = 5;

export function queueDefinition(name: string, options: QueueOptions = {}): QueueDefinition {
  const visibility = options.visibility ?? visibilityDefaultMs;
  const visibilityMs =
    typeof visibility === "string" ? parseVisibility(name, visibility) : visibility;
  return {
    kind: "queue",
    name,
    ...(options.columns === undefined ? {} : { columns: normalizeColumns(options.columns, name) }),
    visibilityMs,
    attempts: options.attempts ?? attemptsDefault,
  };
}

/** A visibility duration; a bad spelling is refused naming the queue, like other options. */
function parseVisibility(name: string, visibility: string): number {
  try {
    return Duration.parse(visibility).ms;
  } catch (error) {
    if (!(error instanceof DbError)) throw error;
    throw new DbError("INVALID_SCHEMA", `${name}: visibility: ${error.message}`, {
      object: name,
      value: visibility,
    });
  }
}

type OrderKey = readonly [number, number];

/** A schema-free queue's ids: its enqueue order numbers. */
const schemaFreeIdType = valueType("int8");

/** The last time a Date can hold (Unix ms): a later notBefore would be no time. */
const notBeforeMsMax = 8.64e15;

export class Queue implements StoredObject {
  readonly kind = "queue" as const;
  readonly name: string;
  readonly definition: QueueDefinition;
  private readonly schema: Schema | undefined;
  private readonly messages = new Map<MapKey, QueueMessage>();
  /** Ready and claimed messages by (availableAt, order): the claim scan order. */
  private readonly due: OrderedMap<OrderKey, MapKey> = createOrderedMap(
    (a: OrderKey, b: OrderKey) => a[0] - b[0] || a[1] - b[1],
  );
  private readonly dedup = new Map<string, MapKey>();
  private orderNext = 1;
  /** The number the next claim gets. */
  private claimNext = 1;

  /** `created`: a new definition, not one replayed (see ObjectFactory), gets every check. */
  constructor(definition: QueueDefinition, created = true) {
    this.name = definition.name;
    this.definition = definition;
    this.schema =
      definition.columns === undefined
        ? undefined
        : new Schema(definition.name, definition.columns);
    this.checkDefinition(definition);
    if (created) this.refuseOptionalId();
    // Refused since a later version than the log format, so a replayed definition is spared.
    if (created && definition.visibilityMs > queueDelayMsMax) {
      throw this.invalid(
        `visibility must be at most ${queueDelayMsMax} ms (100 years)`,
        "INVALID_SCHEMA",
      );
    }
  }

  get size(): number {
    return this.messages.size;
  }

  get(id: unknown): QueueMessage | undefined {
    return this.messages.get(this.mapKeyOfId(id));
  }

  /**
   * A message as `from q`, views and subscriptions show it: the body's columns (or `id` and
   * `body` when the queue has no columns), then its state, attempts and times. One shape
   * everywhere, so a query's rows and a subscription's deltas apply to each other.
   */
  rowOf(message: QueueMessage): Row {
    const row: Record<string, unknown> = this.flatRows
      ? { ...(message.body as Row) }
      : { id: message.id, body: message.body };
    row.state = message.state;
    row.attempts = message.attempts;
    row.available_at = message.availableAt;
    row.enqueued_at = message.enqueuedAt;
    return row;
  }

  /** The columns of {@link rowOf}'s rows, each with the message field it comes from. */
  rowColumns(): readonly QueueRowColumn[] {
    if (!this.flatRows) {
      const id: QueueRowColumn = { name: "id", type: undefined, field: "id" };
      return [id, ...messageFieldColumns, { name: "body", type: undefined, field: "body" }];
    }
    const body = this.schema!.columns.map((column): QueueRowColumn => ({
      name: column.name,
      type: column.type,
      field: "body",
    }));
    return [...body, ...messageFieldColumns];
  }

  /** The columns of {@link rowOf}'s rows with their types, as `system::columns` lists them. */
  describeColumns(): readonly ColumnDescription[] {
    return this.rowColumns().map(({ name, type, field }) => ({
      name,
      type: type !== undefined ? typeName(type) : (messageFieldTypes[field] ?? "any"),
    }));
  }

  /** Whether rows carry the body's columns (the queue has columns) or `id` and `body`. */
  private get flatRows(): boolean {
    return (this.definition.columns ?? []).length > 0;
  }

  /** Messages in a state, in claim order (dead ones in enqueue order). */
  list(state: MessageState): QueueMessage[] {
    const out: QueueMessage[] = [];
    for (const message of this.messages.values()) if (message.state === state) out.push(message);
    // A dead message is never claimed, so its availableAt (a stale claim or nack time) is no order.
    if (state === "dead") return out.sort((a, b) => a.order - b.order);
    return out.sort((a, b) => a.availableAt - b.availableAt || a.order - b.order);
  }

  enqueue(tx: Transaction, body: unknown, options: EnqueueOptions = {}): EnqueueResult {
    tx.assertWritable(this.name);
    const dedupKey = options.dedupKey ?? null;
    if (dedupKey !== null) {
      if (typeof dedupKey !== "string") throw this.invalid(`dedupKey must be text`);
      if (dedupKey.length > queueDedupKeyLengthMax) {
        throw new DbError(
          "LIMIT_EXCEEDED",
          `${this.name}: dedupKey is longer than ${queueDedupKeyLengthMax} characters`,
          { object: this.name, value: describeValue(dedupKey) },
        );
      }
      const existing = this.dedup.get(dedupKey);
      if (existing !== undefined) return { id: this.messages.get(existing)!.id, enqueued: false };
    }
    // Every check before the id is taken: a failed enqueue must consume nothing.
    const availableAt = this.availableAt(tx.now, options);
    const stored = this.normalizeBody(body, tx.now);
    const id = this.schema === undefined ? this.orderNext : (stored as Row).id;
    if (this.messages.has(mapKeyOf(id))) {
      throw new DbError(
        "CONSTRAINT_VIOLATION",
        `${this.name}: message ${describeValue(id)} exists`,
        {
          object: this.name,
          value: describeValue(id),
        },
      );
    }
    const order = this.orderNext++;
    tx.onRollback(() => (this.orderNext = order));
    const message = newMessage(id, stored, "ready", 0, 0, availableAt, tx.now, dedupKey, order);
    this.write(tx, undefined, message);
    return { id, enqueued: true };
  }

  /** Claims up to `count` due messages; expired claims out of attempts go to the dead list. */
  claim(tx: Transaction, count: number, options: ClaimOptions = {}): QueueMessage[] {
    tx.assertWritable(this.name);
    if (!Number.isSafeInteger(count) || count < 1 || count > queueClaimCountMax) {
      throw this.invalid(
        `claim count must be an integer in [1, ${queueClaimCountMax}], got ${count}`,
      );
    }
    const visibilityMs = options.visibilityMs ?? this.definition.visibilityMs;
    if (!Number.isSafeInteger(visibilityMs) || visibilityMs < 1)
      throw this.invalid("visibilityMs must be a positive integer");
    this.checkDelay("visibilityMs", visibilityMs);
    const due: QueueMessage[] = [];
    let claimable = 0;
    this.due.forEach((mapKey, key) => {
      if (key[0] > tx.now) return false;
      const message = this.messages.get(mapKey)!;
      due.push(message);
      if (!this.exhausted(message)) claimable++;
      return claimable < count;
    });
    // One write: if a message's change fails (a view of the queue throws) and the caller
    // catches the error, the messages before it must not stay claimed, undelivered.
    const savepoint = tx.savepoint();
    const claimFirst = this.claimNext;
    // Numbers a rolled-back claim took are handed out again: the log never saw them.
    tx.onRollback(() => (this.claimNext = claimFirst));
    try {
      const claimed = this.claimDue(tx, due, visibilityMs);
      tx.release(savepoint);
      return claimed;
    } catch (error) {
      tx.rollbackTo(savepoint);
      throw error;
    }
  }

  private claimDue(tx: Transaction, due: QueueMessage[], visibilityMs: number): QueueMessage[] {
    const claimed: QueueMessage[] = [];
    for (const message of due) {
      if (this.exhausted(message)) {
        this.write(
          tx,
          message,
          messageWith(message, "dead", message.attempts, message.availableAt),
        );
        continue;
      }
      const attempts = message.attempts + 1;
      const claim = this.claimNext++;
      const next = messageWith(message, "claimed", attempts, tx.now + visibilityMs, claim);
      this.write(tx, message, next);
      claimed.push(next);
    }
    return claimed;
  }

  /**
   * Acknowledges a claimed message: it is done and removed. With `claim`, only that claim of
   * it: a worker whose claim expired and was replaced gets NOT_CLAIMED.
   */
  ack(tx: Transaction, id: unknown, options: AckOptions = {}): void {
    tx.assertWritable(this.name);
    const message = this.requireClaimed(tx, id, this.claimOption(options));
    this.write(tx, message, undefined);
  }

  /**
   * Gives a claimed message back: retried after a delay (ms, or `delayMs` of the options), or
   * dead when out of attempts. With `claim`, only that claim of it, as for {@link ack}.
   */
  nack(tx: Transaction, id: unknown, options: number | NackOptions = 0): void {
    tx.assertWritable(this.name);
    const { delayMs = 0, ...settle } = typeof options === "number" ? { delayMs: options } : options;
    if (!Number.isSafeInteger(delayMs) || delayMs < 0)
      throw this.invalid("delayMs must be a whole number >= 0");
    this.checkDelay("delayMs", delayMs);
    const message = this.requireClaimed(tx, id, this.claimOption(settle));
    const state: MessageState = message.attempts >= this.definition.attempts ? "dead" : "ready";
    this.write(tx, message, messageWith(message, state, message.attempts, tx.now + delayMs));
  }

  /** Moves a dead message back to ready with its attempts reset. */
  requeue(tx: Transaction, id: unknown): void {
    tx.assertWritable(this.name);
    const message = this.messages.get(this.mapKeyOfId(id));
    if (message?.state !== "dead") throw this.notFound(id, "dead ");
    this.write(tx, message, messageWith(message, "ready", 0, tx.now));
  }

  /** Removes a message in any state; returns whether it existed. */
  del(tx: Transaction, id: unknown): boolean {
    tx.assertWritable(this.name);
    const message = this.messages.get(this.mapKeyOfId(id));
    if (message === undefined) return false;
    this.write(tx, message, undefined);
    return true;
  }

  snapshot(): SnapshotSource {
    const readChunk = mapChunks(this.messages, (mapKey, message) => [mapKey, message.id, message]);
    return {
      meta: { orderNext: this.orderNext, claimNext: this.claimNext },
      readChunk,
      mapKeyOfChange: (change) => mapKeyOf(change.key),
    };
  }

  restore(meta: unknown, entries: ReadonlyArray<readonly [unknown, unknown]>): void {
    assert(this.messages.size === 0, "restore into a queue that has messages");
    const { orderNext, claimNext } = meta as { orderNext: number; claimNext?: number };
    this.orderNext = orderNext;
    for (const [, message] of entries) {
      this.writeMessage(undefined, message as QueueMessage);
      this.noteClaim(message as QueueMessage);
    }
    // A snapshot written before claim numbers existed has none: past every restored one.
    if (claimNext !== undefined) this.claimNext = Math.max(this.claimNext, claimNext);
  }

  applyChange(change: Change): void {
    const current = this.messages.get(mapKeyOf(change.key));
    assert(
      (current === undefined) === (change.before === undefined),
      "replay: message existence differs",
    );
    const after = change.after as QueueMessage | undefined;
    if (after !== undefined && after.order >= this.orderNext) this.orderNext = after.order + 1;
    if (after !== undefined) this.noteClaim(after);
    this.writeMessage(current, after === undefined ? undefined : Object.freeze(after));
  }

  revertChange(change: Change): void {
    const current = this.messages.get(mapKeyOf(change.key));
    assert(current === change.after, "revert: message differs from the change");
    this.writeMessage(current, change.before as QueueMessage | undefined);
  }

  /** Keeps the next claim number past a replayed or restored message's. */
  private noteClaim(message: QueueMessage): void {
    const claim = claimOf(message);
    if (claim >= this.claimNext) this.claimNext = claim + 1;
  }

  // ---- The single write path ----

  private write(
    tx: Transaction,
    before: QueueMessage | undefined,
    after: QueueMessage | undefined,
  ): void {
    const frozen = after === undefined ? undefined : Object.freeze(after);
    const kind = before === undefined ? "insert" : frozen === undefined ? "delete" : "update";
    const id = (before ?? frozen)!.id;
    this.writeMessage(before, frozen);
    tx.record(this, new ChangeRecord(this.name, kind, id, before, frozen));
  }

  private writeMessage(before: QueueMessage | undefined, after: QueueMessage | undefined): void {
    if (before !== undefined) {
      if (before.state !== "dead")
        assert(this.due.del([before.availableAt, before.order]), "due index lost a message");
      if (before.dedupKey !== null) this.dedup.delete(before.dedupKey);
      this.messages.delete(mapKeyOf(before.id));
    }
    if (after !== undefined) {
      const mapKey = mapKeyOf(after.id);
      this.messages.set(mapKey, after);
      if (after.state !== "dead") this.due.set([after.availableAt, after.order], mapKey);
      if (after.dedupKey !== null) this.dedup.set(after.dedupKey, mapKey);
    }
  }

  // ---- Validation ----

  /**
   * The map key of an id as a caller gives it, read in the id column's type (int8 for a
   * schema-free queue), as a table's get reads a key: a uuid in capitals, a wide int as text.
   */
  private mapKeyOfId(id: unknown): MapKey {
    if (this.schema === undefined && Number.isSafeInteger(id)) return id as number;
    const type = this.schema?.column("id")?.type ?? schemaFreeIdType;
    return mapKeyOf(coerceValue(type, id, { object: this.name, column: "id" }));
  }

  private exhausted(message: QueueMessage): boolean {
    return message.state === "claimed" && message.attempts >= this.definition.attempts;
  }

  /** The live claim of message `id`; of claim number `claim` only, when one is given. */
  private requireClaimed(tx: Transaction, id: unknown, claim?: number): QueueMessage {
    const message = this.messages.get(this.mapKeyOfId(id));
    if (message === undefined) throw this.notFound(id, "");
    const current = claimOf(message);
    if (claim !== undefined && claim !== current) {
      assert(claim >= 0, "claim numbers are checked before they are compared");
      // Said first: the worker's claim is over whatever became of the message since.
      const said = describeValue(id);
      const why =
        claim < current
          ? `claim ${claim} of message ${said} is over: the message was claimed again`
          : `message ${said} has no claim ${claim}`;
      throw new DbError("NOT_CLAIMED", `${this.name}: ${why} (claim ${current})`, {
        object: this.name,
        value: said,
        claim,
        current,
      });
    }
    if (message.state !== "claimed" || message.availableAt <= tx.now) {
      throw new DbError(
        "NOT_CLAIMED",
        `${this.name}: message ${describeValue(id)} is not claimed` +
          (message.state === "claimed" ? " (its claim expired)" : ` (it is ${message.state})`),
        { object: this.name, value: describeValue(id) },
      );
    }
    return message;
  }

  /** The claim number an ack or nack names, if any; a malformed one is refused. */
  private claimOption(options: AckOptions): number | undefined {
    const claim: unknown = options.claim;
    if (claim === undefined) return undefined;
    if (typeof claim !== "number" || !Number.isSafeInteger(claim) || claim < 0) {
      throw this.invalid(`claim must be a whole number >= 0, got ${describeValue(claim)}`);
    }
    return claim;
  }

  private normalizeBody(body: unknown, now: number): unknown {
    const schema = this.schema;
    if (schema === undefined) {
      return schemaFreeBody(body, this.name);
    }
    const id = schema.column("id");
    // A missing uuid id is generated; other id types must be given.
    return schema.normalizeRow(body, (column) => {
      if (column !== id) return undefined;
      if (id.type.kind === "uuid7") return uuid7(now);
      if (id.type.kind === "uuid4") return uuid4();
      return undefined;
    });
  }

  private availableAt(now: number, options: EnqueueOptions): number {
    let at = now;
    if (options.notBefore !== undefined) {
      const t = options.notBefore instanceof Date ? options.notBefore.getTime() : options.notBefore;
      // Whole ms, as every other time: a fractional availableAt is no time a row can hold.
      if (!Number.isSafeInteger(t) || Math.abs(t) > notBeforeMsMax) {
        throw new DbError(
          "INVALID_ARGUMENT",
          `${this.name}: notBefore must be a time: a Date or whole Unix ms within ` +
            `±${notBeforeMsMax}, got ${describeValue(options.notBefore)}`,
          { object: this.name, value: describeValue(options.notBefore) },
        );
      }
      at = Math.max(at, t);
    }
    if (options.delayMs !== undefined) {
      if (!Number.isSafeInteger(options.delayMs) || options.delayMs < 0)
        throw this.invalid("delayMs must be a whole number >= 0");
      this.checkDelay("delayMs", options.delayMs);
      at = Math.max(at, now + options.delayMs);
    }
    return at;
  }

  /** A claim's visibility or a delay, checked whole and >= 0 already, kept safe past now. */
  private checkDelay(option: string, ms: number): void {
    if (ms > queueDelayMsMax) {
      throw this.invalid(`${option} must be at most ${queueDelayMsMax} ms (100 years), got ${ms}`);
    }
  }

  private checkDefinition(definition: QueueDefinition): void {
    if (!Number.isSafeInteger(definition.visibilityMs) || definition.visibilityMs < 1) {
      throw this.invalid("visibility must be a positive whole number of ms", "INVALID_SCHEMA");
    }
    if (
      !Number.isSafeInteger(definition.attempts) ||
      definition.attempts < 1 ||
      definition.attempts > queueAttemptsMax
    ) {
      throw this.invalid(
        `attempts must be an integer in [1, ${queueAttemptsMax}]`,
        "INVALID_SCHEMA",
      );
    }
    const id = this.schema?.column("id");
    if (this.schema !== undefined && id === undefined) {
      throw this.invalid(
        "a queue with columns needs an id column (e.g. id: uuid7)",
        "INVALID_SCHEMA",
      );
    }
  }

  /**
   * As a table's primary key: one none id would block every other, and ack(none) is a trap.
   * Refused since a later version than the log format, so a replayed definition is spared.
   */
  private refuseOptionalId(): void {
    const id = this.schema?.column("id");
    if (id?.type.optional === true) {
      throw new DbError(
        "INVALID_SCHEMA",
        `${this.name}: the id column is ${typeName(id.type)}, which may be none; ` +
          `a message id must not be optional`,
        { object: this.name, column: id.name },
      );
    }
  }

  private invalid(
    message: string,
    code: "INVALID_ARGUMENT" | "INVALID_SCHEMA" = "INVALID_ARGUMENT",
  ): DbError {
    return new DbError(code, `${this.name}: ${message}`, { object: this.name });
  }

  private notFound(id: unknown, what: string): DbError {
    return new DbError("NOT_FOUND", `${this.name}: no ${what}message ${describeValue(id)}`, {
      object: this.name,
      value: describeValue(id),
    });
  }
}

/** A copy of the body made only of what the log carries (a Map would come back as {}). */
function schemaFreeBody(body: unknown, object: string): unknown {
  return copyStorable(body, { object });
}

/** A handle on a queue: `db.queue("shop::jobs").enqueue({...})`. */
export class QueueHandle<B = unknown> extends Handle<Queue> {
  constructor(engine: Engine, name: string) {
    super(engine, name, "queue");
  }

  get size(): number {
    return this.object().size;
  }

  get(id: unknown): QueueMessage | undefined {
    return this.object().get(id);
  }

  list(state: MessageState): QueueMessage[] {
    return this.object().list(state);
  }

  enqueue(body: B, options?: EnqueueOptions): EnqueueResult {
    return this.write((tx, queue) => queue.enqueue(tx, body, options));
  }

  claim(count = 1, options?: ClaimOptions): QueueMessage[] {
    return this.write((tx, queue) => queue.claim(tx, count, options));
  }

  /** Acknowledges a claimed message; pass the claim's `claim` to settle only that claim. */
  ack(id: unknown, options?: AckOptions): void {
    this.write((tx, queue) => queue.ack(tx, id, options));
  }

  /** Gives a claimed message back after a delay (ms, or options with `delayMs` and `claim`). */
  nack(id: unknown, options?: number | NackOptions): void {
    this.write((tx, queue) => queue.nack(tx, id, options));
  }

  requeue(id: unknown): void {
    this.write((tx, queue) => queue.requeue(tx, id));
  }

  del(id: unknown): boolean {
    return this.write((tx, queue) => queue.del(tx, id));
  }
}
