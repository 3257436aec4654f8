/**
 * @module The machine layer's tables and how it finds them. All machine state lives in ordinary
 * tables (names in names.ts), so it is logged, snapshotted, recovered, replicated and readable
 * by RQL and views without any machinery of its own; this file only creates the tables on first
 * use, caches them per catalog epoch, and caches compiled definitions (validated by row
 * identity, so a rolled-back or recovered definition is never served stale).
 */
import { assert, assertionFailed } from "../lib/assert.ts";
import { DbError } from "../lib/errors.ts";
import type { Engine, Transaction } from "../engine/index.ts";
import { Table, tableDefinition } from "../primitives/index.ts";
import { compileMachine } from "./compiled.ts";
import type { CompiledMachine } from "./compiled.ts";
import type { MachineDefinition } from "./definition.ts";
import {
  definitionsTableName,
  directoryTableName,
  historyNamespace,
  historyTableName,
  idempotencyTableName,
  instanceTableName,
  machineNamespace,
} from "./names.ts";

/** A live instance: its machine's name, its table and its row. */
export interface FoundInstance {
  readonly machine: string;
  readonly table: Table;
  readonly row: InstanceRow;
}

/** A row of `machine::<name>`: one instance. */
export interface InstanceRow {
  readonly id: string;
  readonly version: number;
  readonly state: string;
  readonly ctx: unknown;
  readonly created_at: number;
  readonly updated_at: number;
  readonly last_wal_offset: number;
  readonly last_event_id: string | null;
  /** Deadline of the pending timer (commit-time ms), or null. */
  readonly timer_at: number | null;
  readonly timer_event: string | null;
}

/** A row of `machine::_definitions`. */
export interface DefinitionRow {
  readonly machine: string;
  readonly version: number;
  readonly checksum: string;
  readonly definition: MachineDefinition;
  /** The definition as the client sent it (WAL_READ's `put_machine` shows it). */
  readonly source: unknown;
  readonly created_at: number;
  readonly wal_offset: number;
}

/** A row of `machine::_instances`: which machine an instance id belongs to (ids are global). */
export interface DirectoryRow {
  readonly id: string;
  readonly machine: string;
  /** Set when the instance was deleted: a re-delete answers with this offset (rstmdb). */
  readonly deleted_wal_offset: number | null;
}

/** A row of `machine_history::<name>`: one applied event. */
export interface HistoryRow {
  readonly instance_id: string;
  readonly n: number;
  readonly seq: number;
  readonly ts: number;
  readonly event: string;
  readonly from_state: string;
  readonly to_state: string;
  readonly payload: unknown;
  readonly event_id: string | null;
}

/** A row of `machine::_idempotency`. */
export interface IdempotencyRow {
  /** The primary key: JSON of `[op, scope, key]`. */
  readonly slot: string;
  readonly op: string;
  readonly scope: string;
  readonly key: string;
  /** The instance the request created, changed or deleted. */
  readonly target: string;
  readonly fingerprint: string;
  readonly result: Record<string, unknown>;
  readonly wal_offset: number;
  readonly expires_at: number;
}

export interface MachinesOptions {
  /** How long idempotency keys are remembered, in ms of commit time. */
  idempotencyWindowMs: number;
  /** Versions one machine may have. */
  versionsMax: number;
  /** Where warnings go (a durable timer dropped for a failure): the database's `onMessage`. */
  report?: ((kind: "warning", message: string) => void) | undefined;
}

const baseTables = [
  tableDefinition(definitionsTableName, {
    columns: {
      machine: "utf8",
      version: "int8",
      checksum: "utf8",
      definition: "json",
      source: "json",
      created_at: "int8",
      wal_offset: "int8",
    },
    primaryKey: ["machine", "version"],
  }),
  tableDefinition(directoryTableName, {
    columns: { id: "utf8", machine: "utf8", deleted_wal_offset: "Option(int8)" },
    primaryKey: "id",
  }),
  tableDefinition(idempotencyTableName, {
    columns: {
      slot: "utf8",
      op: "utf8",
      scope: "utf8",
      key: "utf8",
      target: "utf8",
      fingerprint: "utf8",
      result: "json",
      wal_offset: "int8",
      expires_at: "int8",
    },
    // One text key (the JSON of [op, scope, key]) hashes and orders faster than a tuple.
    primaryKey: "slot",
    indexes: [{ name: "expiry", columns: ["expires_at"], ordered: true }],
  }),
];

function instanceTableDefinition(machine: string): ReturnType<typeof tableDefinition> {
  return tableDefinition(instanceTableName(machine), {
    columns: {
      id: "utf8",
      version: "int8",
      state: "utf8",
      ctx: "json",
      created_at: "int8",
      updated_at: "int8",
      last_wal_offset: "int8",
      last_event_id: "Option(utf8)",
      timer_at: "Option(int8)",
      timer_event: "Option(utf8)",
    },
    primaryKey: "id",
    indexes: [{ name: "timer", columns: ["timer_at"], ordered: true }],
  });
}

function historyTableDefinition(machine: string): ReturnType<typeof tableDefinition> {
  return tableDefinition(historyTableName(machine), {
    columns: {
      n: { type: "int8", autoIncrement: true },
      instance_id: "utf8",
      seq: "int8",
      ts: "int8",
      event: "utf8",
      from_state: "utf8",
      to_state: "utf8",
      payload: "json",
      event_id: "Option(utf8)",
    },
    // Keyed by a counter, not (instance, counter): appending an integer key is the cheap
    // case of the B+tree, and the hash index finds one instance's rows.
    primaryKey: "n",
    indexes: [{ name: "instance", columns: ["instance_id"] }],
  });
}

/** A compiled definition and what it was compiled from. */
interface CompiledEntry {
  readonly table: Table;
  /** The definitions table's revision when the entry was last found current. */
  revision: number;
  readonly row: object;
  readonly machine: CompiledMachine;
}

/** Finds and creates the machine tables; caches compiled definitions. */
export class MachineStore {
  private epoch = -1;
  /** Tables by name in the current catalog epoch; null: no such table. */
  private readonly tables = new Map<string, Table | null>();
  /**
   * Compiled definitions by machine, then version. An entry stands while the definitions
   * table's revision is the one it was checked at, else while that row is still the one
   * compiled (a rolled-back or recovered definition is a new row).
   */
  private readonly compiledByMachine = new Map<string, Map<number, CompiledEntry>>();

  constructor(
    readonly engine: Engine,
    readonly options: MachinesOptions,
  ) {}

  /** The table `name` if it exists (and is a table). */
  table(name: string): Table | undefined {
    const catalog = this.engine.catalog;
    if (catalog.epoch !== this.epoch) {
      this.tables.clear();
      this.epoch = catalog.epoch;
    }
    const cached = this.tables.get(name);
    if (cached !== undefined) return cached ?? undefined;
    const object = catalog.get(name);
    const table = object instanceof Table ? object : null;
    this.tables.set(name, table);
    return table ?? undefined;
  }

  /** Like {@link table}, for a table this layer has created (unless someone dropped it). */
  requireTable(name: string): Table {
    const table = this.table(name);
    if (table === undefined) {
      throw new DbError(
        "UNKNOWN_OBJECT",
        `${name} is missing: the tables of the machine namespaces must not be dropped`,
        { object: name },
      );
    }
    return table;
  }

  /** Creates the namespaces and shared tables on first use (logged like any DDL). */
  ensureBaseTables(tx: Transaction): void {
    if (this.table(definitionsTableName) !== undefined) return;
    const catalog = this.engine.catalog;
    catalog.createNamespace(tx, machineNamespace, true);
    catalog.createNamespace(tx, historyNamespace, true);
    for (const definition of baseTables) catalog.create(tx, definition, true);
  }

  /** Creates a machine's instance and history tables when its first version is stored. */
  ensureMachineTables(tx: Transaction, machine: string): void {
    if (this.table(instanceTableName(machine)) !== undefined) return;
    const catalog = this.engine.catalog;
    catalog.create(tx, instanceTableDefinition(machine), true);
    catalog.create(tx, historyTableDefinition(machine), true);
  }

  definitionRow(machine: string, version: number): DefinitionRow | undefined {
    return this.table(definitionsTableName)?.get([machine, version]) as DefinitionRow | undefined;
  }

  /** The compiled definition of (machine, version), or undefined when there is none. */
  compiled(machine: string, version: number): CompiledMachine | undefined {
    const table = this.table(definitionsTableName);
    if (table === undefined) return undefined;
    let byVersion = this.compiledByMachine.get(machine);
    const cached = byVersion?.get(version);
    if (cached?.table === table && cached.revision === table.revision) return cached.machine;
    const row = table.get([machine, version]) as DefinitionRow | undefined;
    if (row === undefined) return undefined;
    if (cached?.table === table && cached.row === row) {
      cached.revision = table.revision;
      return cached.machine;
    }
    const compiled = compileMachine(machine, version, row.definition);
    if (byVersion === undefined)
      this.compiledByMachine.set(machine, (byVersion = new Map<number, CompiledEntry>()));
    byVersion.set(version, { table, revision: table.revision, row, machine: compiled });
    return compiled;
  }

  /** The directory entry of a live (not deleted) instance. */
  liveEntry(id: string): DirectoryRow | undefined {
    return this.findEntry(id, false);
  }

  /** A live instance with its machine and table. */
  instance(id: string): FoundInstance | undefined {
    return this.findInstance(id, false);
  }

  /**
   * {@link instance} with the stored row, not a copy: read it in the running transaction,
   * never keep it, and know that an update of the instance changes it in place. APPLY_EVENT
   * reads the row once and then updates it: copies of its row and of its directory entry
   * were two of the three row copies per event (the update's own `before` is the third).
   */
  instanceStored(id: string): FoundInstance | undefined {
    return this.findInstance(id, true);
  }

  private findEntry(id: string, stored: boolean): DirectoryRow | undefined {
    const table = this.table(directoryTableName);
    const entry = (stored ? table?.getStored(id) : table?.get(id)) as DirectoryRow | undefined;
    return entry === undefined || entry.deleted_wal_offset !== null ? undefined : entry;
  }

  private findInstance(id: string, stored: boolean): FoundInstance | undefined {
    const entry = this.findEntry(id, stored);
    if (entry === undefined) return undefined;
    const table = this.requireTable(instanceTableName(entry.machine));
    const row = (stored ? table.getStored(id) : table.get(id)) as InstanceRow | undefined;
    if (row === undefined)
      assertionFailed(`instance ${id} is in the directory but not in its table`);
    return { machine: entry.machine, table, row };
  }

  /** The seq the running transaction will commit as: transactions are serial. */
  commitSeq(): number {
    assert(this.engine.current !== undefined, "commitSeq outside a transaction");
    return this.engine.seq + 1;
  }
}
