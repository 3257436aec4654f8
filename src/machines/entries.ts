/**
 * @module The machine operations of a commit, in rstmdb's WAL entry shapes (rcp.md §2.8.2),
 * for WAL_READ and watch streams. They are derived from the commit's changes on the machine
 * tables alone, never from memory, so a commit read back from the log after a restart gives
 * the same entries: a definitions row inserted is `put_machine`, an instance row inserted is
 * `create_instance`, a history row inserted is `apply_event` (its ctx is the instance row as
 * written just before it in the same commit), an instance row deleted is `delete_instance`.
 * Idempotency keys come from the `machine::_idempotency` rows of the same commit.
 */
import { assert } from "../lib/assert.ts";
import type { Change, Commit } from "../engine/index.ts";
import type { MachineLogEntry } from "../types.ts";
import { definitionsTableName, idempotencyTableName, machineOfTable } from "./names.ts";
import type { DefinitionRow, HistoryRow, IdempotencyRow, InstanceRow } from "./store.ts";

/** The machine entries of `commit`, in change order; empty when it touched no machine. */
export function machineEntriesOf(commit: Commit): MachineLogEntry[] {
  const keys = idempotencyKeysOf(commit.changes);
  const latest = new Map<string, InstanceRow>();
  const out: MachineLogEntry[] = [];
  const keyOf = (op: string, id: string): { idempotency_key?: string } => {
    const key = keys.get(`${op}\u0000${id}`)?.shift();
    return key === undefined ? {} : { idempotency_key: key };
  };
  for (const change of commit.changes) {
    if (change.object === definitionsTableName) {
      if (change.kind === "insert") out.push(putEntry(change.after as DefinitionRow));
      continue;
    }
    const owner = machineOfTable(change.object);
    if (owner === undefined || change.object === idempotencyTableName) continue;
    const machine = owner.machine;
    if (owner.history) {
      if (change.kind !== "insert") continue;
      const event = change.after as HistoryRow;
      const row = latest.get(`${machine}\u0000${event.instance_id}`);
      assert(row !== undefined, "a history row without its instance row in the same commit");
      out.push({
        type: "apply_event",
        instance_id: event.instance_id,
        machine,
        version: row.version,
        event: event.event,
        from_state: event.from_state,
        to_state: event.to_state,
        payload: event.payload,
        ctx: row.ctx,
        ...(event.event_id === null ? {} : { event_id: event.event_id }),
        ...keyOf("apply_event", event.instance_id),
      });
      continue;
    }
    const after = change.after as InstanceRow | undefined;
    const before = change.before as InstanceRow | undefined;
    if (after !== undefined) latest.set(`${machine}\u0000${after.id}`, after);
    if (change.kind === "insert" && after !== undefined) {
      out.push({
        type: "create_instance",
        instance_id: after.id,
        machine,
        version: after.version,
        initial_state: after.state,
        initial_ctx: after.ctx,
        ...keyOf("create_instance", after.id),
      });
    } else if (change.kind === "delete" && before !== undefined) {
      out.push({
        type: "delete_instance",
        instance_id: before.id,
        machine,
        version: before.version,
        ...keyOf("delete_instance", before.id),
      });
    }
  }
  return out;
}

function putEntry(row: DefinitionRow): MachineLogEntry {
  return {
    type: "put_machine",
    machine: row.machine,
    version: row.version,
    definition_hash: row.checksum,
    definition: row.source,
  };
}

/** Keys stored by the commit, by op and target instance, in order. */
function idempotencyKeysOf(changes: readonly Change[]): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const change of changes) {
    if (change.object !== idempotencyTableName || change.after === undefined) continue;
    const row = change.after as IdempotencyRow;
    const slot = `${row.op}\u0000${row.target}`;
    const list = keys.get(slot);
    if (list === undefined) keys.set(slot, [row.key]);
    else list.push(row.key);
  }
  return keys;
}
