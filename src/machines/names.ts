/**
 * @module Where machines keep their state: the names of their tables. A machine's instances are
 * rows of `machine::<name>` and its transitions rows of `machine_history::<name>`; definitions,
 * the instance directory and idempotency keys are tables of the `machine` namespace whose names
 * start with `_`. A machine name that is not an identifier (rstmdb accepts any text) is stored
 * under `_` plus the hex of its UTF-8 bytes, which no identifier name and no internal table
 * can collide with, and which decodes back to the name for `entriesOf`.
 */
import { DbError } from "../lib/errors.ts";
import { nameLengthMax } from "../lib/limits.ts";

export const machineNamespace = "machine";
export const historyNamespace = "machine_history";
export const definitionsTableName = "machine::_definitions";
export const directoryTableName = "machine::_instances";
export const idempotencyTableName = "machine::_idempotency";

const identifier = /^[A-Za-z][A-Za-z0-9_]*$/;
const encoded = /^_(?:[0-9a-f]{2})*$/;

/** The table-name identifier of a machine name. */
export function machineIdentifier(machine: string): string {
  if (identifier.test(machine) && machine.length <= nameLengthMax) return machine;
  const hex = `_${Buffer.from(machine, "utf8").toString("hex")}`;
  if (hex.length > nameLengthMax) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `machine name too long: a name that is not an identifier may have at most ` +
        `${Math.floor((nameLengthMax - 1) / 2)} UTF-8 bytes`,
      { value: machine.slice(0, 40) },
    );
  }
  return hex;
}

export function instanceTableName(machine: string): string {
  return tableNamesOf(machine).instance;
}

export function historyTableName(machine: string): string {
  return tableNamesOf(machine).history;
}

/**
 * Machine name to its table names, made once: every event looks both up, and a string made
 * afresh is hashed afresh by each map it is looked up in. A cache, so it is simply emptied
 * when it holds {@link tableNamesCachedMax} machines.
 */
const tableNames = new Map<string, { readonly instance: string; readonly history: string }>();
const tableNamesCachedMax = 10_000;

function tableNamesOf(machine: string): { readonly instance: string; readonly history: string } {
  let names = tableNames.get(machine);
  if (names === undefined) {
    const id = machineIdentifier(machine);
    names = { instance: `${machineNamespace}::${id}`, history: `${historyNamespace}::${id}` };
    if (tableNames.size >= tableNamesCachedMax) tableNames.clear();
    tableNames.set(machine, names);
  }
  return names;
}

/** The machine whose instance table (`machine::x`) or history table this is, else undefined. */
export function machineOfTable(table: string): { machine: string; history: boolean } | undefined {
  const separator = table.indexOf("::");
  const namespace = table.slice(0, separator);
  const local = table.slice(separator + 2);
  const history = namespace === historyNamespace;
  if (!history && namespace !== machineNamespace) return undefined;
  if (identifier.test(local)) return { machine: local, history };
  if (!encoded.test(local)) return undefined;
  return { machine: Buffer.from(local.slice(1), "hex").toString("utf8"), history };
}

/** True for names the machine layer owns: effects may not write there. */
export function isMachineNamespace(namespace: string): boolean {
  return namespace === machineNamespace || namespace === historyNamespace;
}
