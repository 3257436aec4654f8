/**
 * @module JSON for every text protocol of the server (HTTP, WebSocket). RQL values do not all
 * have a JSON form, so this is the one place that decides theirs (specs/rql.md): integers
 * beyond the safe range travel as strings, blobs as 0x hex (the form a blob parameter takes,
 * so a value read can be written back), dates as ISO text, decimals and durations as their
 * RQL text. Clients never see a value JSON.stringify would refuse.
 */

/**
 * How many parts (values, at every level) a body may have for {@link encodeJson} to look
 * through it for parts only {@link replaceValue} encodes; a larger body is encoded with the
 * replacer without looking, so the look costs a bounded fraction of the encoding.
 */
const plainPartsMax = 1024;

/** Encodes a response body; never throws for values RQL can produce. */
export function encodeJson(value: unknown): string {
  // JSON.stringify calls a replacer for every key and value: a WebSocket transfer answer
  // took 6,900 instructions with it (callgrind), ~1,000 without. A body of plain JSON parts
  // encodes the same either way, so it skips the replacer.
  if (plainPartsLeft(value, plainPartsMax) >= 0) return JSON.stringify(value);
  return encodeJsonReplacing(value);
}

/**
 * The text encodeJson gives `{id, type: "result", result}`, built around the encodings of
 * `id` and `result`: the envelope's own parts are neither looked through nor encoded again
 * (a transfer's answer: 3,055 instructions against 4,270 for encodeJson of it, callgrind).
 */
export function encodeResultAnswer(id: string | number, result: unknown): string {
  const body = encodeJson(result) as string | undefined;
  // A result JSON has no form for (a function): the key is left out, as encodeJson does.
  if (body === undefined) return encodeJson({ id, type: "result", result });
  return `{"id":${encodeJson(id)},"type":"result","result":${body}}`;
}

/** {@link encodeJson} with the replacer for every part (what it gives for any value). */
export function encodeJsonReplacing(value: unknown): string {
  return JSON.stringify(value, replaceValue);
}

/**
 * `budget` less the parts of `value`, or -1 when `value` has more parts than `budget` or one
 * that {@link replaceValue} would change or that JSON.stringify treats on its own (a class
 * instance, a toJSON, undefined, a hole): strings, booleans, finite numbers, null, arrays and
 * objects of plain prototype only.
 */
function plainPartsLeft(value: unknown, budget: number): number {
  if (budget <= 0) return -1;
  let left = budget - 1;
  const type = typeof value;
  if (type === "string" || type === "boolean") return left;
  if (type === "number") return Number.isFinite(value) ? left : -1;
  if (type !== "object") return -1;
  if (value === null) return left;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (Array.isArray(value)) {
    if (prototype !== Array.prototype) return -1;
    for (let index = 0; index < value.length && left >= 0; index++) {
      left = index in value ? plainPartsLeft(value[index], left) : -1;
    }
    return left;
  }
  if (prototype !== Object.prototype && prototype !== null) return -1;
  const record = value as Record<string, unknown>;
  if ("toJSON" in record) return -1;
  for (const key in record) {
    left = plainPartsLeft(record[key], left);
    if (left < 0) return -1;
  }
  return left;
}

function replaceValue(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") {
    const small =
      value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
    return small ? Number(value) : value.toString();
  }
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString("hex")}`;
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (value === undefined) return null;
  return value;
}
