import { describe, expect, it } from 'vitest';
import { isNonce, memoryReplayCache, newNonce, storeReplayCache } from '../../src/tokens/index.js';
import type { JtiStore } from '../../src/tokens/index.js';

describe('memoryReplayCache', () => {
  it('remembers a jti until it expires', async () => {
    let now = 1000;
    const c = memoryReplayCache({ now: () => now });
    expect(await c.checkAndRemember('a', 1010)).toBe(true);
    expect(await c.checkAndRemember('a', 1010)).toBe(false);
    expect(await c.checkAndRemember('b', 1010)).toBe(true);
    now = 1011;
    expect(await c.checkAndRemember('a', 1020)).toBe(true);
  });
  it('is bounded: purges expired entries, and fails closed when full of live ones', async () => {
    let now = 0;
    const c = memoryReplayCache({ now: () => now, maxEntries: 3 });
    for (const j of ['a', 'b', 'c']) expect(await c.checkAndRemember(j, 10)).toBe(true);
    await expect(c.checkAndRemember('d', 10)).rejects.toThrow(expect.objectContaining({ code: 'ERR_TOKEN_REPLAY_CACHE_FULL' }));
    now = 11;
    expect(await c.checkAndRemember('d', 20)).toBe(true);
    expect(c.size).toBe(1);
  });
});

describe('storeReplayCache', () => {
  it('delegates to the store with the expiry in milliseconds', async () => {
    const calls: [string, number][] = [];
    const seen = new Set<string>();
    const fake: JtiStore = {
      async rememberJti(jti, expiresAt) {
        calls.push([jti, expiresAt]);
        if (seen.has(jti)) return false;
        seen.add(jti);
        return true;
      },
    };
    const c = storeReplayCache(fake);
    expect(await c.checkAndRemember('x', 12.5)).toBe(true);
    expect(await c.checkAndRemember('x', 12.5)).toBe(false);
    expect(calls).toEqual([['x', 12_500], ['x', 12_500]]);
  });
});

describe('newNonce', () => {
  it('is 256 bits of lowercase hex, fresh every time', () => {
    const n = new Set(Array.from({ length: 1000 }, () => newNonce()));
    expect(n.size).toBe(1000);
    for (const x of n) expect(isNonce(x)).toBe(true);
    expect(isNonce('A'.repeat(64))).toBe(false);
  });
});
