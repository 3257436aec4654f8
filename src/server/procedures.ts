/**
 * @module Loads the application's procedure module (`statebase serve --module ./app.js`) and
 * registers each procedure with the database, where each call runs as one transaction with
 * its arguments validated against the declared parameter types first. The module exports
 * `procedures`: an object of `{params, role?, run(tx, args)}` by name. What a module gets
 * wrong is reported before the database opens, naming the module and the procedure.
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
    db.defineProcedure(name, definition);
    roles.set(name, definition.role ?? "write");
  }
  return roles;
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
