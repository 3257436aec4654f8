/**
 * @module Per-instance history: every applied event is a row of `machine_history::<machine>`,
 * keyed by a per-table counter `n` and indexed by instance id, written in the transaction that
 * applies the event. Being a table, it survives restarts and is queryable. Deleting an instance
 * deletes its history rows (the log keeps them for audit and time travel), so a reused id
 * starts clean and memory stays bounded by the live instances.
 */
import type { Transaction } from "../engine/index.ts";
import type { MachineTransition } from "../types.ts";
import { historyTableName } from "./names.ts";
import type { HistoryRow, MachineStore } from "./store.ts";

export interface HistoryEntry {
  readonly instanceId: string;
  readonly event: string;
  readonly fromState: string;
  readonly toState: string;
  readonly payload: unknown;
  readonly eventId: string | null;
}

/** Records one applied event of `machine`. */
export function appendHistory(
  store: MachineStore,
  tx: Transaction,
  machine: string,
  entry: HistoryEntry,
): void {
  store.requireTable(historyTableName(machine)).insert(tx, {
    instance_id: entry.instanceId,
    seq: store.commitSeq(),
    ts: tx.now,
    event: entry.event,
    from_state: entry.fromState,
    to_state: entry.toState,
    payload: entry.payload,
    event_id: entry.eventId,
  });
}

/** The history rows of one instance, oldest first. */
export function historyRows(store: MachineStore, machine: string, id: string): HistoryRow[] {
  const table = store.requireTable(historyTableName(machine));
  const rows = table.lookup("instance", id) as unknown as HistoryRow[];
  return rows.sort((a, b) => a.n - b.n);
}

/** The transitions of one instance in the public shape. */
export function readHistory(store: MachineStore, machine: string, id: string): MachineTransition[] {
  return historyRows(store, machine, id).map((row) => ({
    seq: row.seq,
    ts: row.ts,
    event: row.event,
    from_state: row.from_state,
    to_state: row.to_state,
    payload: row.payload,
    ...(row.event_id === null ? {} : { event_id: row.event_id }),
  }));
}

/** Deletes the history rows of an instance that is being deleted. */
export function deleteHistory(
  store: MachineStore,
  tx: Transaction,
  machine: string,
  id: string,
): void {
  const table = store.requireTable(historyTableName(machine));
  for (const row of historyRows(store, machine, id)) table.del(tx, row.n);
}
