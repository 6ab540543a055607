/**
 * The shared retry helper (src/retry.ts, used by the device driver and the PVE clients): full-jitter delays within
 * their caps, an abortable sleep that rejects with the caller's reason, and the attempt loop's limits.
 */
import { describe, expect, it } from 'vitest';
import { RetryExhausted, abortableSleep, backoffCap, fullJitterDelay, retryTransient } from '../src/retry.js';

describe('src/retry.ts', () => {
  it('the n-th delay is floor(random * min(max, base * 2^n)) and stays below its cap', () => {
    const o = { initialMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4, 60].map((n) => backoffCap(n, o))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(fullJitterDelay(2, { ...o, random: () => 0.5 })).toBe(200);
    expect(fullJitterDelay(2, { ...o, random: () => 0.999999 })).toBe(399);
    expect(fullJitterDelay(0, { ...o, random: () => 0 })).toBe(0);
  });

  it('abortableSleep rejects with the signal reason (at once when already aborted, or while waiting)', async () => {
    const why = Object.assign(new Error('closed'), { code: 'ERR_DEVICE_CLOSED' });
    await expect(abortableSleep(10, AbortSignal.abort(why))).rejects.toBe(why);
    const ac = new AbortController();
    const p = abortableSleep(60_000, ac.signal);
    ac.abort(why);
    await expect(p).rejects.toBe(why);
    await expect(abortableSleep(1, new AbortController().signal)).resolves.toBeUndefined();
  });

  it('retries transient failures only, within the deadline; RetryExhausted says how many attempts were made', async () => {
    let t = 0;
    const waits: number[] = [];
    const options = { initialMs: 100, maxMs: 400, random: () => 0.5, now: () => t, sleep: async (ms: number) => { waits.push(ms); t += ms; } };
    const signal = new AbortController().signal;
    let made = 0;
    const e = await retryTransient({ attempt: async () => { made++; throw new Error(`reset ${made}`); }, transient: () => true, options, signal, deadline: 500 })
      .then(() => undefined, (x: unknown) => x);
    // waits 50, 100, 200 (350 ms); the next 200 would reach the deadline
    expect(waits).toEqual([50, 100, 200]);
    expect(e).toBeInstanceOf(RetryExhausted);
    expect(e).toMatchObject({ attempts: 4, message: 'last error: reset 4' });

    const fatal = new Error('auth');
    await expect(retryTransient({ attempt: async () => { throw fatal; }, transient: () => false, options, signal })).rejects.toBe(fatal);
    // without a deadline: 3 attempts; a deadline already past: none
    made = 0;
    await expect(retryTransient({ attempt: async () => { made++; throw new Error('x'); }, transient: () => true, options, signal })).rejects.toMatchObject({ attempts: 3 });
    await expect(retryTransient({ attempt: async () => 1, transient: () => true, options, signal, deadline: t })).rejects.toMatchObject({ attempts: 0, message: 'no time left before the deadline' });
    await expect(retryTransient({ attempt: async () => 'ok', transient: () => true, options, signal, deadline: t + 1 })).resolves.toBe('ok');
  });
});
