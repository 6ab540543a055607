// Runs every example (examples/ncclient/*.py with the system's python3 + ncclient, and the yangcli script)
// against the real `henb-sw-verify demo --listen` process. A missing peer fails the test, never skips it.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const PYTHON = '/usr/bin/python3';
const YANGCLI = '/usr/bin/yangcli';
const PW = 'examples-admin-pw';

let dir: string;
let demo: ChildProcess;
let ready: { port: number; hostKey: string; publicKey: string; software: string; fleet: string[] };
let env: NodeJS.ProcessEnv;
let demoErr = '';

async function py(script: string, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(PYTHON, [join(root, 'examples', 'ncclient', script), ...args], { env, timeout: 90_000, cwd: join(root, 'examples', 'ncclient') });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

beforeAll(async () => {
  for (const peer of [PYTHON, YANGCLI]) if (!existsSync(peer)) throw new Error(`${peer} is missing: run sudo scripts/install-peers.sh`);
  await run(PYTHON, ['-c', 'import ncclient']).catch(() => {
    throw new Error('python3-ncclient is missing: run sudo scripts/install-peers.sh');
  });
  dir = await mkdtemp(join(tmpdir(), 'hsv-examples-'));
  demo = spawn(process.execPath, [join(root, 'bin', 'henb-sw-verify.js'), 'demo', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'demo'), '--fleet', 'healthy=2,compromised=1', '--json', '--log-level', 'warn'],
    { env: { ...process.env, HENB_SW_VERIFY_ADMIN_PASSWORD: PW }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  demo.stderr!.on('data', (d: Buffer) => { demoErr += d.toString(); });
  ready = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ready line from the demo: ${out}`)), 60_000);
    demo.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        clearTimeout(t);
        resolve(JSON.parse(out.split('\n')[0]!));
      }
    });
    demo.on('exit', (code) => reject(new Error(`demo exited ${code}: ${out}`)));
  });
  env = { ...process.env, HSV_HOST: '127.0.0.1', HSV_PORT: String(ready.port), HSV_HOST_KEY: ready.publicKey, HENB_SW_VERIFY_ADMIN_PASSWORD: PW, HOME: dir };
}, 90_000);

afterAll(async () => {
  if (demo && demo.exitCode === null) {
    const exited = new Promise<number | null>((r) => demo.once('exit', (code) => r(code)));
    demo.kill('SIGINT');
    expect(await exited).toBe(0);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

describe('examples against the demo', () => {
  it('get_state.py lists the H(e)NBs', async () => {
    const r = await py('get_state.py', 'henbs');
    expect(r.code).toBe(0);
    for (const id of ready.fleet) expect(r.out).toContain(`<henb-id>${id}</henb-id>`);
  });

  it('get_schema.py fetches the module text', async () => {
    const r = await py('get_schema.py');
    expect(r.code).toBe(0);
    expect(r.out).toContain('module henb-sw-verify {');
  });

  it('integrity_request.py: affirming for a healthy device, contraindicated for a compromised one', async () => {
    const ok = await py('integrity_request.py', 'healthy-1');
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^ear-status affirming$/m);
    expect(ok.out).toMatch(/^attestation-result ey[\w-]+\.[\w-]+\.[\w-]+$/m);
    const bad = await py('integrity_request.py', 'compromised-1');
    expect(bad.out).toMatch(/^ear-status contraindicated$/m);
  });

  it('software_update.py: subscribe, update, one result per device (exit 1: not all verified)', async () => {
    const r = await py('software_update.py', ready.software, 'healthy-1', 'compromised-1');
    expect(r.out).toMatch(/^result healthy-1 verified/m);
    expect(r.out).toMatch(/^result compromised-1 refused PVE verdict contraindicated/m);
    expect(r.code).toBe(1);
    const only = await py('software_update.py', ready.software, 'healthy-2');
    expect(only.code).toBe(0);
    // still trusted by the PVE after a verified update (the new image is a reference value)
    expect((await py('integrity_request.py', 'healthy-1')).out).toMatch(/^ear-status affirming$/m);
  });

  it('completion_tim.py: an unknown job is an rpc-error with error-app-tag job-unknown', async () => {
    const r = await py('completion_tim.py', 'job-none', 'healthy-1', '0'.repeat(64));
    expect(r.code).toBe(1);
    expect(r.out).toContain('rpc-error invalid-value');
    expect(r.out).toMatch(/^error-app-tag job-unknown$/m);
    expect(r.out).not.toContain('Traceback');
  });

  // issue 14 item 8: rpc-errors as readable lines (no traceback), indented XML, step names
  it('an rpc-error in any example is readable lines and exit 1, never a Python traceback', async () => {
    const r = await py('integrity_request.py', 'no-such-henb');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^rpc-error invalid-value .*no-such-henb/m);
    expect(r.out).toMatch(/^error-app-tag unknown-henb$/m);
    expect(r.out).toMatch(/^error-path .*henb-id/m);
    expect(r.out).not.toContain('Traceback');
  });

  it('get_state.py prints indented XML; software_update.py names the steps of its progress', async () => {
    const state = await py('get_state.py', 'henbs');
    expect(state.out).toMatch(/\n {2,}<henb>/);
    const r = await py('software_update.py', ready.software, 'healthy-2');
    expect(r.out).toMatch(/^progress healthy-2 4 pve-verdict: /m);
    expect(r.out).toMatch(/^progress healthy-2 6 send-update: /m);
  });

  it('another user\'s password is HSV_PASSWORD, not admin\'s variable', async () => {
    const r = await run(PYTHON, [join(root, 'examples', 'ncclient', 'get_state.py')], { env: { ...env, HSV_USER: 'nms' }, cwd: join(root, 'examples', 'ncclient') })
      .then(() => ({ code: 0, out: '' }), (e: { code: number; stderr: string }) => ({ code: e.code, out: e.stderr }));
    expect(r.code).toBe(1);
    expect(r.out).toContain('set HSV_PASSWORD to the password of nms');
  });

  it('subscribe_replay.py replays the results kept in the store', async () => {
    const r = await py('subscribe_replay.py');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/software-update-result healthy-1 verified job-/);
    expect(r.out).toMatch(/software-update-result compromised-1 refused job-/);
    expect(r.out).toMatch(/^replayComplete after \d+ notification\(s\)$/m);
  });

  it('the yangcli script runs (yangcli loads our module through get-schema)', async () => {
    const r = await run(YANGCLI, [`--server=127.0.0.1`, `--ncport=${ready.port}`, '--user=admin', `--password=${PW}`, '--batch-mode', '--display-mode=xml',
      `--run-script=${join(root, 'examples', 'yangcli', 'henb-sw-verify.yangcli')}`], { env, timeout: 90_000 });
    // yangcli exits 0 even when the session fails: read its output
    expect(r.stdout).toContain('<henb-id>healthy-1</henb-id>');
    expect(r.stdout).toMatch(/<ear-status[^>]*>affirming<\/ear-status>/);
    expect(r.stdout).toContain('<jwks>{"keys":[');
  });

  it('yangcli/run.sh: the SSH connection that carries the session is held to the pinned key (public key line or fingerprint)', async () => {
    const sh = join(root, 'examples', 'yangcli', 'run.sh');
    for (const pin of [ready.publicKey, ready.hostKey]) {
      const r = await sh5(sh, { HSV_HOST_KEY: pin });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`SSH to 127.0.0.1:${ready.port} verified the pinned host key ${ready.hostKey}; starting yangcli`);
      // yangcli loaded our module through get-schema over the tunnel and ran the script
      expect(r.stdout).toContain('<henb-id>healthy-1</henb-id>');
      expect(r.stdout).toMatch(/<ear-status[^>]*>affirming<\/ear-status>/);
      expect(r.stdout).toContain('<jwks>{"keys":[');
    }
  });

  it('yangcli/run.sh: a server with another key is refused by OpenSSH before any password is sent; exit 3, yangcli never runs', async () => {
    const sh = join(root, 'examples', 'yangcli', 'run.sh');
    await run('ssh-keygen', ['-t', 'ed25519', '-N', '', '-q', '-f', join(dir, 'other-key')]);
    const other = (await readFile(join(dir, 'other-key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
    const failedLogins = (demoErr.match(/authentication failed/g) ?? []).length;
    const bad = await sh5(sh, { HSV_HOST_KEY: other });
    expect(bad.code, bad.stderr).toBe(3);
    expect(bad.stderr).toContain('Host key verification failed.');
    expect(bad.stderr).toContain(`no NETCONF session with 127.0.0.1:${ready.port} over SSH`);
    expect(bad.stderr).toContain('yangcli not started');
    expect(bad.stdout).not.toContain('henb-id');
    expect((demoErr.match(/authentication failed/g) ?? []).length, 'no login was attempted').toBe(failedLogins);
    // a fingerprint that is not the server's: refused before any SSH login
    const wrong = `SHA256:${'A'.repeat(43)}`;
    const badFp = await sh5(sh, { HSV_HOST_KEY: wrong });
    expect(badFp.code).toBe(3);
    expect(badFp.stderr).toContain(`is ${ready.hostKey} not the pinned ${wrong}; yangcli not started`);
    expect(badFp.stdout).not.toContain('henb-id');
    // a wrong password with the right key: exit 3, the server saw one failed login
    const badPw = await sh5(sh, { HSV_HOST_KEY: ready.publicKey, HENB_SW_VERIFY_ADMIN_PASSWORD: 'not-the-password' });
    expect(badPw.code).toBe(3);
    expect(badPw.stderr).toContain('Permission denied');
    expect(badPw.stdout).not.toContain('henb-id');
  });

  it('yangcli/ssh-bridge.py gives the session to no other client: a wrong header closes it, exit 3', async () => {
    // the SSH command replaced by a process that says hello and echoes: the bridge's own checks only
    const portFile = join(dir, 'bridge-port');
    const bridge = spawn(PYTHON, [join(root, 'examples', 'yangcli', 'ssh-bridge.py'), '--port-file', portFile, '--user', 'one-time-name', '--',
      '/bin/sh', '-c', 'printf "<hello/>]]>]]>"; exec cat'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...env, HSV_BRIDGE_TIMEOUT: '20' } });
    let err = '';
    bridge.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((r) => bridge.once('exit', (code) => r(code)));
    let port = 0;
    for (let i = 0; i < 200 && !port; i++) {
      port = Number((await readFile(portFile, 'utf8').catch(() => '')).trim());
      if (!port) await new Promise((r) => setTimeout(r, 50));
    }
    expect(port).toBeGreaterThan(0);
    const sock = connect(port, '127.0.0.1');
    let got = '';
    let sockError = '';
    // the bridge closes with our unread bytes in its buffer: the kernel answers with a reset, which is expected here
    sock.on('error', (e: NodeJS.ErrnoException) => { sockError = e.code ?? e.message; });
    const hello = new Promise<void>((r) => sock.on('data', (d: Buffer) => { got += d.toString(); if (got.includes(']]>]]>')) r(); }));
    await new Promise<void>((r) => sock.once('connect', () => r()));
    await hello;   // read the server's hello before the header, so a reset cannot discard it unread
    sock.write('[someone-else;10.0.0.0/10000;tcp;0;0;;/root;;]\n<hello/>]]>]]>');
    expect(await exited).toBe(3);
    expect(err).toContain('not the yangcli run.sh started (wrong header): session closed');
    expect(got).toBe('<hello/>]]>]]>');   // the server's hello only: nothing of what the client sent came back
    expect(['', 'ECONNRESET', 'EPIPE']).toContain(sockError);
    sock.destroy();
  });
});

/** examples/yangcli/run.sh with env overrides; never rejects */
async function sh5(script: string, over: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('/bin/sh', [script], { env: { ...env, ...over }, timeout: 90_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}
