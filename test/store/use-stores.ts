/**
 * The set-up the driver-independent store suites share (contract.ts, group-commit-contract.ts, audit-contract.ts):
 * before each test a new, empty database and a first store on it; after each, every store the test opened is closed,
 * then the harness cleans up. Call it inside the suite's describe.
 */
import { afterEach, beforeEach } from 'vitest';
import type { Store } from '../../src/store/index.js';

export interface FreshDatabase {
  /** before each test: a new, empty database */
  fresh(): Promise<void>;
  /** after each test, once every store it opened is closed */
  cleanup(): Promise<void>;
}

/**
 * Returns `open(options)`: a store on the current database (`openStore(options)`), closed after the test. Before each
 * test the first one is opened without options and handed to `onFirst`.
 */
export function useStores<O>(h: FreshDatabase, openStore: (options?: O) => Promise<Store>, onFirst: (store: Store) => void): (options?: O) => Promise<Store> {
  const opened: Store[] = [];
  async function open(options?: O): Promise<Store> {
    const s = await openStore(options);
    opened.push(s);
    return s;
  }
  beforeEach(async () => {
    await h.fresh();
    onFirst(await open());
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    await h.cleanup();
  });
  return open;
}
