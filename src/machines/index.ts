/**
 * @module State machines: rstmdb's JSON definitions (versioned, immutable, with rstmdb's
 * checksum), instances as rows of a table per machine, events applied with guards,
 * optimistic checks, idempotency keys and history, plus durable timers, transition effects
 * and migration between versions. Everything is stored in ordinary tables, so the log,
 * snapshots, recovery, RQL and views need nothing machine-specific (docs/machines.md).
 *
 * - definition.ts, effects.ts: the DSL checked and normalized; checksum
 * - compiled.ts: a definition ready to step; store.ts, names.ts: the tables
 * - versions.ts, instances.ts, step.ts: the RCP operations
 * - idempotency.ts, history.ts, timers.ts, migration.ts, entries.ts: the rest
 * - machines.ts: the API object behind `db.machines` and `tx.machines`
 */
export { createMachines } from "./machines.ts";
export type { MachinesOptions } from "./store.ts";
export { definitionChecksum, normalizeDefinition } from "./definition.ts";
export type { MachineDefinition, TimerSpec, TransitionSpec } from "./definition.ts";
export type { EffectSpec } from "./effects.ts";
// Subscriptions and views map a machine name to its tables with these.
export { historyTableName, instanceTableName, machineOfTable } from "./names.ts";
