/**
 * @module State machine guards: rstmdb's guard language (rcp.md §3) as a dialect of the one
 * expression language. Every rstmdb guard gives rstmdb's result; beyond that guards accept the
 * whole language (and, or, in, arithmetic, functions) and may read `payload.x`. Unlike rstmdb,
 * trailing input is an error (rcp.md decision 7), caught when the machine is defined.
 */
import type { ValueType } from "../values/index.ts";
import { compilePredicate } from "./compile.ts";
import { parseExpression } from "./parser.ts";
import type { Scope } from "./scope.ts";

/** A compiled guard: true when the transition may be taken. */
export type Guard = (ctx: unknown, payload: unknown, now?: () => number) => boolean;

const guardFields: ReadonlyMap<string, ValueType | undefined> = new Map([
  ["ctx", undefined],
  ["payload", undefined],
]);

/**
 * Parses and compiles a guard. Throws RQL_PARSE (syntax, with position), UNKNOWN_COLUMN (a
 * root other than ctx./payload.) or UNKNOWN_FUNCTION; a valid guard never throws when run
 * unless it uses an extension that can (arithmetic on text, a function given a wrong kind).
 *
 * @example
 * const guard = compileGuard('ctx.amount > 100 && ctx.tier == "gold"');
 * guard({ amount: 150, tier: "gold" }, {}); // -> true
 * guard({ amount: 150 }, {}); // -> false
 */
export function compileGuard(source: string): Guard {
  const ast = parseExpression(source, { semantics: "guard" });
  const predicate = compilePredicate(ast, { semantics: "guard", fields: guardFields });
  // One scope reused across calls: evaluation is synchronous and never re-enters a guard.
  const row = { ctx: null as unknown, payload: null as unknown };
  const scope: Scope = { row };
  return (ctx, payload, now) => {
    row.ctx = ctx;
    row.payload = payload;
    try {
      return predicate(now === undefined ? scope : { row, now });
    } finally {
      // Do not keep the last instance's context alive.
      row.ctx = null;
      row.payload = null;
    }
  };
}
