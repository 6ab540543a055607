/**
 * pve.evidence relay (issue 15) with swtpm-rooted femtocells, every peer real: the OAM as `serve` runs it relays each
 * device's TPM quote over the job's nonce (integrity-measurement on the job's session) to the reference PVE over
 * RESTCONF. The PVE, which has the device's EK certificate (chained to the swtpm vendor CA), challenges the AK over its
 * own session at first contact only (activate-credential): the first update of a device costs two device sessions,
 * every later one a single session. An AK enrolled for another TPM's EK is refused on the TPM's word.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServeConfig } from '../../src/config/load.js';
import { startOamServer } from '../../src/cli/oam-server.js';
import type { RunningOamServer } from '../../src/cli/oam-server.js';
import { ADMIN_PASSWORD_ENV } from '../../src/cli/users.js';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import type { NetconfClient } from '../../src/netconf/client/index.js';
import { NETCONF_NOTIFICATION_NS, child, childText, childrenNamed, el, leaf } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';
import { startPve } from '../../src/pve/index.js';
import type { PveHandle } from '../../src/pve/index.js';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { until } from '../helpers/until.js';

const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
const PW = 'pve-relay-tpm-pw';

let dir: string;
let fleet: Fleet;
let pve: PveHandle;
let server: RunningOamServer;
let nms: NetconfClient;
let imageUri: string;
const pveLog: Array<Record<string, unknown>> = [];
const notes: XmlElement[] = [];

const resultOf = (jobId: string): XmlElement | undefined =>
  notes.find((n) => n.name === 'software-update-result' && childText(n, HSV, 'job-id') === jobId);

async function update(henbId: string, version: string): Promise<XmlElement> {
  const out = await nms.rpc(el(HSV, 'software-update', leaf(HSV, 'henb-id', henbId), el(HSV, 'software', leaf(HSV, 'uri', imageUri), leaf(HSV, 'version', version))));
  const jobId = childText(child(out, HSV, 'job')!, HSV, 'job-id')!;
  await until(() => resultOf(jobId) !== undefined, 'the result', 90_000);
  return resultOf(jobId)!;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pve-relay-tpm-'));
  const softwareDir = join(dir, 'software');
  await mkdir(softwareDir);
  const image = Buffer.from('henb firmware, TPM evidence relayed '.repeat(1000));
  await writeFile(join(softwareDir, 'image.bin'), image);
  imageUri = pathToFileURL(join(softwareDir, 'image.bin')).href;

  fleet = await startFleet({ fleet: [{ profile: 'healthy', count: 2, trustRoot: 'tpm' }], dataDir: join(dir, 'fleet'), tpmEkCa: join(dir, 'vendor-ca'), installMs: 300 });
  const [a, b] = [fleet.devices[0]!, fleet.devices[1]!];
  const root = await readFile(join(dir, 'vendor-ca', 'swtpm-localca-rootca-cert.pem'), 'utf8');
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), referenceValues: fleet.referenceValues, ekCa: [root], deviceTimeoutMs: 20_000,
    // the second device is enrolled with the first's EK: its AK does not live in that TPM
    devices: [{ ...a }, { ...b, ekCertificate: a.ekCertificate!, ekIntermediates: a.ekIntermediates!, ekPublic: a.ekPublic! }],
    log: createLogger({ level: 'info', write: (l) => pveLog.push(JSON.parse(l) as Record<string, unknown>) }),
  });
  pve.addReferenceValue('rootfs', createHash('sha256').update(image).digest('hex'));
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pve.jwks));
  const config = defaultServeConfig();
  config.builtin = {
    henbs: fleet.devices.map((d) => ({
      'henb-id': d.henbId, address: d.host, port: d.port, 'ssh-host-key': d.hostKeySha256, username: d.username, password: { env: 'DEV_PW' },
    })),
    pve: { endpoint: pve.url, transport: 'restconf', evidence: 'relay', ca: pve.caPath, jwks: join(dir, 'pve-jwks.json'), issuer: pve.issuer, timeout: 60 },
    policies: { 'self-check': true, 'on-mismatch': ['alarm'], 'step-timeout': 60 },
    software: { 'file-root': softwareDir },
  };
  server = await startOamServer({
    listen: { host: '127.0.0.1', port: 0 }, dataDir: join(dir, 'oam'), config, log: silentLogger,
    env: { [ADMIN_PASSWORD_ENV]: PW, DEV_PW: a.password! },
  });
  nms = await connectNetconf({ host: '127.0.0.1', port: server.address.port, username: 'admin', password: PW, hostKeySha256: server.fingerprint });
  await nms.rpc(el(NETCONF_NOTIFICATION_NS, 'create-subscription', leaf(NETCONF_NOTIFICATION_NS, 'stream', 'henb-sw-verify')));
  void (async () => {
    for await (const n of nms.notifications()) {
      const ev = childrenNamed(n, HSV, 'software-update-result')[0];
      if (ev) notes.push(ev);
    }
  })();
}, 180_000);

afterAll(async () => {
  await nms?.close().catch(() => undefined);
  await server?.close();
  await pve?.close();
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

describe('pve.evidence relay with swtpm-rooted devices', () => {
  it('the relayed quote is appraised; the AK is challenged over the PVE\'s session once: 2 device sessions, then 1 per update', async () => {
    const id = fleet.devices[0]!.henbId;
    const s0 = fleet.sessionsOpened(id);
    const first = await update(id, '2.0.0');
    expect(childText(first, HSV, 'status')).toBe('verified');
    expect(fleet.sessionsOpened(id) - s0).toBe(2); // the OAM's, and the PVE's challenge at first contact
    expect(pveLog.some((l) => l.msg === 'attestation key bound to the EK (activate-credential)' && l.henbId === id)).toBe(true);
    expect(pveLog.some((l) => l.msg === 'integrity-request appraised' && l.henbId === id && l.evidence === 'relayed' && l.evidenceFormat === 'tpm2-quote' && l.earStatus === 'affirming')).toBe(true);
    // the job is over: its session closes once idle (devices.idle-timeout), so the next update opens its own
    await until(() => fleet.sessionCount(id) === 0, 'the session closed after the job', 30_000);
    const s1 = fleet.sessionsOpened(id);
    const second = await update(id, '2.0.1');
    expect(childText(second, HSV, 'status')).toBe('verified');
    expect(fleet.sessionsOpened(id) - s1).toBe(1);
  }, 180_000);

  it('an AK enrolled with another TPM\'s EK: refused (the credential challenge fails), no software-update', async () => {
    const id = fleet.devices[1]!.henbId;
    const tim = fleet.cell(id)!.tim();
    const r = await update(id, '2.0.0');
    expect(childText(r, HSV, 'status')).toBe('refused');
    expect(childText(r, HSV, 'reason')).toContain('the attestation key failed the credential challenge');
    expect(fleet.cell(id)!.tim()).toBe(tim);
  }, 180_000);
});
