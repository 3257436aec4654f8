/**
 * @module Which statements each entry point allows: `query` reads, `command` also writes data,
 * `admin` also changes schema. The whole script is checked before anything runs, so a
 * refused statement leaves nothing applied.
 */
import { DbError } from "../lib/errors.ts";
import type { EntryPoint } from "./entry-point.ts";
import type { Script, Statement } from "./ast.ts";

export type StatementClass = "read" | "write" | "schema";

const entryAllows: Readonly<Record<EntryPoint, ReadonlySet<StatementClass>>> = {
  query: new Set(["read"]),
  command: new Set(["read", "write"]),
  admin: new Set(["read", "write", "schema"]),
};

/** What a statement does, for permissions. A procedure call may write, so it is a write. */
export function statementClass(statement: Statement): StatementClass {
  switch (statement.type) {
    case "query":
      return "read";
    case "insert":
    case "update":
    case "delete":
    case "counter_add":
    case "histogram_record":
    case "queue":
    case "call":
      return "write";
    default:
      return "schema";
  }
}

const classWords: Readonly<Record<StatementClass, string>> = {
  read: "a read",
  write: "a data change",
  schema: "a schema change",
};

/** Refuses the script when any statement is not allowed at `entry` (FORBIDDEN). */
export function checkEntryPoint(script: Script, entry: EntryPoint): void {
  const allowed = entryAllows[entry];
  for (const statement of script.statements) {
    const kind = statementClass(statement);
    if (allowed.has(kind)) continue;
    const where = entry === "query" ? "command or admin" : "admin";
    throw new DbError(
      "FORBIDDEN",
      `line ${statement.pos.line}, column ${statement.pos.col}: ${statement.type} is ` +
        `${classWords[kind]}, not allowed at the ${entry} entry point; use ${where}`,
      { line: statement.pos.line, col: statement.pos.col, fragment: statement.type, entry },
    );
  }
}

/** The highest procedure role a script at each entry point may call: its endpoint's role. */
const entryRoleRank: Readonly<Record<EntryPoint, number>> = { query: 0, command: 1, admin: 2 };
const roleRank: Readonly<Record<"read" | "write" | "admin", number>> = {
  read: 0,
  write: 1,
  admin: 2,
};

/**
 * Refuses `call` of a TypeScript procedure whose declared role is above the script's entry
 * point (FORBIDDEN): a server checks that role only for direct calls, so a write token's
 * command script could otherwise run an admin procedure.
 */
export function checkProcedureRole(
  name: string,
  role: "read" | "write" | "admin",
  entry: EntryPoint,
): void {
  if (roleRank[role] <= entryRoleRank[entry]) return;
  const where = role === "admin" ? "admin" : "command or admin";
  throw new DbError(
    "FORBIDDEN",
    `procedure ${name} has role ${role}, so a script may call it only at the ${where} ` +
      `entry point, not at ${entry}`,
    { object: name, needed: role, entry },
  );
}
