// Public surface of the persistence layer.
export * from './types.js';
export { StoreError } from './errors.js';
export { AUDIT_GENESIS, auditHash, verifyAuditChain } from './audit.js';
export type { AuditProblem, AuditProblemKind, AuditVerdict, HeadChecker } from './audit.js';
export type { StoreErrorCode } from './errors.js';
export { openPostgresStore, openStore } from './open.js';
export type { OpenStoreOptions } from './open.js';
export { SqliteStore, migrate, openSqliteStore } from './sqlite.js';
export { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
export type { Migration } from './migrations.js';
export { PG_MIGRATIONS, PG_SCHEMA_VERSION } from './pg-migrations.js';
// the PostgreSQL store class as a type only, so that importing the store does not load `pg`
export type { PostgresStore } from './postgres.js';
export { openDatabase } from './sqlite-driver.js';
export type { SqliteDatabase, SqliteStatement } from './sqlite-driver.js';
export { EVENT_LOG_FILE, EventLog, EventLogError, openEventLog } from './event-log.js';
export type { EventLogErrorCode, EventLogOptions, EventLogRetention, ReplayQuery, StoredEvent } from './event-log.js';
export { importLegacyEventLog, importLegacyEventsInPlace } from './legacy-event-log.js';
export type { ImportTarget, LegacyEventLogImport } from './legacy-event-log.js';
