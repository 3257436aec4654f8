/**
 * @module Durable timers (a Statebase extension). A transition or state with `after: {ms,
 * event}` stores a deadline in the instance row (`timer_at`, `timer_event`); nothing runs in the
 * background. `fireDueTimers` finds due rows through the ordered `timer` index and applies each
 * timer's event as a normal logged event, one transaction per timer with origin
 * `{kind: "timer"}`. Firing clears the deadline in the same commit as the transition, so a
 * timer fires exactly once, also across a crash; any transition out of the state rewrites or
 * clears the deadline, which is what cancels it. A timer whose event is refused when it comes
 * due (its guard fails, or its state has no such event) is dropped; one whose event fails for
 * another reason (an effect's object is gone) is dropped too, with a warning that says why.
 */
import { DbError } from "../lib/errors.ts";
import { machineTimersPerFireMax } from "../lib/limits.ts";
import type { Origin, Transaction } from "../engine/index.ts";
import { instanceTableName } from "./names.ts";
import { applyEvent } from "./step.ts";
import type { InstanceRow, MachineStore } from "./store.ts";
import { listMachines } from "./versions.ts";

/** Why an event may be refused by design; a timer dropped for these is no news. */
const refusals: ReadonlySet<string> = new Set(["GUARD_FAILED", "INVALID_TRANSITION"]);

/** Fires every timer due at the current time, up to the limit; returns how many applied. */
export function fireDueTimers(store: MachineStore): number {
  const engine = store.engine;
  let fired = 0;
  let budget = machineTimersPerFireMax;
  for (const { machine } of listMachines(store).items) {
    const table = store.table(instanceTableName(machine));
    if (table === undefined || budget === 0) continue;
    const now = engine.current?.now ?? engine.clock.now();
    const range = { lower: Number.MIN_SAFE_INTEGER, upper: now, limit: budget };
    const due = [...table.range("timer", range)].map((row) => row.id as string);
    budget -= due.length;
    for (const id of due) if (fireTimer(store, machine, id)) fired++;
  }
  return fired;
}

/** Fires one instance's timer if it is still due, in a transaction of its own. */
function fireTimer(store: MachineStore, machine: string, id: string): boolean {
  const origin: Origin = { kind: "timer", detail: { machine, instance_id: id } };
  return store.engine.transact(
    (tx) => {
      const table = store.requireTable(instanceTableName(machine));
      const row = table.get(id) as InstanceRow | undefined;
      // Between the scan and now the instance may have moved on or been deleted.
      if (row === undefined || row.timer_at === null || row.timer_at > tx.now) return false;
      const event = row.timer_event!;
      try {
        store.engine.transact(() => applyEvent(store, tx, { instance_id: id, event }));
        return true;
      } catch (error) {
        if (!(error instanceof DbError)) throw error;
        clearTimer(store, tx, machine, id);
        if (!refusals.has(error.code)) {
          store.options.report?.(
            "warning",
            `machine ${machine}: the timer event ${event} of instance ${id} failed and was ` +
              `dropped: ${error.code}: ${error.message}`,
          );
        }
        return false;
      }
    },
    { origin },
  );
}

function clearTimer(store: MachineStore, tx: Transaction, machine: string, id: string): void {
  store.requireTable(instanceTableName(machine)).update(tx, id, {
    timer_at: null,
    timer_event: null,
  });
}
