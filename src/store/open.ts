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
