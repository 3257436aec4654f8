/**
 * @module `is::` functions: the way to test for none, since a comparison with none is none
 * (`x == none` never holds in RQL).
 */
import { defineFunction, fixed } from "./common.ts";
import type { FunctionSpec } from "./common.ts";

function test(name: string, wanted: boolean): FunctionSpec {
  const invoke: FunctionSpec["invoke"] = (args) =>
    (args[0] === null || args[0] === undefined) === wanted;
  // These exist to see none, so none must reach them.
  return defineFunction("is", name, [1, 1], fixed("bool"), invoke, { propagatesNone: false });
}

export const isFunctions: readonly FunctionSpec[] = [test("none", true), test("some", false)];
