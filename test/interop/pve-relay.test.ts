/**
 * Step 3 in the background-check model (config pve.evidence: relay, issue 15) end to end, every peer real and on
 * loopback: simulated femtocells over NETCONF/SSH, the OAM as `serve` runs it, the reference PVE over RESTCONF/HTTPS,
 * an NMS over NETCONF/SSH. The OAM measures the H(e)NB (integrity-measurement with the job's nonce) on the job's
 * device session and relays the reply to the PVE, which appraises it and collects nothing itself; the
 * software-update goes on the same session: one device session per verified update, counted on the device side
 * (RFC 6022 in-sessions). Evidence that is not the enrolled key's (a forged signature, as the PVE sees it) is refused:
 * no software-update, the RIM unchanged.
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
import { extendDigest } from '../../src/oam/measure.js';
import { until } from '../helpers/until.js';

const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
const NC = NETCONF_BASE_NS;
const SUBTREE = [{ ns: '', name: 'type', value: 'subtree' }];
const PW = 'pve-relay-admin-pw';

let dir: string;
let fleet: Fleet;
let stranger: Fleet;
let pve: PveHandle;
let server: RunningOamServer;
let nms: NetconfClient;
let imageUri: string;
let imageRim: string;
const oamLog: Array<Record<string, unknown>> = [];
const pveLog: Array<Record<string, unknown>> = [];
const notes: XmlElement[] = [];

async function henbsState(): Promise<Map<string, XmlElement>> {
  const reply = await nms.rpc(el(NC, 'get', elA(NC, 'filter', SUBTREE, el(HSV, 'henbs'))));
  const henbs = child(child(reply, NC, 'data')!, HSV, 'henbs');
  return new Map((henbs ? childrenNamed(henbs, HSV, 'henb') : []).map((h) => [childText(h, HSV, 'henb-id')!, h]));
}

const resultOf = (jobId: string): XmlElement | undefined =>
  notes.find((n) => n.name === 'software-update-result' && childText(n, HSV, 'job-id') === jobId);

async function update(henbId: string): Promise<string> {
  const out = await nms.rpc(el(HSV, 'software-update', leaf(HSV, 'henb-id', henbId), el(HSV, 'software', leaf(HSV, 'uri', imageUri), leaf(HSV, 'version', '2.0.0'))));
  return childText(child(out, HSV, 'job')!, HSV, 'job-id')!;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pve-relay-'));
  const softwareDir = join(dir, 'software');
  await mkdir(softwareDir);
  const image = Buffer.from('henb firmware 2.0.0, evidence relayed '.repeat(1000));
  await writeFile(join(softwareDir, 'image.bin'), image);
  imageUri = pathToFileURL(join(softwareDir, 'image.bin')).href;
  imageRim = createHash('sha256').update(image).digest('hex');

  fleet = await startFleet({ profiles: { healthy: 2, compromised: 1 }, dataDir: join(dir, 'fleet'), installMs: 300 });
  stranger = await startFleet({ profiles: { healthy: 1 }, dataDir: join(dir, 'stranger') });
  // healthy-2's entry at the PVE holds another device's key: its (genuine) signature is a forgery to the PVE
  const pveDevices = fleet.devices.map((d) => (d.henbId === 'healthy-2' ? { ...d, devicePublicKey: stranger.devices[0]!.devicePublicKey } : { ...d }));
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), referenceValues: fleet.referenceValues, deviceTimeoutMs: 8000, devices: pveDevices,
    log: createLogger({ level: 'info', write: (l) => pveLog.push(JSON.parse(l) as Record<string, unknown>) }),
  });
  pve.addReferenceValue('rootfs', imageRim);
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pve.jwks));

  const config = defaultServeConfig();
  config.builtin = {
    henbs: fleet.devices.map((d) => ({
      'henb-id': d.henbId, address: d.host, port: d.port, 'ssh-host-key': d.hostKeySha256, username: d.username, password: { env: 'DEV_PW' },
    })),
    pve: { endpoint: pve.url, transport: 'restconf', evidence: 'relay', ca: pve.caPath, jwks: join(dir, 'pve-jwks.json'), issuer: pve.issuer, timeout: 20 },
    policies: { 'self-check': true, 'on-mismatch': ['alarm'], 'step-timeout': 30 },
    software: { 'file-root': softwareDir },
  };
  const log = createLogger({ level: 'info', write: (l) => oamLog.push(JSON.parse(l) as Record<string, unknown>) });
  server = await startOamServer({
    listen: { host: '127.0.0.1', port: 0 }, dataDir: join(dir, 'oam'), config, log,
    env: { [ADMIN_PASSWORD_ENV]: PW, DEV_PW: fleet.devices[0]!.password! },
  });
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
  await server?.close();
  await pve?.close();
  await fleet?.close();
  await stranger?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

describe('pve.evidence relay: the OAM relays step 3\'s evidence; one device session per update', () => {
  it('a verified update on exactly one device session (the PVE opened none); the session is released after the job', async () => {
    const id = 'healthy-1';
    const before = fleet.cell(id)!.tim();
    const opened = fleet.sessionsOpened(id);
    const job = await update(id);
    await until(() => resultOf(job) !== undefined, 'the result', 60_000);
    expect(childText(resultOf(job)!, HSV, 'status')).toBe('verified');
    expect(childText(resultOf(job)!, HSV, 'reported-tim')).toBe(extendDigest(before, imageRim));
    expect(fleet.sessionsOpened(id) - opened).toBe(1);
    // the PVE appraised relayed evidence; it collected nothing
    expect(pveLog.some((l) => l.msg === 'integrity-request appraised' && l.jobId === job && l.evidence === 'relayed' && l.earStatus === 'affirming')).toBe(true);
    await until(() => fleet.sessionCount(id) === 0, 'the session closed once the job was over', 20_000);
    const rim = childText((await henbsState()).get(id)!, HSV, 'rim');
    expect(rim).toBe(extendDigest(before, imageRim));
  }, 90_000);

  it('evidence not signed by the enrolled key (forged, to the PVE): refused, no software-update, RIM unchanged, one session', async () => {
    const id = 'healthy-2';
    const rimBefore = childText((await henbsState()).get(id)!, HSV, 'rim');
    const timBefore = fleet.cell(id)!.tim();
    const opened = fleet.sessionsOpened(id);
    const job = await update(id);
    await until(() => resultOf(job) !== undefined, 'the result', 60_000);
    expect(childText(resultOf(job)!, HSV, 'status')).toBe('refused');
    expect(childText(resultOf(job)!, HSV, 'reason')).toMatch(/contraindicated: evidence-invalid: the device signature did not verify; software-update not sent/);
    expect(fleet.cell(id)!.tim()).toBe(timBefore); // nothing installed
    expect(childText((await henbsState()).get(id)!, HSV, 'rim')).toBe(rimBefore);
    expect(fleet.sessionsOpened(id) - opened).toBe(1);
    await until(() => fleet.sessionCount(id) === 0, 'the session released after the refusal', 20_000);
  }, 90_000);

  it('a compromised H(e)NB: refused with the component named, as with collected evidence', async () => {
    const job = await update('compromised-1');
    await until(() => resultOf(job) !== undefined, 'the result', 60_000);
    expect(childText(resultOf(job)!, HSV, 'status')).toBe('refused');
    expect(childText(resultOf(job)!, HSV, 'reason')).toContain('component kernel is not a reference value');
  }, 90_000);
});
