/**
 * Where this package's own files (yang/, plugin.json) are: the nearest directory above this module whose
 * package.json names henb-sw-verify. Works from src/ (tsx) and from dist/src/ (built).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null | undefined;

/** The package root, or undefined when this module is not inside the henb-sw-verify package. */
export function packageRoot(): string | undefined {
  if (cached !== undefined) return cached ?? undefined;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'henb-sw-verify') return (cached = dir);
      } catch {
        // not ours
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  cached = null;
  return undefined;
}
