/**
 * @module Versioned, immutable definitions (PUT_MACHINE, GET_MACHINE, LIST_MACHINES). A
 * version is stored once as a row of `machine::_definitions` with its normalized form, the
 * client's original JSON and rstmdb's checksum; storing the same content again is
 * `created: false`, other content under the same version is MACHINE_VERSION_EXISTS.
 */
import { DbError } from "../lib/errors.ts";
import type { Transaction } from "../engine/index.ts";
import type { MachinesApi } from "../types.ts";
import { compareUtf8 } from "./canonical-json.ts";
import { definitionChecksum, normalizeDefinition } from "./definition.ts";
import { definitionsTableName } from "./names.ts";
import { checkMachineName, checkVersion } from "./params.ts";
import type { DefinitionRow, MachineStore } from "./store.ts";

type PutResult = ReturnType<MachinesApi["put"]>;

/** Stores version `version` of `machine` (rstmdb's order of checks, rcp.md §2.6). */
export function putMachine(
  store: MachineStore,
  tx: Transaction,
  machine: string,
  version: number,
  source: unknown,
): PutResult {
  checkMachineName(machine);
  checkVersion(version);
  const existing = store.definitionRow(machine, version);
  if (existing === undefined) checkVersionLimit(store, machine);
  const definition = normalizeDefinition(source);
  const checksum = definitionChecksum(definition);
  if (existing !== undefined) {
    if (existing.checksum === checksum) {
      return { machine, version, stored_checksum: checksum, created: false };
    }
    throw new DbError(
      "MACHINE_VERSION_EXISTS",
      `machine version already exists: ${machine} v${version}`,
      { object: machine, version, checksum: existing.checksum },
    );
  }
  store.ensureBaseTables(tx);
  store.ensureMachineTables(tx, machine);
  store.requireTable(definitionsTableName).insert(tx, {
    machine,
    version,
    checksum,
    definition,
    source,
    created_at: tx.now,
    wal_offset: store.commitSeq(),
  });
  // Compile now so a definition that validates but cannot compile never stays stored.
  store.compiled(machine, version);
  return { machine, version, stored_checksum: checksum, created: true };
}

function checkVersionLimit(store: MachineStore, machine: string): void {
  const count = versionsOf(store, machine).length;
  const limit = store.options.versionsMax;
  if (count >= limit) {
    throw new DbError(
      "MACHINE_VERSION_LIMIT_EXCEEDED",
      `machine version limit exceeded: machine '${machine}' already has ${count} versions ` +
        `(limit: ${limit})`,
      { object: machine },
    );
  }
}

/** The stored versions of a machine, ascending. */
export function versionsOf(store: MachineStore, machine: string): number[] {
  const table = store.table(definitionsTableName);
  if (table === undefined) return [];
  const range = { lower: [machine, -1], upper: [machine, Number.MAX_SAFE_INTEGER] };
  return [...table.scan(range)].map((row) => row.version as number);
}

/** The normalized definition and checksum of one version. */
export function getMachine(
  store: MachineStore,
  machine: string,
  version: number,
): ReturnType<MachinesApi["get"]> {
  checkMachineName(machine);
  checkVersion(version);
  const row = store.definitionRow(machine, version);
  if (row === undefined) throw machineNotFound(machine, version);
  return {
    definition: row.definition as unknown as Record<string, unknown>,
    checksum: row.checksum,
  };
}

/** Every machine with its versions, names in byte order, versions ascending. */
export function listMachines(store: MachineStore): ReturnType<MachinesApi["list"]> {
  const byName = new Map<string, number[]>();
  for (const row of store.table(definitionsTableName)?.scan() ?? []) {
    const { machine, version } = row as unknown as DefinitionRow;
    const versions = byName.get(machine);
    if (versions === undefined) byName.set(machine, [version]);
    else versions.push(version);
  }
  const names = [...byName.keys()].sort(compareUtf8);
  return { items: names.map((machine) => ({ machine, versions: byName.get(machine)! })) };
}

export function machineNotFound(machine: string, version: number): DbError {
  return new DbError("MACHINE_NOT_FOUND", `machine version not found: ${machine} v${version}`, {
    object: machine,
    version,
  });
}
