/**
 * @module Instance lifecycle: create, get, list and delete (CREATE_INSTANCE, GET_INSTANCE,
 * LIST_INSTANCES, DELETE_INSTANCE). An instance is a row of its machine's table, and its id is
 * recorded in the directory `machine::_instances`, because ids are global across machines
 * (GET_INSTANCE names no machine). A delete removes the row and its history and leaves a
 * tombstone in the directory, so a re-delete answers with the original offset (rstmdb) while
 * the id reads as INSTANCE_NOT_FOUND and may be created again (rcp.md decision 11).
 */
import { DbError, describeValue } from "../lib/errors.ts";
import { machineListInstancesMax } from "../lib/limits.ts";
import type { Transaction } from "../engine/index.ts";
import type { MachinesApi } from "../types.ts";
import { uuid4 } from "../values/index.ts";
import { isPlainObject } from "./definition.ts";
import { deleteHistory } from "./history.ts";
import {
  findIdempotentResult,
  forgetInstanceKeys,
  idempotencySlot,
  rememberIdempotentResult,
} from "./idempotency.ts";
import { directoryTableName, instanceTableName } from "./names.ts";
import {
  checkIdempotencyKey,
  checkInstanceId,
  checkMachineName,
  checkOptionalText,
  checkVersion,
} from "./params.ts";
import { instanceNotFound, timerColumns } from "./step.ts";
import type { DirectoryRow, InstanceRow, MachineStore } from "./store.ts";
import { listMachines, machineNotFound } from "./versions.ts";

type CreateParams = Parameters<MachinesApi["createInstance"]>[0];
type CreateResult = ReturnType<MachinesApi["createInstance"]>;
type DeleteParams = Parameters<MachinesApi["deleteInstance"]>[0];
type DeleteResult = ReturnType<MachinesApi["deleteInstance"]>;
type ListParams = Parameters<MachinesApi["listInstances"]>[0];
type ListResult = ReturnType<MachinesApi["listInstances"]>;

/** Creates an instance in its machine's initial state; ctx defaults to `{}` (decision 5). */
export function createInstance(
  store: MachineStore,
  tx: Transaction,
  params: CreateParams,
): CreateResult {
  const machine = checkMachineName(params.machine);
  const version = checkVersion(params.version);
  const requested =
    params.instance_id === undefined ? undefined : checkInstanceId(params.instance_id);
  const key = checkIdempotencyKey(params.idempotency_key);
  const ctx = params.initial_ctx === undefined ? {} : params.initial_ctx;
  if (!isPlainObject(ctx)) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `initial_ctx must be a JSON object, got ${describeValue(ctx)}`,
      { value: describeValue(ctx) },
    );
  }
  const request = { machine, version, initial_ctx: ctx, instance_id: requested ?? null };
  const slot =
    key === undefined
      ? undefined
      : idempotencySlot("create_instance", requested ?? "", key, request);
  if (slot !== undefined) {
    const earlier = findIdempotentResult(store, tx.now, slot);
    if (earlier !== undefined) return earlier as CreateResult;
  }
  const id = requested ?? uuid4();
  if (store.liveEntry(id) !== undefined) {
    throw new DbError("INSTANCE_EXISTS", `instance already exists: ${id}`, { value: id });
  }
  const compiled = store.compiled(machine, version);
  if (compiled === undefined) throw machineNotFound(machine, version);
  if (requested !== undefined && store.table(directoryTableName)?.get(id) !== undefined) {
    forgetInstanceKeys(store, tx, id); // a deleted instance's id, created again
  }
  const seq = store.commitSeq();
  const initial = compiled.definition.initial;
  store.requireTable(directoryTableName).set(tx, { id, machine, deleted_wal_offset: null });
  store.requireTable(instanceTableName(machine)).insert(tx, {
    id,
    version,
    state: initial,
    ctx,
    created_at: tx.now,
    updated_at: tx.now,
    last_wal_offset: seq,
    last_event_id: null,
    ...timerColumns(compiled.timerOnEntry(initial), tx.now),
  });
  const result = { instance_id: id, state: initial, wal_offset: seq };
  if (slot !== undefined) rememberIdempotentResult(store, tx, slot, id, result);
  return result;
}

/** One live instance (GET_INSTANCE). */
export function getInstance(
  store: MachineStore,
  instanceId: string,
): ReturnType<MachinesApi["getInstance"]> {
  const id = checkInstanceId(instanceId);
  const found = store.instance(id);
  if (found === undefined) throw instanceNotFound(id);
  const row = found.row;
  return {
    machine: found.machine,
    version: row.version,
    state: row.state,
    ctx: row.ctx,
    ...(row.last_event_id === null ? {} : { last_event_id: row.last_event_id }),
    last_wal_offset: row.last_wal_offset,
  };
}

/** Deletes an instance; a deleted one answers with its delete's offset. */
export function deleteInstance(
  store: MachineStore,
  tx: Transaction,
  params: DeleteParams,
): DeleteResult {
  const id = checkInstanceId(params?.instance_id);
  const key = checkIdempotencyKey(params?.idempotency_key);
  const slot =
    key === undefined
      ? undefined
      : idempotencySlot("delete_instance", id, key, { instance_id: id });
  if (slot !== undefined) {
    const earlier = findIdempotentResult(store, tx.now, slot);
    if (earlier !== undefined) return earlier as DeleteResult;
  }
  const directory = store.table(directoryTableName);
  const entry = directory?.get(id) as DirectoryRow | undefined;
  if (directory === undefined || entry === undefined) throw instanceNotFound(id);
  if (entry.deleted_wal_offset !== null) {
    return { instance_id: id, deleted: true, wal_offset: entry.deleted_wal_offset };
  }
  const seq = store.commitSeq();
  store.requireTable(instanceTableName(entry.machine)).del(tx, id);
  deleteHistory(store, tx, entry.machine, id);
  directory.update(tx, id, { deleted_wal_offset: seq });
  const result = { instance_id: id, deleted: true as const, wal_offset: seq };
  if (slot !== undefined) rememberIdempotentResult(store, tx, slot, id, result);
  return result;
}

/** Instances ordered by id, filtered by machine and state, one page (decision 12). */
export function listInstances(store: MachineStore, params: ListParams = {}): ListResult {
  const machineFilter = checkOptionalText(params.machine, "machine");
  const stateFilter = checkOptionalText(params.state, "state");
  const limit = Math.min(pageNumber(params.limit, "limit", 100), machineListInstancesMax);
  const offset = pageNumber(params.offset, "offset", 0);
  const machines =
    machineFilter === undefined
      ? listMachines(store).items.map((item) => item.machine)
      : [machineFilter];
  const sources = machines.flatMap((machine) => {
    const table = store.table(instanceTableName(machine));
    return table === undefined
      ? []
      : [{ machine, rows: table.scan() as Iterator<InstanceRow, undefined> }];
  });
  const instances: ListResult["instances"] = [];
  let total = 0;
  for (const { machine, row } of mergeById(sources)) {
    if (stateFilter !== undefined && row.state !== stateFilter) continue;
    if (total >= offset && instances.length < limit) {
      instances.push({
        id: row.id,
        machine,
        version: row.version,
        state: row.state,
        created_at: row.created_at,
        updated_at: row.updated_at,
        last_wal_offset: row.last_wal_offset,
      });
    }
    total++;
  }
  return { instances, total, has_more: offset + instances.length < total };
}

function pageNumber(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new DbError("INVALID_ARGUMENT", `${name} must be a whole number >= 0`, {
      value: describeValue(value),
    });
  }
  return value;
}

/** Merges per-machine scans (each ordered by id) into one stream ordered by id. */
function* mergeById(
  sources: ReadonlyArray<{ machine: string; rows: Iterator<InstanceRow, undefined> }>,
): Generator<{ machine: string; row: InstanceRow }> {
  const heads = sources.map((source) => ({ source, row: source.rows.next().value }));
  for (;;) {
    let best: { source: (typeof sources)[number]; row: InstanceRow | undefined } | undefined;
    for (const head of heads) {
      if (head.row === undefined) continue;
      if (best?.row === undefined || head.row.id < best.row.id) best = head;
    }
    if (best?.row === undefined) return;
    yield { machine: best.source.machine, row: best.row };
    best.row = best.source.rows.next().value;
  }
}
