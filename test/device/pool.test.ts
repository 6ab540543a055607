/**
 * The device session pool (src/device/pool.ts): the bound on open sessions, which session makes room for whom
 * (idle first, least recently used; a session that only awaits a completion only for an rpc), the wait in order,
 * its deadline and abort, and the idle expiry. Fake timers; no I/O (the driver's tests use real sessions).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SessionPool } from '../../src/device/pool.js';

let evicted: Array<[string, string]>;
let pool: SessionPool<string>;
const signal = (): AbortSignal => new AbortController().signal;

beforeEach(() => {
  vi.useFakeTimers();
  evicted = [];
  pool = new SessionPool<string>({ maxOpen: 2, idleMs: 1000, evict: async (h, why) => { evicted.push([h, why]); } });
});
afterEach(() => {
  vi.useRealTimers();
});

/** whether a promise has settled, and how */
async function state(p: Promise<void>): Promise<'pending' | 'granted' | string> {
  let out = 'pending';
  p.then(() => { out = 'granted'; }, (e: unknown) => { out = (e as { code?: string }).code ?? 'rejected'; });
  await vi.advanceTimersByTimeAsync(0);
  return out;
}

describe('SessionPool', () => {
  it('grants up to maxOpen; further takers wait, in order, for a slot given back', async () => {
    await pool.acquire('a', 'rpc', signal());
    await pool.acquire('b', 'rpc', signal());
    expect(pool.open).toBe(2);
    const c = pool.acquire('c', 'rpc', signal());
    const d = pool.acquire('d', 'watch', signal());
    expect(await state(c)).toBe('pending');
    expect(pool.queued).toBe(2);
    pool.release('a');
    expect(await state(c)).toBe('granted');
    expect(await state(d)).toBe('pending');
    pool.release('b');
    expect(await state(d)).toBe('granted');
    expect(pool.open).toBe(2);
    expect(evicted).toEqual([]);
    // a holder that has a slot gets it again at once; releasing one without a slot changes nothing
    await pool.acquire('c', 'rpc', signal());
    pool.release('zz');
    expect(pool.open).toBe(2);
  });

  it('an idle session makes room for anyone (least recently idle first); a watching one only for an rpc', async () => {
    await pool.acquire('a', 'rpc', signal());
    await pool.acquire('b', 'rpc', signal());
    pool.mark('a', 'watching');
    const w = pool.acquire('w', 'watch', signal());
    expect(await state(w)).toBe('pending');
    pool.mark('b', 'idle');
    expect(await state(w)).toBe('granted');
    expect(evicted).toEqual([['b', 'room']]);
    const r = pool.acquire('r', 'rpc', signal());
    expect(await state(r)).toBe('granted');
    expect(evicted).toEqual([['b', 'room'], ['a', 'room']]);
    expect(pool.open).toBe(2);
    // a busy session is never closed: the next rpc waits
    pool.mark('w', 'busy');
    pool.mark('r', 'busy');
    const r2 = pool.acquire('r2', 'rpc', signal());
    expect(await state(r2)).toBe('pending');
    pool.mark('w', 'watching');
    expect(await state(r2)).toBe('granted');
    expect(evicted.at(-1)).toEqual(['w', 'room']);
  });

  it('idle sessions expire after idleMs (0: at once); used again in time, they stay', async () => {
    await pool.acquire('a', 'rpc', signal());
    await pool.acquire('b', 'rpc', signal());
    pool.mark('a', 'idle');
    pool.mark('b', 'idle');
    await vi.advanceTimersByTimeAsync(600);
    pool.mark('b', 'busy');
    await vi.advanceTimersByTimeAsync(400);
    expect(evicted).toEqual([['a', 'idle']]);
    expect(pool.open).toBe(1);
    await vi.advanceTimersByTimeAsync(5000);
    expect(pool.open).toBe(1);

    const now = new SessionPool<string>({ maxOpen: 1, idleMs: 0, evict: async (h, why) => { evicted.push([h, why]); } });
    await now.acquire('x', 'rpc', signal());
    now.mark('x', 'idle');
    expect(evicted.at(-1)).toEqual(['x', 'idle']);
    // the slot is taken until the session is closed
    expect(now.open).toBe(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(now.open).toBe(0);
  });

  it('at most maxIdle idle sessions are kept: the least recently idle beyond it is closed at once (0: none kept)', async () => {
    const capped = new SessionPool<string>({ maxOpen: 10, idleMs: 60_000, maxIdle: 2, evict: async (h, why) => { evicted.push([h, why]); } });
    for (const h of ['a', 'b', 'c', 'd']) await capped.acquire(h, 'rpc', signal());
    capped.mark('a', 'idle');
    capped.mark('b', 'idle');
    expect(evicted).toEqual([]);
    // b used again: a stays the least recently idle, and c's idle time puts it over the bound
    capped.mark('b', 'busy');
    capped.mark('b', 'idle');
    capped.mark('c', 'idle');
    expect(evicted).toEqual([['a', 'idle']]);
    expect(capped.idleCount).toBe(2);
    // busy and watching sessions do not count against it
    capped.mark('d', 'watching');
    expect(capped.idleCount).toBe(2);
    capped.mark('d', 'idle');
    expect(evicted).toEqual([['a', 'idle'], ['b', 'idle']]);
    await vi.advanceTimersByTimeAsync(0);
    expect(capped.open).toBe(2);
    // the kept ones still expire after idleMs
    await vi.advanceTimersByTimeAsync(60_000);
    expect(evicted.slice(2)).toEqual([['c', 'idle'], ['d', 'idle']]);
    expect(capped.open).toBe(0);

    const none = new SessionPool<string>({ maxOpen: 1, idleMs: 60_000, maxIdle: 0, evict: async (h, why) => { evicted.push([h, why]); } });
    await none.acquire('x', 'rpc', signal());
    none.mark('x', 'idle');
    expect(evicted.at(-1)).toEqual(['x', 'idle']);
    expect(none.idleCount).toBe(0);
    expect(() => new SessionPool<string>({ maxOpen: 1, idleMs: 1, maxIdle: -1, evict: async () => undefined })).toThrow(RangeError);
    expect(() => new SessionPool<string>({ maxOpen: 1, idleMs: 1, maxIdle: 1.5, evict: async () => undefined })).toThrow(RangeError);
  });

  it('a wait ends with the caller\'s abort (ERR_DEVICE_ABORTED) or its deadline (ERR_DEVICE_TIMEOUT); a second call shares it and may upgrade it', async () => {
    await pool.acquire('a', 'rpc', signal());
    await pool.acquire('b', 'rpc', signal());
    const ac = new AbortController();
    const x = pool.acquire('x', 'rpc', ac.signal);
    ac.abort();
    expect(await state(x)).toBe('ERR_DEVICE_ABORTED');
    const y = pool.acquire('y', 'rpc', signal(), Date.now() + 500);
    await vi.advanceTimersByTimeAsync(499);
    expect(await state(y)).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(await state(y)).toBe('ERR_DEVICE_TIMEOUT');
    await expect(y).rejects.toThrow(/devices\.max-open-sessions = 2/);
    expect(pool.queued).toBe(0);

    pool.mark('a', 'watching');
    const z = pool.acquire('z', 'watch', signal());
    expect(await state(z)).toBe('pending');
    const z2 = pool.acquire('z', 'rpc', signal());
    expect(await state(z2)).toBe('granted');
    expect(await state(z)).toBe('granted');
    expect(evicted).toEqual([['a', 'room']]);
  });

  it('close fails every waiter', async () => {
    await pool.acquire('a', 'rpc', signal());
    await pool.acquire('b', 'rpc', signal());
    const c = pool.acquire('c', 'rpc', signal());
    pool.close(Object.assign(new Error('closed'), { code: 'ERR_DEVICE_CLOSED' }));
    expect(await state(c)).toBe('ERR_DEVICE_CLOSED');
    expect(pool.open).toBe(0);
  });
});
