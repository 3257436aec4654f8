/**
 * @module Applying an event to an instance (APPLY_EVENT), in rstmdb's order (rcp.md §2.6):
 * instance → idempotency → expected_state → expected_wal_offset → machine → transition →
 * guard → shallow merge → write. Every check runs before the first write, and the write (the
 * instance row, its history row, the transition's effects and the idempotency key) happens in
 * the caller's transaction, so an event is applied whole or not at all.
 */
import { fixedNow, nowReader } from "../lib/clock.ts";
import { DbError } from "../lib/errors.ts";
import { rowConstructor, setOwnKey } from "../lib/row-object.ts";
import type { Transaction } from "../engine/index.ts";
import type { Guard, Scope } from "../expr/index.ts";
import type { MachinesApi } from "../types.ts";
import type { CompiledMachine, CompiledTransition } from "./compiled.ts";
import { isPlainObject } from "./definition.ts";
import type { TimerSpec } from "./definition.ts";
import { appendHistory } from "./history.ts";
import { findIdempotentResult, idempotencySlot, rememberIdempotentResult } from "./idempotency.ts";
import {
  checkIdempotencyKey,
  checkInstanceId,
  checkOptionalOffset,
  checkOptionalText,
} from "./params.ts";
import type { InstanceRow, MachineStore } from "./store.ts";
import { machineNotFound } from "./versions.ts";
import type { Table } from "../primitives/index.ts";

export type ApplyParams = Parameters<MachinesApi["applyEvent"]>[0];
export type ApplyResult = ReturnType<MachinesApi["applyEvent"]>;

/** Applies one event in `tx`; throws the rstmdb error of the first check that fails. */
export function applyEvent(store: MachineStore, tx: Transaction, params: ApplyParams): ApplyResult {
  const id = checkInstanceId(params.instance_id);
  const event = checkOptionalText(params.event, "event");
  if (event === undefined) throw new DbError("INVALID_ARGUMENT", "missing event");
  const expectedState = checkOptionalText(params.expected_state, "expected_state");
  const expectedOffset = checkOptionalOffset(params.expected_wal_offset, "expected_wal_offset");
  const eventId = checkOptionalText(params.event_id, "event_id") ?? null;
  const key = checkIdempotencyKey(params.idempotency_key);
  const payload = params.payload === undefined ? null : params.payload;
  // The stored row, not a copy: it is read here and updated once (writeTransition).
  const found = store.instanceStored(id);
  if (found === undefined) throw instanceNotFound(id);
  // The request's fingerprint is built only when there is a key to remember it under.
  const slot =
    key === undefined
      ? undefined
      : idempotencySlot("apply_event", id, key, {
          event,
          payload,
          expected_state: expectedState ?? null,
          expected_wal_offset: expectedOffset ?? null,
          event_id: eventId,
        });
  if (slot !== undefined) {
    const earlier = findIdempotentResult(store, tx.now, slot);
    if (earlier !== undefined) return { ...(earlier as ApplyResult), applied: false };
  }
  const row = found.row;
  if (expectedState !== undefined && expectedState !== row.state) {
    throw new DbError(
      "STATE_CONFLICT",
      `state conflict: expected '${expectedState}', actual '${row.state}'`,
      { value: row.state },
    );
  }
  if (expectedOffset !== undefined && expectedOffset !== row.last_wal_offset) {
    throw new DbError(
      "STATE_CONFLICT",
      `WAL offset conflict: expected ${expectedOffset}, actual ${row.last_wal_offset}`,
      { value: row.last_wal_offset },
    );
  }
  const machine = store.compiled(found.machine, row.version);
  if (machine === undefined) throw machineNotFound(found.machine, row.version);
  const transition = chooseTransition(machine, row, event, payload, tx.now);
  const ctx = mergeContext(row.ctx, payload);
  const step = { table: found.table, row, machine, transition, event, payload, ctx, eventId };
  const result = writeTransition(store, tx, step);
  if (slot !== undefined) rememberIdempotentResult(store, tx, slot, id, result);
  return result;
}

/** The first candidate of (state, event) whose guard passes, in definition order. */
export function chooseTransition(
  machine: CompiledMachine,
  row: InstanceRow,
  event: string,
  payload: unknown,
  now: number,
): CompiledTransition {
  const candidates = machine.candidates(row.state, event);
  if (candidates === undefined) {
    throw new DbError(
      "INVALID_TRANSITION",
      `invalid transition: cannot apply '${event}' in state '${row.state}'`,
      { value: event },
    );
  }
  // The clock closure is made only when a guard needs it: this runs once per event.
  let clock: (() => number) | undefined;
  for (const candidate of candidates) {
    if (candidate.guard === undefined) return candidate;
    clock ??= fixedNow(now);
    if (passesGuard(candidate, candidate.guard, row, event, payload, clock)) return candidate;
  }
  const tried = candidates.map((c) => `'${row.state}' -> '${c.spec.to}'`);
  const message =
    candidates.length === 1
      ? `guard failed: guard failed for transition ${tried[0]} on event '${event}'`
      : `guard failed: no guard passed for event '${event}' in state '${row.state}' ` +
        `(tried ${tried.join(", ")})`;
  throw new DbError("GUARD_FAILED", message, { value: event });
}

/** Evaluates a candidate's guard; an error in it (a division by zero) says which guard. */
function passesGuard(
  candidate: CompiledTransition,
  guard: Guard,
  row: InstanceRow,
  event: string,
  payload: unknown,
  clock: () => number,
): boolean {
  try {
    return guard(row.ctx, payload, clock);
  } catch (error) {
    if (!(error instanceof DbError)) throw error;
    const where =
      `guard of transition '${row.state}' -> '${candidate.spec.to}' on event '${event}' ` +
      `(transitions[${candidate.index}].guard)`;
    throw new DbError(error.code, `${where}: ${error.message}`, error.details);
  }
}

/**
 * Makes merged contexts: a spread (`{...ctx, ...payload}`) is an object literal, which V8 may
 * pretenure, as the change feed keeps every commit's contexts (lib/young-array.ts).
 */
const ContextObject = rowConstructor();

/** rstmdb's merge: payload keys overwrite ctx keys when both are objects; else ctx stays. */
export function mergeContext(ctx: unknown, payload: unknown): unknown {
  if (!isPlainObject(ctx) || !isPlainObject(payload)) return ctx;
  const merged = new ContextObject();
  copyOwn(merged, ctx);
  copyOwn(merged, payload);
  return merged;
}

/** Copies own enumerable properties as a spread does: a `__proto__` key stays a key. */
function copyOwn(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const key in source) if (Object.hasOwn(source, key)) setOwnKey(target, key, source[key]);
}

/** The timer columns of an instance entering `state` at `now`. */
export function timerColumns(
  timer: TimerSpec | undefined,
  now: number,
): { timer_at: number | null; timer_event: string | null } {
  if (timer === undefined) return { timer_at: null, timer_event: null };
  return { timer_at: now + timer.ms, timer_event: timer.event };
}

interface Step {
  readonly table: Table;
  readonly row: InstanceRow;
  readonly machine: CompiledMachine;
  readonly transition: CompiledTransition;
  readonly event: string;
  readonly payload: unknown;
  readonly ctx: unknown;
  readonly eventId: string | null;
}

/** Writes a chosen transition: instance row, history row, then effects. */
function writeTransition(store: MachineStore, tx: Transaction, step: Step): ApplyResult {
  const { row, machine, transition, event, payload, eventId } = step;
  const seq = store.commitSeq();
  // Read before the update: `row` is the stored row, which the update changes in place.
  const from = row.state;
  const id = row.id;
  const to = transition.spec.to;
  // The timer columns are written out, not spread from timerColumns(): a spread in a literal
  // copies through a generic path, once per event.
  const timer = machine.timerOnEntry(to, transition);
  const after = step.table.update(tx, id, {
    state: to,
    ctx: step.ctx,
    updated_at: tx.now,
    last_wal_offset: seq,
    last_event_id: eventId,
    timer_at: timer === undefined ? null : tx.now + timer.ms,
    timer_event: timer === undefined ? null : timer.event,
  }) as unknown as InstanceRow;
  appendHistory(store, tx, machine.name, {
    instanceId: id,
    event,
    fromState: from,
    toState: to,
    payload,
    eventId,
  });
  if (transition.effects.length > 0) {
    const scope = {
      row: {
        ctx: after.ctx,
        payload,
        instance_id: id,
        machine: machine.name,
        version: machine.version,
        event,
        from_state: from,
        to_state: to,
      },
      now: nowReader(tx),
    };
    runEffects(store, tx, transition, event, scope);
  }
  const result: ApplyResult = {
    from_state: from,
    to_state: to,
    ctx: after.ctx,
    wal_offset: seq,
    applied: true,
  };
  if (eventId !== null) result.event_id = eventId;
  return result;
}

/** Runs a transition's effects in order; an error says which effect it came from. */
function runEffects(
  store: MachineStore,
  tx: Transaction,
  transition: CompiledTransition,
  event: string,
  scope: Scope,
): void {
  const catalog = store.engine.catalog;
  transition.effects.forEach((effect, i) => {
    try {
      effect(tx, catalog, scope);
    } catch (error) {
      if (!(error instanceof DbError)) throw error;
      const where = `effect transitions[${transition.index}].effects[${i}] on event '${event}'`;
      throw new DbError(error.code, `${where}: ${error.message}`, error.details);
    }
  });
}

export function instanceNotFound(id: string): DbError {
  return new DbError("INSTANCE_NOT_FOUND", `instance not found: ${id}`, { value: id });
}
