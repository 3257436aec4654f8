/**
 * @module Procedures: named units of work that run as (part of) one transaction. Two kinds
 * share one namespace and one calling convention:
 *
 * - TypeScript procedures, registered in process (`db.defineProcedure`), not stored: the
 *   application registers them again at every start.
 * - RQL procedures (`create procedure ns::p { id: int8 } as { ... }`), stored durably as
 *   catalog objects of kind `procedure`: their definition (parameters and body text) is a
 *   catalog change, so it is logged, snapshotted and replayed like a table's.
 *
 * Arguments are checked against the declared RQL types before the body runs, by the same
 * coercion as column values, and errors name the parameter. Recovery never re-runs a
 * procedure: commits carry their changes.
 */
import { assert } from "../lib/assert.ts";
import { DbError, describeValue } from "../lib/errors.ts";
import { proceduresMax } from "../lib/limits.ts";
import { checkIdentifier, qualifyName } from "../engine/index.ts";
import type {
  Catalog,
  Change,
  ObjectDefinition,
  SnapshotSource,
  StoredObject,
} from "../engine/index.ts";
import { coerceValue, parseType, typeName } from "../values/index.ts";
import type { ValueType } from "../values/index.ts";
import type { CreateProcedureStatement } from "./ast.ts";
import { parseScriptCached } from "./parser.ts";
import { firstAsyncRead } from "./prefetch.ts";
import type { CachedScript } from "./parser.ts";

/** One declared parameter. */
export interface ProcedureParam {
  readonly name: string;
  readonly type: ValueType;
}

/** The stored definition of an RQL procedure. */
export interface ProcedureObjectDefinition extends ObjectDefinition {
  readonly kind: "procedure";
  readonly params: ReadonlyArray<{ readonly name: string; readonly type: string }>;
  /** The body's RQL text, parsed again when the object is built. */
  readonly body: string;
}

function parseParams(
  entries: ReadonlyArray<readonly [string, string]>,
  procedure: string,
): ProcedureParam[] {
  const seen = new Set<string>();
  return entries.map(([name, spelling]) => {
    checkIdentifier(name, `${procedure} parameter ${name}`);
    if (seen.has(name)) {
      throw new DbError("INVALID_ARGUMENT", `${procedure}: parameter ${name} appears twice`, {
        object: procedure,
        column: name,
      });
    }
    seen.add(name);
    let type: ValueType;
    try {
      type = parseType(spelling);
    } catch (error) {
      if (!(error instanceof DbError)) throw error;
      throw new DbError("INVALID_ARGUMENT", `${procedure} parameter ${name}: ${error.message}`, {
        object: procedure,
        column: name,
      });
    }
    return { name, type };
  });
}

/** An RQL procedure in the catalog. Its create and drop are catalog changes; it has none. */
export class ProcedureObject implements StoredObject {
  readonly kind = "procedure" as const;
  readonly name: string;
  readonly params: readonly ProcedureParam[];
  readonly script: CachedScript;

  constructor(readonly definition: ProcedureObjectDefinition) {
    assert(definition.kind === "procedure", "a procedure object from a procedure definition");
    this.name = definition.name;
    this.params = parseParams(
      definition.params.map((param) => [param.name, param.type] as const),
      definition.name,
    );
    this.script = parseScriptCached(definition.body);
  }

  /** A snapshot keeps the definition (parameters and body) and nothing else. */
  snapshot(): SnapshotSource {
    return { meta: null, readChunk: () => [], mapKeyOfChange: () => null };
  }

  restore(meta: unknown, entries: ReadonlyArray<readonly [unknown, unknown]>): void {
    assert(meta === null, "a procedure snapshot has no meta");
    assert(entries.length === 0, "a procedure snapshot has no entries");
  }

  applyChange(change: Change): void {
    assert(false, `procedure ${this.name} got change ${change.kind}`);
  }

  revertChange(change: Change): void {
    assert(false, `procedure ${this.name} got change ${change.kind}`);
  }
}

/** Registers the factory that builds stored RQL procedures (on create and on recovery). */
export function registerProcedureFactory(catalog: Catalog): void {
  catalog.registerFactory("procedure", (d) => new ProcedureObject(d as ProcedureObjectDefinition));
}

/**
 * The definition `create procedure` stores. A body reading the past (`as of`) or a key's
 * history is refused: those are read from the log before a transaction starts, and a call
 * runs inside one, so every call would fail.
 */
export function procedureDefinition(
  statement: CreateProcedureStatement,
): ProcedureObjectDefinition {
  const read = firstAsyncRead(statement.statements);
  if (read !== undefined) {
    const { line, col } = read.object.pos;
    const what = read.asOf ? `${read.object.name} as of a past commit` : read.object.name;
    throw new DbError(
      "INVALID_ARGUMENT",
      `line ${line}, column ${col}: procedure ${statement.name.name} cannot read ${what}, ` +
        "which is read from the log before a transaction starts; query it directly",
      { object: statement.name.name, line, col, fragment: read.object.name },
    );
  }
  return {
    kind: "procedure",
    name: statement.name.name,
    params: statement.params.map((param) => ({ name: param.name, type: param.type })),
    body: statement.body,
  };
}

/** A TypeScript procedure as registered; `TxApi` is what its function receives. */
export interface NativeProcedure<TxApi> {
  readonly name: string;
  readonly params: readonly ProcedureParam[];
  readonly role: "read" | "write" | "admin";
  readonly run: (tx: TxApi, args: Record<string, unknown>) => unknown;
}

export type ResolvedProcedure<TxApi> =
  | { readonly kind: "native"; readonly procedure: NativeProcedure<TxApi> }
  | { readonly kind: "rql"; readonly procedure: ProcedureObject };

/**
 * How many names as called (`transfer`, `bank::transfer`) {@link ProcedureRegistry} keeps with
 * the TypeScript procedure each resolved to; past it the cache starts again empty.
 */
const calledNamesCachedMax = 1024;

/** TypeScript procedures of one database, and lookup across both kinds. */
export class ProcedureRegistry<TxApi> {
  private readonly natives = new Map<string, NativeProcedure<TxApi>>();
  /**
   * TypeScript procedures by the name they were called with: a call resolves its procedure
   * twice (to check its arguments, then to run it), and qualifying the name each time (split,
   * two pattern tests, a new string) was most of the look-up. Emptied by every define.
   */
  private readonly byCalledName = new Map<string, ResolvedProcedure<TxApi>>();

  /** Registers (or replaces) a TypeScript procedure. */
  define(
    name: string,
    definition: {
      params: Readonly<Record<string, string>>;
      role?: "read" | "write" | "admin";
      run: (tx: TxApi, args: Record<string, unknown>) => unknown;
    },
  ): void {
    const qualified = qualifyName(name).qualified;
    if (
      definition === null ||
      typeof definition !== "object" ||
      typeof definition.run !== "function"
    ) {
      throw new DbError("INVALID_ARGUMENT", `procedure ${qualified} needs a run function`, {
        object: qualified,
      });
    }
    const role = definition.role ?? "write";
    if (!["read", "write", "admin"].includes(role)) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `procedure ${qualified}: role must be read, write or admin`,
      );
    }
    if (!this.natives.has(qualified) && this.natives.size >= proceduresMax) {
      throw new DbError("LIMIT_EXCEEDED", `at most ${proceduresMax} procedures`, {
        object: qualified,
      });
    }
    const params = parseParams(Object.entries(definition.params ?? {}), qualified);
    this.natives.set(qualified, { name: qualified, params, role, run: definition.run });
    this.byCalledName.clear();
  }

  /** The procedure called `name` (TypeScript first), or UNKNOWN_PROCEDURE. */
  resolve(catalog: Catalog, name: string): ResolvedProcedure<TxApi> {
    const cached = this.byCalledName.get(name);
    if (cached !== undefined) return cached;
    const qualified = qualifyName(name).qualified;
    const native = this.natives.get(qualified);
    if (native !== undefined) {
      const resolved: ResolvedProcedure<TxApi> = { kind: "native", procedure: native };
      if (this.byCalledName.size >= calledNamesCachedMax) this.byCalledName.clear();
      this.byCalledName.set(name, resolved);
      return resolved;
    }
    const stored = catalog.get(qualified);
    if (stored instanceof ProcedureObject) return { kind: "rql", procedure: stored };
    throw new DbError("UNKNOWN_PROCEDURE", `unknown procedure "${name}"`, { object: name });
  }

  /** True when a TypeScript procedure has this name (RQL ones may not shadow it). */
  hasNative(name: string): boolean {
    return this.natives.has(qualifyName(name).qualified);
  }
}

/**
 * Checks and coerces call arguments against declared parameters: by name from a record, or
 * by position from a list. Unknown and missing (non-optional) parameters are refused, and a
 * value of the wrong type fails naming the parameter.
 */
export function coerceArguments(
  procedure: string,
  params: readonly ProcedureParam[],
  args: Readonly<Record<string, unknown>> | readonly unknown[] | undefined,
): Record<string, unknown> {
  const byName: Record<string, unknown> = {};
  if (Array.isArray(args)) {
    if (args.length > params.length) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `${procedure} takes ${params.length} argument${params.length === 1 ? "" : "s"}, ` +
          `got ${args.length}`,
        { object: procedure },
      );
    }
    const list: readonly unknown[] = args;
    list.forEach((value, i) => (byName[params[i]!.name] = value));
  } else if (args !== undefined && args !== null) {
    if (typeof args !== "object") {
      throw new DbError("INVALID_ARGUMENT", `${procedure}: arguments must be a record or a list`, {
        object: procedure,
        value: describeValue(args),
      });
    }
    for (const key of Object.keys(args)) {
      if (!hasParam(params, key)) {
        throw new DbError("INVALID_ARGUMENT", `${procedure} has no parameter "${key}"`, {
          object: procedure,
          column: key,
        });
      }
      byName[key] = (args as Record<string, unknown>)[key];
    }
  }
  const out: Record<string, unknown> = {};
  for (const param of params) {
    const value = byName[param.name];
    if ((value === undefined || value === null) && !param.type.optional) {
      throw new DbError(
        "INVALID_ARGUMENT",
        `${procedure}: parameter ${param.name} (${typeName(param.type)}) is required`,
        { object: procedure, column: param.name },
      );
    }
    out[param.name] = coerceParam(procedure, param, value);
  }
  return out;
}

/**
 * Whether a parameter is called `name`. A loop, not a Set of the names made per call: a
 * procedure declares a few parameters, and a record naming more is refused at its first
 * unknown key.
 */
function hasParam(params: readonly ProcedureParam[], name: string): boolean {
  for (const param of params) if (param.name === name) return true;
  return false;
}

function coerceParam(procedure: string, param: ProcedureParam, value: unknown): unknown {
  try {
    return coerceValue(param.type, value, { object: procedure, column: param.name });
  } catch (error) {
    if (!(error instanceof DbError)) throw error;
    throw new DbError(
      error.code,
      `${procedure}: parameter ${param.name} (${typeName(param.type)}): ${error.message}`,
      { ...error.details, object: procedure, column: param.name },
    );
  }
}
