/**
 * @module The RQL script parser: statements separated by `;`, each read by the statement
 * grammar (parse-statement.ts, parse-pipeline.ts, parse-schema.ts) over the one token set of
 * the expression language. Parsed scripts are kept in a bounded LRU keyed by their text, so a
 * repeated query is parsed once; the cache entry also carries what later stages attach to it
 * (compiled plans), which is why scripts are returned as shared, immutable objects.
 */
import { TokenCursor, tokenize } from "../expr/index.ts";
import { DbError } from "../lib/errors.ts";
import { rqlScriptCacheEntriesMax, rqlScriptLengthMax, rqlStatementsMax } from "../lib/limits.ts";
import type { Script, Statement } from "./ast.ts";
import { ParseContext, rqlParseError } from "./parse-context.ts";
import { parseStatement } from "./parse-statement.ts";
import { deadlineTick, withinDeadline } from "./deadline.ts";
import type { QueryDeadline } from "./deadline.ts";

/** Characters of script text per unit of deadline cost: tokenizing 16 costs about one row. */
const parseCostShift = 4;

/**
 * Parses an RQL script. Throws RQL_PARSE (or UNKNOWN_FUNCTION, LIMIT_EXCEEDED) naming the
 * line, column and fragment of the first error.
 *
 * @example
 * parseScript("from shop::orders take 1").statements[0]!.type; // -> "query"
 */
export function parseScript(text: string): Script {
  if (typeof text !== "string") {
    throw new DbError("INVALID_ARGUMENT", `an RQL script must be text, got ${typeof text}`);
  }
  if (text.length > rqlScriptLengthMax) {
    throw new DbError(
      "LIMIT_EXCEEDED",
      `RQL script is ${text.length} characters; the limit is ${rqlScriptLengthMax}`,
      { limit: rqlScriptLengthMax, value: text.length },
    );
  }
  // Counted before the work it stands for, so a long script starts the deadline's clock.
  deadlineTick(text.length >> parseCostShift);
  const tokens = tokenize(text);
  deadlineTick(tokens.length);
  let positionalParamsMax = 0;
  for (const token of tokens) {
    if (token.kind === "parameter" && typeof token.value === "number") {
      positionalParamsMax = Math.max(positionalParamsMax, token.value);
    }
  }
  const p = new ParseContext(new TokenCursor(tokens), text);
  const statements: Statement[] = [];
  while (!p.cursor.atEnd()) {
    if (p.cursor.acceptSymbol(";")) continue;
    if (statements.length === rqlStatementsMax) {
      throw new DbError(
        "LIMIT_EXCEEDED",
        `a script may hold at most ${rqlStatementsMax} statements`,
      );
    }
    deadlineTick(1);
    statements.push(parseStatement(p));
    if (p.cursor.atSymbol("}")) {
      const token = p.peek();
      throw rqlParseError(token, 'unexpected "}" with no "{" to close', token.text);
    }
    p.expectStatementEnd("the statement");
  }
  return { statements, positionalParamsMax };
}

/** A cached parse plus per-statement slots later stages fill (compiled plans). */
export interface CachedScript {
  readonly text: string;
  readonly script: Script;
  /** Compiled statements, by index; owned by the executor. */
  readonly plans: unknown[];
}

const cache = new Map<string, CachedScript>();

/**
 * The cached parse of `text`, parsing it on a miss (under `deadline`, when given). A Map
 * iterates in insertion order, so re-inserting on a hit makes the first key the least
 * recently used one.
 */
export function parseScriptCached(text: string, deadline?: QueryDeadline): CachedScript {
  const hit = cache.get(text);
  if (hit !== undefined) {
    // Moving a hit to the back costs two map operations; only do it when the cache is busy.
    if (cache.size >= rqlScriptCacheEntriesMax / 2) {
      cache.delete(text);
      cache.set(text, hit);
    }
    return hit;
  }
  const script =
    deadline === undefined ? parseScript(text) : withinDeadline(deadline, () => parseScript(text));
  const entry: CachedScript = { text, script, plans: [] };
  if (cache.size >= rqlScriptCacheEntriesMax) cache.delete(cache.keys().next().value!);
  cache.set(text, entry);
  return entry;
}

/** How many parsed scripts the cache holds (for tests). */
export function parsedScriptCacheSize(): number {
  return cache.size;
}
