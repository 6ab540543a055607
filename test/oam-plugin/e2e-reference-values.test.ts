/**
 * Reference values follow the update (issue 10 item 4), end to end over the real paths: the built-in plugin (its
 * RESTCONF or NETCONF PVE client from the config), the reference PVE, simulated femtocells over NETCONF/SSH. After a
 * verified update the OAM hands the PVE the new reference values signed with its key, and the integrity-request
 * right after is affirming. A PVE that does not trust the OAM's key refuses them: the update stays verified, an
 * alarm says so, and the next integrity-request is contraindicated (what every verified update led to before).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { silentLogger } from '../../src/log/logger.js';
import type { NetconfRegistry, RpcHandler } from '../../src/netconf/server/registry.js';
import { childText, el, leaf } from '../../src/netconf/xml/build.js';
import { NETCONF_BASE_NS } from '../../src/netconf/xml/types.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import { activate } from '../../src/oam-plugin/index.js';
import type { OamPluginConfig } from '../../src/oam-plugin/index.js';
import { HSV_NS } from '../../src/oam-plugin/index.js';
import { publishJwks, loadOrCreateSigningKey } from '../../src/tokens/index.js';
import { until } from '../helpers/until.js';

const IMAGE = Buffer.from('firmware 6.0.0 '.repeat(400));
let dir: string;
let fleet: Fleet;
let pveSvc: PveHandle;
let handle: PluginHandle | undefined;

/** the OAM data dirs: the PVE trusts the key of `trusted` only (created before either OAM starts) */
const TRUSTED = 'oam-trusted';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-e2e-rv-'));
  fleet = await startFleet({ profiles: { healthy: 4 }, dataDir: join(dir, 'fleet') });
  await loadOrCreateSigningKey(join(dir, TRUSTED, 'keys'), 'oam');
  await publishJwks(join(dir, TRUSTED, 'keys'));
  pveSvc = await startPve({
    listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues,
    deviceTimeoutMs: 3000, netconf: { listen: '127.0.0.1:0', users: [{ username: 'oam', password: 'pve-secret' }] },
    oamJwks: join(dir, TRUSTED, 'keys', 'jwks.json'),
  });
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pveSvc.jwks));
  await writeFile(join(dir, 'image.bin'), IMAGE);
}, 60_000);

afterEach(async () => {
  await handle?.close();
  handle = undefined;
});

afterAll(async () => {
  await pveSvc?.close();
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

async function startOam(pve: OamPluginConfig['pve'], sub: string, notes: XmlElement[]): Promise<Map<string, RpcHandler>> {
  const rpcs = new Map<string, RpcHandler>();
  const config: OamPluginConfig = {
    henbs: fleet.devices.map((d) => ({ 'henb-id': d.henbId, address: d.host, port: d.port, username: d.username, password: d.password, 'ssh-host-key': d.hostKeySha256 })),
    pve, policies: { 'on-mismatch': ['alarm'], 'step-timeout': 20 }, software: { 'file-root': dir },
  };
  const registry: NetconfRegistry = {
    addRpc: (_ns, name, h) => { rpcs.set(name, h); }, addState: () => undefined, addStream: () => undefined, addModule: () => undefined,
    notify: async (_s, e) => { notes.push(e); }, getRunning: () => el(NETCONF_BASE_NS, 'data'), onConfigChange: () => undefined,
  };
  handle = await activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: join(dir, sub), config, signal: new AbortController().signal });
  return rpcs;
}

const ctx = { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger };

async function updateVerified(rpcs: Map<string, RpcHandler>, henbId: string, notes: XmlElement[]): Promise<XmlElement> {
  await rpcs.get('software-update')!(el(HSV_NS, 'software-update', leaf(HSV_NS, 'henb-id', henbId),
    el(HSV_NS, 'software', leaf(HSV_NS, 'uri', pathToFileURL(join(dir, 'image.bin')).href), leaf(HSV_NS, 'version', '6.0.0'))), ctx);
  await until(() => notes.some((n) => n.name === 'software-update-result' && childText(n, HSV_NS, 'henb-id') === henbId), 'the result');
  const res = notes.find((n) => n.name === 'software-update-result' && childText(n, HSV_NS, 'henb-id') === henbId)!;
  expect(childText(res, HSV_NS, 'status')).toBe('verified');
  return res;
}

async function integrityRequest(rpcs: Map<string, RpcHandler>, henbId: string): Promise<{ ear: string; reason?: string }> {
  const out = await rpcs.get('integrity-request')!(el(HSV_NS, 'integrity-request', leaf(HSV_NS, 'henb-id', henbId)), ctx) as XmlElement[];
  const ear = out.find((e) => e.name === 'ear-status');
  const reason = out.find((e) => e.name === 'reason');
  return { ear: ear?.children.map((c) => (typeof c === 'string' ? c : '')).join('') ?? '', ...(reason !== undefined ? { reason: reason.children.join('') } : {}) };
}

const restconfPve = (): NonNullable<OamPluginConfig['pve']> => ({
  endpoint: pveSvc.url, transport: 'restconf', ca: pveSvc.caPath, jwks: join(dir, 'pve-jwks.json'), timeout: 10,
});
const netconfPve = (): NonNullable<OamPluginConfig['pve']> => ({
  endpoint: `ssh://${pveSvc.netconf!.host}:${pveSvc.netconf!.port}`, transport: 'netconf',
  'ssh-host-key': pveSvc.netconf!.hostKeySha256, username: 'oam', password: 'pve-secret', jwks: join(dir, 'pve-jwks.json'), timeout: 10,
});

describe('reference values follow a verified update', () => {
  it.each([['RESTCONF', restconfPve, 0], ['NETCONF', netconfPve, 1]] as const)(
    'PVE over %s: the integrity-request right after a verified update is affirming', async (_t, pveCfg, i) => {
      const henbId = fleet.devices[i]!.henbId;
      const notes: XmlElement[] = [];
      const rpcs = await startOam(pveCfg(), TRUSTED, notes);
      expect(pveSvc.providedReferenceValues(henbId)).toEqual({});
      await updateVerified(rpcs, henbId, notes);
      // provided before the result was notified: the PVE has them now
      const rootfs = fleet.cell(henbId)!.measurementLog().filter((e) => e.component === 'rootfs').map((e) => e.digest);
      expect(pveSvc.providedReferenceValues(henbId).rootfs).toEqual(expect.arrayContaining(rootfs));
      const progress = notes.filter((n) => n.name === 'software-update-progress').map((n) => childText(n, HSV_NS, 'text'));
      expect(progress.some((t) => t?.startsWith('new reference values provided to the PVE (') && t.includes('rootfs 6.0.0'))).toBe(true);
      expect(notes.filter((n) => n.name === 'integrity-alarm')).toHaveLength(0);
      expect(await integrityRequest(rpcs, henbId)).toEqual({ ear: 'affirming' });
    }, 60_000);

  it('an OAM whose key the PVE does not trust: the values are refused, an alarm says so, the next check is contraindicated', async () => {
    const henbId = fleet.devices[2]!.henbId;
    const notes: XmlElement[] = [];
    const rpcs = await startOam(restconfPve(), 'oam-untrusted', notes);
    await updateVerified(rpcs, henbId, notes);
    expect(pveSvc.providedReferenceValues(henbId)).toEqual({});
    const alarm = notes.find((n) => n.name === 'integrity-alarm');
    expect(childText(alarm!, HSV_NS, 'reason')).toMatch(/the PVE did not take the reference values of H\(e\)NB .* \(ERR_PVE_REJECTED\)/);
    const r = await integrityRequest(rpcs, henbId);
    expect(r.ear).toBe('contraindicated');
    expect(r.reason).toMatch(/rootfs/);
  }, 60_000);
});
