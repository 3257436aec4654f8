/**
 * @module Migrating instances between versions of a machine (MIGRATE_INSTANCES, a Statebase
 * extension; rstmdb binds an instance to its version forever). The state map is explicit:
 * each instance's state becomes `state_map[state]`, or stays as it is when the target version
 * has a state of that name; anything else fails before a row is written, so a migration
 * applies to every chosen instance or to none. Rows are updated in place, in one transaction,
 * and logged like any change; pending timers are replaced by the target state's own timer.
 */
import { assert } from "../lib/assert.ts";
import { DbError, describeValue } from "../lib/errors.ts";
import type { Transaction } from "../engine/index.ts";
import type { MachinesApi } from "../types.ts";
import type { CompiledMachine } from "./compiled.ts";
import { isPlainObject } from "./definition.ts";
import { instanceTableName } from "./names.ts";
import { checkInstanceId, checkMachineName, checkVersion } from "./params.ts";
import { instanceNotFound, timerColumns } from "./step.ts";
import type { InstanceRow, MachineStore } from "./store.ts";
import { machineNotFound } from "./versions.ts";

type MigrateParams = Parameters<MachinesApi["migrateInstances"]>[0];
type MigrateResult = ReturnType<MachinesApi["migrateInstances"]>;

export function migrateInstances(
  store: MachineStore,
  tx: Transaction,
  params: MigrateParams,
): MigrateResult {
  const machine = checkMachineName(params.machine);
  const fromVersion = checkVersion(params.from_version, "from_version");
  const toVersion = checkVersion(params.to_version, "to_version");
  // Rows would be rewritten for nothing, and their timers restarted from now.
  if (fromVersion === toVersion) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `from_version and to_version are both ${fromVersion}: there is nothing to migrate`,
      { value: fromVersion },
    );
  }
  const source = store.compiled(machine, fromVersion);
  if (source === undefined) throw machineNotFound(machine, fromVersion);
  const target = store.compiled(machine, toVersion);
  if (target === undefined) throw machineNotFound(machine, toVersion);
  const stateMap = checkStateMap(params.state_map, source, target);
  const rows = chooseRows(store, machine, fromVersion, params.instance_ids);
  const moves = rows.map((row) => ({ row, state: stateMap.get(row.state) ?? row.state }));
  for (const { row, state } of moves) {
    if (!target.states.has(state)) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `instance ${row.id} is in state '${row.state}', which ${machine} v${toVersion} does ` +
          `not have: map it in state_map`,
        { value: row.state },
      );
    }
  }
  if (moves.length === 0) return { migrated: 0, wal_offset: store.engine.seq };
  const seq = store.commitSeq();
  const table = store.requireTable(instanceTableName(machine));
  for (const { row, state } of moves) {
    table.update(tx, row.id, {
      version: toVersion,
      state,
      updated_at: tx.now,
      last_wal_offset: seq,
      ...migratedTimer(row, state, target, tx.now),
    });
  }
  return { migrated: moves.length, wal_offset: seq };
}

/**
 * A pending timer keeps its deadline when the target version takes its event in the new
 * state: a migration does not enter the state again, so it must neither postpone a deadline
 * nor drop a transition's timer. Otherwise the target state's own timer starts now.
 */
function migratedTimer(
  row: InstanceRow,
  state: string,
  target: CompiledMachine,
  now: number,
): { timer_at: number | null; timer_event: string | null } {
  assert(target.states.has(state), "a migrated instance's state is checked first");
  const { timer_at: at, timer_event: event } = row;
  if (at !== null && event !== null && target.candidates(state, event) !== undefined) {
    return { timer_at: at, timer_event: event };
  }
  return timerColumns(target.timerOnEntry(state), now);
}

function checkStateMap(
  value: unknown,
  source: CompiledMachine,
  target: CompiledMachine,
): Map<string, string> {
  if (!isPlainObject(value)) {
    throw new DbError("INVALID_ARGUMENT", "state_map must map state names to state names", {
      value: describeValue(value),
    });
  }
  const out = new Map<string, string>();
  for (const [from, to] of Object.entries(value)) {
    if (!source.states.has(from)) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `state_map: '${from}' is not a state of ${source.name} v${source.version}`,
        { value: from },
      );
    }
    if (typeof to !== "string" || !target.states.has(to)) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `state_map: unknown target state ${describeValue(to)} in ${target.name} ` +
          `v${target.version}`,
        { value: describeValue(to) },
      );
    }
    out.set(from, to);
  }
  return out;
}

/** The named instances (each must be of this machine and version), or all of the version. */
function chooseRows(
  store: MachineStore,
  machine: string,
  version: number,
  ids: readonly string[] | undefined,
): InstanceRow[] {
  if (ids === undefined) {
    const table = store.table(instanceTableName(machine));
    const rows = table === undefined ? [] : ([...table.scan()] as unknown as InstanceRow[]);
    return rows.filter((row) => row.version === version);
  }
  if (!Array.isArray(ids)) {
    throw new DbError("INVALID_ARGUMENT", "instance_ids must be a list of instance ids");
  }
  return [...new Set(ids)].map((value) => {
    const id = checkInstanceId(value, "instance_ids[]");
    const found = store.instance(id);
    if (found === undefined || found.machine !== machine) throw instanceNotFound(id);
    if (found.row.version !== version) {
      throw new DbError(
        "STATE_CONFLICT",
        `instance ${id} is at ${machine} v${found.row.version}, not v${version}`,
        { value: found.row.version },
      );
    }
    return found.row;
  });
}
