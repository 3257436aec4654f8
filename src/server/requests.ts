/**
 * @module The request kinds HTTP and WebSocket share, as one table: RQL at the three entry
 * points and procedure calls. Each entry checks its input's shape (a client's mistake is
 * INVALID_ARGUMENT naming the field), the caller's role, then runs against the database.
 * Transport code only decodes, calls `runRequest` and encodes: the rules live here once.
 */
import { DbError, describeValue } from "../lib/errors.ts";
import { jsonDepthMax } from "../lib/limits.ts";
import type { Database, EntryPoint, QueryParams } from "../types.ts";
import { authorize, roleOfEntry } from "./access.ts";
import type { TokenRole } from "./auth.ts";

export type RequestKind = EntryPoint | "call";

export const requestKinds: readonly RequestKind[] = ["query", "command", "admin", "call"];

/** What requests run against: the database and each loaded procedure's role. */
export interface RequestContext {
  readonly db: Database;
  /** Roles of procedures loaded from the module; others (RQL-defined) need `write`. */
  readonly procedureRoles: ReadonlyMap<string, TokenRole>;
}

/**
 * Runs one request of `kind` for a caller with role `role`; resolves to its result, or
 * rejects with why it was refused. The database's own promise is handed back as it is: an
 * async function here would add a promise, and ticks to settle it, to every request.
 */
export function runRequest(
  context: RequestContext,
  kind: RequestKind,
  body: Record<string, unknown>,
  role: TokenRole,
): Promise<unknown> {
  try {
    return kind === "call" ? runCall(context, body, role) : runRql(context, kind, body, role);
  } catch (error) {
    // Passed on as thrown, as an async function's rejection would be.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    return Promise.reject(error);
  }
}

function runRql(
  context: RequestContext,
  kind: EntryPoint,
  body: Record<string, unknown>,
  role: TokenRole,
): Promise<unknown> {
  authorize(role, roleOfEntry[kind], kind);
  const rql = body["rql"];
  if (typeof rql !== "string" || rql === "") {
    throw new DbError("INVALID_ARGUMENT", `${kind}: "rql" must be a non-empty string`, {
      field: "rql",
      value: describeValue(rql),
    });
  }
  const params = readParams(body["params"], kind);
  return params === undefined ? context.db[kind](rql) : context.db[kind](rql, params);
}

function runCall(
  context: RequestContext,
  body: Record<string, unknown>,
  role: TokenRole,
): Promise<unknown> {
  const name = body["procedure"];
  if (typeof name !== "string" || name === "") {
    throw new DbError("INVALID_ARGUMENT", `call: "procedure" must be a non-empty string`, {
      field: "procedure",
      value: describeValue(name),
    });
  }
  const args = body["args"];
  const valid = args === undefined || args === null || typeof args === "object";
  if (!valid) {
    throw new DbError("INVALID_ARGUMENT", `call ${name}: "args" must be an object or an array`, {
      field: "args",
      value: describeValue(args),
    });
  }
  authorize(role, context.procedureRoles.get(name) ?? "write", `procedure ${name}`);
  checkRequestDepth(args, "args");
  const argsOrNone = args ?? undefined;
  return argsOrNone === undefined
    ? context.db.call(name)
    : context.db.call(name, argsOrNone as Record<string, unknown> | unknown[]);
}

function readParams(params: unknown, kind: RequestKind): QueryParams | undefined {
  if (params === undefined || params === null) return undefined;
  if (typeof params === "object") {
    checkRequestDepth(params, "params");
    return params as QueryParams;
  }
  throw new DbError("INVALID_ARGUMENT", `${kind}: "params" must be an object or an array`, {
    field: "params",
    value: describeValue(params),
  });
}

/**
 * Throws LIMIT_EXCEEDED when a request's params or args (`value`, named `field`) hold a list
 * or record deeper than a `json` value may be (jsonDepthMax, counted inside the params'
 * record or list). Deeper input reached recursive code (copying, encoding) and overflowed
 * its stack: a server fault for what is the client's input. Walked level by level, so the
 * check itself cannot overflow.
 */
export function checkRequestDepth(value: unknown, field: string): void {
  // Most args are one flat record (a procedure's named arguments): checked without the
  // level arrays below, which were 800 instructions of each WebSocket transfer (callgrind).
  if (value === null || typeof value !== "object" || isFlat(value)) return;
  let level: unknown[] = [value];
  for (let depth = 0; level.length > 0; depth++) {
    const next: unknown[] = [];
    for (const item of level) {
      if (item === null || typeof item !== "object") continue;
      if (depth > jsonDepthMax) {
        throw new DbError(
          "LIMIT_EXCEEDED",
          `"${field}" nests deeper than ${jsonDepthMax} levels of lists and records`,
          { field },
        );
      }
      // A loop, not push(...values): a list of a million params would overflow the spread.
      for (const child of Object.values(item)) next.push(child);
    }
    level = next;
  }
}

/** Whether no item of the list or record `value` is itself a list or record. */
function isFlat(value: object): boolean {
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) {
      if (item !== null && typeof item === "object") return false;
    }
    return true;
  }
  // for-in also visits inherited enumerable keys: at worst a full walk that was not needed.
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== null && typeof item === "object") return false;
  }
  return true;
}
