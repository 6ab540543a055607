// One error catalogue for the package: every ERR_... code that appears in src/ is listed in docs/errors.md
// (a code that ends in `_` is a family, e.g. `ERR_NETCONF_<TAG>`, and must appear as that prefix).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('docs/errors.md', () => {
  const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
  const used = new Map<string, string>();
  for (const file of sources(join(root, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\bERR_[A-Z0-9_]+/g)) if (!used.has(m[0])) used.set(m[0], file.slice(root.length));
  }

  it('finds codes in src/ (the scan works)', () => {
    expect(used.size).toBeGreaterThan(20);
    expect(used.has('ERR_PLUGIN_MANIFEST')).toBe(true);
  });

  it('documents every code used in src/', () => {
    const missing = [...used].filter(([code]) => !doc.includes('`' + code)).map(([code, file]) => `${code} (${file})`);
    expect(missing).toEqual([]);
  });
});
