/**
 * Packaging (issue 14), the fast half: what `npm pack` puts in the tarball. The package runs its TypeScript
 * sources through tsx (no build step), so it must ship bin/, src/, the YANG modules plugin.json names, plugin.json
 * and whatever package.json's `exports` and `bin` point at, and nothing of the tests, benchmarks or CI.
 * The real install of the tarball into a clean directory (offline, from the npm cache `npm ci` filled) and the
 * installed bin at work are in test/interop/package-install.test.ts (it compiles native add-ons: minutes).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
let files: string[];

interface Pkg { bin: Record<string, string>; exports: Record<string, string>; files: string[] }
interface Manifest { entry: string; yang: { modules: Array<{ file: string }> } }

beforeAll(async () => {
  const packed = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, timeout: 60_000 });
  const info = JSON.parse(packed.stdout) as Array<{ files: Array<{ path: string }> }>;
  files = info[0]!.files.map((f) => f.path);
}, 90_000);

describe('npm pack', () => {
  it('ships the bin, the sources, plugin.json and every file it names, the YANG library modules, docs and examples', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as Pkg;
    const manifest = JSON.parse(await readFile(join(root, 'plugin.json'), 'utf8')) as Manifest;
    const needed = ['package.json', 'README.md', 'plugin.json', 'tsconfig.json', 'src/cli/main.ts', 'docs/operator-guide.md', 'examples/config/serve.yaml',
      manifest.entry, ...manifest.yang.modules.map((m) => m.file), ...Object.values(pkg.bin)];
    for (const f of needed) expect(files, f).toContain(f.replace(/^\.\//, ''));
    expect(files.filter((f) => f.startsWith('yang-library/')).length).toBeGreaterThan(0);
  });

  it("package.json's exports point at shipped files (was ./dist/src/index.js, which nothing builds)", async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as Pkg;
    expect(Object.keys(pkg.exports)).toContain('.');
    for (const [key, target] of Object.entries(pkg.exports)) expect(files, `exports["${key}"]`).toContain(target.replace(/^\.\//, ''));
  });

  it('ships no tests, benchmarks, CI, scripts, test results or demo data', () => {
    const unwanted = /^(test|bench|\.ci|scripts|test-results|demo-data|node_modules|dist)\//;
    expect(files.filter((f) => unwanted.test(f))).toEqual([]);
    expect(files.filter((f) => /\.test\.ts$/.test(f))).toEqual([]);
  });
});
