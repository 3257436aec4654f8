/**
 * @module CALL, a Statebase extension: runs an application procedure by name
 * (`db.call(name, args)`), one transaction per call, and answers its JSON result.
 */
import { roleAllows } from "../auth.ts";
import { encodeJson } from "../json.ts";
import { RcpFailure, badRequest } from "./failure.ts";
import type { Operation, OperationContext } from "./operation.ts";
import { Params } from "./params.ts";

// CALL {name, args?: object | array}
export const callOperation: Operation = {
  // The floor; each procedure's own role (write unless declared) is checked in run.
  role: "read",
  // Whether a call writes is the procedure's declaration, so read-only mode is checked in
  // run: a read-only server (a follower) still serves the procedures declared `read`.
  write: false,
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
    if (core.readOnly && needed !== "read") {
      throw new RcpFailure(
        "READ_ONLY_MODE",
        `server is in read-only mode: procedure ${name} is not declared role read`,
      );
    }
    const args = params.any("args") ?? {};
    if (typeof args !== "object") throw badRequest("args must be an object or an array");
    const result = await core.db.call(name, args as Record<string, unknown> | unknown[]);
    return { result: toJson(result) };
  },
};

/** Procedure results may hold bigints, dates and blobs: JSON as over HTTP (server/json.ts). */
function toJson(value: unknown): unknown {
  // A function or symbol has no JSON text at all: the answer's result is then null.
  const text = encodeJson(value) as string | undefined;
  return text === undefined ? null : (JSON.parse(text) as unknown);
}
