/**
 * @module The function registry: every `ns::name` the expression language knows, looked up by
 * the parser (an unknown function is a parse error) and the compiler (arity, typing, calls).
 * Aggregate names are listed apart, because the RQL aggregate step evaluates them itself.
 */
import { assert } from "../../lib/assert.ts";
import { functionArgumentsMax } from "../../lib/limits.ts";
import type { CallExpr, Expr } from "../ast.ts";
import { qualifiedName } from "./common.ts";
import type { FunctionSpec } from "./common.ts";
import { dateFunctions } from "./date.ts";
import { isFunctions } from "./is.ts";
import { jsonFunctions } from "./json.ts";
import { mathFunctions } from "./math.ts";
import { textFunctions } from "./text.ts";

export type { FunctionSpec } from "./common.ts";

const registry: ReadonlyMap<string, FunctionSpec> = buildRegistry([
  ...mathFunctions,
  ...textFunctions,
  ...dateFunctions,
  ...isFunctions,
  ...jsonFunctions,
]);

function buildRegistry(specs: readonly FunctionSpec[]): Map<string, FunctionSpec> {
  const map = new Map<string, FunctionSpec>();
  for (const spec of specs) {
    const key = qualifiedName(spec);
    assert(!map.has(key), `function ${key} is registered twice`);
    assert(spec.arityMin >= 0 && spec.arityMin <= spec.arityMax, `${key}: arity range`);
    assert(spec.arityMax <= functionArgumentsMax, `${key}: arity above functionArgumentsMax`);
    assert(spec.namespace === spec.namespace.toLowerCase(), `${key}: lowercase namespace`);
    assert(spec.name === spec.name.toLowerCase(), `${key}: lowercase name`);
    map.set(key, spec);
  }
  return map;
}

/**
 * The aggregate functions of RQL's `aggregate` step. With one argument `math::min` and
 * `math::max` are aggregates; with two or more they are the scalar functions.
 */
export const aggregateFunctionNames: ReadonlySet<string> = new Set([
  "math::count",
  "math::sum",
  "math::avg",
  "math::min",
  "math::max",
  "math::first",
  "math::last",
]);

/**
 * True when `node` is an aggregate call such as `math::sum(total)`.
 *
 * @example
 * isAggregateCall(parseExpression("math::sum(total)")); // -> true
 * isAggregateCall(parseExpression("math::max(a, b)")); // -> false
 */
export function isAggregateCall(node: Expr): boolean {
  if (node.type !== "call") return false;
  const name = `${node.namespace}::${node.name}`;
  if (!aggregateFunctionNames.has(name)) return false;
  return !((node.name === "min" || node.name === "max") && node.args.length >= 2);
}

/** The scalar function `namespace::name` (lowercase), or undefined. */
export function getFunction(namespace: string, name: string): FunctionSpec | undefined {
  return registry.get(`${namespace}::${name}`);
}

/**
 * False for a call whose value depends on when it runs (`datetime::now()`): what derived
 * state maintained from changes alone cannot use. Aggregates and unknown names are pure.
 */
export function isPureCall(node: CallExpr): boolean {
  return getFunction(node.namespace, node.name)?.pure ?? true;
}

/** True for every name a call may use: scalar functions and aggregates. */
export function hasFunction(namespace: string, name: string): boolean {
  const key = `${namespace}::${name}`;
  return registry.has(key) || aggregateFunctionNames.has(key);
}

/** Every scalar function, for documentation and `system::functions`. */
export function forEachFunction(callback: (spec: FunctionSpec) => void): void {
  for (const spec of registry.values()) callback(spec);
}
