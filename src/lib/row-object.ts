/**
 * @module Row objects sized to their columns. An object literal `{}` gets four in-object
 * property slots whatever it ends up holding: a two-column row took 56 bytes, and a row of
 * five or more columns kept the rest in a separate property array (one more object, and one
 * more memory access per read). Objects made by `new` of a function are sized by V8 to the
 * properties its first objects received (in-object slack tracking): a two-column row takes 40
 * bytes, and up to ten columns stay inside the object. Each schema or view operator makes its
 * own constructor, so each sizes itself. The prototype is `Object.prototype`: a row is a plain
 * object to every caller (spread, JSON, `assert.deepStrictEqual`). Such constructors also make
 * other plain objects the change feed keeps (JSON documents, merged contexts), which V8 must not
 * pretenure (young-array.ts). `setOwnKey` fills any plain object by key, `__proto__` included.
 */

/** Makes empty row objects of one shape family; call with `new`. */
export type RowConstructor = new () => Record<string, unknown>;

/** A constructor of its own for one kind of row (a table's, a view operator's output). */
export function rowConstructor(): RowConstructor {
  // A function expression per call: each has its own initial map, so its own slack tracking.
  const RowObject = function () {} as unknown as RowConstructor;
  RowObject.prototype = Object.prototype;
  return RowObject;
}

/**
 * Sets `key` as an own enumerable data property of a plain object: assigning a key named
 * `__proto__` would set the object's prototype instead (and the key would be lost).
 */
export function setOwnKey(record: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(record, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    record[key] = value;
  }
}
