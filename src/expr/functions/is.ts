/**
 * @module `is::` functions: the way to test for none, since a comparison with none is none
 * (`x == none` never holds in RQL).
 */
import { fixed } from "./common.ts";
import type { FunctionSpec } from "./common.ts";

function test(name: string, wanted: boolean): FunctionSpec {
  return {
    namespace: "is",
    name,
    arityMin: 1,
    arityMax: 1,
    // These exist to see none, so none must reach them.
    propagatesNone: false,
    pure: true,
    returns: fixed("bool"),
    invoke: (args) => (args[0] === null || args[0] === undefined) === wanted,
  };
}

export const isFunctions: readonly FunctionSpec[] = [test("none", true), test("some", false)];
