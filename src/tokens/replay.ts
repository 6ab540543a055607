import { TokenError } from './errors.js';
import type { JtiStore, ReplayCache } from './types.js';

export interface MemoryReplayCacheOptions {
  /** refuse (ERR_TOKEN_REPLAY_CACHE_FULL, fail closed) beyond this many live entries; default 100000 */
  maxEntries?: number;
  /** clock in seconds; default Date.now()/1000 */
  now?: () => number;
}

/** An in-process jti cache; entries live until their expiry (TTL-bounded), expired ones are purged lazily. */
export function memoryReplayCache(options: MemoryReplayCacheOptions = {}): ReplayCache & { readonly size: number } {
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? ((): number => Date.now() / 1000);
  const seen = new Map<string, number>();
  let calls = 0;
  const purge = (t: number): void => {
    for (const [jti, exp] of seen) if (exp <= t) seen.delete(jti);
  };
  return {
    get size() {
      return seen.size;
    },
    async checkAndRemember(jti: string, expiresAtSec: number): Promise<boolean> {
      const t = now();
      if (++calls % 1024 === 0 || seen.size >= maxEntries) purge(t);
      const prev = seen.get(jti);
      if (prev !== undefined && prev > t) return false;
      if (seen.size >= maxEntries) throw new TokenError('ERR_TOKEN_REPLAY_CACHE_FULL', 'jti replay cache is full');
      seen.set(jti, expiresAtSec);
      return true;
    },
  };
}

/** A jti cache backed by the store (survives restarts, shared by every process using the same database). */
export function storeReplayCache(store: JtiStore): ReplayCache {
  return {
    checkAndRemember: (jti, expiresAtSec) => store.rememberJti(jti, Math.ceil(expiresAtSec * 1000)),
  };
}
