/**
 * The long-function ratchet (issue 9): `node scripts/long-functions.mjs` counts the functions of src/ longer
 * than 50 lines (nested ones on their own). The count may fall, never rise: split a long function into named
 * pieces rather than raise MAX_LONG_FUNCTIONS (docs/architecture.md says where it stands).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** 0 on 2026-12-04 (73 before the closure factories were split; 57 after the first round, 29 after the second, 0 after the third in src/netconf, src/pve, src/tokens, src/integrity, src/store, src/plugin) */
const MAX_LONG_FUNCTIONS = 0;

function count(args: string[] = []): { count: number; listing: string } {
  const listing = execFileSync(process.execPath, ['scripts/long-functions.mjs', ...args], { encoding: 'utf8', timeout: 60_000 });
  const m = /(\d+) functions longer than \d+ lines\s*$/.exec(listing);
  if (m === null) throw new Error(`unexpected output of scripts/long-functions.mjs:\n${listing}`);
  return { count: Number(m[1]), listing };
}

describe('long functions in src/', () => {
  it(`at most ${MAX_LONG_FUNCTIONS} functions over 50 lines`, () => {
    const { count: n, listing } = count();
    expect(n, `functions over 50 lines rose above ${MAX_LONG_FUNCTIONS}; split the new one:\n${listing}`).toBeLessThanOrEqual(MAX_LONG_FUNCTIONS);
  }, 60_000);

  it('the script counts a planted long function, nested ones on their own, and not a 50-line one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'long-fn-'));
    try {
      const body = (n: number): string => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
      // outer: 1 + 52 + inner (1 + 49 + 1) + 1 lines; inner: 51 lines; short: 50 lines
      writeFileSync(join(dir, 'a.ts'), `export function outer(): void {\n${body(52)}\n  const inner = (): void => {\n${body(49)}\n  };\n}\n` +
        `export function short(): void {\n${body(48)}\n}\n`);
      const { count: n, listing } = count(['50', dir]);
      expect(n).toBe(2);
      expect(listing).toMatch(/outer/);
      expect(listing).toMatch(/inner/);
      expect(listing).not.toMatch(/short/);
      // one file given instead of a folder: the same functions (it stopped with ENOTDIR)
      const one = count(['50', join(dir, 'a.ts')]);
      expect(one.count).toBe(2);
      expect(one.listing).toMatch(/inner/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a limit that is not a whole number of lines is refused with a usage line (a path in its place counted nothing)', () => {
    let out: { status?: number | null; stderr?: string } = {};
    try {
      execFileSync(process.execPath, ['scripts/long-functions.mjs', 'src/index.ts'], { encoding: 'utf8', timeout: 60_000, stdio: 'pipe' });
    } catch (e) {
      out = e as { status?: number | null; stderr?: string };
    }
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(/usage: .*N must be a whole number of lines, got src\/index\.ts/);
  }, 60_000);
});
