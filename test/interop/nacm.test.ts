/**
 * Interop: NACM (RFC 8341) as clients we did not write see it. `serve --config` with a simulated fleet
 * and a real PVE; users from the config file with groups (noc, operator); the administrator loads the
 * ready rule-lists of examples/nacm. Then:
 * - python3-ncclient and yangcli as the read-only NOC user: reads work, /nacm is pruned, edits, lock,
 *   software-update and kill-session are access-denied;
 * - the ncclient examples and the yangcli example script as the rollout operator;
 * - yanglint accepts the /nacm configuration and counters the administrator reads;
 * - an ncclient session the NOC role denies is in the audit log, which `audit verify` proves.
 * A missing peer fails the test.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import type { NetconfClient } from '../../src/netconf/client/index.js';
import { NACM_NS } from '../../src/netconf/server/index.js';
import { child, childText, elements, serializeXml } from '../../src/netconf/xml/index.js';
import { until } from '../helpers/until.js';
import { runNcclient } from './helpers/ncclient.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const NC = 'urn:ietf:params:xml:ns:netconf:base:1.0';
const PYTHON = '/usr/bin/python3';
const YANGCLI = '/usr/bin/yangcli';
const YANGLINT = '/usr/bin/yanglint';
const env = { ADMIN_PW: 'nacm-admin-pw', HENB_SW_VERIFY_ADMIN_PASSWORD: 'nacm-admin-pw', NOC_PW: 'nacm-noc-pw', OP_PW: 'nacm-op-pw', DEV_PW: '' };

let dir: string;
let fleet: Fleet;
let pve: PveHandle;
const stop = new AbortController();
let serving: Promise<number>;
let port = 0;
let hostKey = '';
let publicKey = '';
let software = '';

async function login(username: string, password: string): Promise<NetconfClient> {
  return connectNetconf({ host: '127.0.0.1', port, username, password, hostKeySha256: hostKey, rpcTimeoutMs: 30_000 });
}

beforeAll(async () => {
  for (const peer of [PYTHON, YANGCLI, YANGLINT]) if (!existsSync(peer)) throw new Error(`${peer} is missing: run sudo scripts/install-peers.sh`);
  dir = await mkdtemp(join(tmpdir(), 'hsv-nacm-interop-'));
  fleet = await startFleet({ fleet: [{ profile: 'healthy', count: 2 }], dataDir: join(dir, 'fleet') });
  pve = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices, referenceValues: fleet.referenceValues });
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pve.jwks));
  env.DEV_PW = fleet.devices[0]!.password;
  await mkdir(join(dir, 'sw'));
  await writeFile(join(dir, 'sw', 'image.bin'), 'image 2.0.0\n');
  software = `file://${join(dir, 'sw', 'image.bin')}`;
  const henbs = fleet.devices.map((d) => `  - henb-id: ${d.henbId}\n    address: ${d.host}\n    port: ${d.port}\n    ssh-host-key: ${d.hostKeySha256}\n    username: ${d.username}\n    password: { env: DEV_PW }\n`).join('');
  await writeFile(join(dir, 'config.yaml'), `listen: 127.0.0.1:0
data-dir: oam
logging: { level: warn }
# Debian 12's yangcli (libssh2 1.10) has no ETM MAC: offer encrypt-and-MAC hmac-sha2-256 too (docs/security.md)
ssh:
  macs: [hmac-sha2-256-etm@openssh.com, hmac-sha2-256]
users:
  - name: noc
    password: { env: NOC_PW }
    groups: [noc]
  - name: op
    password: { env: OP_PW }
    groups: [operator]
henbs:
${henbs}pve:
  endpoint: ${pve.url}
  ca: ${pve.caPath}
  jwks: pve-jwks.json
software:
  file-root: ${join(dir, 'sw')}
policies:
  step-timeout: 20
audit:
  seal-interval: 1
`);
  const out = new BufferWritable();
  serving = runCli(['serve', '--config', join(dir, 'config.yaml'), '--json'], { stdout: out, stderr: new BufferWritable(), env, signal: stop.signal });
  await until(() => out.text().includes('\n'), 'the ready line');
  const ready = JSON.parse(out.text()) as { port: number; hostKey: string; publicKey: string };
  ({ port, hostKey, publicKey } = ready);
  const admin = await login('admin', env.ADMIN_PW);
  try {
    for (const role of ['noc', 'operator']) {
      const xml = await readFile(join(ROOT, 'examples', 'nacm', `${role}.xml`), 'utf8');
      await admin.rpc(`<edit-config><target><running/></target><config>${xml}</config></edit-config>`);
    }
  } finally {
    await admin.close();
  }
}, 90_000);

afterAll(async () => {
  stop.abort();
  expect(await serving).toBe(0);
  await pve?.close();
  await fleet?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

/** run an example of examples/ncclient as `user` */
async function example(user: string, password: string, script: string, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(PYTHON, [join(ROOT, 'examples', 'ncclient', script), ...args], {
      cwd: join(ROOT, 'examples', 'ncclient'), timeout: 90_000,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', HOME: dir, HSV_HOST: '127.0.0.1', HSV_PORT: String(port), HSV_HOST_KEY: publicKey, HSV_USER: user, HSV_PASSWORD: password },
    });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

async function yangcli(user: string, password: string, script: string): Promise<string> {
  const home = join(dir, `yangcli-${user}`);
  await mkdir(home, { recursive: true });
  const r = await run(YANGCLI, [`--server=127.0.0.1`, `--ncport=${port}`, `--user=${user}`, `--password=${password}`, '--batch-mode', '--display-mode=xml',
    `--run-script=${script}`], { env: { ...process.env, HOME: home }, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 });
  return r.stdout + r.stderr; // yangcli exits 0 even when the session fails: read its output
}

describe('a read-only NOC user (examples/nacm/noc.xml)', () => {
  it('ncclient: reads (without /nacm); edit-config, lock, software-update and kill-session are access-denied', async () => {
    const { steps, code, stderr } = await runNcclient('ncclient_nacm.py', port, [], undefined, { user: 'noc', password: env.NOC_PW });
    expect(steps.get('exception'), stderr).toBeUndefined();
    expect(code, stderr).toBe(0);
    const get = steps.get('get')!;
    expect(get.error).toBeNull();
    expect(get.xml as string).toContain('<henb-id>healthy-1</henb-id>');
    expect(get.xml as string).not.toMatch(/<nacm[\s>]/);
    expect(get.xml as string).toContain('<netconf-state');
    const getConfig = steps.get('get-config')!;
    expect(getConfig.xml as string).not.toMatch(/<nacm[\s>]/);
    expect(steps.get('edit-inventory')!.error).toMatchObject({ tag: 'access-denied', type: 'application' });
    expect((steps.get('edit-inventory')!.error as { path: string }).path).toMatch(/inventory/);
    for (const s of ['lock', 'software-update', 'kill-session']) expect(steps.get(s)!.error, s).toMatchObject({ tag: 'access-denied', type: 'protocol' });
    // nothing was written
    const admin = await login('admin', env.ADMIN_PW);
    try {
      const running = serializeXml(await admin.rpc('<get-config><source><running/></source></get-config>'));
      expect(running).toContain('<rule-list><name>noc</name>'); // the administrator reads /nacm
      expect(running).not.toContain('intruder-1');
    } finally {
      await admin.close();
    }
  }, 90_000);

  it('yangcli: sget works; lock and integrity-request are access-denied', async () => {
    // a yangcli script stops at its first rpc-error: one denied request per script
    const lock = join(dir, 'noc-lock.yangcli');
    await writeFile(lock, 'sget /henbs\nlock target=running\n');
    const out = await yangcli('noc', env.NOC_PW, lock);
    expect(out).toContain('NETCONF session established for noc');
    expect(out).toContain('<henb-id>healthy-1</henb-id>');
    expect(out).toMatch(/<error-tag>access-denied<\/error-tag>[\s\S]*\/nc:rpc\/x:lock/);
    const ir = join(dir, 'noc-ir.yangcli');
    await writeFile(ir, 'integrity-request henb-id=healthy-1\n');
    const out2 = await yangcli('noc', env.NOC_PW, ir);
    expect(out2).toContain('<error-tag>access-denied</error-tag>');
    expect(out2).not.toMatch(/<ear-status/);
  }, 90_000);
});

describe('the rollout operator (examples/nacm/operator.xml)', () => {
  it('yangcli runs the example script', async () => {
    const out = await yangcli('op', env.OP_PW, join(ROOT, 'examples', 'yangcli', 'henb-sw-verify.yangcli'));
    expect(out).toContain('<henb-id>healthy-1</henb-id>');
    expect(out).toMatch(/<ear-status[^>]*>affirming<\/ear-status>/);
    expect(out).not.toContain('access-denied');
  }, 90_000);

  it('the ncclient examples work: state, schema, integrity-request, software-update, replay', async () => {
    const state = await example('op', env.OP_PW, 'get_state.py', 'henbs');
    expect(state.code, state.out).toBe(0);
    expect(state.out).toContain('<henb-id>healthy-1</henb-id>');
    expect((await example('op', env.OP_PW, 'get_schema.py')).out).toContain('module henb-sw-verify {');
    const ir = await example('op', env.OP_PW, 'integrity_request.py', 'healthy-1');
    expect(ir.out).toMatch(/^ear-status affirming$/m);
    const up = await example('op', env.OP_PW, 'software_update.py', software, 'healthy-2');
    expect(up.out).toMatch(/^result healthy-2 verified/m);
    expect(up.code, up.out).toBe(0);
    const replay = await example('op', env.OP_PW, 'subscribe_replay.py');
    expect(replay.code, replay.out).toBe(0);
    expect(replay.out).toMatch(/software-update-result healthy-2 verified job-/);
  }, 180_000);

  it('completion-tim is not the operator\'s (default-deny-all): access-denied', async () => {
    const r = await example('op', env.OP_PW, 'completion_tim.py', 'job-none', 'healthy-1', '0'.repeat(64));
    expect(r.code).toBe(1);
    expect(r.out).toContain('rpc-error access-denied');
  }, 90_000);

});

describe('the /nacm state', () => {
  it('counts the denials, and yanglint accepts the configuration with its counters', async () => {
    const admin = await login('admin', env.ADMIN_PW);
    let data: ReturnType<typeof elements>;
    try {
      data = elements(child(await admin.rpc(`<get><filter><nacm xmlns="${NACM_NS}"/></filter></get>`), NC, 'data')!);
    } finally {
      await admin.close();
    }
    const nacm = data.find((e) => e.name === 'nacm')!;
    expect(Number(childText(nacm, NACM_NS, 'denied-operations'))).toBeGreaterThan(0);
    expect(Number(childText(nacm, NACM_NS, 'denied-data-writes'))).toBeGreaterThan(0);
    expect(elements(nacm).filter((e) => e.name === 'rule-list').map((r) => childText(r, NACM_NS, 'name'))).toEqual(['admin', 'noc', 'operator']);
    const file = join(dir, 'nacm.xml');
    await writeFile(file, serializeXml(nacm));
    const IETF = join(ROOT, 'yang', 'ietf');
    let outText = '';
    let code = 0;
    try {
      const r = await run(YANGLINT, ['-p', IETF, '-t', 'data', join(IETF, 'ietf-netconf-acm@2018-02-14.yang'), file], { timeout: 30_000 });
      outText = r.stdout + r.stderr;
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      code = typeof e.code === 'number' ? e.code : -1;
      outText = `${e.stdout ?? ''}${e.stderr ?? ''}`;
    }
    expect(outText).toBe('');
    expect(code).toBe(0);
  }, 60_000);
});

describe('the audit log', () => {
  async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const out = new BufferWritable();
    const err = new BufferWritable();
    const code = await runCli(args, { stdout: out, stderr: err, env, tty: false });
    return { code, out: out.text(), err: err.text() };
  }

  it('an ncclient session denied by NACM: the denial is recorded, and the signed chain verifies', async () => {
    const before = Date.now();
    const { steps, stderr } = await runNcclient('ncclient_nacm.py', port, [], undefined, { user: 'noc', password: env.NOC_PW });
    expect(steps.get('edit-inventory')!.error, stderr).toMatchObject({ tag: 'access-denied' });
    const dataDir = join(dir, 'oam');
    type Rec = { seq: number; at: number; actor: string; action: string; object: string; details: Record<string, unknown> };
    let denials: Rec[] = [];
    let verdict: { ok: boolean; signedSeq: number; problem: unknown } | undefined;
    // the head is signed every second (audit.seal-interval: 1): wait until it covers the denials (bounded)
    for (let i = 0; i < 60; i++) {
      const shown = await cli(['audit', 'show', '--data-dir', dataDir, '--limit', '100000', '--json']);
      expect(shown.code, shown.err).toBe(0);
      denials = (JSON.parse(shown.out) as Rec[]).filter((r) => r.action === 'nacm-denial' && r.at >= before && r.actor.startsWith('netconf:noc@'));
      const v = await cli(['audit', 'verify', '--data-dir', dataDir, '--json']);
      verdict = JSON.parse(v.out) as typeof verdict;
      expect(v.code, v.out).toBe(0);
      if (denials.length >= 4 && verdict!.signedSeq >= Math.max(...denials.map((d) => d.seq))) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(verdict).toMatchObject({ ok: true, problem: null });
    // edit-config (data write), lock, software-update and kill-session (operations), each from ncclient's session
    expect(denials.find((d) => d.details.kind === 'data-write')?.object).toContain('inventory');
    for (const op of ['lock', 'software-update', 'kill-session']) expect(denials.some((d) => d.details.kind === 'operation' && d.object.endsWith(` ${op}`)), op).toBe(true);
    expect(new Set(denials.map((d) => d.actor)).size).toBe(1);
    expect(verdict!.signedSeq).toBeGreaterThanOrEqual(Math.max(...denials.map((d) => d.seq)));
  }, 90_000);
});
