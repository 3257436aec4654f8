/**
 * @module The state machine operations (specs/rcp.md §2.6): each reads its params the way
 * rstmdb does and calls the MachinesApi of the running transaction, whose results already
 * have the RCP shapes. Statebase's decisions 5 (ctx defaults to `{}`) and the extra
 * MIGRATE_INSTANCES op live here.
 */
import { badRequest } from "./failure.ts";
import { defined } from "./operation.ts";
import type { Operation, OperationContext } from "./operation.ts";
import { Params } from "./params.ts";

/** A transactional machine operation needing `role`. */
function machineOp(
  role: "read" | "write",
  run: (context: OperationContext, params: Params) => unknown,
  structName: string,
): Operation {
  return {
    role,
    write: role === "write",
    transactional: true,
    run: (context, raw) => run(context, new Params(raw, structName)),
  };
}

/** rstmdb reads these ops' instance_id by hand and has its own message when it is missing. */
function instanceIdOf(params: Params): string {
  const id = params.any("instance_id");
  if (typeof id !== "string") throw badRequest("missing instance_id");
  return id;
}

// PUT_MACHINE {machine, version, definition, checksum? (ignored)}
const putMachine = machineOp(
  "write",
  ({ machines }, p) => machines.put(p.string("machine"), p.u32("version"), p.object("definition")),
  "PutMachineParams",
);

// GET_MACHINE {machine, version}
const getMachine = machineOp(
  "read",
  ({ machines }, p) => machines.get(p.string("machine"), p.u32("version")),
  "GetMachineParams",
);

// LIST_MACHINES (params ignored)
const listMachines: Operation = {
  role: "read",
  write: false,
  transactional: true,
  run: ({ machines }: OperationContext) => machines.list(),
};

// CREATE_INSTANCE {instance_id?, machine, version, initial_ctx?, idempotency_key?}
const createInstance = machineOp(
  "write",
  ({ machines }, p) => {
    const ctx = p.any("initial_ctx") ?? {};
    if (typeof ctx !== "object" || Array.isArray(ctx)) {
      throw badRequest("initial_ctx must be a JSON object (decision 5)");
    }
    return machines.createInstance(
      defined({
        instance_id: p.optString("instance_id"),
        machine: p.string("machine"),
        version: p.u32("version"),
        initial_ctx: ctx,
        idempotency_key: p.optString("idempotency_key"),
      }),
    );
  },
  "CreateInstanceParams",
);

// GET_INSTANCE {instance_id}
const getInstance = machineOp(
  "read",
  ({ machines }, p) => machines.getInstance(p.string("instance_id")),
  "GetInstanceParams",
);

// LIST_INSTANCES {machine?, state?, limit?, offset?}
const listInstances = machineOp(
  "read",
  ({ machines }, p) =>
    machines.listInstances(
      defined({
        machine: p.optString("machine"),
        state: p.optString("state"),
        limit: p.optU32("limit"),
        offset: p.optU32("offset"),
      }),
    ),
  "ListInstancesParams",
);

// DELETE_INSTANCE {instance_id, idempotency_key?}
const deleteInstance = machineOp(
  "write",
  ({ machines }, p) =>
    machines.deleteInstance(
      defined({ instance_id: instanceIdOf(p), idempotency_key: p.optString("idempotency_key") }),
    ),
  "DeleteInstanceParams",
);

// APPLY_EVENT {instance_id, event, payload?, expected_state?, expected_wal_offset?,
//              event_id?, idempotency_key?}
const applyEvent = machineOp(
  "write",
  ({ machines }, p) => machines.applyEvent(applyEventParams(p)),
  "ApplyEventParams",
);

type ApplyEventParams = Parameters<OperationContext["machines"]["applyEvent"]>[0];

/**
 * APPLY_EVENT's params, fields read in rstmdb's order. Set one by one, not through
 * `defined()`: its loop adds each property by a computed key, a slow store, once per event.
 */
function applyEventParams(p: Params): ApplyEventParams {
  const params: ApplyEventParams = {
    instance_id: p.string("instance_id"),
    event: p.string("event"),
  };
  const payload = p.any("payload");
  if (payload !== undefined) params.payload = payload;
  const expectedState = p.optString("expected_state");
  if (expectedState !== undefined) params.expected_state = expectedState;
  const expectedOffset = p.optU64("expected_wal_offset");
  if (expectedOffset !== undefined) params.expected_wal_offset = expectedOffset;
  const eventId = p.optString("event_id");
  if (eventId !== undefined) params.event_id = eventId;
  const key = p.optString("idempotency_key");
  if (key !== undefined) params.idempotency_key = key;
  return params;
}

// MIGRATE_INSTANCES {machine, from_version, to_version, state_map, instance_ids?}
const migrateInstances = machineOp(
  "write",
  ({ machines }, p) => {
    const stateMap = p.object("state_map");
    for (const [from, to] of Object.entries(stateMap)) {
      if (typeof to !== "string") throw badRequest(`state_map["${from}"] must be a state name`);
    }
    return machines.migrateInstances(
      defined({
        machine: p.string("machine"),
        from_version: p.u32("from_version"),
        to_version: p.u32("to_version"),
        state_map: stateMap as Record<string, string>,
        instance_ids: p.optStringList("instance_ids"),
      }),
    );
  },
  "MigrateInstancesParams",
);

export const machineOperations: Readonly<Record<string, Operation>> = {
  PUT_MACHINE: putMachine,
  GET_MACHINE: getMachine,
  LIST_MACHINES: listMachines,
  CREATE_INSTANCE: createInstance,
  GET_INSTANCE: getInstance,
  LIST_INSTANCES: listInstances,
  DELETE_INSTANCE: deleteInstance,
  APPLY_EVENT: applyEvent,
  MIGRATE_INSTANCES: migrateInstances,
};
