/**
 * Packaging (issue 14): `npm pack` makes a package that `npm install ./henb-sw-verify-X.Y.Z.tgz` installs into a
 * clean directory, and its `bin` works there. Here for real, with npm as the peer: the tarball is installed by npm
 * (dependencies fetched, unpacked, linked, their install scripts run, native add-ons compiled), offline.
 *
 * Where the dependencies come from, without the network: the npm cache that the project's own `npm ci` filled
 * (`npm install --offline --cache <it>`: npm answers every request from the cache or fails with ENOTCACHED; it
 * never asks a registry). `npm ci` caches each locked tarball and the abbreviated packument it resolved it with,
 * but an `npm install` without a lockfile resolves semver ranges against full packuments (npm 11), which the cache
 * does not hold; so the clean directory gets a package-lock.json that locks the dependencies to the versions the
 * repository's package-lock.json locks (its non-dev entries, the tree `npm ci --omit=dev` installs), plus the
 * tarball itself by its integrity. That is also what an operator's install resolves to, newer releases aside.
 *
 * better-sqlite3's install script runs prebuild-install; it is given the add-on the repository's `npm ci` built,
 * as a local prebuild (npm_config_better_sqlite3_local_prebuilds, prebuild-install's own offline mechanism),
 * instead of downloading one or compiling SQLite again (minutes of CPU); ssh2 and cpu-features compile their
 * add-ons with node-gyp as in `npm ci`. A proxy on a closed loopback port makes any download attempt (a prebuild,
 * node headers) fail rather than reach the network.
 * The installed bin is then run from the clean directory with npx: --version, --help, serve --check of a config
 * there, a one-shot demo (OAM + PVE + simulated devices: SSH, SQLite, signed tokens), and the package's export.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const execFileP = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

interface LockEntry { dev?: boolean; devOptional?: boolean; optional?: boolean; [k: string]: unknown }
interface Pkg { name: string; version: string; license: string; bin: Record<string, string>; dependencies: Record<string, string>; engines: Record<string, string>; allowScripts: Record<string, boolean> }

let dir: string;
let app: string;
let pkg: Pkg;
let tarballFiles: string[];
let install: { code: number; out: string };
let env: NodeJS.ProcessEnv;

async function run(cmd: string, args: string[], cwd: string, timeout = 120_000): Promise<{ code: number; out: string; stdout: string }> {
  try {
    const r = await execFileP(cmd, args, { cwd, env, timeout, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, out: r.stdout + r.stderr, stdout: r.stdout };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}${typeof e.code === 'string' ? e.code : ''}`, stdout: e.stdout ?? '' };
  }
}

// as an operator types it; npm_config_offline / npm_config_yes=false (in env) keep npx from fetching anything
const npx = (args: string[], timeout?: number) => run('npx', ['henb-sw-verify', ...args], app, timeout);

async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

async function walk(base: string, sub = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(base, sub), { withFileTypes: true })) {
    const p = join(sub, e.name);
    if (e.isDirectory()) out.push(...await walk(base, p));
    else out.push(p);
  }
  return out;
}

beforeAll(async () => {
  pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as Pkg;
  // the cache `npm ci` used (an npm_config_cache in the environment included); the other npm_* variables of an
  // enclosing `npm run` are not the clean directory's business
  const cache = (await execFileP('npm', ['config', 'get', 'cache'], { cwd: root })).stdout.trim();
  env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  dir = await mkdtemp(join(tmpdir(), 'hsv-package-install-'));
  app = join(dir, 'app');
  await mkdir(app);

  const packed = await execFileP('npm', ['pack', '--json', '--pack-destination', app], { cwd: root, env, timeout: 120_000 });
  const info = (JSON.parse(packed.stdout) as Array<{ filename: string; integrity: string; files: Array<{ path: string }> }>)[0]!;
  expect(info.filename).toBe(`${pkg.name}-${pkg.version}.tgz`);
  tarballFiles = info.files.map((f) => f.path);

  // the clean directory: a package.json that approves the dependencies' install scripts (as the repository does),
  // and a lockfile: the tarball by its integrity, the dependencies as the repository's lockfile locks them
  const spec = `file:${info.filename}`;
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'clean-app', version: '1.0.0', private: true, dependencies: { [pkg.name]: spec }, allowScripts: pkg.allowScripts }, null, 2));
  const repoLock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packages: Record<string, unknown> = {
    '': { name: 'clean-app', version: '1.0.0', dependencies: { [pkg.name]: spec } },
    [`node_modules/${pkg.name}`]: { version: pkg.version, resolved: spec, integrity: info.integrity, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
  };
  for (const [path, entry] of Object.entries(repoLock.packages)) {
    if (path === '' || entry.dev) continue;
    const { devOptional, ...rest } = entry;
    packages[path] = devOptional ? { ...rest, optional: true } : rest;
  }
  await writeFile(join(app, 'package-lock.json'), JSON.stringify({ name: 'clean-app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));

  // better-sqlite3's add-on from the repository's install, as prebuild-install's local prebuild
  const sqlitePkg = JSON.parse(await readFile(join(root, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8')) as { version: string };
  const prebuilds = join(dir, 'prebuilds');
  await mkdir(prebuilds);
  await execFileP('tar', ['czf', join(prebuilds, `better-sqlite3-v${sqlitePkg.version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`),
    '-C', join(root, 'node_modules', 'better-sqlite3'), 'build/Release/better_sqlite3.node']);

  const deadProxy = 'http://127.0.0.1:9';
  env = { ...env, npm_config_offline: 'true', npm_config_yes: 'false', npm_config_better_sqlite3_local_prebuilds: prebuilds, HTTP_PROXY: deadProxy, HTTPS_PROXY: deadProxy, http_proxy: deadProxy, https_proxy: deadProxy, npm_config_proxy: deadProxy, npm_config_https_proxy: deadProxy, NO_UPDATE_NOTIFIER: '1' };
  install = await run('npm', ['install', '--offline', '--cache', cache, '--no-audit', '--no-fund', '--foreground-scripts', `./${info.filename}`], app, 900_000);
}, 960_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm install ./henb-sw-verify-X.Y.Z.tgz in a clean directory, offline', () => {
  it('installs the package from the tarball and its dependencies from the npm cache, install scripts run', async () => {
    expect(install.code, install.out).toBe(0);
    const installed = join(app, 'node_modules', pkg.name);
    expect((await lstat(installed)).isDirectory(), 'a copy, not a link').toBe(true);
    expect((await walk(installed)).sort()).toEqual([...tarballFiles].sort());
    expect((JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as Pkg).version).toBe(pkg.version);
    expect((await lstat(join(app, 'node_modules', '.bin', 'henb-sw-verify'))).isSymbolicLink()).toBe(true);
    for (const dep of Object.keys(pkg.dependencies)) expect((await lstat(join(app, 'node_modules', dep))).isDirectory(), dep).toBe(true);
    // no dev dependency came along
    for (const dev of ['vitest', 'typescript', 'eslint', 'playwright-core']) await expect(lstat(join(app, 'node_modules', dev)), dev).rejects.toThrow(/ENOENT/);
    // the native add-ons load: better-sqlite3 (the local prebuild, not a download or a fresh compile) and ssh2's crypto binding (compiled)
    expect(await sha256(join(app, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))).toBe(await sha256(join(root, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node')));
    const probe = await run(process.execPath, ['-e', "const D=require('better-sqlite3'); console.log(new D(':memory:').prepare('select sqlite_version() v').get().v, require('ssh2/lib/protocol/crypto.js').bindingAvailable)"], app);
    expect(probe.code, probe.out).toBe(0);
    expect(probe.stdout).toMatch(/^3\.\d+\.\d+ true\n$/);
  });

  it('npx henb-sw-verify --version and --help from the clean directory', async () => {
    const version = await npx(['--version']);
    expect(version.code, version.out).toBe(0);
    expect(version.stdout).toBe(`${pkg.version}\n`);
    const help = await npx(['--help']);
    expect(help.code, help.out).toBe(0);
    expect(help.stdout).toContain('Usage: henb-sw-verify <command> [options]');
    expect(help.stdout).toContain('serve ');
  });

  it('serve --check accepts a config in the clean directory and names what is wrong in a bad one', async () => {
    await writeFile(join(app, 'serve.yaml'), 'listen: 127.0.0.1:0\ndata-dir: data\nusers:\n  - name: nms\n    password: { env: HSV_NMS_PASSWORD }\n');
    env = { ...env, HENB_SW_VERIFY_ADMIN_PASSWORD: 'clean-dir-admin', HSV_NMS_PASSWORD: 'clean-dir-nms' };
    const ok = await npx(['serve', '--config', 'serve.yaml', '--check']);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.stdout).toContain(`configuration OK (${join(app, 'serve.yaml')})`);
    expect(ok.stdout).toContain('users admin, nms');
    await writeFile(join(app, 'bad.yaml'), 'listen: 127.0.0.1:0\ndata-dir: data\nlistne: 1\n');
    const bad = await npx(['serve', '--config', 'bad.yaml', '--check']);
    expect(bad.code, bad.out).toBe(2);
    expect(bad.out).toMatch(/bad\.yaml:3:1.*listne/);
  });

  it('a one-shot demo runs from the installed package: OAM, PVE and simulated devices over SSH, results in SQLite', async () => {
    const demo = await npx(['demo', '--fleet', 'healthy=1,compromised=1', '--data-dir', join(dir, 'demo-data'), '--log-level', 'warn'], 180_000);
    expect(demo.code, demo.out).toBe(0);
    expect(demo.stdout).toMatch(/^healthy-1 +1 +verified/m);
    expect(demo.stdout).toContain('demo: every device ended as its profile predicts');
    const db = (await walk(join(dir, 'demo-data'))).filter((f) => f.endsWith('.db') || f.endsWith('.sqlite'));
    expect(db.length, 'the SQLite store').toBeGreaterThan(0);
  }, 200_000);

  it("the package's export is the plugin entry (activate), and its plugin.json resolves", async () => {
    const code = "const m = await import('henb-sw-verify'); const p = import.meta.resolve('henb-sw-verify/plugin.json'); console.log(typeof m.activate, p)";
    const r = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], app);
    expect(r.code, r.out).toBe(0);
    const [type, url] = r.stdout.trim().split(' ');
    expect(type).toBe('function');
    expect(relative(app, fileURLToPath(url!))).toBe(join('node_modules', pkg.name, 'plugin.json'));
  });
});
