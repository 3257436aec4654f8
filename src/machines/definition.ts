/**
 * @module Machine definitions: rstmdb's JSON DSL (specs/rcp.md §4) checked and normalized, plus
 * Statebase's extensions (timers `after`, transition `effects`). Normalizing keeps rstmdb's
 * fields in rstmdb's order (`from` always a list, `guard` only when set, `meta` only when
 * present, unknown keys dropped), so the checksum of a plain rstmdb definition is rstmdb's:
 * CRC32C of the compact normalized JSON, as 8 lowercase hex digits.
 */
import { crc32c } from "../lib/crc32c.ts";
import { DbError, describeValue } from "../lib/errors.ts";
import {
  jsonDepthMax,
  machineEffectsPerTransitionMax,
  machineStatesMax,
  machineTimerDelayMsMax,
  machineTransitionsMax,
} from "../lib/limits.ts";
import { setOwnKey } from "../lib/row-object.ts";
import { compileGuard } from "../expr/index.ts";
import { compareUtf8, sortedCopy } from "./canonical-json.ts";
import { normalizeEffect } from "./effects.ts";
import type { EffectSpec } from "./effects.ts";

/** A durable timer: `event` is applied `ms` after the state is entered, unless it is left. */
export interface TimerSpec {
  readonly ms: number;
  readonly event: string;
}

export interface TransitionSpec {
  readonly from: readonly string[];
  readonly event: string;
  readonly to: string;
  readonly guard?: string;
  readonly after?: TimerSpec;
  readonly effects?: readonly EffectSpec[];
}

/** A normalized definition; its JSON text (key order as built here) is what the checksum hashes. */
export interface MachineDefinition {
  readonly states: readonly string[];
  readonly initial: string;
  readonly transitions: readonly TransitionSpec[];
  readonly meta?: unknown;
  /** State timers: armed whenever the state is entered by a transition without its own. */
  readonly after?: Readonly<Record<string, TimerSpec>>;
}

/** Throws INVALID_DEFINITION with rstmdb's message prefix and the path of the fault. */
export function invalidDefinition(path: string, message: string): DbError {
  const where = path === "" ? "" : `${path}: `;
  return new DbError("INVALID_DEFINITION", `invalid machine definition: ${where}${message}`, {
    path,
  });
}

/** Validates a definition as sent by a client and returns its normalized form. */
export function normalizeDefinition(input: unknown): MachineDefinition {
  if (!isPlainObject(input)) {
    throw invalidDefinition("", `a definition must be an object, got ${describeValue(input)}`);
  }
  const states = normalizeStates(input.states);
  const stateSet = new Set(states);
  const initial = requireString(input.initial, "initial");
  if (!stateSet.has(initial)) {
    throw invalidDefinition("", `initial state '${initial}' not in states list`);
  }
  const transitions = normalizeTransitions(input.transitions, stateSet);
  const meta = input.meta;
  checkDepth(meta, "meta");
  const after = input.after === undefined ? undefined : normalizeStateTimers(input.after, stateSet);
  const definition: MachineDefinition = {
    states,
    initial,
    transitions,
    ...(meta === undefined || meta === null ? {} : { meta: sortedCopy(meta, compareUtf8) }),
    ...(after === undefined ? {} : { after }),
  };
  checkTimerEvents(definition);
  return definition;
}

/** rstmdb's checksum: CRC32C of the compact normalized JSON, 8 lowercase hex digits. */
export function definitionChecksum(definition: MachineDefinition): string {
  const bytes = new TextEncoder().encode(JSON.stringify(definition));
  return (crc32c(bytes) >>> 0).toString(16).padStart(8, "0");
}

function normalizeStates(value: unknown): string[] {
  if (value === undefined) throw invalidDefinition("", "missing field 'states'");
  if (!Array.isArray(value)) throw invalidDefinition("states", "must be a list of state names");
  if (value.length > machineStatesMax) {
    throw invalidDefinition("states", `at most ${machineStatesMax} states`);
  }
  return value.map((state, i) => requireString(state, `states[${i}]`));
}

function normalizeTransitions(value: unknown, states: ReadonlySet<string>): TransitionSpec[] {
  if (value === undefined) throw invalidDefinition("", "missing field 'transitions'");
  if (!Array.isArray(value)) throw invalidDefinition("transitions", "must be a list");
  if (value.length > machineTransitionsMax) {
    throw invalidDefinition("transitions", `at most ${machineTransitionsMax} transitions`);
  }
  const transitions = value.map((item, i) => normalizeTransition(item, i, states));
  checkGroups(transitions);
  return transitions;
}

function normalizeTransition(
  input: unknown,
  index: number,
  states: ReadonlySet<string>,
): TransitionSpec {
  const path = `transitions[${index}]`;
  if (!isPlainObject(input)) throw invalidDefinition(path, "a transition must be an object");
  const from = normalizeFrom(input.from, `${path}.from`, states);
  const event = requireString(input.event, `${path}.event`);
  const to = requireString(input.to, `${path}.to`);
  if (!states.has(to)) throw invalidDefinition(`${path}.to`, `state '${to}' not in states list`);
  const guard = input.guard === undefined || input.guard === null ? undefined : input.guard;
  if (guard !== undefined) checkGuard(guard, `${path}.guard`);
  const after =
    input.after === undefined ? undefined : normalizeTimer(input.after, `${path}.after`);
  const effects = input.effects === undefined ? undefined : normalizeEffects(input.effects, path);
  return {
    from,
    event,
    to,
    ...(guard === undefined ? {} : { guard: guard as string }),
    ...(after === undefined ? {} : { after }),
    ...(effects === undefined ? {} : { effects }),
  };
}

function normalizeFrom(value: unknown, path: string, states: ReadonlySet<string>): string[] {
  if (value === undefined) throw invalidDefinition(path, "missing field 'from'");
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list)) throw invalidDefinition(path, "must be a state name or a list");
  return list.map((state, i) => {
    const name = requireString(state, `${path}[${i}]`);
    if (!states.has(name)) throw invalidDefinition(path, `state '${name}' not in states list`);
    return name;
  });
}

function checkGuard(guard: unknown, path: string): void {
  if (typeof guard !== "string") throw invalidDefinition(path, "a guard must be text or null");
  try {
    compileGuard(guard);
  } catch (error) {
    if (!(error instanceof DbError)) throw error;
    throw new DbError(
      "INVALID_DEFINITION",
      `invalid guard expression at ${path}: ${error.message}`,
      { path, value: guard },
    );
  }
}

/**
 * Several transitions may share (from, event) when guarded: they are tried in order, so an
 * unguarded one (which always passes) must be the last of its group (rcp.md decision 7).
 */
function checkGroups(transitions: readonly TransitionSpec[]): void {
  const unguarded = new Map<string, number>();
  transitions.forEach((transition, index) => {
    for (const from of transition.from) {
      const group = `${from}\u0000${transition.event}`;
      const earlier = unguarded.get(group);
      if (earlier !== undefined) {
        throw invalidDefinition(
          `transitions[${index}]`,
          `duplicate transition from '${from}' on event '${transition.event}': ` +
            `transitions[${earlier}] has no guard, so an unguarded transition must be the last ` +
            `of its group`,
        );
      }
      if (transition.guard === undefined) unguarded.set(group, index);
    }
  });
}

function normalizeTimer(value: unknown, path: string): TimerSpec {
  if (!isPlainObject(value)) throw invalidDefinition(path, 'a timer is {"ms": N, "event": "E"}');
  for (const key of Object.keys(value)) {
    if (key !== "ms" && key !== "event") throw invalidDefinition(path, `unknown key '${key}'`);
  }
  const ms = value.ms;
  if (typeof ms !== "number" || !Number.isSafeInteger(ms) || ms < 1) {
    throw invalidDefinition(`${path}.ms`, `must be a whole number of ms >= 1`);
  }
  if (ms > machineTimerDelayMsMax) {
    throw invalidDefinition(`${path}.ms`, `at most ${machineTimerDelayMsMax} ms (100 years)`);
  }
  return { ms, event: requireString(value.event, `${path}.event`) };
}

function normalizeStateTimers(
  value: unknown,
  states: ReadonlySet<string>,
): Record<string, TimerSpec> {
  if (!isPlainObject(value)) throw invalidDefinition("after", "must map state names to timers");
  const out: Record<string, unknown> = {};
  for (const state of Object.keys(value).sort()) {
    if (!states.has(state)) throw invalidDefinition("after", `state '${state}' not in states list`);
    // A state may be named `__proto__`: assigning that key would set the prototype instead.
    setOwnKey(out, state, normalizeTimer(value[state], `after.${state}`));
  }
  return out as Record<string, TimerSpec>;
}

function normalizeEffects(value: unknown, path: string): EffectSpec[] {
  if (!Array.isArray(value)) throw invalidDefinition(`${path}.effects`, "must be a list");
  if (value.length > machineEffectsPerTransitionMax) {
    throw invalidDefinition(`${path}.effects`, `at most ${machineEffectsPerTransitionMax} effects`);
  }
  return value.map((effect, i) => {
    checkDepth(effect, `${path}.effects[${i}]`);
    return normalizeEffect(effect, `${path}.effects[${i}]`);
  });
}

/**
 * Throws INVALID_DEFINITION when `value` (at `path`) nests lists and objects deeper than a
 * stored json value may (jsonDepthMax). Effect templates are compiled by recursion, and
 * 200,000 levels overflowed its stack: INTERNAL_ERROR for the client's input. Walked level
 * by level, so the check itself cannot overflow.
 */
function checkDepth(value: unknown, path: string): void {
  let level: unknown[] = [value];
  for (let depth = 0; level.length > 0; depth++) {
    const next: unknown[] = [];
    for (const item of level) {
      if (item === null || typeof item !== "object") continue;
      if (depth >= jsonDepthMax) {
        throw invalidDefinition(
          path,
          `nests deeper than ${jsonDepthMax} levels of lists and objects`,
        );
      }
      // A loop, not push(...values): a list of a million items would overflow the spread.
      for (const child of Object.values(item)) next.push(child);
    }
    level = next;
  }
}

/**
 * A timer's event must have a transition from the state it waits in, or it could never fire.
 * The (from, event) pairs are collected once: a definition may have 100,000 timed transitions,
 * and searching the list for each one kept the server busy for minutes.
 */
function checkTimerEvents(definition: MachineDefinition): void {
  const pairs = new Set<string>();
  for (const transition of definition.transitions) {
    for (const from of transition.from) pairs.add(`${from}\u0000${transition.event}`);
  }
  const hasTransition = (state: string, event: string): boolean =>
    pairs.has(`${state}\u0000${event}`);
  definition.transitions.forEach((transition, i) => {
    const timer = transition.after;
    if (timer !== undefined && !hasTransition(transition.to, timer.event)) {
      throw invalidDefinition(
        `transitions[${i}].after`,
        `no transition from '${transition.to}' on timer event '${timer.event}'`,
      );
    }
  });
  for (const [state, timer] of Object.entries(definition.after ?? {})) {
    if (!hasTransition(state, timer.event)) {
      throw invalidDefinition(
        `after.${state}`,
        `no transition from '${state}' on timer event '${timer.event}'`,
      );
    }
  }
}

function requireString(value: unknown, path: string): string {
  if (value === undefined) {
    const dot = path.lastIndexOf(".");
    const field = dot < 0 ? path : path.slice(dot + 1);
    throw invalidDefinition(dot < 0 ? "" : path.slice(0, dot), `missing field '${field}'`);
  }
  if (typeof value !== "string") {
    throw invalidDefinition(path, `must be text, got ${describeValue(value)}`);
  }
  return value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
