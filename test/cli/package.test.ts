/**
 * Packaging (issue 14): `npm pack` makes a package whose `bin` works from a clean directory. The tarball is
 * unpacked where `npm install` would put it (DIR/node_modules/henb-sw-verify, the bin linked in .bin) and run
 * with `npx` from DIR, which has nothing of the repository but the dependencies.
 * Why not `npm install --offline TARBALL`: this machine's npm cache does not hold the dependencies (the
 * repository's node_modules was installed elsewhere), so an offline install fails with ENOTCACHED and an
 * online one is not a unit test. The dependencies are therefore linked from the repository's node_modules
 * (the same versions package-lock.json pins); everything of the package itself comes from the tarball.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
let dir: string;
let app: string;
let files: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pack-'));
  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, timeout: 120_000 });
  const info = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  files = info[0]!.files.map((f) => f.path);
  app = join(dir, 'app');
  const pkgDir = join(app, 'node_modules', 'henb-sw-verify');
  await mkdir(pkgDir, { recursive: true });
  await run('tar', ['xzf', join(dir, info[0]!.filename), '-C', pkgDir, '--strip-components=1'], { timeout: 60_000 });
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'clean-app', version: '1.0.0', private: true, dependencies: { 'henb-sw-verify': '0.1.0' } }));
  // the dependencies, linked from the repository (see above); the package itself is only the tarball
  for (const name of await readdir(join(root, 'node_modules'))) {
    if (name === '.bin' || name.startsWith('.')) continue;
    await symlink(join(root, 'node_modules', name), join(app, 'node_modules', name));
  }
  await mkdir(join(app, 'node_modules', '.bin'));
  await symlink('../henb-sw-verify/bin/henb-sw-verify.js', join(app, 'node_modules', '.bin', 'henb-sw-verify'));
}, 180_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships what the bin needs and no tests', () => {
    for (const f of ['bin/henb-sw-verify.js', 'src/cli/main.ts', 'plugin.json', 'yang/henb-sw-verify.yang', 'package.json', 'README.md']) expect(files, f).toContain(f);
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('bench/') || f.startsWith('.ci/'))).toEqual([]);
  });

  it('the bin works from a clean directory: --version, --help, serve --print-schema, and a one-shot demo', async () => {
    const npx = (args: string[]) => run('npx', ['--no-install', 'henb-sw-verify', ...args], { cwd: app, timeout: 120_000, env: { ...process.env, npm_config_offline: 'true' } });
    const version = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    expect((await npx(['--version'])).stdout).toBe(`${version.version}\n`);
    expect((await npx(['--help'])).stdout).toContain('Usage: henb-sw-verify <command> [options]');
    expect(JSON.parse((await npx(['serve', '--print-schema'])).stdout)).toMatchObject({ type: 'object' });
    const demo = await npx(['demo', '--fleet', 'healthy=1,compromised=1', '--data-dir', join(dir, 'demo-data')]);
    expect(demo.stdout).toMatch(/^healthy-1 +1 +verified/m);
    expect(demo.stdout).toContain('demo: every device ended as its profile predicts');
  }, 180_000);
});
