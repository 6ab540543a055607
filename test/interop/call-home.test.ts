/**
 * NETCONF Call Home (RFC 8071) end to end, every peer real and on loopback: simulated femtocells that call out
 * (SSH server role on the socket they opened), the OAM as `serve` runs it (plugin config `call-home.listen`,
 * SSH client role on the accepted connection, devices known by their pinned host keys), the reference PVE with
 * its own call-home listener (it collects its evidence itself), and an NMS over NETCONF/SSH (our client).
 * Also the inventory (issue 12 item 3): get-config running, /hsv:henbs and the rollout tool list the same
 * H(e)NBs, and an H(e)NB added by edit-config is managed at once.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServeConfig } from '../../src/config/load.js';
import { startOamServer } from '../../src/cli/oam-server.js';
import type { RunningOamServer } from '../../src/cli/oam-server.js';
import { ADMIN_PASSWORD_ENV } from '../../src/cli/users.js';
import { connectRolloutTarget } from '../../src/cli/rollout/netconf-target.js';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import type { NetconfClient } from '../../src/netconf/client/index.js';
import { NETCONF_BASE_NS, NETCONF_NOTIFICATION_NS, child, childText, childrenNamed, el, elA, leaf } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';
import { startPve } from '../../src/pve/index.js';
import type { PveHandle } from '../../src/pve/index.js';
import { startFleet } from '../../src/simulator/index.js';
import type { Fleet } from '../../src/simulator/index.js';
import { withFreePort } from '../helpers/net.js';
import { until } from '../helpers/until.js';

const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
const NC = NETCONF_BASE_NS;
const SUBTREE = [{ ns: '', name: 'type', value: 'subtree' }];
const PW = 'call-home-admin-pw';
const DEVICE_SECRET_ENV = 'HSV_CALL_HOME_TEST_DEVICE_PW';
const STRANGER_SECRET_ENV = 'HSV_CALL_HOME_TEST_STRANGER_PW';
// a completion sent while the device is cut off must arrive by replay: it calls again only after 2.5 s
const BACKOFF = { initialMs: 2500, maxMs: 5000, jitter: 0, stableMs: 60_000 };

let dir: string;
let fleet: Fleet;
let stranger: Fleet;
let pve: PveHandle;
let server: RunningOamServer;
let nms: NetconfClient;
let callHomePort: number;
let imageUri: string;
const oamLog: Array<Record<string, unknown>> = [];
const notes: XmlElement[] = [];

const get = async (top: XmlElement): Promise<XmlElement | undefined> =>
  child(child(await nms.rpc(el(NC, 'get', elA(NC, 'filter', SUBTREE, top))), NC, 'data')!, HSV, top.name);

async function henbsState(): Promise<Map<string, XmlElement>> {
  const henbs = await get(el(HSV, 'henbs'));
  return new Map((henbs ? childrenNamed(henbs, HSV, 'henb') : []).map((h) => [childText(h, HSV, 'henb-id')!, h]));
}

async function runningIds(): Promise<string[]> {
  const reply = await nms.rpc(el(NC, 'get-config', el(NC, 'source', el(NC, 'running')), elA(NC, 'filter', SUBTREE, el(HSV, 'inventory'))));
  const inv = child(child(reply, NC, 'data')!, HSV, 'inventory');
  return inv ? childrenNamed(inv, HSV, 'henb').map((h) => childText(h, HSV, 'henb-id')!) : [];
}

const resultOf = (jobId: string): XmlElement | undefined =>
  notes.find((n) => n.name === 'software-update-result' && childText(n, HSV, 'job-id') === jobId);

async function update(henbId: string): Promise<string> {
  const out = await nms.rpc(el(HSV, 'software-update', leaf(HSV, 'henb-id', henbId), el(HSV, 'software', leaf(HSV, 'uri', imageUri), leaf(HSV, 'version', '2.0.0'))));
  const job = child(out, HSV, 'job')!;
  expect(childText(job, HSV, 'status')).toBe('started');
  return childText(job, HSV, 'job-id')!;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-call-home-'));
  const softwareDir = join(dir, 'software');
  await mkdir(softwareDir);
  const image = Buffer.from('henb firmware 2.0.0 for call home '.repeat(1000));
  await writeFile(join(softwareDir, 'image.bin'), image);
  imageUri = pathToFileURL(join(softwareDir, 'image.bin')).href;

  fleet = await startFleet({
    profiles: { healthy: 2, 'bad-install': 1 }, dataDir: join(dir, 'fleet'), installMs: 800, rollbackMs: 10, callHomeBackoff: BACKOFF,
  });
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d, callHome: true })),
    referenceValues: fleet.referenceValues, deviceTimeoutMs: 8000, callHome: { listen: '127.0.0.1:0' },
  });
  pve.addReferenceValue('rootfs', createHash('sha256').update(image).digest('hex'));
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pve.jwks));

  const config = defaultServeConfig();
  // healthy-2 is not in the file: it is added by edit-config below
  config.builtin = {
    henbs: fleet.devices.filter((d) => d.henbId !== 'healthy-2').map((d) => ({
      'henb-id': d.henbId, 'call-home': true, 'ssh-host-key': d.hostKeySha256, username: d.username, password: { env: DEVICE_SECRET_ENV },
    })),
    pve: { endpoint: pve.url, transport: 'restconf', ca: pve.caPath, jwks: join(dir, 'pve-jwks.json'), issuer: pve.issuer, timeout: 20 },
    policies: { 'self-check': true, 'on-mismatch': ['alarm', 'rollback'], 'step-timeout': 30 },
    software: { 'file-root': softwareDir },
  };
  const log = createLogger({ level: 'info', write: (l) => oamLog.push(JSON.parse(l) as Record<string, unknown>) });
  // the devices must be told the call-home port: a free one, tried again if another process takes it first
  server = await withFreePort((port) => {
    callHomePort = port;
    config.builtin['call-home'] = { listen: `127.0.0.1:${port}` };
    return startOamServer({
      listen: { host: '127.0.0.1', port: 0 }, dataDir: join(dir, 'oam'), config, log,
      env: { [ADMIN_PASSWORD_ENV]: PW, [DEVICE_SECRET_ENV]: fleet.devices[0]!.password },
    });
  });
  process.env[DEVICE_SECRET_ENV] = fleet.devices[0]!.password; // what edit-config's credentials env:NAME reads
  // every device calls the OAM and the PVE; a device nobody enrolled calls the OAM too
  fleet.startCallHome([{ host: '127.0.0.1', port: callHomePort }, pve.callHome!]);
  // its devices are named healthy-<n> too: stranger-1 is the name the operator gives it when enrolling it
  stranger = await startFleet({ profiles: { healthy: 1 }, dataDir: join(dir, 'stranger'), callHome: [{ host: '127.0.0.1', port: callHomePort }], callHomeBackoff: { initialMs: 200, maxMs: 400 } });
  process.env[STRANGER_SECRET_ENV] = stranger.devices[0]!.password;

  nms = await connectNetconf({ host: '127.0.0.1', port: server.address.port, username: 'admin', password: PW, hostKeySha256: server.fingerprint });
  await nms.rpc(el(NETCONF_NOTIFICATION_NS, 'create-subscription', leaf(NETCONF_NOTIFICATION_NS, 'stream', 'henb-sw-verify')));
  void (async () => {
    for await (const n of nms.notifications()) {
      const ev = [...childrenNamed(n, HSV, 'software-update-result'), ...childrenNamed(n, HSV, 'software-update-progress')][0];
      if (ev) notes.push(ev);
    }
  })();
}, 60_000);

afterAll(async () => {
  await nms?.close().catch(() => undefined);
  await stranger?.close();
  await fleet?.close();
  await server?.close();
  await pve?.close();
  delete process.env[DEVICE_SECRET_ENV];
  delete process.env[STRANGER_SECRET_ENV];
  await rm(dir, { recursive: true, force: true });
}, 30_000);

describe('NETCONF Call Home with the simulator, the reference PVE and the OAM as serve runs it', () => {
  it('/hsv:henbs says each device called home, and since when', async () => {
    const started = Date.now();
    for (const id of ['healthy-1', 'bad-install-1']) {
      await until(async () => childText((await henbsState()).get(id)!, HSV, 'connection') === 'called-home', `${id} called home`, 15_000);
    }
    const h = (await henbsState()).get('bad-install-1')!;
    const since = Date.parse(childText(h, HSV, 'connected-since')!);
    expect(since).toBeGreaterThan(started - 60_000);
    expect(since).toBeLessThanOrEqual(Date.now());
  });

  it('a full verified update and a mismatch, over call-home sessions only (the PVE collected on its own)', async () => {
    const ok = await update('healthy-1');
    const bad = await update('bad-install-1');
    await until(() => resultOf(ok) !== undefined && resultOf(bad) !== undefined, 'both results', 40_000);
    expect(childText(resultOf(ok)!, HSV, 'status')).toBe('verified');
    expect(childText(resultOf(ok)!, HSV, 'reported-tim')).toBe(fleet.cell('healthy-1')!.tim());
    expect(childText(resultOf(bad)!, HSV, 'status')).toBe('mismatch');
    expect(childText(resultOf(bad)!, HSV, 'differing-component')).toBe('rootfs');
    // the inventory gives them no address: every session ran on a connection the device opened
    expect(oamLog.filter((l) => l.msg === 'device called home').map((l) => l.henbId)).toEqual(expect.arrayContaining(['healthy-1', 'bad-install-1']));
  }, 60_000);

  it('a device whose connection drops mid-job: the completion it sent while cut off arrives by replay', async () => {
    let completedAt = 0;
    const off = fleet.cell('healthy-1')!.onCompletion((c) => {
      if (c.kind === 'update') completedAt = Date.now();
    });
    try {
      const jobId = await update('healthy-1');
      // cut the connection as soon as the update is with the device (step 7: it installs for 800 ms)
      await until(() => notes.some((n) => n.name === 'software-update-progress' && childText(n, HSV, 'job-id') === jobId && childText(n, HSV, 'step') === '7'), 'the update sent', 15_000);
      expect(completedAt).toBe(0);
      const cutAt = Date.now();
      fleet.dropCallHome('healthy-1');
      await until(() => resultOf(jobId) !== undefined, 'the result after the reconnect', 40_000);
      expect(childText(resultOf(jobId)!, HSV, 'status')).toBe('verified');
      // it completed while cut off (the device calls again only 2.5 s after the cut): so it came by replay
      expect(completedAt).toBeGreaterThan(0);
      expect(completedAt - cutAt).toBeLessThan(BACKOFF.initialMs);
      // and the connection it holds now began after that (connected-since has whole seconds)
      const since = Date.parse(childText((await henbsState()).get('healthy-1')!, HSV, 'connected-since')!);
      expect(since + 1000).toBeGreaterThan(completedAt);
      expect(since + 1000).toBeGreaterThanOrEqual(cutAt + BACKOFF.initialMs);
    } finally {
      off();
    }
  }, 60_000);

  it('an unknown host key is refused and logged with its SHA256 fingerprint; enrolled by edit-config, it is managed', async () => {
    const fp = stranger.devices[0]!.hostKeySha256;
    await until(() => oamLog.some((l) => l.level === 'warn' && l.fingerprint === fp), 'the refusal in the log', 15_000);
    const line = oamLog.find((l) => l.fingerprint === fp)!;
    expect(line.msg).toContain('unknown host key refused');
    expect(line.remoteAddress).toBe('127.0.0.1');
    expect((await henbsState()).has('stranger-1')).toBe(false);

    // the operator enrols it, and healthy-2 (which the file did not list), in running: secrets by reference
    const henb = (id: string, key: string, env: string): XmlElement => el(HSV, 'henb', leaf(HSV, 'henb-id', id), leaf(HSV, 'ssh-host-key', key),
      el(HSV, 'call-home'), leaf(HSV, 'username', 'oam'), leaf(HSV, 'credentials', `env:${env}`));
    await nms.rpc(el(NC, 'edit-config', el(NC, 'target', el(NC, 'running')), el(NC, 'config', el(HSV, 'inventory',
      henb('stranger-1', fp, STRANGER_SECRET_ENV),
      henb('healthy-2', fleet.devices.find((d) => d.henbId === 'healthy-2')!.hostKeySha256, DEVICE_SECRET_ENV)))));
    const connection = async (id: string): Promise<string | undefined> => {
      const h = (await henbsState()).get(id);
      return h ? childText(h, HSV, 'connection') : undefined;
    };
    await until(async () => (await connection('stranger-1')) === 'called-home', 'the enrolled stranger accepted on its next call', 15_000);
    await until(async () => (await connection('healthy-2')) === 'called-home', 'healthy-2 called home after enrolment', 15_000);
    const r = await update('healthy-2');
    await until(() => resultOf(r) !== undefined, 'healthy-2 result', 40_000);
    expect(childText(resultOf(r)!, HSV, 'status')).toBe('verified');
  }, 60_000);
});

describe('one inventory (issue 12 item 3)', () => {
  it('get-config running, /hsv:henbs and the rollout tool list the same H(e)NBs', async () => {
    const fromRunning = (await runningIds()).sort();
    const fromState = [...(await henbsState()).keys()].sort();
    const conn = await connectRolloutTarget({
      host: '127.0.0.1', port: server.address.port, username: 'admin', password: PW, hostKey: server.fingerprint,
      software: { uri: imageUri }, selfCheck: true, log: silentLogger, signal: new AbortController().signal,
    });
    const fromRollout = (await conn.inventory(new AbortController().signal)).sort();
    await conn.close();
    expect(fromRunning).toEqual(['bad-install-1', 'healthy-1', 'healthy-2', 'stranger-1']);
    expect(fromState).toEqual(fromRunning);
    expect(fromRollout).toEqual(fromRunning);
  });
});
