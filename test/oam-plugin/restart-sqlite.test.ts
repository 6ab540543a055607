/**
 * Restart in the middle of a job with the real SQLite store on disk: the process "crashes" (runner and
 * database closed), a new one opens the same data directory and resumes. A job is never lost and its
 * software-update is never sent twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { el, leaf, childText } from '../../src/netconf/xml/build.js';
import { NETCONF_BASE_NS } from '../../src/netconf/xml/types.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import type { NetconfRegistry, ReplayLog } from '../../src/netconf/server/registry.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import { openSqliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { generateSigningKey, signResult } from '../../src/tokens/index.js';
import type { SigningKey } from '../../src/tokens/types.js';
import { JobRunner } from '../../src/oam/runner.js';
import type { Job } from '../../src/oam/transition.js';
import { createOamPlugin } from '../../src/oam-plugin/index.js';
import { HSV_NS } from '../../src/oam-plugin/index.js';
import { OAM_ISSUER, PVE_ISSUER } from '../../src/oam/tokens-adapter.js';
import type { PveClient } from '../../src/oam/ports.js';
import { FakeDevices, FakeFetcher, FakePve, FakeTokens, postUpdateClaims, signedCompletion } from '../oam/fakes.js';
import { EXPECTED, GOOD_LOG, OLD_RIM } from '../oam/helpers.js';
import { until } from '../helpers/until.js';

let dir: string;
let open: Array<{ close(): Promise<void> }>;
let pveKey: SigningKey;

beforeAll(async () => { pveKey = await generateSigningKey('ES256', 'pve'); });
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-restart-'));
  open = [];
});
afterEach(async () => {
  for (const o of open.reverse()) await o.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});


async function openDb(): Promise<Store> {
  const s = await openSqliteStore({ dataDir: dir });
  open.push(s);
  return s;
}

let nonce = 0;
function runnerOn(store: Store, pve: FakePve, devices: FakeDevices, results: Job[]): JobRunner {
  const r = new JobRunner({
    store, pve, devices, fetcher: new FakeFetcher(), tokens: new FakeTokens(),
    events: { progress: () => undefined, alarm: () => undefined, result: (j) => { results.push(j); } },
    newNonce: () => (++nonce).toString(16).padStart(64, 'a'),
    timeouts: { pve: 5000, fetch: 5000, send: 5000, completion: 5000 },
  });
  open.push(r);
  return r;
}

describe('restart with the SQLite store', () => {
  it('job waiting for its completion: resumed by the new process and verified; update sent once', async () => {
    const pve = new FakePve();
    const devices = new FakeDevices('slow');
    const results: Job[] = [];
    let store = await openDb();
    await store.putHenb({ henbId: 'h1', rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
    const r1 = runnerOn(store, pve, devices, results);
    const job = await r1.start({ henbId: 'h1', request: { uri: 'file:///img', version: '2', selfCheck: true, measures: ['alarm'] } });
    await until(async () => (await store.getJob(job.jobId))?.state === 'awaiting-completion', 'awaiting-completion');
    await r1.close();
    await store.close();

    store = await openDb();
    const r2 = runnerOn(store, pve, devices, results);
    expect(await r2.resume()).toEqual([job.jobId]);
    const nonce = (await store.getJob<Job>(job.jobId))!.data.updateNonce!;
    devices.emit(signedCompletion({ henbId: 'h1', jobId: job.jobId, status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG, selfCheck: 'passed' }, nonce));
    await until(() => results.length === 1, 'the result');
    expect(results[0]?.state).toBe('verified');
    expect(await store.getHenb('h1')).toMatchObject({ rim: EXPECTED, softwareVersion: '2', state: 'trusted' });
    expect(devices.updates).toHaveLength(1);
    const hist = (await store.listJobEvents(job.jobId)).map((e) => e.toState);
    expect(hist).toEqual(['created', 'pve-requested', 'fetching', 'update-sending', 'awaiting-completion', 'awaiting-completion', 'verified', 'verified']);
    expect((await store.getResults(job.jobId)).map((r) => r.kind)).toEqual(['pve', 'final', 'post-update']);
  });

  it('crash before the device acknowledged: failed with a reason after restart, never resent, RIM kept', async () => {
    const pve = new FakePve();
    const devices = new FakeDevices('no-ack');
    const results: Job[] = [];
    let store = await openDb();
    await store.putHenb({ henbId: 'h2', rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
    const r1 = runnerOn(store, pve, devices, results);
    const job = await r1.start({ henbId: 'h2', request: { uri: 'file:///img', selfCheck: true, measures: [] } });
    await until(() => devices.updates.length === 1, 'the software-update');
    const mid = await store.getJob(job.jobId);
    expect(mid).toMatchObject({ state: 'update-sending', updateSent: true });
    await r1.close();
    await store.close();

    devices.profiles.set('h2', 'healthy');
    store = await openDb();
    const r2 = runnerOn(store, pve, devices, results);
    await r2.resume();
    await until(() => results.length === 1, 'the result');
    expect(results[0]?.state).toBe('failed');
    expect(results[0]?.result?.reason).toContain('not resent');
    expect(devices.updates).toHaveLength(1);
    expect(await store.getHenb('h2')).toMatchObject({ rim: OLD_RIM, state: 'quarantined' });
    expect(await store.listActiveJobs()).toEqual([]);
  });

  it('the plugin on its default SQLite store and key files: re-activated on the same data dir, it resumes the job', async () => {
    const devices = new FakeDevices('slow');
    const pve: PveClient = {
      integrityRequest: async (req) => ({
        token: req.completion !== undefined ? await signResult({
          iss: PVE_ISSUER, aud: OAM_ISSUER, sub: req.henbId, ear_status: postUpdateClaims(req).status, eat_nonce: req.nonce,
          ear_verifier_id: { developer: 't', build: '1' }, submods: postUpdateClaims(req).submods,
        }, pveKey) : await signResult({
          iss: PVE_ISSUER, aud: OAM_ISSUER, sub: req.henbId, ear_status: 'affirming', eat_nonce: req.nonce,
          ear_verifier_id: { developer: 't', build: '1' },
          submods: { platform: { ear_status: 'affirming', 'job-id': req.jobId, phase: 'pre-update', 'reported-tim': OLD_RIM } },
        }, pveKey),
      }),
    };
    const notes: XmlElement[] = [];
    const registry: NetconfRegistry = {
      addRpc: () => undefined, addState: () => undefined, addStream: () => undefined, addModule: () => undefined,
      notify: async (_s, e) => { notes.push(e); }, getRunning: () => el(NETCONF_BASE_NS, 'data'), onConfigChange: () => undefined,
      setReplayLog: (l) => { replayLogs.push(l); },
    };
    const replayLogs: ReplayLog[] = [];
    const rpcs = new Map<string, (op: XmlElement) => Promise<unknown>>();
    registry.addRpc = (_ns, name, h) => { rpcs.set(name, (op) => h(op, { sessionId: 1, username: 'a', signal: new AbortController().signal, log: silentLogger })); };
    const host = { apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: dir, config: { henbs: [{ 'henb-id': 'h3', address: '127.0.0.1' }], software: { 'file-root': '/' } }, signal: new AbortController().signal };
    const mk = () => createOamPlugin({ pve, devices, pveJwks: { keys: [pveKey.publicJwk] }, fetcher: new FakeFetcher() });

    // the H(e)NB is unknown to the store: its first integrity-request records the attested TIM as its RIM
    const h1: PluginHandle = await mk().activate(host);
    open.push(h1);
    await rpcs.get('integrity-request')!(el(HSV_NS, 'integrity-request', leaf(HSV_NS, 'henb-id', 'h3')));
    const out = (await rpcs.get('software-update')!(el(HSV_NS, 'software-update', leaf(HSV_NS, 'henb-id', 'h3'), el(HSV_NS, 'software', leaf(HSV_NS, 'uri', 'file:///img'))))) as XmlElement[];
    const jobId = childText(out[0]!, HSV_NS, 'job-id')!;
    await until(() => notes.some((n) => n.name === 'software-update-progress' && childText(n, HSV_NS, 'step') === '7'), 'step 7');
    // the plugin gave the server a replay log in its store (not a file of the server's)
    expect(replayLogs).toHaveLength(1);
    const logged = await replayLogs[0]!.append('henb-sw-verify', new Date(Date.now() - 1000), '<before-restart xmlns="urn:x"/>');
    await h1.close();

    const h2 = await mk().activate(host);
    open.push(h2);
    // the next activation's log is the same table: what was logged before the restart replays
    expect(replayLogs).toHaveLength(2);
    expect((await replayLogs[1]!.replayPage({ startTime: new Date(0) }, 0, 10)).map((e) => [e.id, e.xml])).toEqual([[logged, '<before-restart xmlns="urn:x"/>']]);
    devices.emit(signedCompletion({ henbId: 'h3', jobId, status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG, selfCheck: 'passed' }, devices.updates.at(-1)!.cmd.nonce));
    await until(() => notes.some((n) => n.name === 'software-update-result'), 'the result');
    const res = notes.find((n) => n.name === 'software-update-result')!;
    expect(childText(res, HSV_NS, 'status')).toBe('verified');
    expect(devices.updates).toHaveLength(1);
  });
});
