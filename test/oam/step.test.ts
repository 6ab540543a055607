/**
 * A job step's signal (src/oam/job-queues.ts Step, issue 15): made only when a call takes it, its abort reason only
 * when a signal has it; a call of an ended step gets its signal aborted, with the reason of the first abort.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Step } from '../../src/oam/job-queues.js';
import { OamError } from '../../src/oam/errors.js';
import { JobRunner } from '../../src/oam/runner.js';
import type { PveClient, SoftwareFetcher } from '../../src/oam/ports.js';
import type { OamEvents } from '../../src/oam/runner-options.js';
import type { Job, JobRequest } from '../../src/oam/transition.js';
import { FakeDevices, FakeFetcher, FakePve, FakeTokens, MemoryStore } from './fakes.js';
import { OLD_RIM, T0 } from './helpers.js';

describe('Step', () => {
  it('an abort before any call makes no reason; a signal taken after it is aborted with it', () => {
    const step = new Step();
    const reason = vi.fn(() => new OamError('ERR_OAM_STEP_ENDED', 'step ended'));
    step.abort(reason);
    expect(reason).not.toHaveBeenCalled();
    const signal = step.signal;
    expect(signal.aborted).toBe(true);
    expect((signal.reason as OamError).code).toBe('ERR_OAM_STEP_ENDED');
    expect(step.signal).toBe(signal);
    expect(reason).toHaveBeenCalledTimes(1);
  });

  it('a signal taken before the abort: one signal for every call, aborted with the reason of the first abort', () => {
    const step = new Step();
    const signal = step.signal;
    expect(step.signal).toBe(signal);
    expect(signal.aborted).toBe(false);
    const onAbort = vi.fn();
    signal.addEventListener('abort', onAbort);
    step.abort(() => new OamError('ERR_OAM_LEASE_LOST', 'lost'));
    const later = vi.fn(() => new OamError('ERR_OAM_CLOSED', 'closed'));
    step.abort(later);
    expect(onAbort).toHaveBeenCalledTimes(1);
    expect((signal.reason as OamError).code).toBe('ERR_OAM_LEASE_LOST');
    expect(later).not.toHaveBeenCalled();
  });

  it('the first abort wins also when the signal is taken after both', () => {
    const step = new Step();
    step.abort(() => new OamError('ERR_OAM_STEP_ENDED', 'step ended'));
    step.abort(() => new OamError('ERR_OAM_CLOSED', 'closed'));
    expect((step.signal.reason as OamError).code).toBe('ERR_OAM_STEP_ENDED');
  });
});

describe('runner: step signals', () => {
  const REQUEST: JobRequest = { uri: 'https://images.example/2.0.0.img', version: '2.0.0', selfCheck: true, measures: ['alarm'] };
  const events: OamEvents = { progress: () => undefined, alarm: () => undefined, result: () => undefined };
  let made: number;

  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
    made = 0;
    const Original = globalThis.AbortController;
    vi.stubGlobal('AbortController', class extends Original {
      constructor() {
        super();
        made++;
      }
    });
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it('a verified update makes an AbortController only for the signals its calls take; each step\'s is aborted when the step ends', async () => {
    const store = new MemoryStore();
    const pve = new FakePve();
    const devices = new FakeDevices();
    const fetcher = new FakeFetcher();
    // every signal the runner hands to a port, in order
    const seen: AbortSignal[] = [];
    const ask = pve.integrityRequest.bind(pve);
    pve.integrityRequest = (req, signal) => { seen.push(signal); return ask(req, signal); };
    const provide = pve.provideReferenceValues.bind(pve);
    (pve as PveClient).provideReferenceValues = (jws: string, signal: AbortSignal) => { seen.push(signal); return provide(jws); };
    const send = devices.softwareUpdate.bind(devices);
    devices.softwareUpdate = (henbId, cmd, signal) => { seen.push(signal); return send(henbId, cmd, signal); };
    const fetch = fetcher.fetchAndDigest.bind(fetcher);
    (fetcher as SoftwareFetcher).fetchAndDigest = (uri: string, signal: AbortSignal) => { seen.push(signal); return fetch(uri); };
    await store.putHenb({ henbId: 'h1', rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
    const r = new JobRunner({
      store, pve, devices, fetcher, tokens: new FakeTokens(), events, timeouts: { pve: 1000, fetch: 2000, send: 3000, completion: 4000 },
      newNonce: (() => { let n = 1; return () => (n++).toString(16).padStart(64, '0'); })(),
    });
    try {
      const job = await r.start({ henbId: 'h1', request: REQUEST });
      await vi.advanceTimersByTimeAsync(600);
      await r.idle();
      expect((await store.getJob<Job>(job.jobId))?.state).toBe('verified');
    } finally {
      await r.close();
    }
    // pre-update PVE request, fetch, software-update (the step signals); the completion's appraisal and the new
    // reference values (bounded calls, a signal each)
    expect(seen).toHaveLength(5);
    const distinct = new Set(seen);
    expect(distinct.size).toBe(5);
    // before: one AbortController per transition (5) besides the bounded calls' (7 in all)
    expect(made).toBe(distinct.size);
    for (const s of seen.slice(0, 3)) {
      expect((s.reason as OamError | undefined)?.code).toBe('ERR_OAM_STEP_ENDED');
      // a reason only: made without a stack
      expect((s.reason as OamError).stack).toBe('OamError: step ended');
    }
  });
});
