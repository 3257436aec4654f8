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
