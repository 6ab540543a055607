/*
 * Opening the configured store: SQLite (the default, ./sqlite.ts) or PostgreSQL (./postgres.ts, several OAM
 * instances sharing the work). The PostgreSQL driver (`pg`) is loaded only when a PostgreSQL store is opened.
 *
 * Several instances on one PostgreSQL database: saveJobTransition's optimistic version check lets exactly one
 * instance make each move (an update is never sent twice), unique indexes keep one active software-update or
 * integrity-check per H(e)NB (migrations 2 and 4), and job leases (migration 3: owner, lease_until; claimJobs,
 * takeJob, releaseJobs) divide the active jobs between the instances.
 */
import { StoreError } from './errors.js';
import { openSqliteStore } from './sqlite.js';
import type { PostgresStoreOptions, SqliteStoreOptions, Store } from './types.js';

export interface OpenStoreOptions extends SqliteStoreOptions, Partial<PostgresStoreOptions> {
  /** 'sqlite' (default: dataDir or path) or 'postgres' (url, and optionally password, poolSize, ...) */
  driver?: 'sqlite' | 'postgres';
}

/** Opens the configured store: SQLite in dataDir by default, PostgreSQL at `url` with driver 'postgres'. */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const driver = options.driver ?? 'sqlite';
  if (driver === 'sqlite') return openSqliteStore(options);
  if (driver === 'postgres') {
    if (typeof options.url !== 'string' || options.url === '') {
      throw new StoreError('ERR_STORE_OPEN', "store driver 'postgres' needs a url (postgres://user@host:port/database)");
    }
    return openPostgresStore({ ...options, url: options.url });
  }
  throw new StoreError('ERR_STORE_OPEN', `store driver '${String(driver)}' is not available (sqlite or postgres)`);
}

/** Opens the PostgreSQL store (see ./postgres.ts); `pg` is imported on the first call. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const { openPostgresStore: open } = await import('./postgres.js');
  return open(options);
}
