/** @module The RQL entry points, as the public contract names them (types.ts). */
export type EntryPoint = "query" | "command" | "admin";
