/**
 * Ad-hoc (issue 15, branch statcache): the files opened, read or stat'ed per verified update, counted by path with
 * strace (load-independent). `demo --listen` holds the OAM, the reference PVE and the simulated fleet in one process;
 * one rollout over the fleet warms it up, then strace is attached to that process (all its threads, and the children
 * it starts) for a second rollout; the file syscalls by path are divided by the devices updated.
 *   node --import tsx bench/_file-reads.ts [N] [--fleet SPEC] [--sha256] [--tree DIR]
 * N healthy devices (default 20), or --fleet as demo takes it; --sha256 gives the rollout the image's sha256 (the
 * OAM's check of a local image); --tree runs another checkout's bin/henb-sw-verify.js (a base to compare with). Needs strace. Paths are shown with the data dir as DD and device numbers as N;
 * socket, pipe and /dev reads are left out.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/free-port.js';

const args = process.argv.slice(2);
const fleetAt = args.indexOf('--fleet');
const fleet = fleetAt >= 0 ? args[fleetAt + 1]! : `healthy=${Number(args.find((a) => /^\d+$/.test(a)) ?? 20)}`;
const devices = fleet.split(',').reduce((s, part) => s + Number(part.split('=')[1]), 0);
const withSha = args.includes('--sha256');
const treeAt = args.indexOf('--tree');
const root = treeAt >= 0 ? args[treeAt + 1]! : fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'henb-sw-verify.js');
const dir = mkdtempSync(join(tmpdir(), 'file-reads-'));
const env = { ...process.env, HENB_SW_VERIFY_PASSWORD: 'secret', HENB_SW_VERIFY_ADMIN_PASSWORD: 'secret' };

function waitForLine(child: ChildProcess, what: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${String(what)} within ${ms} ms`)), ms);
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      const line = text.split('\n').find((l) => what.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.once('exit', () => reject(new Error('the demo ended')));
  });
}

function rollout(port: number, software: string, version: string, sha256: string | undefined): void {
  const r = spawnSync(process.execPath, [bin, 'rollout', '--server', `127.0.0.1:${port}`, '--software', software, '--version', version,
    '--concurrency', String(devices), '--report', join(dir, `report-${version}.json`), ...(sha256 !== undefined ? ['--sha256', sha256] : []), '--json'],
  { env, encoding: 'utf8', timeout: 600_000 });
  const summary = (JSON.parse(r.stdout) as { summary?: Record<string, number> }).summary;
  console.log(`rollout ${version}: ${JSON.stringify(summary)}`);
  if (summary?.verified !== devices) throw new Error('not every device verified');
}

/** syscall + path -> count, from strace -y output */
function countByPath(trace: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of trace.split('\n')) {
    const m = /^\d+\s+(\w+)\((.*)$/.exec(line);
    if (!m) continue;
    const [, call, rest] = m as unknown as [string, string, string];
    const p = call === 'read' || call === 'pread64' ? /^\d+<([^>]*)>/.exec(rest) : /"([^"]*)"/.exec(rest);
    if (!p) continue;
    let path = p[1]!;
    if (/^(socket:|pipe:|anon_inode:|\/dev\/)/.test(path)) continue;
    path = path.split(dir).join('DD').replace(/-\d+(?=\/|$)/g, '-N').replace(/(etilqs_|hsv-tpm-work-)\w+/g, '$1X');
    const key = `${call} ${path === '' ? '(an open fd)' : path}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

const port = await freePort();
const demo = spawn(process.execPath, [bin, 'demo', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data'), '--fleet', fleet, '--json'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const ready = JSON.parse(await waitForLine(demo, /"software"/, 300_000)) as { software: string };
  const sha256 = withSha ? createHash('sha256').update(readFileSync(fileURLToPath(ready.software))).digest('hex') : undefined;
  rollout(port, ready.software, '2.0.0', sha256);
  const traceFile = join(dir, 'trace');
  const strace = spawn('strace', ['-f', '-qq', '-e', 'trace=%file,read,pread64', '-y', '-p', String(demo.pid), '-o', traceFile], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000)); // attached
  rollout(port, ready.software, '2.0.1', sha256);
  await new Promise((r) => setTimeout(r, 500));
  strace.kill('SIGINT');
  await new Promise((r) => strace.once('exit', r));
  const counts = [...countByPath(readFileSync(traceFile, 'utf8').split(dir).join('DD'))].sort((a, b) => b[1] - a[1]);
  console.log(`file syscalls per verified update (${root}: ${devices} devices, fleet ${fleet}${withSha ? ', with --sha256' : ''}):`);
  for (const [key, n] of counts) console.log(`  ${(n / devices).toFixed(2).padStart(7)}  ${key}`);
} finally {
  demo.kill('SIGTERM');
  await new Promise((r) => demo.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
