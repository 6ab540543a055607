/**
 * Policy require-signed-software (issue 10 item 4): the built-in plugin fetches each image's manifest (URI + .jws)
 * under the software source confinement and verifies it with the configured vendor keys before anything is sent to
 * a device. A signed manifest naming the image: verified. No manifest, another key, another digest or version:
 * the job fails at step 5 with the reason, the simulated femtocell (over NETCONF/SSH) is never touched.
 */
import { createHash } from 'node:crypto';
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
import { activate, manifestUriOf } from '../../src/oam-plugin/index.js';
import type { OamPluginConfig } from '../../src/oam-plugin/index.js';
import { HSV_NS } from '../../src/oam-plugin/index.js';
import { generateSigningKey, signSoftwareManifest } from '../../src/tokens/index.js';
import type { SigningKey } from '../../src/tokens/index.js';
import { until } from '../helpers/until.js';

let dir: string;
let fleet: Fleet;
let pveSvc: PveHandle;
let handle: PluginHandle | undefined;
let vendor: SigningKey;
let stranger: SigningKey;

const image = (n: string): Buffer => Buffer.from(`firmware ${n} `.repeat(300));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-e2e-swm-'));
  fleet = await startFleet({ profiles: { healthy: 5 }, dataDir: join(dir, 'fleet') });
  pveSvc = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues, deviceTimeoutMs: 3000 });
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pveSvc.jwks));
  vendor = await generateSigningKey('ES256', 'vendor');
  stranger = await generateSigningKey('ES256', 'stranger');
  await writeFile(join(dir, 'vendor-jwks.json'), JSON.stringify({ keys: [vendor.publicJwk] }));
  const sw = join(dir, 'sw');
  await import('node:fs/promises').then((fs) => fs.mkdir(sw));
  // signed.bin: a good manifest; unsigned.bin: none; stranger.bin: another key; swapped.bin: the manifest of another image;
  // version.bin: signed for another version
  for (const n of ['signed', 'unsigned', 'stranger', 'swapped', 'version']) await writeFile(join(sw, `${n}.bin`), image(n));
  const manifest = (n: string, key: SigningKey, over: Record<string, string> = {}): Promise<string> =>
    signSoftwareManifest({ iss: 'urn:vendor:acme', digest: sha(image(n)), version: '7.0.0', component: 'rootfs', ...over }, key);
  await writeFile(join(sw, 'signed.bin.jws'), await manifest('signed', vendor));
  await writeFile(join(sw, 'stranger.bin.jws'), await manifest('stranger', stranger));
  await writeFile(join(sw, 'swapped.bin.jws'), await manifest('signed', vendor));
  await writeFile(join(sw, 'version.bin.jws'), await manifest('version', vendor, { version: '6.9.9' }));
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

async function startOam(notes: XmlElement[], over: Partial<OamPluginConfig> = {}): Promise<Map<string, RpcHandler>> {
  const rpcs = new Map<string, RpcHandler>();
  const config: OamPluginConfig = {
    henbs: fleet.devices.map((d) => ({ 'henb-id': d.henbId, address: d.host, port: d.port, username: d.username, password: d.password, 'ssh-host-key': d.hostKeySha256 })),
    pve: { endpoint: pveSvc.url, transport: 'restconf', ca: pveSvc.caPath, jwks: join(dir, 'pve-jwks.json'), timeout: 10 },
    policies: { 'on-mismatch': ['alarm'], 'step-timeout': 20, 'require-signed-software': true },
    software: { 'file-root': join(dir, 'sw'), 'vendor-keys': join(dir, 'vendor-jwks.json') },
    ...over,
  };
  const registry: NetconfRegistry = {
    addRpc: (_ns, name, h) => { rpcs.set(name, h); }, addState: () => undefined, addStream: () => undefined, addModule: () => undefined,
    notify: async (_s, e) => { notes.push(e); }, getRunning: () => el(NETCONF_BASE_NS, 'data'), onConfigChange: () => undefined,
  };
  handle = await activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: join(dir, `oam-${Math.random().toString(16).slice(2)}`), config, signal: new AbortController().signal });
  return rpcs;
}

async function update(rpcs: Map<string, RpcHandler>, henbId: string, file: string, notes: XmlElement[]): Promise<{ status: string; reason: string }> {
  await rpcs.get('software-update')!(el(HSV_NS, 'software-update', leaf(HSV_NS, 'henb-id', henbId),
    el(HSV_NS, 'software', leaf(HSV_NS, 'uri', pathToFileURL(join(dir, 'sw', file)).href), leaf(HSV_NS, 'version', '7.0.0'))),
  { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger });
  await until(() => notes.some((n) => n.name === 'software-update-result' && childText(n, HSV_NS, 'henb-id') === henbId), 'the result');
  const res = notes.find((n) => n.name === 'software-update-result' && childText(n, HSV_NS, 'henb-id') === henbId)!;
  return { status: childText(res, HSV_NS, 'status') ?? '', reason: childText(res, HSV_NS, 'reason') ?? '' };
}

describe('policy require-signed-software', () => {
  it('the manifest URI is the image path + .jws, without query or fragment', () => {
    expect(manifestUriOf('https://images.example/fw/2.0.0.img?token=x#y')).toBe('https://images.example/fw/2.0.0.img.jws');
    expect(manifestUriOf('file:///srv/sw/a.bin')).toBe('file:///srv/sw/a.bin.jws');
  });

  it('a manifest signed by the vendor naming the image: the update is verified', async () => {
    const notes: XmlElement[] = [];
    const rpcs = await startOam(notes);
    const henbId = fleet.devices[0]!.henbId;
    expect(await update(rpcs, henbId, 'signed.bin', notes)).toMatchObject({ status: 'verified' });
  }, 60_000);

  it.each([
    ['no manifest', 'unsigned.bin', /^software not signed as required \(require-signed-software\): the software has no signed manifest .*\(ERR_SOFTWARE_MANIFEST_MISSING\); software-update not sent$/],
    ['signed by another key', 'stranger.bin', /the software manifest is not signed by a configured vendor key \(ERR_SOFTWARE_MANIFEST_UNTRUSTED\)/],
    ['the manifest of another image', 'swapped.bin', /the software manifest signs digest [0-9a-f]{64}, the image is [0-9a-f]{64} \(ERR_SOFTWARE_MANIFEST_MISMATCH\)/],
    ['signed for another version', 'version.bin', /the software manifest is for version 6\.9\.9, the update asks for 7\.0\.0 \(ERR_SOFTWARE_MANIFEST_MISMATCH\)/],
  ] as const)('%s: failed at step 5, the device untouched', async (_name, file, reason) => {
    const i = ['unsigned.bin', 'stranger.bin', 'swapped.bin', 'version.bin'].indexOf(file) + 1;
    const henbId = fleet.devices[i]!.henbId;
    const before = fleet.cell(henbId)!.tim();
    const notes: XmlElement[] = [];
    const rpcs = await startOam(notes);
    const r = await update(rpcs, henbId, file, notes);
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(reason);
    expect(fleet.cell(henbId)!.tim()).toBe(before);
    expect(fleet.cell(henbId)!.slots().find((s) => s.name === 'slot-b')?.status).toBe('EMPTY');
  }, 60_000);

  it('the policy without vendor keys is a configuration error: nothing starts', async () => {
    await expect(startOam([], { software: { 'file-root': join(dir, 'sw') } })).rejects.toMatchObject({
      code: 'ERR_OAM_CONFIG', message: expect.stringContaining('software.vendor-keys'),
    });
  });
});
