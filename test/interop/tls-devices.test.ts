/**
 * NETCONF over TLS to devices (RFC 7589) end to end, every peer real and on loopback: simulated femtocells that
 * serve NETCONF over TLS (certificates from the fleet CA, mutual authentication), the OAM as `serve` runs it
 * (plugin config device-tls, henbs[].transport tls, call-home.tls-listen), the reference PVE collecting its
 * evidence over TLS too (dialled, and on its own TLS call-home listener), and an NMS over NETCONF/SSH. The
 * nine steps run over TLS sessions only: one device identified by CA + name (the address dialled), one by its
 * pinned certificate (a mismatch), and one that calls home over TLS (RFC 8071 section 4), known by its
 * certificate's name (its henb-id).
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
import { createLogger } from '../../src/log/logger.js';
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
const PW = 'tls-devices-admin-pw';
const OAM_STEPS = new Set(['1', '2', '4', '5', '6', '7', '8', '9']);

let dir: string;
let dialled: Fleet;
let calling: Fleet;
let pve: PveHandle;
let server: RunningOamServer;
let nms: NetconfClient;
let imageUri: string;
const oamLog: Array<Record<string, unknown>> = [];
const notes: XmlElement[] = [];

const get = async (top: XmlElement): Promise<XmlElement | undefined> =>
  child(child(await nms.rpc(el(NC, 'get', elA(NC, 'filter', SUBTREE, top))), NC, 'data')!, HSV, top.name);

async function henbsState(): Promise<Map<string, XmlElement>> {
  const henbs = await get(el(HSV, 'henbs'));
  return new Map((henbs ? childrenNamed(henbs, HSV, 'henb') : []).map((h) => [childText(h, HSV, 'henb-id')!, h]));
}

const resultOf = (jobId: string): XmlElement | undefined =>
  notes.find((n) => n.name === 'software-update-result' && childText(n, HSV, 'job-id') === jobId);
const stepsOf = (jobId: string): string[] =>
  notes.filter((n) => n.name === 'software-update-progress' && childText(n, HSV, 'job-id') === jobId).map((n) => childText(n, HSV, 'step')!);

async function update(henbId: string): Promise<string> {
  const out = await nms.rpc(el(HSV, 'software-update', leaf(HSV, 'henb-id', henbId), el(HSV, 'software', leaf(HSV, 'uri', imageUri), leaf(HSV, 'version', '2.0.0'))));
  const job = child(out, HSV, 'job')!;
  expect(childText(job, HSV, 'status')).toBe('started');
  return childText(job, HSV, 'job-id')!;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-tls-devices-'));
  const softwareDir = join(dir, 'software');
  await mkdir(softwareDir);
  const image = Buffer.from('henb firmware 2.0.0 over TLS '.repeat(1000));
  await writeFile(join(softwareDir, 'image.bin'), image);
  imageUri = pathToFileURL(join(softwareDir, 'image.bin')).href;

  // one fleet CA (DATA_DIR/tls) for both groups: dialled devices, and one that calls home over TLS
  dialled = await startFleet({ profiles: { healthy: 1, 'bad-install': 1 }, dataDir: join(dir, 'fleet'), installMs: 500, tls: true });
  calling = await startFleet({
    profiles: { 'healthy-reboot': 1 }, dataDir: join(dir, 'fleet'), installMs: 500, tls: true,
    callHomeBackoff: { initialMs: 100, maxMs: 400, stableMs: 60_000 },
  });
  const pki = dialled.tls!;
  const client = { cert: pki.client.cert, key: pki.client.key, ca: pki.ca.cert };
  const [healthy, bad] = [dialled.devices[0]!, dialled.devices[1]!];
  const reboot = calling.devices[0]!;

  // the PVE collects over TLS as well: dialled for two, on its own TLS call-home listener for the third
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), referenceValues: dialled.referenceValues, deviceTimeoutMs: 8000,
    devices: [
      ...[healthy, bad].map((d) => ({ ...d, port: d.netconfTls!.port, transport: 'tls' as const, tls: client })),
      { ...reboot, callHome: true, transport: 'tls' as const, tls: client },
    ],
    callHome: { listen: '127.0.0.1:0', tls: { listen: '127.0.0.1:0', cert: client.cert, key: client.key, ca: client.ca } },
  });
  pve.addReferenceValue('rootfs', createHash('sha256').update(image).digest('hex'));
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pve.jwks));

  let tlsCallHomePort = 0;
  const config = defaultServeConfig();
  config.builtin = {
    'device-tls': { cert: pki.client.certFile, key: { file: pki.client.keyFile }, ca: pki.ca.certFile },
    henbs: [
      // CA + name: the certificate carries IP 127.0.0.1, the address dialled
      { 'henb-id': healthy.henbId, address: '127.0.0.1', port: healthy.netconfTls!.port, transport: 'tls', username: 'oam' },
      // pinned certificate (its SHA-256, as openssl prints it)
      { 'henb-id': bad.henbId, address: '127.0.0.1', port: bad.netconfTls!.port, transport: 'tls', 'tls-certificate': bad.netconfTls!.certSha256 },
      // calls home over TLS: known by the CA and the name in its certificate (its henb-id)
      { 'henb-id': reboot.henbId, 'call-home': true, transport: 'tls' },
    ],
    pve: { endpoint: pve.url, transport: 'restconf', ca: pve.caPath, jwks: join(dir, 'pve-jwks.json'), issuer: pve.issuer, timeout: 20 },
    policies: { 'self-check': true, 'on-mismatch': ['alarm', 'rollback'], 'step-timeout': 30 },
    software: { 'file-root': softwareDir },
  };
  const log = createLogger({ level: 'info', write: (l) => oamLog.push(JSON.parse(l) as Record<string, unknown>) });
  // the calling device must be told the TLS call-home port: a free one, tried again if another process takes it
  // first (the SSH call-home listener, which no device here calls, gets a port of its own choosing)
  server = await withFreePort((port) => {
    tlsCallHomePort = port;
    config.builtin['call-home'] = { listen: '127.0.0.1:0', 'tls-listen': `127.0.0.1:${port}` };
    return startOamServer({ listen: { host: '127.0.0.1', port: 0 }, dataDir: join(dir, 'oam'), config, log, env: { [ADMIN_PASSWORD_ENV]: PW } });
  });
  calling.startCallHome([{ host: '127.0.0.1', port: tlsCallHomePort, transport: 'tls' }, { ...pve.callHome!.tls!, transport: 'tls' }]);

  nms = await connectNetconf({ host: '127.0.0.1', port: server.address.port, username: 'admin', password: PW, hostKeySha256: server.fingerprint });
  await nms.rpc(el(NETCONF_NOTIFICATION_NS, 'create-subscription', leaf(NETCONF_NOTIFICATION_NS, 'stream', 'henb-sw-verify')));
  void (async () => {
    for await (const n of nms.notifications()) {
      const ev = [...childrenNamed(n, HSV, 'software-update-result'), ...childrenNamed(n, HSV, 'software-update-progress')][0];
      if (ev) notes.push(ev);
    }
  })();
}, 90_000);

afterAll(async () => {
  await nms?.close().catch(() => undefined);
  await calling?.close();
  await dialled?.close();
  await server?.close();
  await pve?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

describe('NETCONF over TLS to devices: the nine steps with the simulator, the reference PVE and the OAM as serve runs it', () => {
  it('the running inventory shows the TLS settings the file seeded', async () => {
    const reply = await nms.rpc(el(NC, 'get-config', el(NC, 'source', el(NC, 'running')), elA(NC, 'filter', SUBTREE, el(HSV, 'inventory'))));
    const inv = child(child(reply, NC, 'data')!, HSV, 'inventory')!;
    const byId = new Map(childrenNamed(inv, HSV, 'henb').map((h) => [childText(h, HSV, 'henb-id')!, h]));
    expect(childText(byId.get('healthy-1')!, HSV, 'transport')).toBe('tls');
    expect(childText(byId.get('bad-install-1')!, HSV, 'tls-certificate')).toBe(dialled.devices[1]!.netconfTls!.certSha256);
    expect(child(byId.get('healthy-reboot-1')!, HSV, 'call-home')).toBeDefined();
  });

  it('dialled over TLS: a verified update (CA + name) and a mismatch (pinned certificate), all nine steps', async () => {
    const ok = await update('healthy-1');
    const bad = await update('bad-install-1');
    await until(() => resultOf(ok) !== undefined && resultOf(bad) !== undefined, 'both results', 60_000);
    expect(childText(resultOf(ok)!, HSV, 'status')).toBe('verified');
    expect(childText(resultOf(ok)!, HSV, 'reported-tim')).toBe(dialled.cell('healthy-1')!.tim());
    // the OAM's progress: every step but 3, which the PVE runs (its evidence collection, over TLS here)
    expect(new Set(stepsOf(ok))).toEqual(OAM_STEPS);
    expect(childText(resultOf(bad)!, HSV, 'status')).toBe('mismatch');
    expect(childText(resultOf(bad)!, HSV, 'differing-component')).toBe('rootfs');
  }, 90_000);

  it('called home over TLS: /hsv:henbs says so, and a verified update with a reboot (log replay) runs on it', async () => {
    await until(async () => childText((await henbsState()).get('healthy-reboot-1')!, HSV, 'connection') === 'called-home', 'healthy-reboot-1 called home', 20_000);
    const job = await update('healthy-reboot-1');
    await until(() => resultOf(job) !== undefined, 'the result', 60_000);
    expect(childText(resultOf(job)!, HSV, 'status')).toBe('verified');
    expect(new Set(stepsOf(job))).toEqual(OAM_STEPS);
    expect(oamLog.some((l) => l.msg === 'device called home' && l.henbId === 'healthy-reboot-1' && l.transport === 'tls')).toBe(true);
  }, 90_000);
});
