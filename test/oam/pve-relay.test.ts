/**
 * Step 3 in relay mode (RunnerOptions.pveEvidence 'relay', config pve.evidence: relay; issue 15): the runner measures
 * the H(e)NB itself (DeviceDriver.integrityMeasurement with the job's PVE nonce) and relays the reply to the PVE;
 * the software-update follows; a device not reached ends the job as a PVE reporting the H(e)NB unreachable does.
 * The driver's side (one session held from the measurement to the software-update) is test/oam-plugin/e2e-pve-relay.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HsvError } from '../../src/errors.js';
import { JobRunner } from '../../src/oam/runner.js';
import type { PreUpdateEvidence } from '../../src/oam/ports.js';
import type { Job, JobRequest } from '../../src/oam/transition.js';
import { FakeDevices, FakeFetcher, FakePve, FakeTokens, MemoryStore } from './fakes.js';
import { OLD_RIM, T0 } from './helpers.js';
import { replayLog } from '../../src/oam/measure.js';

const REQUEST: JobRequest = { uri: 'https://images.example/2.0.0.img', version: '2.0.0', selfCheck: true, measures: ['alarm'] };
const TIMEOUTS = { pve: 1000, fetch: 2000, send: 3000, completion: 4000 };

/** FakeDevices that answer integrity-measurement (or are not reached), in order with their software-updates */
class MeasuringDevices extends FakeDevices {
  order: string[] = [];
  measured: Array<{ henbId: string; jobId: string; nonce: string }> = [];
  async integrityMeasurement(henbId: string, jobId: string, nonce: string): Promise<PreUpdateEvidence> {
    this.order.push(`measure ${jobId}`);
    this.measured.push({ henbId, jobId, nonce });
    if ((this.profiles.get(henbId) ?? 'healthy') === 'unreachable') throw new HsvError('ERR_DEVICE_UNREACHABLE', `no session to ${henbId} after 3 attempts`);
    const log = this.logOf(henbId);
    return { format: 'software-key', tim: replayLog(log), measurementLog: log, signature: 'c2ln', signatureAlgorithm: 'ES256' };
  }
  override async softwareUpdate(...a: Parameters<FakeDevices['softwareUpdate']>): Promise<void> {
    this.order.push(`update ${a[1].jobId}`);
    return super.softwareUpdate(...a);
  }
}

let store: MemoryStore;
let pve: FakePve;
let devices: MeasuringDevices;
let nonceSeq: number;
const results: Job[] = [];

function runner(mode?: 'collect' | 'relay', d: FakeDevices = devices): JobRunner {
  return new JobRunner({
    store, pve, devices: d, fetcher: new FakeFetcher(), tokens: new FakeTokens(), timeouts: TIMEOUTS,
    events: { progress: () => undefined, result: (job) => { results.push(job); }, alarm: () => undefined },
    newNonce: () => (nonceSeq++).toString(16).padStart(64, '0'),
    ...(mode !== undefined ? { pveEvidence: mode } : {}),
  });
}

beforeEach(async () => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
  store = new MemoryStore();
  pve = new FakePve();
  devices = new MeasuringDevices();
  nonceSeq = 1;
  results.length = 0;
  for (const id of ['h1', 'u1']) await store.putHenb({ henbId: id, rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
  devices.profiles.set('u1', 'unreachable');
});
afterEach(() => {
  vi.useRealTimers();
});

describe('step 3 relayed by the OAM', () => {
  it('the job\'s PVE nonce goes to the device, its reply to the PVE; then the software-update; verified', async () => {
    const r = runner('relay');
    const job = await r.start({ henbId: 'h1', request: REQUEST });
    await vi.advanceTimersByTimeAsync(1000);
    await r.idle();
    expect((await store.getJob(job.jobId))?.state).toBe('verified');
    expect(devices.order).toEqual([`measure ${job.jobId}`, `update ${job.jobId}`]);
    const asked = pve.calls.find((c) => c.completion === undefined)!;
    expect(devices.measured).toEqual([{ henbId: 'h1', jobId: job.jobId, nonce: asked.nonce }]);
    expect(asked.evidence).toMatchObject({ format: 'software-key', signature: 'c2ln', signatureAlgorithm: 'ES256' });
    expect(asked.evidence?.tim).toBe(replayLog(asked.evidence!.measurementLog));
    expect(asked.jobId).toBe(job.jobId);
    await r.close();
  });

  it('the device not reached: timeout with cause henb-unreachable, as when the PVE reports it; the PVE is not asked', async () => {
    const r = runner('relay');
    const job = await r.start({ henbId: 'u1', request: REQUEST });
    await r.idle();
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec?.state).toBe('timeout');
    expect(rec?.data.result?.cause).toEqual({ kind: 'henb-unreachable', code: 'ERR_DEVICE_UNREACHABLE' });
    expect(rec?.data.result?.reason).toContain('H(e)NB unreachable (ERR_DEVICE_UNREACHABLE)');
    expect(pve.calls).toEqual([]);
    expect(devices.updates).toEqual([]);
    // the same outcome and cause kind as collect mode with a PVE that could not reach the H(e)NB
    pve.behaviour.set('u1', 'henb-unreachable');
    const c = runner('collect');
    const job2 = await c.start({ henbId: 'u1', request: REQUEST });
    await c.idle();
    const rec2 = await store.getJob<Job>(job2.jobId);
    expect(rec2?.state).toBe(rec?.state);
    expect(rec2?.data.result?.cause?.kind).toBe('henb-unreachable');
    expect(rec2?.data.result?.reason).toContain('H(e)NB unreachable');
    await r.close();
    await c.close();
  });

  it('collect (the default) never measures through the driver; the PVE gets no evidence', async () => {
    const r = runner();
    const job = await r.start({ henbId: 'h1', request: REQUEST });
    await vi.advanceTimersByTimeAsync(1000);
    await r.idle();
    expect((await store.getJob(job.jobId))?.state).toBe('verified');
    expect(devices.measured).toEqual([]);
    expect(pve.calls[0]?.evidence).toBeUndefined();
    await r.close();
  });

  it('relay with a driver that cannot measure is refused when the runner is built (ERR_OAM_CONFIG)', () => {
    expect(() => runner('relay', new FakeDevices())).toThrow(expect.objectContaining({ code: 'ERR_OAM_CONFIG' }));
  });
});
