// Public surface of the persistence layer (the notification event log, ./event-log.ts, is separate).
export * from './types.js';
export { StoreError } from './errors.js';
export type { StoreErrorCode } from './errors.js';
export { openStore } from './open.js';
export type { OpenStoreOptions } from './open.js';
export { SqliteStore, migrate, openSqliteStore } from './sqlite.js';
export { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
export type { Migration } from './migrations.js';
export { openDatabase } from './sqlite-driver.js';
export type { SqliteDatabase, SqliteStatement } from './sqlite-driver.js';
