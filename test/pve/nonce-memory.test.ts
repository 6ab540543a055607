import { afterEach, describe, expect, it } from 'vitest';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NonceMemory, openNonceMemory } from '../../src/pve/nonce-memory.js';
import { silentLogger } from '../../src/log/logger.js';

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

describe('NonceMemory kept across restarts (openNonceMemory)', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  const dirOf = async (): Promise<string> => {
    const d = await mkdtemp(join(tmpdir(), 'hsv-nonces-'));
    dirs.push(d);
    return d;
  };
  const journal = (d: string): string => join(d, 'nonces', 'relayed.journal');

  it('a nonce claimed and persisted is refused after a reopen, within its window only; claims at once share a write', async () => {
    const dataDir = await dirOf();
    let now = 1_000;
    const o = { dataDir, log: silentLogger, windowMs: 60_000, max: 100, now: () => now };
    const m = await openNonceMemory(o);
    expect(m.claim('a', 'n1')).toBe(true);
    expect(m.claim('b', 'n1')).toBe(true);
    now += 30_000;
    expect(m.claim('a', 'n2')).toBe(true);
    await m.persisted();
    expect((await readFile(journal(dataDir), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown)).toEqual([
      { h: 'a', n: 'n1', u: 61_000 }, { h: 'b', n: 'n1', u: 61_000 }, { h: 'a', n: 'n2', u: 91_000 },
    ]);
    const again = await openNonceMemory(o);
    expect(again.size).toBe(3);
    expect(again.claim('a', 'n1')).toBe(false);
    expect(again.claim('c', 'n1')).toBe(true);
    await again.persisted();
    await m.close();
    await again.close();
    now = 61_000; // a's and b's n1 expired, a's n2 not
    const later = await openNonceMemory(o);
    expect(later.size).toBe(2); // a's n2 and c's n1 (claimed by `again` at 31,000)
    expect(later.claim('a', 'n1')).toBe(true);
    expect(later.claim('a', 'n2')).toBe(false);
  });

  it('a last line cut short is ignored; a damaged line stops the start (ERR_PVE_NONCE_FILE)', async () => {
    const dataDir = await dirOf();
    await mkdir(join(dataDir, 'nonces'));
    await writeFile(journal(dataDir), JSON.stringify({ h: 'a', n: 'n1', u: 9e12 }) + '\n{"h":"a","n":"n');
    const m = await openNonceMemory({ dataDir, log: silentLogger, windowMs: 60_000, max: 10 });
    expect(m.claim('a', 'n1')).toBe(false);
    await appendFile(journal(dataDir), '\nnot json\n');
    await expect(openNonceMemory({ dataDir, log: silentLogger, windowMs: 60_000, max: 10 }))
      .rejects.toMatchObject({ code: 'ERR_PVE_NONCE_FILE', message: expect.stringContaining('relayed.journal line 2 is not {h, n, u}') as string });
  });

  it('the file is rewritten with the live nonces when it is mostly expired (it does not grow with time)', async () => {
    const dataDir = await dirOf();
    let now = 0;
    const m = await openNonceMemory({ dataDir, log: silentLogger, windowMs: 1_000, max: 10_000, now: () => now });
    for (let i = 0; i < 3000; i++) {
      now += 10;
      expect(m.claim('a', `n${i}`)).toBe(true);
      if (i % 100 === 99) await m.persisted();
    }
    await m.persisted();
    const lines = (await readFile(journal(dataDir), 'utf8')).split('\n').filter(Boolean);
    // ~100 live at any time (a 1 s window, one claim per 10 ms); never more than the rewrite threshold's lines
    expect(lines.length).toBeLessThanOrEqual(1024 + 100);
    const reopened = await openNonceMemory({ dataDir, log: silentLogger, windowMs: 1_000, max: 10_000, now: () => now });
    expect(reopened.claim('a', 'n2999')).toBe(false);
    expect(reopened.size).toBeLessThanOrEqual(101);
    await m.close();
  });
});
