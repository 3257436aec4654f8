/**
 * @module A machine definition compiled for stepping: transitions grouped by (state, event) in
 * definition order with their guards and effects compiled once, and the timer each state
 * arms. Built from a normalized definition (which has been validated), so it cannot fail.
 */
import { compileGuard } from "../expr/index.ts";
import type { Guard } from "../expr/index.ts";
import { compileEffect } from "./effects.ts";
import type { CompiledEffect } from "./effects.ts";
import type { MachineDefinition, TimerSpec, TransitionSpec } from "./definition.ts";

export interface CompiledTransition {
  readonly spec: TransitionSpec;
  /** The transition's index in the definition, to say where a failing guard is. */
  readonly index: number;
  /** Undefined when the transition has no guard (it always passes). */
  readonly guard: Guard | undefined;
  readonly effects: readonly CompiledEffect[];
}

export interface CompiledMachine {
  readonly name: string;
  readonly version: number;
  readonly definition: MachineDefinition;
  readonly states: ReadonlySet<string>;
  /** Candidate transitions of (state, event), in definition order; undefined when none. */
  candidates(state: string, event: string): readonly CompiledTransition[] | undefined;
  /** The timer to arm on entering `state` by `transition` (its own, else the state's). */
  timerOnEntry(state: string, transition?: CompiledTransition): TimerSpec | undefined;
}

/** Compiles a validated, normalized definition. */
export function compileMachine(
  name: string,
  version: number,
  definition: MachineDefinition,
): CompiledMachine {
  const groups = new Map<string, CompiledTransition[]>();
  for (const [index, spec] of definition.transitions.entries()) {
    const compiled: CompiledTransition = {
      spec,
      index,
      guard: spec.guard === undefined ? undefined : compileGuard(spec.guard),
      effects: (spec.effects ?? []).map(compileEffect),
    };
    for (const from of spec.from) {
      const key = groupKey(from, spec.event);
      const group = groups.get(key);
      // A `from` list naming a state twice adds the transition once.
      if (group === undefined) groups.set(key, [compiled]);
      else if (group[group.length - 1] !== compiled) group.push(compiled);
    }
  }
  // A Map, not the object: a state named `constructor` would find Object.prototype's member.
  const stateTimers = new Map(Object.entries(definition.after ?? {}));
  return {
    name,
    version,
    definition,
    states: new Set(definition.states),
    candidates: (state, event) => groups.get(groupKey(state, event)),
    timerOnEntry: (state, transition) => transition?.spec.after ?? stateTimers.get(state),
  };
}

function groupKey(state: string, event: string): string {
  return `${state}\u0000${event}`;
}
