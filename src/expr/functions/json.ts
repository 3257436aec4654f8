/**
 * @module `json::` functions: build documents from values and spell them as JSON text. None
 * inside a document is JSON null rather than making the whole document none.
 */
import { DbError } from "../../lib/errors.ts";
import { functionArgumentsMax } from "../../lib/limits.ts";
import { setOwnKey } from "../../lib/row-object.ts";
import { defineFunction, expectText, fixed, invalidArgument } from "./common.ts";
import type { FunctionSpec } from "./common.ts";

function jsonFunction(
  name: string,
  arity: readonly [number, number],
  returns: FunctionSpec["returns"],
  invoke: FunctionSpec["invoke"],
): FunctionSpec {
  // None inside a document is JSON null, so none must reach these functions.
  return defineFunction("json", name, arity, returns, invoke, {
    propagatesNone: false,
    arityEven: name === "object",
  });
}

/** `json::object(k1, v1, k2, v2, ...)`: keys are text and unique. */
function object(args: readonly unknown[]): unknown {
  const result: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i += 2) {
    const key = expectText("json::object", args, i);
    if (Object.hasOwn(result, key)) {
      throw invalidArgument("json::object", `duplicate key ${JSON.stringify(key)}`, key);
    }
    setOwnKey(result, key, args[i + 1] ?? null);
  }
  return result;
}

function array(args: readonly unknown[]): unknown {
  // A copy: the caller reuses `args` for the next evaluation.
  return args.map((value) => value ?? null);
}

/**
 * Values JSON has no spelling for: bigints and blobs become text, blobs as 0x hex as the
 * server sends them (dates, decimals and durations already spell themselves via toJSON).
 */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return `${value}`;
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString("hex")}`;
  return value;
}

function serialize(args: readonly unknown[]): unknown {
  try {
    return JSON.stringify(args[0] ?? null, jsonReplacer);
  } catch (error) {
    // Only a cyclic value can fail here; report it as an evaluation error, not a crash.
    const reason = error instanceof Error ? error.message : String(error);
    throw new DbError("EVAL_ERROR", `json::serialize: ${reason}`);
  }
}

export const jsonFunctions: readonly FunctionSpec[] = [
  jsonFunction("object", [0, functionArgumentsMax], fixed("json"), object),
  jsonFunction("array", [0, functionArgumentsMax], fixed("json"), array),
  jsonFunction("serialize", [1, 1], fixed("utf8"), serialize),
];
