/**
 * src/in-flight.ts (issue 15): one promise per key while it is pending; nothing kept once it settled.
 */
import { describe, expect, it } from 'vitest';
import { InFlight } from '../src/in-flight.js';

describe('InFlight', () => {
  it('hands a pending key\'s promise to the calls made meanwhile, and starts anew once it settled', async () => {
    const inFlight = new InFlight<number>();
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let started = 0;
    const start = async (): Promise<number> => { started++; await gate; return started; };
    const a = inFlight.run('k', start);
    const b = inFlight.run('k', start);
    const other = inFlight.run('other', async () => -1);
    expect(b).toBe(a);
    expect(inFlight.size).toBe(2);
    release();
    expect(await Promise.all([a, b, other])).toEqual([1, 1, -1]);
    expect(inFlight.size).toBe(0);
    expect(await inFlight.run('k', start)).toBe(2);
  });

  it('a failure reaches every caller of that run and is not kept', async () => {
    const inFlight = new InFlight<string>();
    let fail = true;
    const start = async (): Promise<string> => { await Promise.resolve(); if (fail) throw new Error('no'); return 'yes'; };
    const runs = [inFlight.run('k', start), inFlight.run('k', start)];
    expect((await Promise.allSettled(runs)).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(inFlight.size).toBe(0);
    fail = false;
    expect(await inFlight.run('k', start)).toBe('yes');
  });

  it('a start that throws at once throws to its caller and leaves nothing pending', () => {
    const inFlight = new InFlight<string>();
    expect(() => inFlight.run('k', () => { throw new TypeError('bad argument'); })).toThrow(TypeError);
    expect(inFlight.size).toBe(0);
  });
});
