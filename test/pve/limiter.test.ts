/** The PVE's collection limit (src/pve/limiter.ts): at most max at once, FIFO, refusal beyond the queue. */
import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit } from '../../src/pve/limiter.js';
import { RestconfError } from '../../src/pve/restconf.js';

describe('ConcurrencyLimit', () => {
  it('never runs more than max at once; waiting requests start in arrival order as slots free', async () => {
    const limit = new ConcurrencyLimit(2, 4);
    const started: number[] = [];
    const releases = new Map<number, () => void>();
    let peak = 0;
    const tasks = Array.from({ length: 6 }, (_, i) => limit.acquire().then((release) => {
      started.push(i);
      peak = Math.max(peak, limit.active);
      releases.set(i, release);
    }));
    await Promise.resolve();
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect(limit.queued).toBe(4);
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setImmediate(r));
      expect(limit.active).toBeLessThanOrEqual(2);
      releases.get(i)?.();
    }
    await Promise.all(tasks);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
  });

  it('refuses with resource-denied (503) once max * queueFactor requests wait', async () => {
    const limit = new ConcurrencyLimit(1, 2);
    const first = await limit.acquire();
    const queued = [limit.acquire(), limit.acquire()];
    const refused = await limit.acquire().then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(RestconfError);
    expect((refused as RestconfError).status).toBe(503);
    expect((refused as RestconfError).entry['error-tag']).toBe('resource-denied');
    first();
    (await queued[0]!)();
    (await queued[1]!)();
    expect(limit.active).toBe(0);
  });

  it('releaseWaiting lets every queued request go on (shutdown)', async () => {
    const limit = new ConcurrencyLimit(1);
    await limit.acquire();
    const waiting = [limit.acquire(), limit.acquire()];
    limit.releaseWaiting();
    await expect(Promise.all(waiting)).resolves.toHaveLength(2);
    expect(limit.queued).toBe(0);
  });
});
