/**
 * Step 5 with the plugin config `software: {ca, file-root, allow}`, end to end through the built-in activate
 * (real NETCONF devices, RESTCONF PVE, SQLite): an https software URI served with a private CA verifies when
 * that CA is pinned, and fails when it is not, or when another CA is pinned (the job's reason is the one opaque
 * fetch reason, the OAM log says the certificate is not trusted); a file: URI outside file-root, or any without
 * a file-root, and an http(s) URI outside software.allow, are refused with an rpc-error before any job starts
 * (symbolic links included), while one inside it verifies. Connection refused, HTTP 404 and an untrusted
 * certificate give the NMS the same reason (the OAM is no port scanner).
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { loadOrCreatePveTls } from '../../src/pve/tls.js';
import type { PveTlsMaterial } from '../../src/pve/tls.js';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { NetconfError } from '../../src/netconf/rpc-error.js';
import type { NetconfRegistry, RpcHandler } from '../../src/netconf/server/registry.js';
import { childText, el, leaf } from '../../src/netconf/xml/build.js';
import { NETCONF_BASE_NS } from '../../src/netconf/xml/types.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import { activate, SOFTWARE_FETCH_FAILED } from '../../src/oam-plugin/index.js';
import type { OamPluginConfig } from '../../src/oam-plugin/index.js';
import { HSV_NS } from '../../src/oam-plugin/index.js';
import { extendDigest } from '../../src/oam/measure.js';
import { until } from '../helpers/until.js';

const IMAGE = Buffer.from('firmware 6.0.0 '.repeat(2000));
const RIM = createHash('sha256').update(IMAGE).digest('hex');

let dir: string;
let fleet: Fleet;
let pveSvc: PveHandle;
let tls: PveTlsMaterial;
let otherTls: PveTlsMaterial;
let server: Server;
let imageUrl: string;
let handle: PluginHandle | undefined;
let oamN = 0;
let allowed: string;
let logLines: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-e2e-fetch-'));
  fleet = await startFleet({ profiles: { healthy: 4 }, dataDir: join(dir, 'fleet') });
  pveSvc = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues, deviceTimeoutMs: 3000 });
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pveSvc.jwks));
  // a private CA and a server certificate for 127.0.0.1 (openssl), and a second, unrelated CA
  tls = await loadOrCreatePveTls(join(dir, 'tls'), ['127.0.0.1']);
  otherTls = await loadOrCreatePveTls(join(dir, 'tls-other'), ['127.0.0.1']);
  server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    if (req.url === '/image.bin') res.end(IMAGE);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  imageUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}/image.bin`;
  allowed = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  await mkdir(join(dir, 'images'));
  await writeFile(join(dir, 'images', 'image.bin'), IMAGE);
  await writeFile(join(dir, 'outside.bin'), IMAGE);
  await symlink(join(dir, 'outside.bin'), join(dir, 'images', 'link.bin'));
}, 60_000);

afterEach(async () => {
  await handle?.close();
  handle = undefined;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await pveSvc?.close();
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);


interface Oam { rpcs: Map<string, RpcHandler>; notes: XmlElement[] }

async function startOam(software: OamPluginConfig['software']): Promise<Oam> {
  const rpcs = new Map<string, RpcHandler>();
  const notes: XmlElement[] = [];
  const config: OamPluginConfig = {
    henbs: fleet.devices.map((d) => ({ 'henb-id': d.henbId, address: d.host, port: d.port, username: d.username, password: d.password, 'ssh-host-key': d.hostKeySha256 })),
    pve: { endpoint: pveSvc.url, ca: pveSvc.caPath, jwks: join(dir, 'pve-jwks.json'), timeout: 10 },
    policies: { 'on-mismatch': ['alarm'], 'step-timeout': 20 },
    ...(software !== undefined ? { software } : {}),
  };
  const registry: NetconfRegistry = {
    addRpc: (_ns, name, h) => { rpcs.set(name, h); }, addState: () => undefined, addStream: () => undefined, addModule: () => undefined,
    notify: async (_s, e) => { notes.push(e); }, getRunning: () => el(NETCONF_BASE_NS, 'data'), onConfigChange: () => undefined,
  };
  logLines = [];
  const log = createLogger({ level: 'warn', write: (l) => void logLines.push(l) });
  handle = await activate({ apiVersion: HOST_API_VERSION, registry, log, dataDir: join(dir, `oam-${++oamN}`), config, signal: new AbortController().signal });
  return { rpcs, notes };
}

function update(oam: Oam, henbId: string, uri: string): Promise<XmlElement[]> {
  return oam.rpcs.get('software-update')!(el(HSV_NS, 'software-update', leaf(HSV_NS, 'henb-id', henbId),
    el(HSV_NS, 'software', leaf(HSV_NS, 'uri', uri), leaf(HSV_NS, 'version', '6.0.0'))),
  { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger }) as Promise<XmlElement[]>;
}

async function resultOf(oam: Oam): Promise<XmlElement> {
  await until(() => oam.notes.some((n) => n.name === 'software-update-result'), 'the result');
  return oam.notes.find((n) => n.name === 'software-update-result')!;
}

describe('software over https with a pinned CA', () => {
  it('verifies when the private CA is pinned (software.ca)', async () => {
    const henbId = fleet.devices[0]!.henbId;
    const before = fleet.cell(henbId)!.tim();
    const oam = await startOam({ ca: tls.caPath, allow: [allowed] });
    await update(oam, henbId, imageUrl);
    const res = await resultOf(oam);
    expect(childText(res, HSV_NS, 'status')).toBe('verified');
    expect(childText(res, HSV_NS, 'reported-tim')).toBe(extendDigest(before, RIM));
  }, 60_000);

  it('fails when no CA is pinned (system trust store): an opaque reason, the log says why; the device is untouched', async () => {
    const henbId = fleet.devices[1]!.henbId;
    const before = fleet.cell(henbId)!.tim();
    const oam = await startOam({ allow: [allowed] });
    await update(oam, henbId, imageUrl);
    const res = await resultOf(oam);
    expect(childText(res, HSV_NS, 'status')).toBe('failed');
    expect(childText(res, HSV_NS, 'reason')).toBe(`software fetch failed: ${SOFTWARE_FETCH_FAILED} (ERR_SOFTWARE_FETCH)`);
    expect(logLines.join('')).toMatch(/"msg":"software fetch failed".*"hint":"the https server's certificate is not trusted \([A-Z_]+\); pin its CA with software\.ca"/);
    expect(fleet.cell(henbId)!.tim()).toBe(before);
    expect(fleet.cell(henbId)!.slots().find((s) => s.name === 'slot-b')?.status).toBe('EMPTY');
  }, 60_000);

  it('fails when another CA is pinned', async () => {
    const henbId = fleet.devices[1]!.henbId;
    const oam = await startOam({ ca: otherTls.caPath, allow: [allowed] });
    await update(oam, henbId, imageUrl);
    const res = await resultOf(oam);
    expect(childText(res, HSV_NS, 'status')).toBe('failed');
    expect(childText(res, HSV_NS, 'reason')).toBe(`software fetch failed: ${SOFTWARE_FETCH_FAILED} (ERR_SOFTWARE_FETCH)`);
    expect(logLines.join('')).toMatch(/certificate is not trusted .*not issued by the CA pinned in software\.ca/);
  }, 60_000);
});

describe('file: software limited to software.file-root', () => {
  it('a file outside file-root (directly or by a symbolic link) is refused with an rpc-error; no job starts', async () => {
    const henbId = fleet.devices[2]!.henbId;
    const oam = await startOam({ 'file-root': join(dir, 'images') });
    for (const uri of [pathToFileURL(join(dir, 'outside.bin')).href, pathToFileURL(join(dir, 'images', 'link.bin')).href,
      `file://${join(dir, 'images')}/../outside.bin`, pathToFileURL(join(dir, 'images', 'sub', 'missing.bin')).href.replace('/images/sub/', '/images/../sub/')]) {
      const err = await update(oam, henbId, uri).then(() => undefined, (e: unknown) => e);
      expect(err, uri).toBeInstanceOf(NetconfError);
      expect((err as NetconfError).errors[0]).toMatchObject({ tag: 'operation-failed', appTag: 'software-unavailable', message: expect.stringContaining('software.file-root') });
    }
    expect(oam.notes).toEqual([]);
    expect(fleet.cell(henbId)!.slots().find((s) => s.name === 'slot-b')?.status).toBe('EMPTY');
  }, 60_000);

  it('a file inside file-root verifies', async () => {
    const henbId = fleet.devices[3]!.henbId;
    const before = fleet.cell(henbId)!.tim();
    const oam = await startOam({ 'file-root': join(dir, 'images') });
    const out = await update(oam, henbId, pathToFileURL(join(dir, 'images', 'image.bin')).href);
    expect(childText(out[0]!, HSV_NS, 'status')).toBe('started');
    const res = await resultOf(oam);
    expect(childText(res, HSV_NS, 'status')).toBe('verified');
    expect(childText(res, HSV_NS, 'reported-tim')).toBe(extendDigest(before, RIM));
  }, 60_000);
});

describe('the software source is confined (software.file-root, software.allow)', () => {
  const refusal = async (oam: Oam, uri: string): Promise<unknown> => {
    const err = await update(oam, fleet.devices[2]!.henbId, uri).then(() => undefined, (e: unknown) => e);
    expect(err, uri).toBeInstanceOf(NetconfError);
    return (err as NetconfError).errors[0];
  };

  it('file: without a file-root, and http(s) outside the allow-list (or without one), are refused before any job', async () => {
    const none = await startOam(undefined);
    expect(await refusal(none, pathToFileURL(join(dir, 'images', 'image.bin')).href)).toMatchObject({ tag: 'operation-failed', appTag: 'software-unavailable', message: expect.stringContaining('software.file-root') });
    expect(await refusal(none, imageUrl)).toMatchObject({ appTag: 'software-unavailable', message: expect.stringContaining('software.allow') });
    await handle?.close();
    const some = await startOam({ allow: ['images.example.net', 'https://127.0.0.1:1/only/'] });
    for (const uri of [imageUrl, 'http://127.0.0.1:22/', 'https://images.example.net:8443/x.bin', 'https://127.0.0.1:1/other/x.bin', 'file:///etc/passwd']) {
      expect(await refusal(some, uri)).toMatchObject({ appTag: 'software-unavailable' });
    }
    expect(none.notes).toEqual([]);
    expect(some.notes).toEqual([]);
  }, 60_000);

  it('connection refused, HTTP 404 and a missing file give the NMS one and the same reason (an untrusted certificate too, above)', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const p = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    const henbId = fleet.devices[2]!.henbId;
    const oam = await startOam({ ca: tls.caPath, 'file-root': join(dir, 'images'), allow: [allowed, `127.0.0.1:${closed}`] });
    const reasons: string[] = [];
    for (const uri of [`https://127.0.0.1:${closed}/image.bin`, imageUrl.replace('image.bin', 'missing.bin'), pathToFileURL(join(dir, 'images', 'missing.bin')).href]) {
      oam.notes.length = 0;
      const out = await update(oam, henbId, uri);
      expect(childText(out[0]!, HSV_NS, 'status')).toBe('started');
      const res = await resultOf(oam);
      expect(childText(res, HSV_NS, 'status')).toBe('failed');
      reasons.push(childText(res, HSV_NS, 'reason') ?? '');
    }
    expect(new Set(reasons)).toEqual(new Set([`software fetch failed: ${SOFTWARE_FETCH_FAILED} (ERR_SOFTWARE_FETCH)`]));
    // the detail is in the OAM's log only
    const log = logLines.join('');
    expect(log).toContain('ECONNREFUSED');
    expect(log).toContain('HTTP 404');
    expect(log).toContain('ERR_SOFTWARE_NOT_FOUND: software file not found');
    expect(fleet.cell(henbId)!.slots().find((s) => s.name === 'slot-b')?.status).toBe('EMPTY');
  }, 60_000);
});
