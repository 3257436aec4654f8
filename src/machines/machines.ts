/**
 * @module `db.machines` / `tx.machines`: the MachinesApi of src/types.ts over the machine
 * tables. Every write runs inside the caller's transaction as a savepoint (so a failed
 * operation that the caller catches leaves nothing behind), or, outside a transaction, as its
 * own auto-committed transaction. Reads need no transaction. Results have exactly the RCP
 * result shapes (specs/rcp.md §2.6); `wal_offset` is the seq of the commit that made the
 * change.
 */
import { DbError } from "../lib/errors.ts";
import { machineIdempotencyWindowMsDefault, machineVersionsMax } from "../lib/limits.ts";
import { operationOrigin } from "../lib/origin.ts";
import type { Commit, Engine, Transaction } from "../engine/index.ts";
import type {
  MachineDefinitionInput,
  MachineLogEntry,
  MachineTransition,
  MachinesApi,
} from "../types.ts";
import { machineEntriesOf } from "./entries.ts";
import { readHistory } from "./history.ts";
import { createInstance, deleteInstance, getInstance, listInstances } from "./instances.ts";
import { migrateInstances } from "./migration.ts";
import { checkInstanceId } from "./params.ts";
import { applyEvent, instanceNotFound } from "./step.ts";
import { MachineStore } from "./store.ts";
import type { MachinesOptions } from "./store.ts";
import { fireDueTimers } from "./timers.ts";
import { getMachine, listMachines, putMachine } from "./versions.ts";

type Api = MachinesApi;

/** Builds the machine API of an engine; options default to rstmdb-compatible values. */
export function createMachines(engine: Engine, options: Partial<MachinesOptions> = {}): Api {
  const window = options.idempotencyWindowMs ?? machineIdempotencyWindowMsDefault;
  const versions = options.versionsMax ?? machineVersionsMax;
  if (!Number.isSafeInteger(window) || window < 1) {
    throw new DbError("INVALID_ARGUMENT", "idempotencyWindowMs must be a whole number >= 1");
  }
  if (!Number.isSafeInteger(versions) || versions < 1 || versions > machineVersionsMax) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `versionsMax must be a whole number in [1, ${machineVersionsMax}]`,
    );
  }
  return new Machines(
    new MachineStore(engine, {
      idempotencyWindowMs: window,
      versionsMax: versions,
      report: options.report,
    }),
  );
}

class Machines implements MachinesApi {
  constructor(private readonly store: MachineStore) {}

  put(
    machine: string,
    version: number,
    definition: MachineDefinitionInput,
  ): ReturnType<Api["put"]> {
    return this.write("put_machine", (tx) =>
      putMachine(this.store, tx, machine, version, definition),
    );
  }

  get(machine: string, version: number): ReturnType<Api["get"]> {
    return getMachine(this.store, machine, version);
  }

  list(): ReturnType<Api["list"]> {
    return listMachines(this.store);
  }

  createInstance(params: Parameters<Api["createInstance"]>[0]): ReturnType<Api["createInstance"]> {
    return this.write("create_instance", (tx) => createInstance(this.store, tx, params));
  }

  getInstance(instanceId: string): ReturnType<Api["getInstance"]> {
    return getInstance(this.store, instanceId);
  }

  listInstances(params?: Parameters<Api["listInstances"]>[0]): ReturnType<Api["listInstances"]> {
    return listInstances(this.store, params);
  }

  deleteInstance(params: Parameters<Api["deleteInstance"]>[0]): ReturnType<Api["deleteInstance"]> {
    return this.write("delete_instance", (tx) => deleteInstance(this.store, tx, params));
  }

  applyEvent(params: Parameters<Api["applyEvent"]>[0]): ReturnType<Api["applyEvent"]> {
    return this.write("apply_event", (tx) => applyEvent(this.store, tx, params));
  }

  migrateInstances(
    params: Parameters<Api["migrateInstances"]>[0],
  ): ReturnType<Api["migrateInstances"]> {
    return this.write("migrate_instances", (tx) => migrateInstances(this.store, tx, params));
  }

  history(instanceId: string): MachineTransition[] {
    const id = checkInstanceId(instanceId);
    const entry = this.store.liveEntry(id);
    if (entry === undefined) throw instanceNotFound(id);
    return readHistory(this.store, entry.machine, id);
  }

  fireDueTimers(): number {
    return fireDueTimers(this.store);
  }

  entriesOf(commit: Commit): MachineLogEntry[] {
    return machineEntriesOf(commit);
  }

  /** Runs `fn` as a savepoint of the running transaction, or auto-commits it. */
  private write<T>(op: string, fn: (tx: Transaction) => T): T {
    return this.store.engine.transact(fn, writeOptionsOf(op));
  }
}

/** The transaction options of each write operation, made once (a write runs per event). */
const writeOptions = new Map<string, { readonly origin: ReturnType<typeof operationOrigin> }>();

function writeOptionsOf(op: string): { readonly origin: ReturnType<typeof operationOrigin> } {
  let options = writeOptions.get(op);
  if (options === undefined) {
    options = { origin: operationOrigin("api", op) };
    writeOptions.set(op, options);
  }
  return options;
}
