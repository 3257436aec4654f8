/**
 * @module Loads the application's procedure module (`statebase serve --module ./app.js`) and
 * registers each procedure with the database, where each call runs as one transaction with
 * its arguments validated against the declared parameter types first. The module exports
 * `procedures`: an object of `{params, role?, run(tx, args)}` by name. What a module gets
 * wrong is reported before the database opens, naming the module and the procedure; a
 * result with no JSON form fails its call inside the transaction, so nothing commits.
 */
import { DbError } from "../lib/errors.ts";
import type { Database, ProcedureDefinition } from "../types.ts";
import type { TokenRole } from "./auth.ts";

const roles: readonly TokenRole[] = ["read", "write", "admin"];

/** A procedure module's definitions, read and checked, by name. */
export type ProcedureModule = ReadonlyMap<string, ProcedureDefinition>;

/**
 * Imports `path` with `importModule` and checks every definition. It needs no database, so a
 * server does it before opening one: a wrong module is said before a long recovery.
 */
export async function readProcedureModule(
  path: string,
  importModule: (path: string) => Promise<Record<string, unknown>>,
): Promise<ProcedureModule> {
  let loaded: Record<string, unknown>;
  try {
    loaded = await importModule(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new DbError("INVALID_ARGUMENT", `cannot load module ${path}: ${reason}`, {
      value: path,
    });
  }
  const procedures = procedureTable(loaded, path);
  const out = new Map<string, ProcedureDefinition>();
  for (const [name, value] of Object.entries(procedures)) {
    out.set(name, checkDefinition(value, name, path));
  }
  return out;
}

/** Registers the module's procedures with `db`; returns each one's role (checked per call). */
export function registerProcedures(db: Database, module: ProcedureModule): Map<string, TokenRole> {
  const roles = new Map<string, TokenRole>();
  for (const [name, definition] of module) {
    const { run } = definition;
    // Checked inside the call's transaction: a result no client could be sent fails the call
    // before it commits, instead of answering `{}` (or an internal error) for a commit made.
    db.defineProcedure(name, {
      ...definition,
      run: (tx, args) => checkResult(name, run(tx, args)),
    });
    roles.set(name, definition.role ?? "write");
  }
  return roles;
}

/**
 * How deep a result may nest: far beyond any real answer (an RQL json value nests at most
 * 64), and shallow enough that encoding it cannot overflow the server thread's stack.
 */
const resultDepthMax = 1000;

/**
 * Returns `value` when every part of it has a JSON form (server/json.ts: bigints, blobs,
 * dates, maps and sets have one; `undefined` is null), else throws naming where it is not.
 */
function checkResult(name: string, value: unknown): unknown {
  // A scalar (most results) has its JSON form: returned before the closures below are made,
  // since tsx names each named closure with an Object.defineProperty (about 3,900
  // instructions each, two per call: callgrind of bench/server.ts's transfer).
  const type = typeof value;
  if (value === null || (type !== "object" && type !== "function" && type !== "symbol")) {
    return value;
  }
  return checkResultParts(name, value);
}

function checkResultParts(name: string, value: unknown): unknown {
  const refuse = (what: string, path: string): never => {
    const where = path === "result" ? "as its result" : `at ${path}`;
    throw new DbError(
      "INVALID_ARGUMENT",
      `procedure ${name} returned ${what} ${where}; a result must be JSON data ` +
        `(objects, arrays, strings, numbers, bigints, booleans, null), so the call was rolled back`,
      { object: name, field: path },
    );
  };
  const inPath = new Set<object>();
  const visit = (part: unknown, path: string, depth: number): void => {
    if (typeof part === "function") refuse("a function", path);
    if (typeof part === "symbol") refuse("a symbol", path);
    if (part === null || typeof part !== "object" || ArrayBuffer.isView(part)) return;
    if (typeof (part as { toJSON?: unknown }).toJSON === "function") return; // dates, decimals
    if (depth > resultDepthMax) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `procedure ${name} returned a result nested deeper than ${resultDepthMax} levels; ` +
          `the call was rolled back`,
        { object: name },
      );
    }
    if (inPath.has(part)) refuse("an object that contains itself", path);
    inPath.add(part);
    visitChildren(part, path, (child, childPath) => visit(child, childPath, depth + 1));
    inPath.delete(part);
  };
  visit(value, "result", 0);
  return value;
}

/** Calls `each` with every element or property of `part` and its path, as JSON sends them. */
function visitChildren(
  part: object,
  path: string,
  each: (child: unknown, childPath: string) => void,
): void {
  if (Array.isArray(part)) {
    part.forEach((child, index) => each(child, `${path}[${index}]`));
    return;
  }
  if (part instanceof Set) {
    [...part].forEach((child, index) => each(child, `${path}[${index}]`));
    return;
  }
  const entries = part instanceof Map ? [...part] : Object.entries(part);
  for (const [key, child] of entries) each(child, `${path}.${String(key)}`);
}

/** The `procedures` export, or the default export's `procedures`. */
function procedureTable(loaded: Record<string, unknown>, path: string): Record<string, unknown> {
  const fallback = loaded["default"] as Record<string, unknown> | undefined;
  const table = loaded["procedures"] ?? fallback?.["procedures"];
  if (table === null || typeof table !== "object" || Array.isArray(table)) {
    throw new DbError(
      "INVALID_ARGUMENT",
      `module ${path} must export procedures: an object of {params, role?, run} by name`,
      { value: path },
    );
  }
  return table as Record<string, unknown>;
}

function checkDefinition(value: unknown, name: string, path: string): ProcedureDefinition {
  const fail = (what: string): never => {
    throw new DbError("INVALID_ARGUMENT", `module ${path}: procedure ${name}: ${what}`, {
      object: name,
      value: path,
    });
  };
  if (value === null || typeof value !== "object") return fail("must be {params, role?, run}");
  const { params, role, run } = value as Record<string, unknown>;
  if (typeof run !== "function") fail("run must be a function (tx, args) => result");
  const paramsOk =
    params === undefined ||
    (params !== null &&
      typeof params === "object" &&
      !Array.isArray(params) &&
      Object.values(params).every((type) => typeof type === "string"));
  if (!paramsOk) fail("params must map each parameter name to an RQL type such as int8");
  if (role !== undefined && !roles.includes(role as TokenRole)) {
    fail("role must be read, write or admin");
  }
  const definition: ProcedureDefinition = {
    params: (params ?? {}) as Record<string, string>,
    run: run as ProcedureDefinition["run"],
  };
  if (role !== undefined) definition.role = role as TokenRole;
  return definition;
}
