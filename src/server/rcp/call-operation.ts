/**
 * @module CALL, a Statebase extension: runs an application procedure by name
 * (`db.call(name, args)`), one transaction per call, and answers its JSON result.
 */
import { roleAllows } from "../auth.ts";
import { RcpFailure, badRequest } from "./failure.ts";
import type { Operation, OperationContext } from "./operation.ts";
import { Params } from "./params.ts";

// CALL {name, args?: object | array}
export const callOperation: Operation = {
  // The floor; each procedure's own role (write unless declared) is checked in run.
  role: "read",
  write: true,
  transactional: false,
  async run({ core, session }: OperationContext, raw: unknown) {
    const params = new Params(raw, "CallParams");
    const name = params.string("name");
    const needed = core.options.procedureRoles?.get(name) ?? "write";
    if (!roleAllows(session.role!, needed)) {
      throw new RcpFailure(
        "UNAUTHORIZED",
        `a token with role ${session.role} may not call procedure ${name} (it needs ${needed})`,
      );
    }
    const args = params.any("args") ?? {};
    if (typeof args !== "object") throw badRequest("args must be an object or an array");
    const result = await core.db.call(name, args as Record<string, unknown> | unknown[]);
    return { result: toJson(result) };
  },
};

/** Procedure results may hold bigints, dates and blobs; JSON gets numbers and strings. */
function toJson(value: unknown): unknown {
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === "bigint") {
      return Number.isSafeInteger(Number(item)) ? Number(item) : item.toString();
    }
    if (item instanceof Uint8Array) return Buffer.from(item).toString("base64");
    return item;
  });
  return text === undefined ? null : (JSON.parse(text) as unknown);
}
