/**
 * @module JSON for every text protocol of the server (HTTP, WebSocket). RQL values do not all
 * have a JSON form, so this is the one place that decides theirs (specs/rql.md): integers
 * beyond the safe range travel as strings, blobs as 0x hex (the form a blob parameter takes,
 * so a value read can be written back), dates as ISO text, decimals and durations as their
 * RQL text. Clients never see a value JSON.stringify would refuse.
 */

/** Encodes a response body; never throws for values RQL can produce. */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value, replaceValue);
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
