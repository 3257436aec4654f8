/**
 * Fast-check arbitraries shared by property tests.
 */
import fc from "fast-check";

/**
 * Any JavaScript value a body or a request could hold, JSON's awkward ones included: bigints,
 * boxed values, dates, maps, sets, null prototypes, holes, typed arrays and lone surrogates.
 */
export function anyValue(maxDepth: number): fc.Arbitrary<unknown> {
  return fc.anything({
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withSparseArray: true,
    withTypedArray: true,
    stringUnit: "binary",
    maxDepth,
  });
}
