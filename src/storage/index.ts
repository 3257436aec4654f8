/**
 * @module The storage layer under the log: a directory of files with explicit durability.
 * `file.ts` states the contract; `node-file.ts` implements it on disk; `memory-file.ts`
 * implements it in memory with crashes, torn writes and injected faults for tests and the
 * simulator. `directory-lock.ts` keeps a second process out of a data directory in use. This
 * file only re-exports.
 */
export type { Storage, StorageFile, StorageOperation, WriteAndSyncOptions } from "./file.ts";
export { storageNameLengthMax } from "./file.ts";
export { createNodeStorage } from "./node-file.ts";
export { lockDirectory, lockFileName } from "./directory-lock.ts";
export type { DirectoryLock, LockMechanism } from "./directory-lock.ts";
export { createMemoryStorage, memoryFileSizeBytesMax } from "./memory-file.ts";
export type { CrashOptions, MemoryStorage, MemoryStorageOptions } from "./memory-file.ts";
