import { describe, expect, it } from 'vitest';
import { NonceMemory } from '../../src/pve/nonce-memory.js';

describe('NonceMemory (relayed evidence, issue 15)', () => {
  it('refuses a nonce seen for the same H(e)NB within the window, not for another H(e)NB; forgets it after the window', () => {
    let now = 1_000;
    const m = new NonceMemory({ windowMs: 60_000, max: 10, now: () => now });
    expect(m.claim('a', 'n1')).toBe(true);
    expect(m.claim('a', 'n1')).toBe(false);
    expect(m.claim('b', 'n1')).toBe(true);
    now += 59_999;
    expect(m.claim('a', 'n1')).toBe(false);
    now += 1;
    expect(m.claim('a', 'n1')).toBe(true);
    expect(m.size).toBe(1); // b's expired too, a's is remembered again
  });

  it('remembers at most max nonces (the oldest forgotten first)', () => {
    const m = new NonceMemory({ windowMs: 60_000, max: 2, now: () => 0 });
    expect(m.claim('a', '1')).toBe(true);
    expect(m.claim('a', '2')).toBe(true);
    expect(m.claim('a', '3')).toBe(true);
    expect(m.size).toBe(2);
    expect(m.claim('a', '3')).toBe(false);
    expect(m.claim('a', '1')).toBe(true);
  });

  it('refuses nonsense bounds', () => {
    expect(() => new NonceMemory({ windowMs: 0, max: 1 })).toThrow(RangeError);
    expect(() => new NonceMemory({ windowMs: 1, max: 0 })).toThrow(RangeError);
  });
});
