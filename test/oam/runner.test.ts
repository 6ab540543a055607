import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HsvError } from '../../src/errors.js';
import { JobRunner } from '../../src/oam/runner.js';
import type { OamEvents } from '../../src/oam/runner-options.js';
import type { Job, JobRequest } from '../../src/oam/transition.js';
import type { PveClient } from '../../src/oam/ports.js';
import { FakeDevices, FakeFetcher, FakePve, FakeTokens, MemoryStore, decodeFake, seedHenb, signedCompletion } from './fakes.js';
import type { DeviceProfile, PveBehaviour } from './fakes.js';
import { BASE_LOG, EXPECTED, GOOD_LOG, OLD_RIM, SW_RIM, T0 } from './helpers.js';

interface Rec { kind: 'progress' | 'result' | 'alarm'; jobId: string; state: string; step?: number; text?: string; job: Job }

class Events implements OamEvents {
  list: Rec[] = [];
  progress(job: Job, step: number, text: string): void { this.list.push({ kind: 'progress', jobId: job.jobId, state: job.state, step, text, job }); }
  result(job: Job): void { this.list.push({ kind: 'result', jobId: job.jobId, state: job.state, job }); }
  alarm(job: Job, text: string): void { this.list.push({ kind: 'alarm', jobId: job.jobId, state: job.state, text, job }); }
  results(): Rec[] { return this.list.filter((r) => r.kind === 'result'); }
}

const REQUEST: JobRequest = { uri: 'https://images.example/2.0.0.img', version: '2.0.0', selfCheck: true, measures: ['alarm', 'rollback'] };
const TIMEOUTS = { pve: 1000, fetch: 2000, send: 3000, completion: 4000 };

let store: MemoryStore;
let pve: FakePve;
let devices: FakeDevices;
let fetcher: FakeFetcher;
let tokens: FakeTokens;
let events: Events;
let runners: JobRunner[];
let nonceSeq: number;

function runner(): JobRunner {
  const r = new JobRunner({
    store, pve, devices, fetcher, tokens, events, timeouts: TIMEOUTS,
    newNonce: () => (nonceSeq++).toString(16).padStart(64, '0'),
    newJobId: (() => { let i = 0; return () => `job-${runners.length}-${++i}`; })(),
  });
  runners.push(r);
  return r;
}

const seed = (henbId: string, pveB?: PveBehaviour, dev?: DeviceProfile): Promise<void> => seedHenb({ store, pve, devices }, henbId, pveB, dev);

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
  store = new MemoryStore();
  pve = new FakePve();
  devices = new FakeDevices();
  fetcher = new FakeFetcher();
  tokens = new FakeTokens();
  events = new Events();
  runners = [];
  nonceSeq = 1;
});

afterEach(async () => {
  for (const r of runners) await r.close();
  vi.useRealTimers();
});

describe('runner: profiles', () => {
  it('healthy: verified, RIM + version stored with the result, signed token, henb trusted', async () => {
    await seed('h1');
    const r = runner();
    const job = await r.start({ henbId: 'h1', request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    await r.idle();
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec?.state).toBe('verified');
    expect(rec?.terminal).toBe(true);
    const henb = await store.getHenb('h1');
    expect(henb).toMatchObject({ rim: EXPECTED, softwareVersion: '2.0.0', state: 'trusted' });
    const all = await store.getResults(job.jobId);
    expect(all.map((r) => r.kind)).toEqual(['pve', 'post-update', 'final']);
    // each token kept once, as a result row; the job's JSON leaves them out (src/oam/stored-job.ts)
    expect(rec?.data.pve).toMatchObject({ earStatus: 'affirming' });
    expect(rec?.data.pve?.token).toBeUndefined();
    expect(rec?.data.completion?.pveToken).toBeUndefined();
    expect(rec?.data.result?.token).toBeUndefined();
    expect(all.find((r) => r.kind === 'post-update')).toMatchObject({ earStatus: 'affirming', henbId: 'h1', token: expect.any(String) });
    // and the runner's stored view of the job has them again
    const viewed = await r.getJob(job.jobId);
    expect([viewed?.pve?.token, viewed?.completion?.pveToken, viewed?.result?.token]).toEqual(['pve', 'post-update', 'final'].map((k) => all.find((x) => x.kind === k)?.token));
    const results = all.filter((r) => r.kind === 'final');
    expect(henb?.lastResultToken).toBe(results[0]?.token);
    const claims = decodeFake(results[0]!.token);
    expect(claims).toMatchObject({ sub: 'h1', ear_status: 'affirming' });
    expect(claims.submods['software-update']).toMatchObject({ 'job-id': job.jobId, 'expected-rim': EXPECTED, 'reported-tim': EXPECTED, 'software-rim': SW_RIM, phase: 'post-update' });
    expect(claims.submods['software-update']?.components?.every((c) => c.status === 'match')).toBe(true);
    // every step reported, in order, and one result carrying the token
    const steps = events.list.filter((e) => e.kind === 'progress').map((e) => e.step);
    // step 9 twice: verified, then the new reference values provided to the PVE (before the result)
    expect(steps).toEqual([1, 2, 4, 5, 5, 6, 7, 8, 9, 9]);
    expect(events.results()).toHaveLength(1);
    expect(events.results()[0]?.job.result?.token).toBe(results[0]?.token);
    // the nonce the PVE saw was single-use and consumed
    const nonce = pve.calls[0]!.nonce;
    expect(nonce).toMatch(/^[0-9a-f]{64}$/);
    expect(await store.consumeNonce(nonce)).toEqual({ ok: false, reason: 'consumed' });
    // the transitions are all in the store's history
    const hist = (await store.listJobEvents(job.jobId)).map((e) => e.toState);
    expect(hist).toEqual(['created', 'pve-requested', 'fetching', 'update-sending', 'awaiting-completion', 'verified', 'verified']);
    expect((await store.listJobEvents(job.jobId)).at(-1)?.reason).toBe('result delivered');
    expect(r.activeJobFor('h1')).toBeUndefined();
  });

  it('compromised (PVE contraindicated): refused, device untouched, henb quarantined', async () => {
    await seed('c1', 'contraindicated');
    const r = runner();
    const job = await r.start({ henbId: 'c1', request: REQUEST });
    await r.idle();
    expect((await store.getJob(job.jobId))?.state).toBe('refused');
    expect(devices.updates).toEqual([]);
    expect(fetcher.calls).toEqual([]);
    expect((await store.getHenb('c1'))).toMatchObject({ rim: OLD_RIM, state: 'quarantined' });
    const res = events.results()[0]!.job.result!;
    expect(res.reason).toContain('PVE verdict contraindicated');
    expect(decodeFake(res.token!).ear_status).toBe('contraindicated');
  });

  for (const [b, code] of [['wrong-nonce', 'ERR_TOKEN_NONCE'], ['bad-issuer', 'ERR_TOKEN_ISSUER']] as const) {
    it(`PVE token that does not verify (${b}): refused with ${code}, device untouched`, async () => {
      await seed('x1', b);
      const r = runner();
      const job = await r.start({ henbId: 'x1', request: REQUEST });
      await r.idle();
      const rec = await store.getJob<Job>(job.jobId);
      expect(rec?.state).toBe('refused');
      expect(rec?.data.result?.reason).toContain(code);
      expect(devices.updates).toEqual([]);
    });
  }

  it('a replayed PVE token (same jti) is refused on the second job', async () => {
    await seed('r1', 'replay');
    const r = runner();
    const j1 = await r.start({ henbId: 'r1', request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    await r.idle();
    expect((await store.getJob(j1.jobId))?.state).toBe('verified');
    const j2 = await r.start({ henbId: 'r1', request: REQUEST });
    await r.idle();
    const rec = await store.getJob<Job>(j2.jobId);
    expect(rec?.state).toBe('refused');
    expect(rec?.data.result?.reason).toMatch(/ERR_TOKEN_(REPLAY|NONCE)/);
    expect(devices.updates).toHaveLength(1);
  });

  it('bad-install: mismatch, RIM unchanged, alarm + rollback, component named', async () => {
    await seed('b1', undefined, 'bad-install');
    const r = runner();
    const job = await r.start({ henbId: 'b1', request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    await r.idle();
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec?.state).toBe('mismatch');
    expect(rec?.data.result?.component).toBe('rootfs');
    expect(await store.getHenb('b1')).toMatchObject({ rim: OLD_RIM, softwareVersion: '1.0.0', state: 'quarantined' });
    expect(devices.rollbacks).toEqual([{ henbId: 'b1', jobId: job.jobId }]);
    expect(events.list.filter((e) => e.kind === 'alarm')).toHaveLength(1);
    const claims = decodeFake((await store.getResults(job.jobId)).find((x) => x.kind === 'final')!.token);
    expect(claims.ear_status).toBe('contraindicated');
    expect(claims.submods['software-update']?.['first-mismatch']).toBe('rootfs');
    expect(claims.submods['software-update']?.components?.find((c) => c.status === 'mismatch')?.component).toBe('rootfs');
  });

  it('a rollback that never answers does not hold close() (it is aborted)', async () => {
    await seed('b2', undefined, 'bad-install');
    devices.rollbackHangs = true;
    const r = runner();
    await r.start({ henbId: 'b2', request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    expect(devices.rollbacks).toHaveLength(1);
    await r.close();
    expect(events.list.filter((e) => e.kind === 'progress' && e.text?.includes('rollback not accepted'))).toHaveLength(1);
  });

  it('self-check-fail: mismatch with the device reason', async () => {
    await seed('s1', undefined, 'self-check-fail');
    const r = runner();
    const job = await r.start({ henbId: 's1', request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    await r.idle();
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec?.state).toBe('mismatch');
    expect(rec?.data.result?.reason).toContain('self-check failed');
    expect((await store.getHenb('s1'))?.rim).toBe(OLD_RIM);
  });

  it('install failure: failed with the device reason, quarantined', async () => {
    await seed('f1', undefined, 'install-fails');
    const r = runner();
    const job = await r.start({ henbId: 'f1', request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    await r.idle();
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec?.state).toBe('failed');
    expect(rec?.data.result?.reason).toContain('APPLICATION_ERROR');
    expect((await store.getHenb('f1'))?.state).toBe('quarantined');
  });

  it('unreachable device: software-update not accepted -> failed with the reason', async () => {
    await seed('u1', undefined, 'unreachable');
    const r = runner();
    const job = await r.start({ henbId: 'u1', request: REQUEST });
    await r.idle();
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec?.state).toBe('failed');
    expect(rec?.data.result?.reason).toContain('ERR_DEVICE_UNREACHABLE');
  });

  it('device that never acknowledges: timeout of step 6 with the reason', async () => {
    await seed('n1', undefined, 'no-ack');
    const r = runner();
    const job = await r.start({ henbId: 'n1', request: REQUEST });
    await vi.advanceTimersByTimeAsync(2999);
    expect((await store.getJob(job.jobId))?.state).toBe('update-sending');
    await vi.advanceTimersByTimeAsync(2);
    await r.idle();
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec?.state).toBe('timeout');
    expect(rec?.data.result?.reason).toBe('software-update to the H(e)NB (step 6) timed out after 3000 ms');
    expect(devices.updates).toHaveLength(1);
  });

  it('slow device: timeout of steps 7-8, quarantined, alarm; a late completion changes nothing', async () => {
    await seed('w1', undefined, 'slow');
    const r = runner();
    const job = await r.start({ henbId: 'w1', request: REQUEST });
    await vi.advanceTimersByTimeAsync(4001);
    await r.idle();
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec?.state).toBe('timeout');
    expect(rec?.data.result?.reason).toContain('install and completion report (steps 7-8) timed out');
    expect((await store.getHenb('w1'))?.state).toBe('quarantined');
    devices.emit({ henbId: 'w1', jobId: job.jobId, status: 'completed', tim: EXPECTED });
    await r.idle();
    expect((await store.getJob(job.jobId))?.state).toBe('timeout');
    expect((await store.getHenb('w1'))?.rim).toBe(OLD_RIM);
    await expect(r.complete({ henbId: 'w1', jobId: job.jobId, status: 'completed', tim: EXPECTED })).rejects.toMatchObject({ code: 'ERR_OAM_JOB_NOT_WAITING' });
  });

  it('PVE down: refused with a clear reason', async () => {
    await seed('p1', 'down');
    const r = runner();
    const job = await r.start({ henbId: 'p1', request: REQUEST });
    await r.idle();
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec?.state).toBe('refused');
    expect(rec?.data.result?.reason).toContain('ERR_PVE_UNREACHABLE');
    expect(rec?.data.result?.reason).toContain('ECONNREFUSED');
    expect(devices.updates).toEqual([]);
    expect((await store.getHenb('p1'))?.state).toBe('trusted');
  });

  it('H(e)NB unreachable for the PVE: timeout with the reason, device untouched, state unchanged', async () => {
    await seed('u2', 'henb-unreachable');
    const r = runner();
    const job = await r.start({ henbId: 'u2', request: REQUEST });
    await r.idle();
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec?.state).toBe('timeout');
    expect(rec?.data.result?.reason).toContain('H(e)NB unreachable');
    expect(devices.updates).toEqual([]);
    expect((await store.getHenb('u2'))?.state).toBe('trusted');
  });

  it('PVE that never answers: timeout of steps 2-4, device untouched', async () => {
    await seed('p2', 'hang');
    const r = runner();
    const job = await r.start({ henbId: 'p2', request: REQUEST });
    await vi.advanceTimersByTimeAsync(1001);
    await r.idle();
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec?.state).toBe('timeout');
    expect(rec?.data.result?.reason).toContain('PVE integrity check');
    expect(devices.updates).toEqual([]);
  });

  it('software fetch error: failed before the device is contacted', async () => {
    await seed('g1');
    fetcher.fail = true;
    const r = runner();
    const job = await r.start({ henbId: 'g1', request: REQUEST });
    await r.idle();
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec?.state).toBe('failed');
    expect(rec?.data.result?.reason).toContain('ERR_SOFTWARE_NOT_FOUND');
    expect(devices.updates).toEqual([]);
  });

  it('job ids are job- and a UUID version 7 of the time the job was made: later jobs sort after earlier ones', async () => {
    await seed('h-id-1');
    await seed('h-id-2');
    const r = new JobRunner({ store, pve, devices, fetcher, tokens, events, timeouts: TIMEOUTS, newNonce: () => (nonceSeq++).toString(16).padStart(64, '0') });
    runners.push(r);
    const first = await r.start({ henbId: 'h-id-1', request: REQUEST });
    vi.setSystemTime(T0 + 5);
    const second = await r.start({ henbId: 'h-id-2', request: REQUEST });
    for (const [job, at] of [[first, T0], [second, T0 + 5]] as const) {
      expect(job.jobId).toMatch(/^job-[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(parseInt(job.jobId.slice(4).replace(/-/g, '').slice(0, 12), 16)).toBe(at);
    }
    expect(first.jobId < second.jobId).toBe(true);
  });

  it('one job per H(e)NB at a time', async () => {
    await seed('busy', undefined, 'slow');
    const r = runner();
    await r.start({ henbId: 'busy', request: REQUEST });
    await expect(r.start({ henbId: 'busy', request: REQUEST })).rejects.toMatchObject({ code: 'ERR_OAM_HENB_BUSY' });
  });

  it('a request sent as soon as the result is notified waits for the job\'s outbox instead of henb-busy', async () => {
    // regression: the result notification goes out before the job's end is saved and its H(e)NB freed (the outbox);
    // with the store's group commit that save waits a little longer, and an NMS answering the notification at once
    // (test/oam-plugin/e2e-reference-values: an integrity-request right after a verified update) got henb-busy
    await seed('n1');
    const r = runner();
    let next: Promise<unknown> | undefined;
    const result = events.result.bind(events);
    events.result = (job: Job): void => {
      result(job);
      next ??= r.start({ henbId: 'n1', request: REQUEST }).then((j) => j.jobId, (e: unknown) => e);
    };
    const first = await r.start({ henbId: 'n1', request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    await r.idle();
    expect(events.results().map((x) => x.state)).toEqual(['verified']);
    const second = await next;
    expect(second).toEqual(expect.stringMatching(/^job-/));
    expect(second).not.toBe(first.jobId);
    expect((await store.getJob<Job>(first.jobId))?.terminal).toBe(true);
  });

  it('completion by RPC: unknown job, wrong H(e)NB, and a good one', async () => {
    await seed('k1', undefined, 'slow');
    const r = runner();
    const job = await r.start({ henbId: 'k1', request: REQUEST });
    await r.idle();
    await expect(r.complete({ henbId: 'k1', jobId: 'nope', status: 'completed', tim: EXPECTED })).rejects.toMatchObject({ code: 'ERR_OAM_JOB_UNKNOWN' });
    await expect(r.complete({ henbId: 'zz', jobId: job.jobId, status: 'completed', tim: EXPECTED })).rejects.toMatchObject({ code: 'ERR_OAM_HENB_MISMATCH' });
    // issue 10: the expected RIM alone (public in /hsv:jobs) no longer completes a job; the device's signature does
    await expect(r.complete({ henbId: 'k1', jobId: job.jobId, status: 'completed', tim: EXPECTED, selfCheck: 'passed' }))
      .rejects.toMatchObject({ code: 'ERR_OAM_EVIDENCE_REQUIRED', appTag: 'evidence-required' });
    const nonce = (await store.getJob<Job>(job.jobId))!.data.updateNonce!;
    const done = await r.complete(signedCompletion({ henbId: 'k1', jobId: job.jobId, status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG, selfCheck: 'passed' }, nonce));
    expect(done.state).toBe('verified');
    expect((await store.getHenb('k1'))?.rim).toBe(EXPECTED);
  });

  it('a failing database write: the event is not applied and no effect runs', async () => {
    await seed('d1');
    const r = runner();
    store.failNextSave = true;
    // start() answers once the job is inserted; its first step (the start transition) fails after that
    const job = await r.start({ henbId: 'd1', request: REQUEST });
    expect(job.state).toBe('created');
    await r.idle();
    expect(pve.calls).toEqual([]);
    // the half-started job is recorded as failed, and the H(e)NB is free for the next request
    const [rec] = await store.listJobs<Job>();
    expect(rec).toMatchObject({ jobId: job.jobId, state: 'failed', terminal: true, data: { result: { reason: 'job could not start (ERR_STORE_OPEN)' } } });
    expect(r.activeJobFor('d1')).toBeUndefined();
    expect(await r.resume()).toEqual([]);
    const next = await r.start({ henbId: 'd1', request: REQUEST });
    await vi.waitFor(() => expect(pve.calls).toHaveLength(1));
    expect(r.activeJobFor('d1')).toBe(next.jobId);
  });

  it("start() answers once the job is stored, without waiting for its first step's notification and PVE request", async () => {
    await seed('d1');
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const progress = events.progress.bind(events);
    events.progress = async (...args): Promise<void> => { await held; progress(...args); };
    const r = runner();
    try {
      const job = await r.start({ henbId: 'd1', request: REQUEST });
      expect(job.state).toBe('created');
      // the start transition is stored after start() answered ...
      await vi.waitFor(async () => expect((await store.getJob(job.jobId))?.state).toBe('pve-requested'));
      expect(pve.calls).toEqual([]); // ... and its progress notification is still held, so no PVE request yet
    } finally {
      release();
    }
    await vi.waitFor(() => expect(pve.calls).toHaveLength(1));
  });
});

describe('runner: restart', () => {
  it('crash while waiting for the completion: the new runner resumes and verifies, update sent once', async () => {
    await seed('h1', undefined, 'slow');
    const r1 = runner();
    const job = await r1.start({ henbId: 'h1', request: REQUEST });
    await r1.idle();
    expect((await store.getJob(job.jobId))?.state).toBe('awaiting-completion');
    await r1.close(); // "crash": the in-memory runner is gone, the store stays
    expect(devices.listenerCount).toBe(0);

    const r2 = runner();
    expect(await r2.resume()).toEqual([job.jobId]);
    await r2.idle();
    expect((await store.getJob(job.jobId))?.state).toBe('awaiting-completion');
    // the driver is asked to deliver completions sent since the software-update (replay)
    expect(devices.resumed).toEqual([{ henbId: 'h1', jobId: job.jobId, since: T0 }]);
    devices.emit(signedCompletion({ henbId: 'h1', jobId: job.jobId, status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG }, (await store.getJob<Job>(job.jobId))!.data.updateNonce!));
    await r2.idle();
    expect((await store.getJob(job.jobId))?.state).toBe('verified');
    expect(devices.updates).toHaveLength(1);
    expect(events.results()).toHaveLength(1);
  });

  it('crash while waiting: the original deadline still holds after the restart', async () => {
    await seed('h2', undefined, 'slow');
    const r1 = runner();
    const job = await r1.start({ henbId: 'h2', request: REQUEST });
    await r1.idle();
    await vi.advanceTimersByTimeAsync(3000);
    await r1.close();
    const r2 = runner();
    await r2.resume();
    await vi.advanceTimersByTimeAsync(1001);
    await r2.idle();
    expect((await store.getJob(job.jobId))?.state).toBe('timeout');
  });

  it('crash between persisting update-sending and the device ack: failed with a reason, never resent', async () => {
    await seed('h3', undefined, 'no-ack');
    const r1 = runner();
    const job = await r1.start({ henbId: 'h3', request: REQUEST });
    await vi.advanceTimersByTimeAsync(10);
    const before = await store.getJob<Job>(job.jobId);
    expect(before?.state).toBe('update-sending');
    expect(before?.updateSent).toBe(true);
    await r1.close();

    devices.profiles.set('h3', 'healthy');
    const r2 = runner();
    await r2.resume();
    await vi.advanceTimersByTimeAsync(10_000);
    await r2.idle();
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec?.state).toBe('failed');
    expect(rec?.data.result?.reason).toContain('not resent');
    expect(devices.updates).toHaveLength(1);
    expect((await store.getHenb('h3'))?.state).toBe('quarantined');
  });

  it('crash while asking the PVE: asked again with a fresh nonce, then completes', async () => {
    await seed('h4', 'hang');
    const r1 = runner();
    const job = await r1.start({ henbId: 'h4', request: REQUEST });
    await vi.advanceTimersByTimeAsync(10);
    await r1.close();
    pve.behaviour.set('h4', 'affirming');
    const r2 = runner();
    await r2.resume();
    await vi.advanceTimersByTimeAsync(600);
    await r2.idle();
    expect((await store.getJob(job.jobId))?.state).toBe('verified');
    const preUpdate = pve.calls.filter((c) => c.completion === undefined);
    expect(preUpdate).toHaveLength(2);
    expect(preUpdate[0]?.nonce).not.toBe(preUpdate[1]?.nonce);
    // the completion was appraised once, over the job's update nonce (not a PVE nonce)
    expect(pve.calls.filter((c) => c.completion !== undefined).map((c) => c.nonce)).toEqual([(await store.getJob<Job>(job.jobId))!.data.updateNonce]);
    expect(devices.updates).toHaveLength(1);
  });

  /** a bad-install update whose final state is stored and whose result is not delivered (its runner still open) */
  async function undelivered(henbId: string): Promise<{ r1: JobRunner; job: Job }> {
    await seed(henbId, undefined, 'bad-install');
    store.failSaveWhen = (_state, reason) => reason === 'result delivered';
    const r1 = runner();
    const job = await r1.start({ henbId, request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    await r1.idle().catch(() => undefined);
    return { r1, job };
  }

  it('two resume() at once deliver a result left undelivered once (the tokens are read between the check and the take)', async () => {
    const { r1, job } = await undelivered('h7');
    await r1.close();
    store.failSaveWhen = undefined;
    const before = events.results().length;
    const r2 = runner();
    const resumed = await Promise.all([r2.resume(), r2.resume()]);
    await r2.idle();
    expect(resumed.flat()).toEqual([job.jobId]);
    expect(events.results().length).toBe(before + 1);
    expect(await store.getJob(job.jobId)).toMatchObject({ state: 'mismatch', terminal: true });
  });

  it('crash after the final state was stored but before its result was delivered: the new runner delivers it, rollback asked once', async () => {
    const { r1, job } = await undelivered('h6');
    const mid = await store.getJob<Job>(job.jobId);
    expect(mid).toMatchObject({ state: 'mismatch', terminal: false });
    expect(mid?.data.outbox?.map((e) => e.type)).toContain('emit-result');
    expect(mid?.data.rollbackSent).toBe(true);
    expect(devices.rollbacks).toHaveLength(1);
    await r1.close();
    store.failSaveWhen = undefined;
    const before = events.results().length;

    const r2 = runner();
    expect(await r2.resume()).toEqual([job.jobId]);
    await r2.idle();
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec).toMatchObject({ state: 'mismatch', terminal: true });
    expect(rec?.data.outbox).toBeUndefined();
    expect(events.results().length).toBe(before + 1);
    // the result delivered after the restart carries the final token its result row kept (the job's JSON has none)
    expect(mid?.data.result?.token).toBeUndefined();
    const final = (await store.getResults(job.jobId)).find((x) => x.kind === 'final');
    expect(events.results().at(-1)?.job.result?.token).toEqual(final?.token);
    expect(final?.token).toEqual(expect.any(String));
    expect(devices.rollbacks).toHaveLength(1);
    expect(devices.updates).toHaveLength(1);
    expect(await store.listActiveJobs()).toEqual([]);
  });

  it('finished jobs are not resumed', async () => {
    await seed('h5', 'contraindicated');
    const r1 = runner();
    await r1.start({ henbId: 'h5', request: REQUEST });
    await r1.idle();
    await r1.close();
    const r2 = runner();
    expect(await r2.resume()).toEqual([]);
  });
});

describe('runner: reference values follow the update (issue 10 item 4)', () => {
  it('after a verified update the PVE gets the signed reference values before the result, and its next check affirms', async () => {
    await seed('rv1');
    // the PVE accepts only the factory rootfs and what the OAM provides (as the reference PVE does)
    const accepted = new Set([BASE_LOG.find((e) => e.component === 'rootfs')!.digest]);
    pve.logOf = (id) => devices.logOf(id);
    pve.acceptRootfs = accepted;
    const provideOriginal = pve.provideReferenceValues.bind(pve);
    pve.provideReferenceValues = async (jws) => {
      await provideOriginal(jws);
      const input = JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString()) as { values: Array<{ component: string; digest: string }> };
      for (const v of input.values) if (v.component === 'rootfs') accepted.add(v.digest);
    };
    const r = runner();
    const job = await r.start({ henbId: 'rv1', request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    await r.idle();
    expect((await store.getJob<Job>(job.jobId))?.state).toBe('verified');
    // what was signed: the verified log's components, the updated one with the version the device reports
    expect(tokens.referenceValues).toEqual([{ henbId: 'rv1', jobId: job.jobId, values: GOOD_LOG.map((e) => ({
      component: e.component, digest: e.digest, ...(e.component === 'rootfs' && e.digest === SW_RIM ? { version: '2.0.0' } : {}) })) }]);
    expect(pve.provided).toHaveLength(1);
    const texts = events.list.map((e) => `${e.kind}:${e.text ?? ''}`);
    const provided = texts.findIndex((t) => t.includes('new reference values provided to the PVE'));
    expect(provided).toBeGreaterThan(-1);
    expect(provided).toBeLessThan(texts.findIndex((t) => t.startsWith('result:')));
    expect(events.list.filter((e) => e.kind === 'alarm')).toHaveLength(0);
    // and the audit log says which values the PVE took
    expect(store.audit.filter((a) => a.action === 'reference-values-provided').map((a) => [a.object, JSON.parse(a.details)])).toEqual([
      ['henb/rv1', { jobId: job.jobId, values: tokens.referenceValues[0]!.values, accepted: true }]]);
    // the integrity check right after: affirming (contraindicated without the provided values)
    const check = await r.check('rv1', {});
    expect(check.state).toBe('verified');
    expect(check.pve?.earStatus).toBe('affirming');
  });

  it('without the provided values the check right after the update is contraindicated (the defect this fixes)', async () => {
    await seed('rv2');
    pve.logOf = (id) => devices.logOf(id);
    pve.acceptRootfs = new Set([BASE_LOG.find((e) => e.component === 'rootfs')!.digest]);
    pve.provideFails = 'reference-values-untrusted';
    const r = runner();
    const job = await r.start({ henbId: 'rv2', request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    await r.idle();
    // the update stays verified; the operator is told that the PVE did not take the values
    expect((await store.getJob<Job>(job.jobId))?.state).toBe('verified');
    expect(events.list.some((e) => e.kind === 'progress' && e.text === 'new reference values not provided to the PVE (ERR_PVE_REJECTED)')).toBe(true);
    expect(events.list.filter((e) => e.kind === 'alarm').map((e) => e.text)).toEqual([
      `the PVE did not take the reference values of H(e)NB rv2 after job ${job.jobId} (ERR_PVE_REJECTED): its next integrity check may not affirm the verified software`,
    ]);
    expect(store.audit.filter((a) => a.action === 'reference-values-provided').map((a) => JSON.parse(a.details) as unknown))
      .toEqual([expect.objectContaining({ jobId: job.jobId, accepted: false, code: 'ERR_PVE_REJECTED' })]);
    const check = await r.check('rv2', {});
    expect(check.pve?.earStatus).toBe('contraindicated');
  });

  it('a PVE client that signs the values itself (signAndProvideReferenceValues) is given them unsigned; the tokens port signs nothing', async () => {
    await seed('rv4');
    const given: Array<{ henbId: string; jobId: string; values: unknown[] }> = [];
    const port = pve as PveClient;
    port.signAndProvideReferenceValues = async (values) => {
      given.push(values);
    };
    try {
      const r = runner();
      const job = await r.start({ henbId: 'rv4', request: REQUEST });
      await vi.advanceTimersByTimeAsync(600);
      await r.idle();
      expect((await store.getJob<Job>(job.jobId))?.state).toBe('verified');
      expect(given).toEqual([{ henbId: 'rv4', jobId: job.jobId, values: GOOD_LOG.map((e) => ({
        component: e.component, digest: e.digest, ...(e.component === 'rootfs' && e.digest === SW_RIM ? { version: '2.0.0' } : {}) })) }]);
      expect(tokens.referenceValues).toEqual([]);
      expect(pve.provided).toEqual([]);
      expect(store.audit.filter((a) => a.action === 'reference-values-provided').map((a) => JSON.parse(a.details) as unknown))
        .toEqual([expect.objectContaining({ jobId: job.jobId, accepted: true })]);
    } finally {
      delete port.signAndProvideReferenceValues;
    }
  });

  it('a mismatch provides nothing', async () => {
    await seed('rv3', undefined, 'bad-install');
    const r = runner();
    await r.start({ henbId: 'rv3', request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    await r.idle();
    expect(tokens.referenceValues).toEqual([]);
    expect(pve.provided).toEqual([]);
  });
});

describe('runner: the rollback is checked with fresh evidence (issue 10 item 5)', () => {
  it('the device back on the stored RIM: rollback verified, recorded with the PVE token, no second alarm', async () => {
    await seed('rb1', undefined, 'bad-install');
    pve.logOf = (id) => devices.logOf(id);
    const r = runner();
    const job = await r.start({ henbId: 'rb1', request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    await r.idle();
    expect((await store.getJob<Job>(job.jobId))?.state).toBe('mismatch');
    expect(devices.rollbacks).toHaveLength(1);
    // a fresh integrity request (not the update's nonce) after the rollback
    const after = pve.calls.filter((c) => c.completion === undefined);
    expect(after).toHaveLength(2);
    expect(after[1]!.nonce).not.toBe(after[0]!.nonce);
    expect(events.list.some((e) => e.kind === 'progress' && e.text === `rollback verified: the H(e)NB's fresh evidence gives the stored RIM ${OLD_RIM}`)).toBe(true);
    const rec = (await store.getResults(job.jobId)).find((x) => x.kind === 'rollback-check');
    expect(rec).toMatchObject({ earStatus: 'affirming', henbId: 'rb1' });
    expect(decodeFake(rec!.token).submods.platform?.['reported-tim']).toBe(OLD_RIM);
    // the mismatch's alarm only
    expect(events.list.filter((e) => e.kind === 'alarm')).toHaveLength(1);
    expect(await store.getHenb('rb1')).toMatchObject({ rim: OLD_RIM, state: 'quarantined' });
  });

  it('a device that accepts the rollback but still runs the bad install: asked again, then an alarm (was: nothing checked it)', async () => {
    await seed('rb2', undefined, 'bad-install');
    pve.logOf = (id) => devices.logOf(id);
    devices.rollbackIneffective = true;
    const r = runner();
    const job = await r.start({ henbId: 'rb2', request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    await r.idle();
    expect(events.list.filter((e) => e.kind === 'alarm')).toHaveLength(1);
    // within the completion timeout (4000 ms): attempts at +0, +2000 (the next, +4000 later, is past it)
    await vi.advanceTimersByTimeAsync(2100);
    await r.idle();
    const checks = pve.calls.filter((c) => c.completion === undefined).slice(1);
    expect(checks).toHaveLength(2);
    const alarms = events.list.filter((e) => e.kind === 'alarm').map((e) => e.text);
    expect(alarms).toHaveLength(2);
    expect(alarms[1]).toMatch(new RegExp(`^H\\(e\\)NB rb2 job ${job.jobId}: the rollback is not confirmed by fresh evidence after 2 attempt\\(s\\): the H\\(e\\)NB reports TIM [0-9a-f]{64}, not the stored RIM ${OLD_RIM}$`));
    expect((await store.getResults(job.jobId)).find((x) => x.kind === 'rollback-check')).toMatchObject({ earStatus: 'contraindicated' });
    expect(events.list.some((e) => e.kind === 'progress' && e.text?.startsWith('rollback not verified: the H(e)NB reports TIM'))).toBe(true);
  });

  it('the PVE unreachable after the rollback: no fresh evidence, alarm naming it', async () => {
    await seed('rb3', undefined, 'bad-install');
    const r = runner();
    await r.start({ henbId: 'rb3', request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    await r.idle();
    pve.behaviour.set('rb3', 'henb-unreachable');
    await vi.advanceTimersByTimeAsync(2100);
    await r.idle();
    const alarms = events.list.filter((e) => e.kind === 'alarm').map((e) => e.text);
    expect(alarms[1]).toMatch(/the rollback is not confirmed by fresh evidence after 2 attempt\(s\): no fresh evidence: the H\(e\)NB is unreachable \(ERR_PVE_REJECTED\)$/);
  });
});

describe('runner: policy require-signed-software (issue 10 item 4)', () => {
  it('the manifest check runs after the digest, before any software-update; a refusal fails the job with its reason, device untouched', async () => {
    await seed('sw1');
    const seen: Array<{ uri: string; sha256: string; component: string; version?: string }> = [];
    const r = new JobRunner({
      store, pve, devices, fetcher, tokens, events, timeouts: TIMEOUTS, newNonce: () => (nonceSeq++).toString(16).padStart(64, '0'),
      softwareManifest: { check: async (req) => { seen.push(req); throw Object.assign(new HsvError('ERR_SOFTWARE_MANIFEST_UNTRUSTED', 'the software manifest is not signed by a configured vendor key')); } },
    });
    runners.push(r);
    const job = await r.start({ henbId: 'sw1', request: REQUEST });
    await vi.advanceTimersByTimeAsync(600);
    await r.idle();
    expect(seen).toEqual([{ uri: REQUEST.uri, sha256: SW_RIM, component: 'rootfs', version: '2.0.0' }]);
    const rec = await store.getJob<Job>(job.jobId);
    expect(rec?.state).toBe('failed');
    expect(rec?.data.result?.reason).toBe('software not signed as required (require-signed-software): the software manifest is not signed by a configured vendor key (ERR_SOFTWARE_MANIFEST_UNTRUSTED); software-update not sent');
    expect(devices.updates).toEqual([]);
    expect(await store.getHenb('sw1')).toMatchObject({ rim: OLD_RIM, state: 'trusted' });
  });
});
