// The real executable: tsx without a build step, exit codes, one ready line, clean stop on SIGTERM.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { benchLauncherArgs, launcherNodeArgs, shebangNodeArgs } from '../../bench/_launcher.js';

const bin = fileURLToPath(new URL('../../bin/henb-sw-verify.js', import.meta.url));
const run = promisify(execFile);

describe('bin/henb-sw-verify.js', () => {
  it('--help exits 0; an unknown command exits 2 with a coded error', async () => {
    const help = await run(process.execPath, [bin, '--help']);
    expect(help.stdout).toContain('Usage: henb-sw-verify <command> [options]');
    const bad = await run(process.execPath, [bin, 'nope']).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('ERR_CLI_USAGE') });
  }, 30_000);

  it('serve prints one ready line and exits 0 on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hsv-bin-'));
    try {
      const child = spawn(process.execPath, [bin, 'serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--log-level', 'silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ready line: ${out}`)), 20_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      expect(out).toMatch(/^henb-sw-verify: listening on 127\.0\.0\.1:\d+ \(ssh host key SHA256:[A-Za-z0-9+/]{43}, ssh-ed25519 [A-Za-z0-9+/]+=*\)\n$/);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out.split('\n').filter(Boolean)).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  // issue 14 item 4: Ctrl-C in the first second (the CLI still loading) was the default handler: exit 130, no word
  it('Ctrl-C while the CLI is still loading: exit 130 with one line saying nothing was done', async () => {
    const child = spawn(process.execPath, [bin, 'serve', '--check'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    // wait until the process catches SIGINT (it then names itself henb-sw-verify in /proc/PID/cmdline), then send
    // it: the CLI is still loading then (tsx compiles the sources for most of a second)
    const deadline = Date.now() + 10_000;
    while (!(await readFile(`/proc/${child.pid}/cmdline`, 'utf8').catch(() => '')).startsWith('henb-sw-verify')) {
      if (Date.now() > deadline) throw new Error('the process never named itself');
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill('SIGINT');
    expect(await exited).toEqual({ code: 130, signal: null });
    expect(err).toBe('henb-sw-verify: interrupted (SIGINT) before the command started; nothing was done\n');
  }, 30_000);

  // issue 15: V8's young generation is sized when the heap is made, so only node's command line can set it
  it('run as a program, node gets its first line\'s options (semi-spaces, V8\'s helper pool); the benchmark reads the same', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hsv-bin-'));
    try {
      const recorder = join(dir, 'record.cjs');
      const out = join(dir, 'exec-argv.json');
      await writeFile(recorder, `require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.execArgv));\n`);
      // the executable itself, as npx and an installed bin run it: the kernel reads its first line
      const help = await run(bin, ['--help'], { env: { ...process.env, NODE_OPTIONS: `--require=${recorder}` } });
      expect(help.stdout).toContain('Usage: henb-sw-verify <command> [options]');
      const execArgv = JSON.parse(await readFile(out, 'utf8')) as string[];
      expect(execArgv).toContain('--max-semi-space-size=32');
      expect(execArgv).toContain('--v8-pool-size=0');
      expect(launcherNodeArgs()).toEqual(['--max-semi-space-size=32', '--v8-pool-size=0']);
      expect(execArgv).toEqual(expect.arrayContaining(launcherNodeArgs()));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('the benchmark reads node options from a launcher\'s first line, and refuses a first line that is not one', () => {
    expect(shebangNodeArgs('#!/usr/bin/env node\nconsole.log(1)\n')).toEqual([]);
    expect(shebangNodeArgs('#!/usr/bin/env -S node --a=1  --b\n')).toEqual(['--a=1', '--b']);
    expect(shebangNodeArgs('#!/usr/bin/env -S node --a=1')).toEqual(['--a=1']);
    expect(() => shebangNodeArgs('// no first line\n')).toThrow(/not a node launcher's first line/);
    expect(() => shebangNodeArgs('#!/usr/bin/env python3\n')).toThrow(/not a node launcher's first line/);
    // every child of bench/fleet.ts starts with them, unless BENCH_LAUNCHER_ARGS=0 (node's defaults, to compare)
    expect(benchLauncherArgs({})).toEqual(launcherNodeArgs());
    expect(benchLauncherArgs({ BENCH_LAUNCHER_ARGS: '0' })).toEqual([]);
  });
});
