/**
 * @module WATCH_INSTANCE, WATCH_ALL and UNWATCH (specs/rcp.md §2.6, §1.10, decision 10).
 * The subscription is registered before the answer is sent, so no live commit is missed;
 * replay of history after `from_offset` starts once the answer is out, so a client knows
 * the subscription id before its first event.
 */
import { randomUUID } from "node:crypto";
import { DbError } from "../../lib/errors.ts";
import type { Database } from "../../types.ts";
import { badRequest } from "./failure.ts";
import type { Operation, OperationContext } from "./operation.ts";
import { Params } from "./params.ts";
import { Watch } from "./watch.ts";
import type { WatchFilter } from "./watch.ts";

/**
 * Creates and registers a subscription; replay (when `from_offset` was given) is scheduled
 * to run after the response.
 */
async function startWatch(
  context: OperationContext,
  params: Params,
  kind: "instance" | "all",
  filter: WatchFilter,
): Promise<Watch> {
  const { core, session } = context;
  const subscriptionsMax = core.limits.subscriptionsPerConnectionMax;
  if (session.watchCount >= subscriptionsMax) {
    throw badRequest(`too many subscriptions on this connection (limit ${subscriptionsMax})`);
  }
  const from = params.optU64("from_offset");
  const db = core.db;
  if (from !== undefined) await checkRetained(db, from);
  const upto = db.seq;
  const watch = new Watch(
    {
      id: `sub-${randomUUID()}`,
      kind,
      filter,
      includeCtx: params.optBool("include_ctx") ?? true,
      includeLifecycle: params.optBool("include_lifecycle") ?? false,
      heldCommitsMax: core.limits.pendingEventsMax,
    },
    session,
    from ?? upto,
  );
  // Registered synchronously with reading `upto`: every later commit reaches the watch.
  session.addWatch(watch);
  // Held until the answer is out, so the client knows the id before the first event.
  session.afterResponse(async () => {
    if (from === undefined || from >= upto) watch.goLive();
    else await watch.replay(db, from + 1, upto);
  });
  return watch;
}

/** A resume point must still be in history, or the replay would have a gap. */
async function checkRetained(db: Database, from: number): Promise<void> {
  if (from >= db.seq) return;
  const [first] = await db.readCommits(from + 1, 1);
  if (first !== undefined && first.seq !== from + 1) {
    throw badRequest(
      `from_offset ${from} is no longer retained (history starts at ${first.seq - 1})`,
    );
  }
}

// WATCH_INSTANCE {instance_id, include_ctx?, from_offset?, include_lifecycle?}
const watchInstance: Operation = {
  role: "read",
  write: false,
  transactional: false,
  async run(context: OperationContext, raw: unknown) {
    const params = new Params(raw, "WatchInstanceParams");
    const instanceId = params.string("instance_id");
    const current = currentOf(context, instanceId, params.optU64("from_offset"));
    const filter = { instanceId, machines: [], fromStates: [], toStates: [], events: [] };
    const watch = await startWatch(context, params, "instance", filter);
    return {
      subscription_id: watch.id,
      instance_id: instanceId,
      current_state: current.state,
      current_wal_offset: current.offset,
    };
  },
};

/**
 * The watched instance's state and offset. A deleted instance is INSTANCE_NOT_FOUND (rstmdb
 * 0.2, decision 11) unless the resume point `from` lies before its deletion: then the client
 * missed its last events, so they are replayed up to the deletion, which ends the watch
 * (`reason: "deleted"`); its state reads "" (as a deletion event's) and its offset is the
 * deletion's.
 */
function currentOf(
  context: OperationContext,
  instanceId: string,
  from: number | undefined,
): { state: string; offset: number } {
  try {
    const instance = context.machines.getInstance(instanceId);
    return { state: instance.state, offset: instance.last_wal_offset };
  } catch (error) {
    if (from === undefined || !(error instanceof DbError)) throw error;
    if (error.code !== "INSTANCE_NOT_FOUND") throw error;
    const deletedAt = deletionOffset(context.core.db, instanceId);
    if (deletedAt === undefined || deletedAt <= from) throw error;
    return { state: "", offset: deletedAt };
  }
}

/** The machines' instance directory: ids to machines, with delete tombstones (machines.md). */
const instanceDirectory = "machine::_instances";

/** The offset at which an instance was deleted, or undefined (never existed, or live). */
function deletionOffset(db: Database, instanceId: string): number | undefined {
  let entry: Record<string, unknown> | undefined;
  try {
    entry = db.table(instanceDirectory).get(instanceId);
  } catch {
    return undefined; // no machine yet, so no directory
  }
  const offset = entry?.deleted_wal_offset;
  return typeof offset === "number" ? offset : undefined;
}

// WATCH_ALL {include_ctx?, from_offset?, machines?, from_states?, to_states?, events?,
//            include_lifecycle?}
const watchAll: Operation = {
  role: "read",
  write: false,
  transactional: false,
  async run(context: OperationContext, raw: unknown) {
    const params = new Params(raw, "WatchAllParams");
    const filter: WatchFilter = {
      machines: params.optStringList("machines") ?? [],
      fromStates: params.optStringList("from_states") ?? [],
      toStates: params.optStringList("to_states") ?? [],
      events: params.optStringList("events") ?? [],
    };
    const watch = await startWatch(context, params, "all", filter);
    return { subscription_id: watch.id, wal_offset: context.core.db.seq };
  },
};

// UNWATCH {subscription_id}: an unknown id is `removed: false`, not an error (as rstmdb).
const unwatch: Operation = {
  role: "read",
  write: false,
  transactional: true,
  run({ session }: OperationContext, raw: unknown) {
    const id = new Params(raw, "UnwatchParams").string("subscription_id");
    return { subscription_id: id, removed: session.removeWatch(id) };
  },
};

export const watchOperations: Readonly<Record<string, Operation>> = {
  WATCH_INSTANCE: watchInstance,
  WATCH_ALL: watchAll,
  UNWATCH: unwatch,
};
