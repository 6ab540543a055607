/**
 * test/helpers/heap-text.ts, the memory tests' check that a text is gone from the heap: it must find a text that is
 * held (else those tests would pass whatever the code keeps) and must not find one that was dropped.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { heapHolds, textWith } from './heap-text.js';

describe('heapHolds', () => {
  it('finds a string that is held, and not one that was dropped; the pattern does not match its own source', async () => {
    const a = `head${randomBytes(6).toString('hex')}`;
    const b = `tail${randomBytes(6).toString('hex')}`;
    const kept: { text?: string } = { text: [a, 'x'.repeat(500), b].join(' ') };
    expect(await heapHolds(textWith(a, b))).toBe(true);
    delete kept.text;
    expect(await heapHolds(textWith(a, b))).toBe(false);
    // markers with characters a regular expression treats specially
    // (joined: a template literal makes a cons string, which the snapshot shows in parts)
    const odd = { text: [`a.b*${a}]`, '...', `^c+(d${b}`].join(' ') };
    expect(await heapHolds(textWith(`a.b*${a}]`, `^c+(d${b}`))).toBe(true);
    expect(odd.text.length).toBeGreaterThan(0);
  }, 60_000);
});
