/**
 * The OAM plugin end to end without sockets: createOamPlugin with fake ports (PVE signing real tokens, fake
 * devices, in-memory store) activated on a fake registry that validates every RPC input/output and every
 * notification against the YANG module, like the server does.
 */
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { NetconfError } from '../../src/netconf/rpc-error.js';
import type { ConfigListener, NetconfRegistry, RpcHandler, StateProvider, StreamInfo, YangModuleInfo } from '../../src/netconf/server/registry.js';
import { child, childText, childrenNamed, el, elements, leaf, textOf } from '../../src/netconf/xml/build.js';
import { NETCONF_BASE_NS } from '../../src/netconf/xml/types.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import type { PluginHandle, PluginHost } from '../../src/plugin/contract.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import { decodeResultUnverified, generateSigningKey, memoryReplayCache, signResult, verifyResult } from '../../src/tokens/index.js';
import type { EarStatus, SigningKey } from '../../src/tokens/types.js';
import { compileTexts } from '../../src/yang/index.js';
import type { SchemaValidator } from '../../src/yang/index.js';
import { OAM_MODULE_FILES, createOamPlugin, defaultYangDir } from '../../src/oam-plugin/index.js';
import { jobsGauge } from '../../src/metrics/index.js';
import type { OamPlugin } from '../../src/oam-plugin/index.js';
import { HSV_NS, HSV_STREAM } from '../../src/oam-plugin/index.js';
import { NMS_AUDIENCE, OAM_ISSUER, PVE_ISSUER } from '../../src/oam/tokens-adapter.js';
import type { PveClient } from '../../src/oam/ports.js';
import { FakeDevices, FakeFetcher, MemoryStore, postUpdateClaims, signedCompletion } from '../oam/fakes.js';
import type { DeviceCompletion } from '../../src/oam/ports.js';
import type { Job } from '../../src/oam/transition.js';
import { replayLog } from '../../src/oam/measure.js';

/** a completion relayed by the NMS as the device sent it: the device notification's leaves and its evidence */
function relayed(c: DeviceCompletion): XmlElement[] {
  const ev = c.evidence;
  return [
    leaf(HSV_NS, 'job-id', c.jobId), leaf(HSV_NS, 'henb-id', c.henbId), leaf(HSV_NS, 'tim', c.tim!),
    el(HSV_NS, 'measurement-log', (c.measurementLog ?? []).map((e, i) => el(HSV_NS, 'entry', leaf(HSV_NS, 'index', i), leaf(HSV_NS, 'component', e.component), leaf(HSV_NS, 'digest', e.digest)))),
    ...(c.selfCheck !== undefined ? [leaf(HSV_NS, 'self-check', c.selfCheck)] : []),
    ...(c.deviceStatus !== undefined ? [leaf(HSV_NS, 'status', c.deviceStatus)] : []),
    ...(ev !== undefined ? [el(HSV_NS, 'evidence', leaf(HSV_NS, 'evidence-format', ev.format), leaf(HSV_NS, 'nonce-value', ev.nonce),
      leaf(HSV_NS, 'signature-algorithm', ev.signatureAlgorithm), leaf(HSV_NS, 'signature', ev.signature))] : []),
  ];
}
import { EXPECTED, GOOD_LOG, OLD_RIM, h } from '../oam/helpers.js';
import { until } from '../helpers/until.js';
import { rpcError } from '../helpers/rpc-errors.js';

let validator: SchemaValidator;
let pveKey: SigningKey;
let oamKey: SigningKey;

beforeAll(async () => {
  const dir = defaultYangDir();
  const texts = await Promise.all(OAM_MODULE_FILES.map(async (f) => ({ file: f, text: await readFile(join(dir, f), 'utf8') })));
  validator = compileTexts(texts).validator;
  pveKey = await generateSigningKey('ES256', 'pve');
  oamKey = await generateSigningKey('ES256', 'oam');
});

class TestRegistry implements NetconfRegistry {
  rpcs = new Map<string, RpcHandler>();
  states = new Map<string, StateProvider>();
  streams: StreamInfo[] = [];
  modules: YangModuleInfo[] = [];
  notes: Array<{ stream: string; event: XmlElement }> = [];
  listeners: ConfigListener[] = [];
  running: XmlElement = el(NETCONF_BASE_NS, 'data');
  /** an NMS that reads as soon as a notification reaches it: awaited before the emitting code goes on */
  onNotify: ((event: XmlElement) => Promise<void>) | undefined;
  addRpc(ns: string, name: string, handler: RpcHandler): void { this.rpcs.set(`${ns} ${name}`, handler); }
  addState(ns: string, name: string, p: StateProvider): void { this.states.set(`${ns} ${name}`, p); }
  addStream(info: StreamInfo): void { this.streams.push(info); }
  addModule(m: YangModuleInfo): void { this.modules.push(m); }
  async notify(stream: string, event: XmlElement): Promise<void> {
    const errors = validator.validateNotification(event);
    if (errors.length > 0) throw new Error(`invalid notification ${event.name}: ${JSON.stringify(errors)}`);
    await this.onNotify?.(event);
    this.notes.push({ stream, event });
  }
  getRunning(): XmlElement { return this.running; }
  onConfigChange(l: ConfigListener): void { this.listeners.push(l); }

  /** call an RPC as the server would: validate input, run, validate output */
  async call(name: string, ...children: XmlElement[]): Promise<XmlElement[] | 'ok'> {
    const op = el(HSV_NS, name, ...children);
    const inErr = validator.validateRpcInput(op);
    if (inErr.length > 0) throw new NetconfError(inErr);
    const handler = this.rpcs.get(`${HSV_NS} ${name}`);
    if (!handler) throw new Error(`no rpc ${name}`);
    const out = await handler(op, { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger });
    if (out !== 'ok') {
      const outErr = validator.validateRpcOutput(HSV_NS, name, out);
      if (outErr.length > 0) throw new Error(`invalid output of ${name}: ${JSON.stringify(outErr)}`);
    }
    return out;
  }
  async state(name: string): Promise<XmlElement | undefined> {
    return this.states.get(`${HSV_NS} ${name}`)?.();
  }
  events(name: string): XmlElement[] { return this.notes.filter((n) => n.event.name === name).map((n) => n.event); }
}

type PveMode = 'affirming' | 'contraindicated' | 'down' | 'foreign-key' | 'hang' | 'older-version';

let dataDir: string;
let registry: TestRegistry;
let store: MemoryStore;
let devices: FakeDevices;
let pveMode: Map<string, PveMode>;
let pveCalls: number;
let plugin: OamPlugin;
let handle: PluginHandle | undefined;
let closedPorts: number;

const pve: PveClient = {
  async integrityRequest(req, signal) {
    pveCalls++;
    const mode = pveMode.get(req.henbId) ?? 'affirming';
    if (mode === 'down') throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ERR_PVE_UNREACHABLE' });
    if (mode === 'hang') return new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
    if (req.completion !== undefined) {
      const post = postUpdateClaims(req);
      return { token: await signResult({ iss: PVE_ISSUER, aud: OAM_ISSUER, sub: req.henbId, ear_status: post.status, eat_nonce: req.nonce, ear_verifier_id: { developer: 'test', build: '1' }, submods: post.submods }, pveKey) };
    }
    const status: EarStatus = mode === 'contraindicated' ? 'contraindicated' : 'affirming';
    const token = await signResult({
      iss: PVE_ISSUER, aud: OAM_ISSUER, sub: req.henbId, ear_status: status, eat_nonce: req.nonce,
      ear_verifier_id: { developer: 'test', build: '1' },
      submods: { platform: {
        ear_status: status, 'job-id': req.jobId, phase: 'pre-update', 'reported-tim': OLD_RIM, ...(status !== 'affirming' ? { reason: 'kernel differs', 'first-mismatch': 'kernel' } : {}),
        ...(mode === 'older-version' ? { 'software-version': '0.9.0' } : {}),
      } },
    }, mode === 'foreign-key' ? oamKey : pveKey);
    return { token };
  },
};

async function activate(inventory = ['henb-1', 'henb-2', 'henb-3']): Promise<void> {
  plugin = createOamPlugin({
    pve, devices, pveJwks: { keys: [pveKey.publicJwk] }, store, signingKey: oamKey, fetcher: new FakeFetcher(),
    inventory, replayCache: memoryReplayCache(),
    policies: { selfCheck: true, onMismatch: ['alarm', 'rollback'], stepTimeoutSec: 30, pveTimeoutSec: 5 },
    onClose: () => { closedPorts++; },
  });
  const host: PluginHost = { apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir, config: { software: { allow: ['images.example'] } }, signal: new AbortController().signal };
  handle = await plugin.activate(host);
}


function swUpdate(ids: string[], uri = 'https://images.example/2.0.0.img', extra: XmlElement[] = []): Promise<XmlElement[] | 'ok'> {
  return registry.call('software-update', ...ids.map((id) => leaf(HSV_NS, 'henb-id', id)),
    el(HSV_NS, 'software', leaf(HSV_NS, 'uri', uri), leaf(HSV_NS, 'version', '2.0.0')), ...extra);
}


beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'oam-svc-'));
  registry = new TestRegistry();
  store = new MemoryStore();
  devices = new FakeDevices();
  devices.installMs = 1;
  pveMode = new Map();
  pveCalls = 0;
  closedPorts = 0;
  for (const id of ['henb-1', 'henb-2', 'henb-3']) {
    await store.putHenb({ henbId: id, rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
  }
});

afterEach(async () => {
  await handle?.close();
  handle = undefined;
  await rm(dataDir, { recursive: true, force: true });
});

describe('OAM plugin: registration', () => {
  it('registers the module and its imports, the stream, three RPCs and three state nodes', async () => {
    await activate();
    expect(registry.modules.map((m) => `${m.name}@${m.revision}:${m.implemented}`).sort()).toEqual([
      'henb-sw-verify@2026-12-03:true', 'ietf-inet-types@2013-07-15:false', 'ietf-yang-types@2013-07-15:false',
    ]);
    const text = await readFile(join(defaultYangDir(), 'henb-sw-verify.yang'), 'utf8');
    expect(registry.modules.find((m) => m.name === 'henb-sw-verify')?.text).toBe(text);
    expect(registry.streams).toEqual([expect.objectContaining({ name: HSV_STREAM, replaySupport: true })]);
    expect([...registry.rpcs.keys()].sort()).toEqual(['completion-tim', 'integrity-request', 'software-update'].map((n) => `${HSV_NS} ${n}`));
    expect([...registry.states.keys()].sort()).toEqual(['henbs', 'jobs', 'signing-keys'].map((n) => `${HSV_NS} ${n}`));
  });

  it('close is idempotent, stops listening to devices and releases the ports once', async () => {
    await activate();
    expect(devices.listenerCount).toBe(1);
    await handle!.close();
    await handle!.close();
    expect(devices.listenerCount).toBe(0);
    expect(closedPorts).toBe(1);
  });
});

describe('OAM plugin: software-update', () => {
  it('healthy: started at once, progress for every step, verified result whose token verifies with the published JWKS', async () => {
    await activate();
    const out = await swUpdate(['henb-1']);
    expect(out).not.toBe('ok');
    const job = (out as XmlElement[])[0]!;
    expect(childText(job, HSV_NS, 'status')).toBe('started');
    const jobId = childText(job, HSV_NS, 'job-id')!;
    await until(() => registry.events('software-update-result').length === 1, 'the result');
    const res = registry.events('software-update-result')[0]!;
    expect(childText(res, HSV_NS, 'status')).toBe('verified');
    expect(childText(res, HSV_NS, 'job-id')).toBe(jobId);
    expect(childText(res, HSV_NS, 'expected-rim')).toBe(EXPECTED);
    expect(childText(res, HSV_NS, 'reported-tim')).toBe(EXPECTED);
    expect(registry.notes.every((n) => n.stream === HSV_STREAM)).toBe(true);
    const steps = registry.events('software-update-progress').map((e) => Number(childText(e, HSV_NS, 'step')));
    expect(new Set(steps)).toEqual(new Set([1, 2, 4, 5, 6, 7, 8, 9]));

    const keys = await registry.state('signing-keys');
    const jwks = JSON.parse(childText(keys!, HSV_NS, 'jwks')!);
    const v = await verifyResult(childText(res, HSV_NS, 'attestation-result')!, { jwks, issuer: OAM_ISSUER, audience: NMS_AUDIENCE, maxAgeSec: 60, replayCache: memoryReplayCache() });
    expect(v.claims).toMatchObject({ sub: 'henb-1', ear_status: 'affirming' });

    const henbs = await registry.state('henbs');
    const h1 = childrenNamed(henbs!, HSV_NS, 'henb').find((e) => childText(e, HSV_NS, 'henb-id') === 'henb-1')!;
    expect(childText(h1, HSV_NS, 'rim')).toBe(EXPECTED);
    expect(childText(h1, HSV_NS, 'software-version')).toBe('2.0.0');
    expect(childText(h1, HSV_NS, 'state')).toBe('trusted');
    expect(childText(h1, HSV_NS, 'last-job-id')).toBe(jobId);
    expect(childText(h1, HSV_NS, 'last-result')).toBe('verified');
    const jobs = await registry.state('jobs');
    const j = childrenNamed(jobs!, HSV_NS, 'job')[0]!;
    expect(childText(j, HSV_NS, 'status')).toBe('verified');
    expect(childText(j, HSV_NS, 'step')).toBe('9');
    expect(elements(j)[0]?.name).toBe('job-id');
  });

  it('an NMS that reads on the result notification sees the job final: /hsv:jobs, /hsv:henbs last-result and hsv_jobs', async () => {
    // read while the notification is being sent, before the OAM delivers the rest of the job's outbox and marks it
    // terminal: what an NMS that answers the notification at once may see
    const seen: Array<{ henbId: string; status?: string; lastResult?: string; gauge: Array<{ state: string; final: string }> }> = [];
    registry.onNotify = async (event) => {
      if (event.name !== 'software-update-result') return;
      const henbId = childText(event, HSV_NS, 'henb-id')!;
      const job = childrenNamed((await registry.state('jobs'))!, HSV_NS, 'job').find((j) => childText(j, HSV_NS, 'henb-id') === henbId);
      const henb = childrenNamed((await registry.state('henbs'))!, HSV_NS, 'henb').find((e) => childText(e, HSV_NS, 'henb-id') === henbId);
      const gauge = (await jobsGauge.get()).values.filter((v) => v.value > 0).map((v) => ({ state: String(v.labels.state), final: String(v.labels.final) }));
      seen.push({ henbId, ...(job ? { status: childText(job, HSV_NS, 'status') } : {}), ...(henb ? { lastResult: childText(henb, HSV_NS, 'last-result') } : {}), gauge });
    };
    devices.profiles.set('henb-3', 'bad-install');
    await activate();
    await swUpdate(['henb-1']);
    await until(() => seen.length === 1, 'the first result');
    await swUpdate(['henb-3']);
    await until(() => seen.length === 2, 'the second result');
    expect(seen).toEqual([
      { henbId: 'henb-1', status: 'verified', lastResult: 'verified', gauge: [{ state: 'verified', final: 'true' }] },
      // the mismatch's outbox goes on after the result (integrity-alarm, rollback)
      { henbId: 'henb-3', status: 'mismatch', lastResult: 'mismatch', gauge: expect.arrayContaining([{ state: 'verified', final: 'true' }, { state: 'mismatch', final: 'true' }]) as unknown },
    ]);
    expect(seen[1]!.gauge).toHaveLength(2);
  });

  it('several H(e)NBs in one request: one job each; a compromised one is refused and its device untouched', async () => {
    pveMode.set('henb-2', 'contraindicated');
    await activate();
    const out = (await swUpdate(['henb-1', 'henb-2'])) as XmlElement[];
    expect(out.map((j) => childText(j, HSV_NS, 'status'))).toEqual(['started', 'started']);
    await until(() => registry.events('software-update-result').length === 2, 'two results');
    const byHenb = new Map(registry.events('software-update-result').map((e) => [childText(e, HSV_NS, 'henb-id'), e]));
    expect(childText(byHenb.get('henb-1')!, HSV_NS, 'status')).toBe('verified');
    const r2 = byHenb.get('henb-2')!;
    expect(childText(r2, HSV_NS, 'status')).toBe('refused');
    expect(childText(r2, HSV_NS, 'reason')).toContain('contraindicated');
    expect(devices.updates.map((u) => u.henbId)).toEqual(['henb-1']);
  });

  it('bad-install: mismatch with the component, integrity-alarm raised, rollback asked, RIM kept', async () => {
    devices.profiles.set('henb-3', 'bad-install');
    await activate();
    await swUpdate(['henb-3']);
    await until(() => registry.events('software-update-result').length === 1, 'the result');
    const res = registry.events('software-update-result')[0]!;
    expect(childText(res, HSV_NS, 'status')).toBe('mismatch');
    expect(childText(res, HSV_NS, 'differing-component')).toBe('rootfs');
    await until(() => devices.rollbacks.length === 1, 'the rollback');
    const alarm = registry.events('integrity-alarm')[0]!;
    expect(childText(alarm, HSV_NS, 'severity')).toBe('critical');
    expect((await store.getHenb('henb-3'))).toMatchObject({ rim: OLD_RIM, state: 'quarantined' });
  });

  it('unknown henb-id: rpc-error invalid-value / unknown-henb with the path, no job started', async () => {
    await activate();
    const e = await rpcError(swUpdate(['henb-1', 'ghost']));
    expect(e.errors).toEqual([expect.objectContaining({
      type: 'application', tag: 'invalid-value', appTag: 'unknown-henb',
      path: "/hsv:software-update/hsv:henb-id[.='ghost']", pathNs: { hsv: HSV_NS },
    })]);
    expect(pveCalls).toBe(0);
    expect(await store.listJobs()).toEqual([]);
  });

  it.each(['ftp://images.example/a.img', 'gopher://x/y', 'not a uri', 'https://user:pw@images.example/a.img'])(
    'software URI %s: rpc-error unsupported-uri-scheme before any job starts', async (uri) => {
      await activate();
      const e = await rpcError(swUpdate(['henb-1'], uri));
      expect(e.errors[0]).toMatchObject({ tag: 'invalid-value', appTag: 'unsupported-uri-scheme', path: '/hsv:software-update/hsv:software/hsv:uri' });
      expect(pveCalls).toBe(0);
      expect(await store.listJobs()).toEqual([]);
    });

  it('an H(e)NB with a running job is refused with henb-busy in its job entry', async () => {
    devices.profiles.set('henb-1', 'slow');
    await activate();
    await swUpdate(['henb-1']);
    const out = (await swUpdate(['henb-1'])) as XmlElement[];
    expect(childText(out[0]!, HSV_NS, 'status')).toBe('refused');
    expect(childText(out[0]!, HSV_NS, 'reason')).toContain('henb-busy');
    expect(child(out[0]!, HSV_NS, 'job-id')).toBeUndefined();
  });

  it('many H(e)NBs start concurrently; the reply keeps the request order', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `fleet-${i}`);
    for (const id of ids) devices.profiles.set(id, 'slow');
    await activate(ids);
    const out = (await swUpdate([...ids].reverse())) as XmlElement[];
    expect(out.map((j) => childText(j, HSV_NS, 'henb-id'))).toEqual([...ids].reverse());
    expect(out.every((j) => childText(j, HSV_NS, 'status') === 'started')).toBe(true);
    expect(new Set(out.map((j) => childText(j, HSV_NS, 'job-id'))).size).toBe(40);
  });

  it('the running configuration inventory adds H(e)NBs', async () => {
    await activate([]);
    await expect(rpcError(swUpdate(['henb-2']))).resolves.toBeInstanceOf(NetconfError);
    const running = el(NETCONF_BASE_NS, 'data', el(HSV_NS, 'inventory', el(HSV_NS, 'henb', leaf(HSV_NS, 'henb-id', 'henb-2'), leaf(HSV_NS, 'address', '127.0.0.1'))));
    for (const l of registry.listeners) await l(running);
    const out = (await swUpdate(['henb-2'])) as XmlElement[];
    expect(childText(out[0]!, HSV_NS, 'status')).toBe('started');
  });
});

describe('OAM plugin: completion-tim', () => {
  it('errors: unknown job, wrong H(e)NB; then a completion with a measurement log verifies the job', async () => {
    devices.profiles.set('henb-1', 'slow');
    await activate();
    const out = (await swUpdate(['henb-1'])) as XmlElement[];
    const jobId = childText(out[0]!, HSV_NS, 'job-id')!;
    await until(() => registry.events('software-update-progress').some((e) => childText(e, HSV_NS, 'step') === '7'), 'step 7');
    const tim = (v: string): XmlElement => leaf(HSV_NS, 'tim', v);
    const e1 = await rpcError(registry.call('completion-tim', leaf(HSV_NS, 'job-id', 'job-nope'), leaf(HSV_NS, 'henb-id', 'henb-1'), tim(EXPECTED)));
    expect(e1.errors[0]).toMatchObject({ tag: 'invalid-value', appTag: 'job-unknown', path: '/hsv:completion-tim/hsv:job-id' });
    const e2 = await rpcError(registry.call('completion-tim', leaf(HSV_NS, 'job-id', jobId), leaf(HSV_NS, 'henb-id', 'henb-2'), tim(EXPECTED)));
    expect(e2.errors[0]).toMatchObject({ tag: 'invalid-value', appTag: 'henb-mismatch' });
    const logXml = el(HSV_NS, 'measurement-log', [...GOOD_LOG].reverse().map((e, i) => el(HSV_NS, 'entry',
      leaf(HSV_NS, 'index', GOOD_LOG.length - 1 - i), leaf(HSV_NS, 'component', e.component), leaf(HSV_NS, 'digest', e.digest))));
    // issue 10: the expected RIM, public in /hsv:jobs, no longer completes a job by itself
    const forged = await rpcError(registry.call('completion-tim', leaf(HSV_NS, 'job-id', jobId), leaf(HSV_NS, 'henb-id', 'henb-1'), tim(EXPECTED), logXml, leaf(HSV_NS, 'self-check', 'passed')));
    expect(forged.errors[0]).toMatchObject({ tag: 'missing-element', appTag: 'evidence-required' });
    expect(registry.events('software-update-result')).toEqual([]);
    const nonce = (await store.getJob<Job>(jobId))!.data.updateNonce!;
    const ok = await registry.call('completion-tim', ...relayed(signedCompletion({ henbId: 'henb-1', jobId, status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG, selfCheck: 'passed' }, nonce)));
    expect(ok).toBe('ok');
    await until(() => registry.events('software-update-result').length === 1, 'the result');
    expect(childText(registry.events('software-update-result')[0]!, HSV_NS, 'status')).toBe('verified');
    const e3 = await rpcError(registry.call('completion-tim', leaf(HSV_NS, 'job-id', jobId), leaf(HSV_NS, 'henb-id', 'henb-1'), tim(EXPECTED)));
    expect(e3.errors[0]).toMatchObject({ tag: 'operation-failed', appTag: 'job-not-waiting' });
  });

  it('a TIM that differs, reported by RPC: mismatch', async () => {
    devices.profiles.set('henb-1', 'slow');
    await activate();
    const out = (await swUpdate(['henb-1'])) as XmlElement[];
    const jobId = childText(out[0]!, HSV_NS, 'job-id')!;
    await until(() => registry.events('software-update-progress').some((e) => childText(e, HSV_NS, 'step') === '7'), 'step 7');
    const nonce = (await store.getJob<Job>(jobId))!.data.updateNonce!;
    const log = [...GOOD_LOG.slice(0, -1), { component: 'rootfs', digest: h('evil') }];
    await registry.call('completion-tim', ...relayed(signedCompletion({ henbId: 'henb-1', jobId, status: 'completed', tim: replayLog(log), measurementLog: log }, nonce)));
    await until(() => registry.events('software-update-result').length === 1, 'the result');
    expect(childText(registry.events('software-update-result')[0]!, HSV_NS, 'status')).toBe('mismatch');
  });
});

describe('OAM plugin: integrity-request', () => {
  it('affirming: verdict + token, and it lifts a quarantine', async () => {
    await store.putHenb({ henbId: 'henb-1', rim: OLD_RIM, softwareVersion: '1.0.0', state: 'quarantined', lastResultToken: null });
    await activate();
    const out = (await registry.call('integrity-request', leaf(HSV_NS, 'henb-id', 'henb-1'))) as XmlElement[];
    expect(textOf(out[0]!)).toBe('affirming');
    expect(out[1]?.name).toBe('attestation-result');
    expect((await store.getHenb('henb-1'))?.state).toBe('trusted');
  });

  it('software other than the recorded version (downgrade outside the OAM): contraindicated naming both versions, quarantined, an integrity-alarm', async () => {
    pveMode.set('henb-3', 'older-version');
    await activate();
    const out = (await registry.call('integrity-request', leaf(HSV_NS, 'henb-id', 'henb-3'))) as XmlElement[];
    expect(out.map((e) => e.name)).toEqual(['ear-status', 'attestation-result', 'reason']);
    expect(textOf(out[0]!)).toBe('contraindicated');
    expect(textOf(out[2]!)).toContain('software version 0.9.0 attested, 1.0.0 recorded for the H(e)NB');
    // the token is the PVE's own (it affirmed the evidence); the refusal is the OAM's policy
    expect(decodeResultUnverified(textOf(out[1]!)).claims).toMatchObject({ ear_status: 'affirming', iss: PVE_ISSUER });
    expect(await store.getHenb('henb-3')).toMatchObject({ state: 'quarantined', softwareVersion: '1.0.0', rim: OLD_RIM });
    const alarms = registry.events('integrity-alarm');
    expect(alarms).toHaveLength(1);
    expect(childText(alarms[0]!, HSV_NS, 'henb-id')).toBe('henb-3');
    expect(childText(alarms[0]!, HSV_NS, 'job-id')).toMatch(/^ir-/);
    expect(childText(alarms[0]!, HSV_NS, 'severity')).toBe('critical');
    expect(childText(alarms[0]!, HSV_NS, 'reason')).toContain('0.9.0 attested, 1.0.0 recorded');
    // still no progress or result notification for an integrity-check
    expect(registry.events('software-update-progress')).toEqual([]);
    expect(registry.events('software-update-result')).toEqual([]);
    // the recorded version affirmed: no alarm
    const ok = (await registry.call('integrity-request', leaf(HSV_NS, 'henb-id', 'henb-1'))) as XmlElement[];
    expect(textOf(ok[0]!)).toBe('affirming');
    expect(registry.events('integrity-alarm')).toHaveLength(1);
  });

  it('contraindicated: verdict with the reason, H(e)NB quarantined', async () => {
    pveMode.set('henb-2', 'contraindicated');
    await activate();
    const out = (await registry.call('integrity-request', leaf(HSV_NS, 'henb-id', 'henb-2'))) as XmlElement[];
    expect(textOf(out[0]!)).toBe('contraindicated');
    expect(textOf(out[2]!)).toBe('kernel differs');
    expect((await store.getHenb('henb-2'))?.state).toBe('quarantined');
  });

  it('PVE down -> pve-unreachable; token from a foreign key -> pve-result-invalid; unknown henb -> unknown-henb', async () => {
    pveMode.set('henb-1', 'down');
    pveMode.set('henb-2', 'foreign-key');
    await activate();
    const a = await rpcError(registry.call('integrity-request', leaf(HSV_NS, 'henb-id', 'henb-1')));
    expect(a.errors[0]).toMatchObject({ tag: 'operation-failed', appTag: 'pve-unreachable' });
    const b = await rpcError(registry.call('integrity-request', leaf(HSV_NS, 'henb-id', 'henb-2')));
    expect(b.errors[0]).toMatchObject({ tag: 'operation-failed', appTag: 'pve-result-invalid' });
    expect(b.errors[0]?.message).toContain('ERR_TOKEN_KEY_UNKNOWN');
    const c = await rpcError(registry.call('integrity-request', leaf(HSV_NS, 'henb-id', 'nobody')));
    expect(c.errors[0]).toMatchObject({ tag: 'invalid-value', appTag: 'unknown-henb', path: '/hsv:integrity-request/hsv:henb-id' });
    expect((await store.getHenb('henb-1'))?.state).toBe('trusted');
  });

  it('is a job of its own kind: an H(e)NB being updated is henb-busy, and an update waits for a running check', async () => {
    devices.profiles.set('henb-1', 'slow');
    pveMode.set('henb-2', 'hang');
    await activate();
    await swUpdate(['henb-1']);
    const busy = await rpcError(registry.call('integrity-request', leaf(HSV_NS, 'henb-id', 'henb-1')));
    expect(busy.errors[0]).toMatchObject({ tag: 'in-use', appTag: 'henb-busy', path: '/hsv:integrity-request/hsv:henb-id' });

    const checking = registry.call('integrity-request', leaf(HSV_NS, 'henb-id', 'henb-2')).catch((err: unknown) => err); // settled by close() below
    await until(async () => (await store.listActiveJobs()).some((j) => j.kind === 'integrity-check'), 'the check running');
    const out = (await swUpdate(['henb-2'])) as XmlElement[];
    expect(childText(out[0]!, HSV_NS, 'status')).toBe('refused');
    expect(childText(out[0]!, HSV_NS, 'reason')).toContain('henb-busy');
    // the check is not a software-update: not in the jobs state, no software-update notifications
    const jobs = childrenNamed((await registry.state('jobs'))!, HSV_NS, 'job');
    expect(jobs.map((j) => childText(j, HSV_NS, 'henb-id'))).toEqual(['henb-1']);
    expect(registry.notes.filter((n) => childText(n.event, HSV_NS, 'henb-id') === 'henb-2')).toEqual([]);
    await handle?.close();
    handle = undefined;
    expect(await checking).toMatchObject({ code: 'ERR_OAM_CLOSED' });
  });
});
