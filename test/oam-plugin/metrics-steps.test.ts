/**
 * The step durations of a final job (hsv_job_step_duration_seconds; src/oam-plugin/metrics.ts observeResult) from
 * the saved states the runner kept (OamEvents.result's `saved`) are the ones the job's events in the store give
 * (the computation before issue 15, still the one for a job resumed here), on the same job, for every way a job
 * ends; and with `saved` the store is not read.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { metrics } from '../../src/metrics/index.js';
import { observeResult } from '../../src/oam-plugin/metrics.js';
import { JobRunner } from '../../src/oam/runner.js';
import type { OamEvents, SavedState } from '../../src/oam/index.js';
import type { Job, JobRequest } from '../../src/oam/transition.js';
import type { Store } from '../../src/store/index.js';
import { FakeDevices, FakeFetcher, FakePve, FakeTokens, MemoryStore, seedHenb, signedCompletion } from '../oam/fakes.js';
import type { DeviceProfile, PveBehaviour } from '../oam/fakes.js';
import { EXPECTED, GOOD_LOG, T0 } from '../oam/helpers.js';

const REQUEST: JobRequest = { uri: 'https://images.example/2.0.0.img', version: '2.0.0', selfCheck: true, measures: ['alarm', 'rollback'] };
const TIMEOUTS = { pve: 1000, fetch: 2000, send: 3000, completion: 4000 };

let store: MemoryStore;
let pve: FakePve;
let devices: FakeDevices;
let runners: JobRunner[];
let results: Array<{ job: Job; saved: readonly SavedState[] | undefined }>;

const events: OamEvents = {
  progress: () => undefined,
  // a copy: the runner's list goes on with the saves after the result (the outbox delivered)
  result: (job, saved) => { results.push({ job, saved: saved === undefined ? undefined : [...saved] }); },
  alarm: () => undefined,
};

let nonceSeq = 0;

function runner(maxActiveJobs?: number): JobRunner {
  const r = new JobRunner({
    store, pve, devices, fetcher: new FakeFetcher(), tokens: new FakeTokens(), events, timeouts: TIMEOUTS,
    newNonce: () => (nonceSeq++).toString(16).padStart(64, '0'),
    newJobId: (() => { let i = 0; return () => `job-${runners.length}-${++i}`; })(),
    ...(maxActiveJobs !== undefined ? { maxActiveJobs } : {}),
  });
  runners.push(r);
  return r;
}

const seed = (henbId: string, pveB?: PveBehaviour, dev?: DeviceProfile): Promise<void> => seedHenb({ store, pve, devices }, henbId, pveB, dev);

/** the observations observeResult makes for `job` (its own counter aside) */
async function observed(s: Store, job: Job, saved?: readonly SavedState[]): Promise<Array<[string, string, number]>> {
  const spy = vi.spyOn(metrics.stepDuration, 'observe');
  try {
    await observeResult(s, job, saved);
    return spy.mock.calls.map((c) => {
      const [labels, seconds] = c as unknown as [{ kind: string; state: string }, number];
      return [labels.kind, labels.state, seconds];
    });
  } finally {
    spy.mockRestore();
  }
}

/** a store that refuses to be read: observeResult with `saved` must not need it */
const unreadable = new Proxy({}, { get: (_t, prop) => () => { throw new Error(`store.${String(prop)} read`); } }) as unknown as Store;

/** each result: the durations from `saved` equal the ones from the store's events; returns the states observed */
async function sameAsFromTheStore(): Promise<string[][]> {
  expect(results.length).toBeGreaterThan(0);
  const states: string[][] = [];
  for (const { job, saved } of results) {
    const fromStore = await observed(store, job);
    expect(fromStore.length).toBeGreaterThan(0);
    if (saved === undefined) {
      states.push(['(read from the store)', ...fromStore.map(([, s]) => s)]);
      continue;
    }
    expect(await observed(unreadable, job, saved)).toEqual(fromStore);
    // what the runner kept is the job's events as stored, up to the result
    const stored = (await store.listJobEvents(job.jobId)).map((e) => ({ toState: e.toState, at: e.at }));
    expect(stored.slice(0, saved.length)).toEqual(saved);
    states.push(fromStore.map(([, s]) => s));
  }
  return states;
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
  store = new MemoryStore();
  pve = new FakePve();
  devices = new FakeDevices();
  runners = [];
  results = [];
});

afterEach(async () => {
  for (const r of runners) await r.close();
  vi.useRealTimers();
});

describe('metrics: step durations from the saved states the runner kept', () => {
  it('verified, refused, mismatch, failed and timed-out updates', async () => {
    await seed('ok');
    await seed('bad', 'contraindicated');
    await seed('mis', undefined, 'bad-install');
    await seed('unr', undefined, 'unreachable');
    await seed('slow', undefined, 'slow');
    const r = runner();
    for (const henbId of ['ok', 'bad', 'mis', 'unr', 'slow']) {
      await r.start({ henbId, request: REQUEST });
      await vi.advanceTimersByTimeAsync(37); // the states last different times
    }
    await vi.advanceTimersByTimeAsync(4001);
    await r.idle();
    expect(results.map((x) => x.job.state).sort()).toEqual(['failed', 'mismatch', 'refused', 'timeout', 'verified']);
    const states = await sameAsFromTheStore();
    expect(states).toContainEqual(['created', 'pve-requested', 'fetching', 'update-sending', 'awaiting-completion']);
  });

  it('an integrity check', async () => {
    await seed('ic');
    const r = runner();
    await r.check('ic', {});
    await r.idle();
    expect(results.map((x) => [x.job.kind, x.job.state])).toEqual([['integrity-check', 'verified']]);
    expect(results[0]?.saved).toBeDefined();
    await sameAsFromTheStore();
  });

  it('a job that waited for a slot (admitted at its first version)', async () => {
    await seed('w1', undefined, 'slow');
    await seed('w2');
    const r = runner(1);
    await r.start({ henbId: 'w1', request: REQUEST });
    await r.start({ henbId: 'w2', request: REQUEST }); // waits (created) until w1 ends
    await vi.advanceTimersByTimeAsync(4001);
    await r.idle();
    await vi.advanceTimersByTimeAsync(600);
    await r.idle();
    expect(results.map((x) => x.job.state)).toEqual(['timeout', 'verified']);
    expect(results.every((x) => x.saved !== undefined)).toBe(true);
    await sameAsFromTheStore();
  });

  it('a job resumed after a restart has no saved states: its events are read from the store', async () => {
    await seed('h1', undefined, 'slow');
    const r1 = runner();
    const job = await r1.start({ henbId: 'h1', request: REQUEST });
    await r1.idle();
    await r1.close();
    const r2 = runner();
    expect(await r2.resume()).toEqual([job.jobId]);
    await r2.idle();
    devices.emit(signedCompletion({ henbId: 'h1', jobId: job.jobId, status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG }, (await store.getJob<Job>(job.jobId))!.data.updateNonce!));
    await r2.idle();
    expect(results.map((x) => [x.job.state, x.saved])).toEqual([['verified', undefined]]);
    expect(await sameAsFromTheStore()).toEqual([['(read from the store)', 'created', 'pve-requested', 'fetching', 'update-sending', 'awaiting-completion']]);
  });
});
