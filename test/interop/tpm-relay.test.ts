/**
 * Interop (issue 10 item 1/4): a completion relayed by an NMS, end to end with TPM evidence. Simulated femtocells
 * with their own swtpm (trust root tpm), the real NETCONF device driver, the real PVE over RESTCONF and the OAM
 * plugin (every RPC validated against the YANG module). The OAM's southbound loses every device notification here
 * (its completion listener drops them, as a session lost without replay would: src/device/driver.ts then leaves
 * completion-tim as the only way in). An NMS, with its own NETCONF subscription to each device, receives the device's
 * software-update-complete with its tpm20-attestation and relays it unchanged (in the OAM module's namespace) in
 * completion-tim; the OAM has the PVE appraise the quote (phase post-update) and ends the job.
 *  - relayed as the device sent it: verified (healthy), mismatch naming rootfs (bad-install); RIM as the verdict says;
 *  - tampered before that, each refused with an rpc-error and nothing changed (job still waiting, RIM unchanged):
 *    a bad install's relay with the TIM and log made to look like the expected RIM, and a healthy device's relay
 *    carrying another device's quote;
 *  - the genuine relay sent again after the job ended: job-not-waiting.
 * A missing swtpm or tpm2-tools fails (scripts/install-peers.sh installs them).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { DEVICE_NS, connectDevice, createDeviceDriver } from '../../src/device/index.js';
import type { DeviceSession } from '../../src/device/index.js';
import type { NetconfDeviceDriver } from '../../src/device/driver.js';
import { createPveClient, startPve } from '../../src/pve/index.js';
import type { PveHandle, RestconfPveClient } from '../../src/pve/index.js';
import { silentLogger } from '../../src/log/logger.js';
import { NetconfError } from '../../src/netconf/rpc-error.js';
import { child, childText, childrenNamed, el, elements, leaf } from '../../src/netconf/xml/build.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import { memoryReplayCache, verifyResult } from '../../src/tokens/index.js';
import { NMS_AUDIENCE, OAM_ISSUER } from '../../src/oam/tokens-adapter.js';
import { compileTexts } from '../../src/yang/index.js';
import type { SchemaValidator } from '../../src/yang/index.js';
import { HSV_NS, OAM_MODULE_FILES, createOamPlugin, defaultYangDir } from '../../src/oam-plugin/index.js';
import type { DeviceCompletion, DeviceDriver } from '../../src/oam/index.js';
import { replayLog } from '../../src/integrity/index.js';
import { recordingRegistry } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const NOTIFICATION_NS = 'urn:ietf:params:xml:ns:netconf:notification:1.0';
const IDS = ['healthy-tpm-1', 'healthy-tpm-2', 'bad-install-tpm-1'] as const;

let dir: string;
let fleet: Fleet;
let pve: PveHandle;
let pveClient: RestconfPveClient;
let driver: NetconfDeviceDriver;
let handle: PluginHandle;
let validator: SchemaValidator;
let imageUri: string;
let imageRim: string;
/** what the OAM's southbound received and lost */
const lost: DeviceCompletion[] = [];
/** the NMS: its own session to each device, and the completions it received */
const nms = new Map<string, DeviceSession>();
const received = new Map<string, XmlElement>();
const jobOf = new Map<string, string>();

const registry = recordingRegistry((event) => {
  const errors = validator.validateNotification(event);
  if (errors.length > 0) throw new Error(`invalid ${event.name}: ${JSON.stringify(errors)}`);
});
const { rpcs, states, notes } = registry;

async function call(name: string, ...children: XmlElement[]): Promise<XmlElement[] | 'ok'> {
  const op = el(HSV_NS, name, ...children);
  const inErr = validator.validateRpcInput(op);
  if (inErr.length > 0) throw new NetconfError(inErr);
  return rpcs.get(name)!(op, { sessionId: 1, username: 'nms', signal: new AbortController().signal, log: silentLogger });
}

/** the southbound as deployed, except that every device notification is lost on the way to the OAM */
function losingNotifications(d: NetconfDeviceDriver): DeviceDriver {
  return {
    softwareUpdate: (h, c, s, dl) => d.softwareUpdate(h, c, s, dl),
    rollback: (h, j, s) => d.rollback(h, j, s),
    onCompletion: () => d.onCompletion((c) => { lost.push(c); }),
    release: (h, j) => d.release?.(h, j),
  };
}

/** the device's element tree in the OAM module's namespace (what an NMS relays) */
function relayNs(e: XmlElement): XmlElement {
  return { ...e, ns: e.ns === DEVICE_NS ? HSV_NS : e.ns, children: e.children.map((c) => (typeof c === 'string' ? c : relayNs(c))) };
}

const ORDER = ['job-id', 'henb-id', 'tim', 'measurement-log', 'self-check', 'status', 'software-version', 'reason', 'evidence'];

/** completion-tim's input from a device's software-update-complete, relayed unchanged; `edit` changes leaves */
function relay(henbId: string, note: XmlElement, edit: (kids: Map<string, XmlElement>) => void = () => undefined): XmlElement[] {
  const kids = new Map(elements(relayNs(note)).map((k) => [k.name, k]));
  kids.set('henb-id', leaf(HSV_NS, 'henb-id', henbId));
  edit(kids);
  return ORDER.flatMap((n) => (kids.has(n) ? [kids.get(n)!] : []));
}

const logOf = (note: XmlElement): Array<{ component: string; digest: string }> =>
  childrenNamed(child(note, DEVICE_NS, 'measurement-log')!, DEVICE_NS, 'entry')
    .sort((a, b) => Number(childText(a, DEVICE_NS, 'index')) - Number(childText(b, DEVICE_NS, 'index')))
    .map((e) => ({ component: childText(e, DEVICE_NS, 'component')!.trim(), digest: childText(e, DEVICE_NS, 'digest')!.trim() }));

const henb = async (id: string): Promise<XmlElement> =>
  childrenNamed((await states.get('henbs')!())!, HSV_NS, 'henb').find((x) => childText(x, HSV_NS, 'henb-id') === id)!;
const job = async (jobId: string): Promise<XmlElement> =>
  childrenNamed((await states.get('jobs')!())!, HSV_NS, 'job').find((j) => childText(j, HSV_NS, 'job-id') === jobId)!;
const waiting = async (id: string): Promise<boolean> => {
  const j = await job(jobOf.get(id)!);
  return childText(j, HSV_NS, 'status') === 'running' && childText(j, HSV_NS, 'step') === '7';
};
const resultFor = (id: string): XmlElement | undefined =>
  notes.find((n) => n.name === 'software-update-result' && childText(n, HSV_NS, 'henb-id') === id);

async function refused(p: Promise<unknown>): Promise<NetconfError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(NetconfError);
  return e as NetconfError;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-tpm-relay-'));
  const texts = await Promise.all(OAM_MODULE_FILES.map(async (f) => ({ file: f, text: await readFile(join(defaultYangDir(), f), 'utf8') })));
  validator = compileTexts(texts).validator;
  const image = Buffer.from('henb firmware 2.0.0 '.repeat(5000));
  await writeFile(join(dir, 'image-2.0.0.bin'), image);
  imageUri = pathToFileURL(join(dir, 'image-2.0.0.bin')).href;
  imageRim = createHash('sha256').update(image).digest('hex');

  fleet = await startFleet({ fleet: [{ profile: 'healthy', count: 2, trustRoot: 'tpm' }, { profile: 'bad-install', count: 1, trustRoot: 'tpm' }], installMs: 50, dataDir: join(dir, 'fleet') });
  expect(fleet.devices.map((d) => d.henbId)).toEqual([...IDS]);
  pve = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues, deviceTimeoutMs: 20_000 });
  pveClient = createPveClient({ url: pve.url, ca: pve.ca, timeoutMs: 30_000 });
  driver = createDeviceDriver({ devices: fleet.devices.map((d) => ({ henbId: d.henbId, host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 })), connectTimeoutMs: 5000, rpcTimeoutMs: 20_000 });
  const plugin = createOamPlugin({
    pve: pveClient, devices: losingNotifications(driver), pveJwks: pve.jwks, inventory: fleet.devices.map((d) => d.henbId),
    policies: { selfCheck: true, onMismatch: ['alarm'], stepTimeoutSec: 120, pveTimeoutSec: 30 },
    timeouts: { completion: 120_000 },
  });
  handle = await plugin.activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: join(dir, 'oam'), config: { software: { 'file-root': dir } }, signal: new AbortController().signal });
  // the NMS subscribes to each device's notifications on its own session
  for (const d of fleet.devices) {
    const s = await connectDevice({ host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 }, { timeoutMs: 10_000 });
    nms.set(d.henbId, s);
    await s.rpc(el(NOTIFICATION_NS, 'create-subscription'));
    void (async () => {
      for await (const n of s.notifications()) {
        const ev = elements(n).find((e) => e.ns === DEVICE_NS && e.name === 'software-update-complete');
        if (ev !== undefined) received.set(d.henbId, ev);
      }
    })();
  }
}, 180_000);

afterAll(async () => {
  for (const s of nms.values()) await s.close().catch(() => undefined);
  await handle?.close();
  await driver?.close();
  pveClient?.close();
  await pve?.close();
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('completion-tim relayed by an NMS with the device\'s TPM quote (the OAM lost the notification)', () => {
  it('each device installs and sends its completion; the OAM does not get it, the jobs wait at step 7', async () => {
    for (const id of IDS) {
      const out = (await call('software-update', leaf(HSV_NS, 'henb-id', id),
        el(HSV_NS, 'software', leaf(HSV_NS, 'uri', imageUri), leaf(HSV_NS, 'version', '2.0.0'), leaf(HSV_NS, 'sha256', imageRim)))) as XmlElement[];
      expect(childText(out[0]!, HSV_NS, 'status')).toBe('started');
      jobOf.set(id, childText(out[0]!, HSV_NS, 'job-id')!);
    }
    await until(() => IDS.every((id) => received.has(id)), 'every device\'s completion at the NMS', 90_000);
    await until(async () => (await Promise.all(IDS.map(waiting))).every(Boolean), 'every job waiting at step 7', 30_000);
    // the devices did send them to the OAM too: its southbound received and lost each one
    await until(() => IDS.every((id) => lost.some((c) => c.henbId === id && c.jobId === jobOf.get(id))), 'the OAM\'s lost notifications', 10_000);
    for (const id of IDS) {
      const note = received.get(id)!;
      expect(childText(note, DEVICE_NS, 'job-id')).toBe(jobOf.get(id));
      expect(childText(child(note, DEVICE_NS, 'evidence')!, DEVICE_NS, 'evidence-format')).toBe('tpm2-quote');
      expect(child(child(note, DEVICE_NS, 'evidence')!, DEVICE_NS, 'tpm20-attestation')).toBeDefined();
      expect(resultFor(id)).toBeUndefined();
    }
  }, 150_000);

  it('a bad install relayed with its TIM and log made to match the expected RIM: refused (the quote is not over it), nothing changed', async () => {
    const id = 'bad-install-tpm-1';
    const rim0 = childText(await henb(id), HSV_NS, 'rim');
    const expectedRim = childText(await job(jobOf.get(id)!), HSV_NS, 'expected-rim')!;
    const genuine = logOf(received.get(id)!);
    expect(genuine.at(-1)).toMatchObject({ component: 'rootfs' });
    expect(genuine.at(-1)!.digest).not.toBe(imageRim);
    const forgedLog = [...genuine.slice(0, -1), { component: 'rootfs', digest: imageRim }];
    expect(replayLog(null, forgedLog)).toBe(expectedRim);
    const e = await refused(call('completion-tim', ...relay(id, received.get(id)!, (k) => {
      k.set('tim', leaf(HSV_NS, 'tim', expectedRim));
      k.set('measurement-log', el(HSV_NS, 'measurement-log', ...forgedLog.map((x, i) => el(HSV_NS, 'entry', leaf(HSV_NS, 'index', i), leaf(HSV_NS, 'component', x.component), leaf(HSV_NS, 'digest', x.digest)))));
      k.set('status', leaf(HSV_NS, 'status', 'completed'));
      k.set('self-check', leaf(HSV_NS, 'self-check', 'passed'));
    })));
    expect(e.errors[0]).toMatchObject({ tag: 'access-denied', appTag: 'evidence-invalid' });
    expect(e.errors[0]!.message).toBe('the PVE did not accept the evidence: evidence-invalid: the quote is not over this completion (its qualifying data is not SHA-256 of this completion statement): replayed or altered');
    expect(await waiting(id)).toBe(true);
    expect(childText(await henb(id), HSV_NS, 'rim')).toBe(rim0);
    expect(resultFor(id)).toBeUndefined();
  }, 60_000);

  it('a healthy device\'s relay carrying another device\'s quote: refused, nothing changed', async () => {
    const id = 'healthy-tpm-1';
    const rim0 = childText(await henb(id), HSV_NS, 'rim');
    const otherTpm = child(child(relayNs(received.get('healthy-tpm-2')!), HSV_NS, 'evidence')!, HSV_NS, 'tpm20-attestation')!;
    const e = await refused(call('completion-tim', ...relay(id, received.get(id)!, (k) => {
      const ev = k.get('evidence')!;
      k.set('evidence', { ...ev, children: ev.children.map((c) => (typeof c !== 'string' && c.name === 'tpm20-attestation' ? otherTpm : c)) });
    })));
    expect(e.errors[0]).toMatchObject({ tag: 'access-denied', appTag: 'evidence-invalid' });
    expect(e.errors[0]!.message).toBe('the PVE did not accept the evidence: evidence-invalid: the quote signature did not verify with the enrolled attestation key');
    expect(await waiting(id)).toBe(true);
    expect(childText(await henb(id), HSV_NS, 'rim')).toBe(rim0);
    expect(resultFor(id)).toBeUndefined();
  }, 60_000);

  it('relayed as the devices sent them: healthy verified (the PVE appraised the TPM quote), bad install mismatch naming rootfs', async () => {
    for (const id of IDS) expect(await call('completion-tim', ...relay(id, received.get(id)!))).toBe('ok');
    await until(() => IDS.every((id) => resultFor(id) !== undefined), 'a result for every H(e)NB', 60_000);
    for (const id of ['healthy-tpm-1', 'healthy-tpm-2']) {
      const r = resultFor(id)!;
      expect(childText(r, HSV_NS, 'status')).toBe('verified');
      const expected = childText(r, HSV_NS, 'expected-rim');
      expect(childText(r, HSV_NS, 'reported-tim')).toBe(expected);
      expect(fleet.cell(id)!.tim()).toBe(expected);
      expect(childText(await henb(id), HSV_NS, 'rim')).toBe(expected);
      const jwks = JSON.parse(childText((await states.get('signing-keys')!())!, HSV_NS, 'jwks')!);
      const v = await verifyResult(childText(r, HSV_NS, 'attestation-result')!, { jwks, issuer: OAM_ISSUER, audience: NMS_AUDIENCE, maxAgeSec: 120, replayCache: memoryReplayCache() });
      expect(v.claims.submods['software-update']).toMatchObject({ 'evidence-format': 'tpm2-quote', ear_trustworthiness_vector: { hardware: 2 }, 'reported-tim': expected });
    }
    const bad = resultFor('bad-install-tpm-1')!;
    expect(childText(bad, HSV_NS, 'status')).toBe('mismatch');
    expect(childText(bad, HSV_NS, 'differing-component')).toBe('rootfs');
    expect(childText(await henb('bad-install-tpm-1'), HSV_NS, 'state')).toBe('quarantined');
  }, 90_000);

  it('the genuine relay sent again after its job ended: job-not-waiting', async () => {
    const e = await refused(call('completion-tim', ...relay('healthy-tpm-1', received.get('healthy-tpm-1')!)));
    expect(e.errors[0]).toMatchObject({ tag: 'operation-failed', appTag: 'job-not-waiting' });
  });
});
