/**
 * @module The table of every RCP operation (STYLE.md: operations are data). Dispatch, the
 * docs and the conformance tests all read this one table.
 */
import { batchOperation } from "./batch-operation.ts";
import { callOperation } from "./call-operation.ts";
import { logOperations } from "./log-operations.ts";
import { machineOperations } from "./machine-operations.ts";
import type { Operation } from "./operation.ts";
import { sessionOperations } from "./session-operations.ts";
import { watchOperations } from "./watch-operations.ts";

export const operations: Readonly<Record<string, Operation>> = {
  ...sessionOperations,
  ...machineOperations,
  BATCH: batchOperation,
  ...logOperations,
  ...watchOperations,
  CALL: callOperation,
};
