/**
 * @module Human-readable output of RCP results for the client commands and the REPL: one
 * short line per fact, JSON only where the value is the user's own (a context, a payload,
 * a definition). `--json` bypasses all of this and prints the server's result.
 */

type Result = Record<string, unknown>;

/** The lines to print for `result` of operation `op`. */
export function formatResult(op: string, result: unknown): string[] {
  const r = (result ?? {}) as Result;
  const format = formatters[op];
  return format === undefined ? keyValueLines(r) : format(r);
}

const json = (value: unknown): string => JSON.stringify(value);

const formatters: Readonly<Record<string, (r: Result) => string[]>> = {
  PING: () => ["PONG"],
  PUT_MACHINE: (r) => [
    `${r.created === true ? "stored" : "unchanged"} ${s(r.machine)} v${s(r.version)} ` +
      `(checksum ${s(r.stored_checksum)})`,
  ],
  GET_MACHINE: (r) => [`checksum: ${s(r.checksum)}`, JSON.stringify(r.definition, null, 2)],
  LIST_MACHINES: (r) => {
    const items = r.items as Array<{ machine: string; versions: number[] }>;
    if (items.length === 0) return ["(no machines)"];
    return items.map((item) => `${item.machine}  versions ${item.versions.join(", ")}`);
  },
  CREATE_INSTANCE: (r) => [
    `created ${s(r.instance_id)} in state ${s(r.state)} (offset ${s(r.wal_offset)})`,
  ],
  GET_INSTANCE: (r) => keyValueLines(r),
  LIST_INSTANCES: (r) => listInstancesLines(r),
  DELETE_INSTANCE: (r) => [`deleted ${s(r.instance_id)} (offset ${s(r.wal_offset)})`],
  APPLY_EVENT: (r) => [
    `${s(r.from_state)} -> ${s(r.to_state)} (offset ${s(r.wal_offset)}` +
      `${r.applied === false ? ", replayed" : ""})`,
    `ctx: ${json(r.ctx)}`,
  ],
  WAL_READ: (r) => {
    const records = r.records as Array<{ offset: number; entry: Result }>;
    const lines = records.map((record) => `${record.offset}  ${describeEntry(record.entry)}`);
    return [...lines, `next offset: ${r.next_offset === null ? "none" : s(r.next_offset)}`];
  },
};

function listInstancesLines(r: Result): string[] {
  const instances = r.instances as Array<Result>;
  const lines = instances.map(
    (i) =>
      `${s(i.id)}  ${s(i.machine)} v${s(i.version)}  ${s(i.state)}  offset ${s(i.last_wal_offset)}`,
  );
  const more = r.has_more === true ? " (more: use --offset)" : "";
  return [...lines, `${instances.length} of ${s(r.total)} instances${more}`];
}

/** One WAL entry on one line. */
export function describeEntry(entry: Result): string {
  switch (entry.type) {
    case "put_machine":
      return `put_machine ${s(entry.machine)} v${s(entry.version)} ${s(entry.definition_hash)}`;
    case "create_instance":
      return (
        `create_instance ${s(entry.instance_id)} ${s(entry.machine)} v${s(entry.version)} ` +
        `-> ${s(entry.initial_state)}`
      );
    case "apply_event":
      return (
        `apply_event ${s(entry.instance_id)} ${s(entry.event)}: ` +
        `${s(entry.from_state)} -> ${s(entry.to_state)} payload ${json(entry.payload)}`
      );
    case "delete_instance":
      return `delete_instance ${s(entry.instance_id)}`;
    default:
      return json(entry);
  }
}

/** `key: value` per field; nested values as compact JSON. */
export function keyValueLines(r: Result): string[] {
  return Object.entries(r).map(
    ([key, value]) =>
      `${key}: ${typeof value === "object" && value !== null ? json(value) : s(value)}`,
  );
}

function s(value: unknown): string {
  return typeof value === "string" ? value : (JSON.stringify(value) ?? "none");
}
