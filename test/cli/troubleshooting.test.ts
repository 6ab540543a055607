/**
 * docs/troubleshooting.md (issue 14): every code of docs/errors.md has a line there with what to do, and the
 * symptoms the operator met are there. A new error code needs a line in both files.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (f: string): string => readFileSync(new URL(`../../docs/${f}`, import.meta.url), 'utf8');

/** the codes of a table's first column (`ERR_A` / `ERR_B` rows count each) */
function codesIn(md: string): Set<string> {
  const out = new Set<string>();
  for (const line of md.split('\n')) {
    const first = /^\| ([^|]*)\|/.exec(line)?.[1] ?? '';
    for (const m of first.matchAll(/`(ERR_[A-Z0-9_]+)`/g)) out.add(m[1]!);
  }
  return out;
}

describe('docs/troubleshooting.md', () => {
  const trouble = read('troubleshooting.md');

  it('has a row with what to do for every code in docs/errors.md', () => {
    const listed = codesIn(trouble);
    const missing = [...codesIn(read('errors.md'))].filter((c) => !listed.has(c));
    expect(missing, 'add a row to docs/troubleshooting.md for each').toEqual([]);
    for (const line of trouble.split('\n').filter((l) => /^\| `ERR_/.test(l))) {
      expect(line.split(' | ').length, line).toBeGreaterThanOrEqual(3);
      expect(line.split(' | ').at(-1)!.replace(/\|\s*$/, '').trim().length, line).toBeGreaterThan(10);
    }
  });

  it('is keyed by the symptoms an operator meets', () => {
    for (const s of ['--check` said OK', 'is not a reference value', 'ERR_PVE_UNKNOWN_HENB', 'halts at once', '--resume` halts again',
      'ERR_ROLLOUT_SOFTWARE', 'Ctrl-C', 'output redirected', 'host key', 'HSV_PASSWORD', 'contraindicated', 'job retention', 'npx henb-sw-verify']) {
      expect(trouble, s).toContain(s);
    }
  });
});
