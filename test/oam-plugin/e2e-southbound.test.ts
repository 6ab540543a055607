/**
 * The flow against the real southbound: simulated femtocells as NETCONF/SSH servers on loopback (one per
 * profile), the reference PVE over RESTCONF/HTTPS collecting signed evidence from them, the NETCONF device
 * driver, the streaming fetcher on a file: image, the SQLite store and real keys. Northbound is a registry
 * that validates every RPC and notification against the YANG module, as the server does.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { signCompletion } from '../../src/integrity/index.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { createDeviceDriver } from '../../src/device/driver.js';
import type { NetconfDeviceDriver } from '../../src/device/driver.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { createPveClient } from '../../src/pve/client.js';
import type { RestconfPveClient } from '../../src/pve/client.js';
import { silentLogger } from '../../src/log/logger.js';
import { NetconfError } from '../../src/netconf/rpc-error.js';
import { childText, childrenNamed, el, leaf } from '../../src/netconf/xml/build.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import { memoryReplayCache, verifyResult } from '../../src/tokens/index.js';
import { compileTexts } from '../../src/yang/index.js';
import type { SchemaValidator } from '../../src/yang/index.js';
import { OAM_MODULE_FILES, createOamPlugin, defaultYangDir } from '../../src/oam-plugin/index.js';
import { HSV_NS } from '../../src/oam-plugin/index.js';
import { NMS_AUDIENCE, OAM_ISSUER } from '../../src/oam/tokens-adapter.js';
import { extendDigest } from '../../src/oam/measure.js';
import { recordingRegistry } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

let dir: string;
let fleet: Fleet;
let pveSvc: PveHandle;
let pveClient: RestconfPveClient;
let driver: NetconfDeviceDriver;
let handle: PluginHandle;
let validator: SchemaValidator;
let imageUri: string;
let imageRim: string;
const initialTim = new Map<string, string>();

// every notification is checked against the YANG module, as the server does
const registry = recordingRegistry((event) => {
  const errors = validator.validateNotification(event);
  if (errors.length > 0) throw new Error(`invalid ${event.name}: ${JSON.stringify(errors)}`);
});
const { rpcs, states, notes } = registry;

async function call(name: string, ...children: XmlElement[]): Promise<XmlElement[] | 'ok'> {
  const op = el(HSV_NS, name, ...children);
  const inErr = validator.validateRpcInput(op);
  if (inErr.length > 0) throw new NetconfError(inErr);
  const out = await rpcs.get(name)!(op, { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger });
  if (out !== 'ok') expect(validator.validateRpcOutput(HSV_NS, name, out)).toEqual([]);
  return out;
}

const resultFor = (henbId: string): XmlElement | undefined =>
  notes.find((n) => n.name === 'software-update-result' && childText(n, HSV_NS, 'henb-id') === henbId);


const PROFILES = ['healthy', 'healthy-reboot', 'compromised', 'bad-install', 'bad-install-reboot', 'self-check-fail', 'unreachable', 'slow'] as const;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-e2e-'));
  const texts = await Promise.all(OAM_MODULE_FILES.map(async (f) => ({ file: f, text: await readFile(join(defaultYangDir(), f), 'utf8') })));
  validator = compileTexts(texts).validator;
  const image = Buffer.from('henb firmware 2.0.0 '.repeat(5000));
  await writeFile(join(dir, 'image-2.0.0.bin'), image);
  imageUri = pathToFileURL(join(dir, 'image-2.0.0.bin')).href;
  imageRim = createHash('sha256').update(image).digest('hex');

  // slow-2 is kept out of the fleet-wide update: the forgery test needs a device that never completes by itself
  fleet = await startFleet({ profiles: { ...Object.fromEntries(PROFILES.map((p) => [p, 1])), slow: 2 }, installMs: 50, rollbackMs: 10, dataDir: join(dir, 'fleet') });
  for (const d of fleet.devices) initialTim.set(d.henbId, fleet.cell(d.henbId)!.tim());
  pveSvc = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues, deviceTimeoutMs: 3000 });
  pveClient = createPveClient({ url: pveSvc.url, ca: pveSvc.ca, timeoutMs: 8000 });
  driver = createDeviceDriver({ devices: fleet.devices.map((d) => ({ henbId: d.henbId, host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 })), connectTimeoutMs: 3000, rpcTimeoutMs: 5000 });
  const plugin = createOamPlugin({
    pve: pveClient, devices: driver, pveJwks: pveSvc.jwks, inventory: fleet.devices.map((d) => d.henbId),
    policies: { selfCheck: true, onMismatch: ['alarm', 'rollback'], stepTimeoutSec: 30, pveTimeoutSec: 10 },
    timeouts: { completion: 2500 },
  });
  handle = await plugin.activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: join(dir, 'oam'), config: { software: { 'file-root': dir } }, signal: new AbortController().signal });
}, 60_000);

afterAll(async () => {
  await handle?.close();
  await driver?.close();
  pveClient?.close();
  await pveSvc?.close();
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

describe('the nine steps over real NETCONF/SSH devices and a real RESTCONF PVE', () => {
  it('one software-update for the whole fleet: every profile ends as it must', async () => {
    const ids = fleet.devices.map((d) => d.henbId).filter((id) => id !== 'slow-2');
    const out = (await call('software-update', ...ids.map((id) => leaf(HSV_NS, 'henb-id', id)),
      el(HSV_NS, 'software', leaf(HSV_NS, 'uri', imageUri), leaf(HSV_NS, 'version', '2.0.0'), leaf(HSV_NS, 'sha256', imageRim)))) as XmlElement[];
    expect(out.map((j) => childText(j, HSV_NS, 'status'))).toEqual(ids.map(() => 'started'));
    await until(() => ids.every((id) => resultFor(id) !== undefined), 'a result for every H(e)NB', 30_000);
    const status = (id: string): string | undefined => childText(resultFor(id)!, HSV_NS, 'status');
    const reason = (id: string): string => childText(resultFor(id)!, HSV_NS, 'reason') ?? '';

    // healthy: verified, the new RIM is extend(old TIM, image RIM), the token verifies with the OAM's JWKS
    expect(status('healthy-1')).toBe('verified');
    const expected = extendDigest(initialTim.get('healthy-1')!, imageRim);
    expect(childText(resultFor('healthy-1')!, HSV_NS, 'reported-tim')).toBe(expected);
    expect(fleet.cell('healthy-1')!.tim()).toBe(expected);
    const jwks = JSON.parse(childText((await states.get('signing-keys')!())!, HSV_NS, 'jwks')!);
    const v = await verifyResult(childText(resultFor('healthy-1')!, HSV_NS, 'attestation-result')!, { jwks, issuer: OAM_ISSUER, audience: NMS_AUDIENCE, maxAgeSec: 120, replayCache: memoryReplayCache() });
    expect(v.claims.submods['software-update']).toMatchObject({ 'expected-rim': expected, 'reported-tim': expected, 'software-rim': imageRim });

    // compromised: refused by the PVE's verdict, the device never received the update
    expect(status('compromised-1')).toBe('refused');
    expect(reason('compromised-1')).toContain('contraindicated');
    expect(fleet.cell('compromised-1')!.tim()).toBe(initialTim.get('compromised-1'));
    expect(fleet.cell('compromised-1')!.runningVersion()).toBe('1.0.0');

    // bad-install: mismatch naming rootfs, alarm, rollback asked (the device reboots into its old slot)
    expect(status('bad-install-1')).toBe('mismatch');
    expect(childText(resultFor('bad-install-1')!, HSV_NS, 'differing-component')).toBe('rootfs');
    expect(notes.some((n) => n.name === 'integrity-alarm' && childText(n, HSV_NS, 'henb-id') === 'bad-install-1')).toBe(true);
    await until(() => fleet.cell('bad-install-1')!.tim() === initialTim.get('bad-install-1'), 'the rollback');

    // healthy-reboot (issue 10 item 3): installs, reboots, measures its boot chain again: rootfs replaced, not appended
    expect(status('healthy-reboot-1')).toBe('verified');
    const rebootLog = fleet.cell('healthy-reboot-1')!.measurementLog();
    expect(rebootLog.map((e) => e.component)).toEqual(['bootloader', 'kernel', 'rootfs', 'config']);
    expect(rebootLog[2]!.digest).toBe(imageRim);
    expect(childText(resultFor('healthy-reboot-1')!, HSV_NS, 'reported-tim')).toBe(fleet.cell('healthy-reboot-1')!.tim());
    // bad-install-reboot: the rebooted rootfs is not the image: mismatch naming rootfs
    expect(status('bad-install-reboot-1')).toBe('mismatch');
    expect(childText(resultFor('bad-install-reboot-1')!, HSV_NS, 'differing-component')).toBe('rootfs');

    // self-check-fail: mismatch with the device's reason
    expect(status('self-check-fail-1')).toBe('mismatch');
    expect(reason('self-check-fail-1')).toContain('self-check failed');

    // unreachable: the PVE cannot collect evidence -> timeout with the reason; slow: the completion never comes
    expect(status('unreachable-1')).toBe('timeout');
    expect(reason('unreachable-1')).toContain('unreachable');
    expect(status('slow-1')).toBe('timeout');
    expect(reason('slow-1')).toContain('steps 7-8');

    // the operational state agrees
    const henbs = childrenNamed((await states.get('henbs')!())!, HSV_NS, 'henb');
    const st = new Map(henbs.map((h) => [childText(h, HSV_NS, 'henb-id'), h]));
    expect(childText(st.get('healthy-1')!, HSV_NS, 'rim')).toBe(expected);
    expect(childText(st.get('healthy-1')!, HSV_NS, 'state')).toBe('trusted');
    expect(childText(st.get('healthy-1')!, HSV_NS, 'software-version')).toBe('2.0.0');
    expect(childText(st.get('bad-install-1')!, HSV_NS, 'state')).toBe('quarantined');
    expect(childText(st.get('bad-install-1')!, HSV_NS, 'rim')).toBe(initialTim.get('bad-install-1'));
    expect(childText(st.get('slow-1')!, HSV_NS, 'state')).toBe('quarantined');
    expect(childText(st.get('compromised-1')!, HSV_NS, 'state')).toBe('quarantined');
    // one OAM instance on SQLite: every job is driven by 'local'
    const jobs = childrenNamed((await states.get('jobs')!())!, HSV_NS, 'job');
    expect(new Set(jobs.map((j) => childText(j, HSV_NS, 'instance')))).toEqual(new Set(['local']));
  }, 60_000);

  it('after the rollback, an integrity-request finds bad-install-1 trusted again and lifts the quarantine', async () => {
    const out = (await call('integrity-request', leaf(HSV_NS, 'henb-id', 'bad-install-1'))) as XmlElement[];
    expect(childText(el(HSV_NS, 'x', ...out), HSV_NS, 'ear-status')).toBe('affirming');
    const henbs = childrenNamed((await states.get('henbs')!())!, HSV_NS, 'henb');
    const h = henbs.find((x) => childText(x, HSV_NS, 'henb-id') === 'bad-install-1')!;
    expect(childText(h, HSV_NS, 'state')).toBe('trusted');
  }, 30_000);

  it('a forged completion-tim (it knows expected-rim) is refused over the real stack and changes nothing: the job ends by its timeout, not verified', async () => {
    // slow-2 accepts the update and never completes: only a forgery could end its job
    const henbRim = async (): Promise<string | undefined> => childText(childrenNamed((await states.get('henbs')!())!, HSV_NS, 'henb')
      .find((x) => childText(x, HSV_NS, 'henb-id') === 'slow-2')!, HSV_NS, 'rim');
    notes.length = 0;
    const out = (await call('software-update', leaf(HSV_NS, 'henb-id', 'slow-2'),
      el(HSV_NS, 'software', leaf(HSV_NS, 'uri', imageUri), leaf(HSV_NS, 'version', '2.0.1')))) as XmlElement[];
    const jobId = childText(out[0]!, HSV_NS, 'job-id')!;
    const jobState = async (): Promise<XmlElement> =>
      childrenNamed((await states.get('jobs')!())!, HSV_NS, 'job').find((j) => childText(j, HSV_NS, 'job-id') === jobId)!;
    const waiting = async (): Promise<boolean> => { const j = await jobState(); return childText(j, HSV_NS, 'status') === 'running' && childText(j, HSV_NS, 'step') === '7'; };
    await until(waiting, 'awaiting-completion (step 7)', 10_000);
    // the RIM as the PVE's affirming verdict recorded it (a first job bootstraps it from the attested TIM)
    const rim0 = await henbRim();
    expect(rim0).toMatch(/^[0-9a-f]{64}$/);
    const expectedRim = childText(await jobState(), HSV_NS, 'expected-rim')!;
    expect(expectedRim).toMatch(/^[0-9a-f]{64}$/);
    const forge = (...extra: XmlElement[]): Promise<unknown> =>
      call('completion-tim', leaf(HSV_NS, 'job-id', jobId), leaf(HSV_NS, 'henb-id', 'slow-2'), leaf(HSV_NS, 'tim', expectedRim), ...extra).catch((e: unknown) => e);
    const noEvidence = await forge();
    expect(noEvidence).toBeInstanceOf(NetconfError);
    expect((noEvidence as NetconfError).errors[0]).toMatchObject({ tag: 'missing-element', appTag: 'evidence-required' });
    // signed by the attacker's own key, over a nonce of its choosing
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const nonce = randomBytes(32).toString('base64');
    const sig = signCompletion({ henbId: 'slow-2', jobId, nonce: Buffer.from(nonce, 'base64'), status: 'completed', tim: expectedRim, log: [] }, attacker);
    const badSig = await forge(el(HSV_NS, 'evidence', leaf(HSV_NS, 'evidence-format', 'software-key'), leaf(HSV_NS, 'nonce-value', nonce),
      leaf(HSV_NS, 'signature-algorithm', 'ES256'), leaf(HSV_NS, 'signature', sig)));
    expect(badSig).toBeInstanceOf(NetconfError);
    expect((badSig as NetconfError).errors[0]).toMatchObject({ tag: 'access-denied', appTag: 'nonce-mismatch' });
    // nothing changed: still waiting, same RIM, no result
    expect(await waiting()).toBe(true);
    expect(await henbRim()).toBe(rim0);
    expect(resultFor('slow-2')).toBeUndefined();
    // and it ends by its timeout, never verified
    await until(() => resultFor('slow-2') !== undefined, 'the result', 15_000);
    expect(childText(resultFor('slow-2')!, HSV_NS, 'status')).toBe('timeout');
    expect(await henbRim()).toBe(rim0);
  }, 40_000);

  // last: it stops the PVE
  it('PVE down: the update is refused with a reason that names the PVE, and the device never receives it', async () => {
    await pveSvc.close();
    const slots = JSON.stringify(fleet.cell('healthy-1')!.slots());
    const tim = fleet.cell('healthy-1')!.tim();
    notes.length = 0;
    const out = (await call('software-update', leaf(HSV_NS, 'henb-id', 'healthy-1'),
      el(HSV_NS, 'software', leaf(HSV_NS, 'uri', imageUri), leaf(HSV_NS, 'version', '3.0.0')))) as XmlElement[];
    expect(out.map((j) => childText(j, HSV_NS, 'status'))).toEqual(['started']);
    await until(() => resultFor('healthy-1') !== undefined, 'the result', 30_000);
    expect(childText(resultFor('healthy-1')!, HSV_NS, 'status')).toBe('refused');
    expect(childText(resultFor('healthy-1')!, HSV_NS, 'reason')).toMatch(/PVE/);
    // untouched: same slots, same TIM, and the stored RIM is the one from the verified update
    expect(JSON.stringify(fleet.cell('healthy-1')!.slots())).toBe(slots);
    expect(fleet.cell('healthy-1')!.tim()).toBe(tim);
    const henbs = childrenNamed((await states.get('henbs')!())!, HSV_NS, 'henb');
    expect(childText(henbs.find((x) => childText(x, HSV_NS, 'henb-id') === 'healthy-1')!, HSV_NS, 'rim')).toBe(tim);
  }, 40_000);
});
