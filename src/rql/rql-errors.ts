/**
 * @module Errors as RQL reports them. The spec names RQL_UNKNOWN_OBJECT for a name that
 * resolves to nothing; engine errors raised while a script runs keep their codes, except
 * UNKNOWN_OBJECT, which becomes RQL_UNKNOWN_OBJECT with its message and details.
 */
import { DbError } from "../lib/errors.ts";
import type { Position } from "../expr/index.ts";

/** RQL_UNKNOWN_OBJECT naming the object and, when known, where the text names it. */
export function unknownObject(name: string, pos?: Position): DbError {
  const where = pos === undefined ? "" : `line ${pos.line}, column ${pos.col}: `;
  const details =
    pos === undefined
      ? { object: name }
      : { object: name, line: pos.line, col: pos.col, fragment: name };
  return new DbError("RQL_UNKNOWN_OBJECT", `${where}unknown object "${name}"`, details);
}

/** Translates an error thrown while a statement ran; anything else passes unchanged. */
export function toRqlError(error: unknown): unknown {
  if (!(error instanceof DbError) || error.code !== "UNKNOWN_OBJECT") return error;
  const translated = new DbError("RQL_UNKNOWN_OBJECT", error.message, error.details);
  if (error.stack !== undefined) translated.stack = error.stack;
  return translated;
}

const fragmentLengthMax = 60;

/**
 * A run-time error about a value the script wrote (an insert's value of the wrong type, a
 * duplicate key), given the line, column and text of that value, so that in a script writing
 * one table twice it says where. An error that already has a position, or no DbError, passes.
 */
export function atSource(error: unknown, pos: Position, text: string): unknown {
  if (!(error instanceof DbError) || error.details.line !== undefined) return error;
  const fragment = text.length > fragmentLengthMax ? `${text.slice(0, fragmentLengthMax)}…` : text;
  const located = new DbError(error.code, `line ${pos.line}, column ${pos.col}: ${error.message}`, {
    ...error.details,
    line: pos.line,
    col: pos.col,
    fragment,
  });
  if (error.stack !== undefined) located.stack = error.stack;
  return located;
}
