/*
 * PostgreSQL (several OAM instances sharing the work) is not implemented yet. What is left:
 * - a driver dependency (`pg`, not installed here) and a `PostgresStore` implementing the same `Store` interface;
 * - the migrations ported (no STRICT tables; the RIM check as a regex CHECK), with a schema_version table instead of
 *   PRAGMA user_version, applied under an advisory lock so that two instances do not migrate at once;
 * - transaction(): one pooled client per transaction (BEGIN ... COMMIT), ALS routing as in sqlite.ts; no global
 *   serialisation is needed since the server handles concurrency;
 * - saveJobTransition as `UPDATE jobs ... WHERE job_id = $1 AND version = $2 RETURNING *` (the same optimistic
 *   check; it already makes exactly one instance win the move to "update sent", so an update is never sent twice);
 * - consumeNonce / rememberJti as single `UPDATE ... WHERE consumed_at IS NULL RETURNING` / `INSERT ... ON CONFLICT`
 *   statements; listActiveJobs for resume should then also claim jobs (an owner + lease column) so that two
 *   instances do not both resume the same job's timers.
 */
import { StoreError } from './errors.js';
import { openSqliteStore } from './sqlite.js';
import type { SqliteStoreOptions, Store } from './types.js';

export interface OpenStoreOptions extends SqliteStoreOptions {
  /** 'sqlite' (default). 'postgres' is planned (several OAM instances sharing the work) and not implemented yet. */
  driver?: 'sqlite' | 'postgres';
}

/** Opens the configured store: SQLite in dataDir by default. */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const driver = options.driver ?? 'sqlite';
  if (driver === 'sqlite') return openSqliteStore(options);
  throw new StoreError('ERR_STORE_OPEN', `store driver '${String(driver)}' is not available (only sqlite is implemented)`);
}
