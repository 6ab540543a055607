/**
 * Bounded admission (src/oam/admission.ts, issue 15: memory that does not grow with the number of submitted jobs):
 * at most maxActiveJobs jobs are driven at once, the others wait as compact records (no Live entry, no PVE request,
 * no nonce) and start in submission order as driven jobs end; integrity checks go first; a job that waited gets its
 * PVE nonce when it is admitted; after a restart, never-started jobs wait the same way.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Admission } from '../../src/oam/admission.js';
import { JobRunner } from '../../src/oam/runner.js';
import type { OamEvents } from '../../src/oam/runner-options.js';
import type { PveIntegrityRequest } from '../../src/oam/ports.js';
import type { Job, JobRequest } from '../../src/oam/transition.js';
import { FakeDevices, FakeFetcher, FakePve, FakeTokens, MemoryStore } from './fakes.js';
import { OLD_RIM, T0 } from './helpers.js';

const REQUEST: JobRequest = { uri: 'https://images.example/2.0.0.img', version: '2.0.0', selfCheck: true, measures: ['alarm'] };
const TIMEOUTS = { pve: 3_600_000, fetch: 60_000, send: 60_000, completion: 60_000 };

/** A PVE whose pre-update verdicts wait until released; counts the requests in flight (most at once). */
class GatedPve extends FakePve {
  /** every pre-update request, as it arrived (before the gate) */
  asked: PveIntegrityRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** the runner's driven jobs at each pre-update request (a probe the test sets) */
  activeSeen: number[] = [];
  probe: (() => number) | undefined;
  private gate: { promise: Promise<void>; open: () => void };
  constructor() {
    super('affirming');
    this.gate = gate();
  }
  release(): void {
    this.gate.open();
  }
  override async integrityRequest(req: PveIntegrityRequest, signal: AbortSignal): Promise<{ token: string }> {
    if (req.completion !== undefined) return super.integrityRequest(req, signal);
    this.asked.push(req);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (this.probe) this.activeSeen.push(this.probe());
    try {
      await this.gate.promise;
      return await super.integrityRequest(req, signal);
    } finally {
      this.inFlight--;
    }
  }
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => { open = r; });
  return { promise, open };
}

const events: OamEvents = { progress: () => undefined, result: () => undefined, alarm: () => undefined };

let store: MemoryStore;
let pve: GatedPve;
let devices: FakeDevices;
let runners: JobRunner[];
let nonceSeq: number;

function runner(maxActiveJobs: number): JobRunner {
  const r = new JobRunner({
    store, pve, devices, fetcher: new FakeFetcher(), tokens: new FakeTokens(), events, timeouts: TIMEOUTS, maxActiveJobs,
    newNonce: () => (nonceSeq++).toString(16).padStart(64, '0'),
    newJobId: (() => { let i = 0; return () => `job-${runners.length}-${String(++i).padStart(3, '0')}`; })(),
  });
  runners.push(r);
  pve.probe = () => r.load().active;
  return r;
}

async function seed(n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `h${String(i + 1).padStart(3, '0')}`);
  for (const henbId of ids) await store.putHenb({ henbId, rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
  return ids;
}

/** let the jobs run until nothing is pending (fake timers: the simulated install and the like) */
async function settle(r: JobRunner): Promise<void> {
  for (let i = 0; i < 50; i++) {
    await vi.advanceTimersByTimeAsync(1000);
    await r.idle();
    if (r.load().active === 0 && r.load().waiting === 0) return;
  }
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
  store = new MemoryStore();
  pve = new GatedPve();
  devices = new FakeDevices();
  runners = [];
  nonceSeq = 1;
});

afterEach(async () => {
  pve.release();
  for (const r of runners) await r.close();
  vi.useRealTimers();
});

describe('Admission (the slot counter)', () => {
  it('reserves at most max slots, in order, integrity checks first', () => {
    let live = 0;
    const a = new Admission(2, () => live);
    expect(a.tryReserve()).toBe(true);
    expect(a.tryReserve()).toBe(true);
    expect(a.tryReserve()).toBe(false);
    a.enqueue({ jobId: 'u1', henbId: 'a' });
    a.enqueue({ jobId: 'u2', henbId: 'b' });
    a.enqueue({ jobId: 'c1', henbId: 'c' }, true);
    a.settled();
    a.settled();
    live = 2;
    expect(a.next()).toBeUndefined();
    // a free slot: an update waits, so a new update queues behind it; a check may take it (it goes first anyway)
    live = 1;
    expect(a.tryReserve()).toBe(false);
    expect(a.next()?.jobId).toBe('c1');
    expect(a.next()).toBeUndefined();
    a.settled();
    live = 0;
    expect([a.next()?.jobId, a.next()?.jobId, a.next()]).toEqual(['u1', 'u2', undefined]);
    expect(a.waiting).toBe(0);
    expect(() => new Admission(0, () => 0)).toThrow(RangeError);
  });

  it('keeps a long queue compact (the consumed head is dropped)', () => {
    const a = new Admission(1, () => 0);
    for (let i = 0; i < 5000; i++) a.enqueue({ jobId: `j${i}`, henbId: `h${i}` });
    for (let i = 0; i < 4000; i++) {
      expect(a.next()?.jobId).toBe(`j${i}`);
      a.settled();
    }
    expect(a.waiting).toBe(1000);
    expect(a.clear()).toHaveLength(1000);
  });
});

describe('runner: bounded admission', () => {
  it('40 submitted, at most 4 driven at once: the others wait without a PVE request or a nonce; all end verified, in order', async () => {
    const ids = await seed(40);
    const r = runner(4);
    const jobs: Job[] = [];
    for (const henbId of ids) jobs.push(await r.start({ henbId, request: REQUEST }));
    await vi.advanceTimersByTimeAsync(10);
    // every job is stored and holds its H(e)NB; 4 are driven, 36 wait as records
    expect(r.load()).toEqual({ active: 4, waiting: 36, max: 4 });
    expect(pve.asked).toHaveLength(4);
    expect([...store.d.jobs.values()].filter((j) => j.state === 'created')).toHaveLength(36);
    expect([...store.d.nonces.values()].filter((n) => n.purpose === 'pve-integrity')).toHaveLength(4);
    for (const henbId of ids) expect(r.activeJobFor(henbId)).toBeDefined();
    await expect(r.start({ henbId: ids[39]!, request: REQUEST })).rejects.toMatchObject({ code: 'ERR_OAM_HENB_BUSY' });
    pve.release();
    await settle(r);
    expect(pve.maxInFlight).toBeLessThanOrEqual(4);
    expect(Math.max(...pve.activeSeen)).toBeLessThanOrEqual(4);
    const states = await Promise.all(jobs.map(async (j) => (await store.getJob<Job>(j.jobId))?.state));
    expect(states).toEqual(jobs.map(() => 'verified'));
    // the PVE saw the jobs in submission order
    expect(pve.asked.map((c) => c.jobId)).toEqual(jobs.map((j) => j.jobId));
    expect(r.load()).toEqual({ active: 0, waiting: 0, max: 4 });
  });

  it('an integrity check goes before the waiting updates', async () => {
    const ids = await seed(6);
    const r = runner(2);
    for (const henbId of ids.slice(0, 5)) await r.start({ henbId, request: REQUEST });
    const checked = r.check(ids[5]!, {});
    await vi.advanceTimersByTimeAsync(10);
    expect(r.load().waiting).toBe(4);
    pve.release();
    await settle(r);
    const job = await checked;
    expect(job.state).toBe('verified');
    expect(pve.asked.map((c) => c.henbId)).toEqual([ids[0], ids[1], ids[5], ids[2], ids[3], ids[4]]);
  });

  it('a job that waited long gets its PVE nonce when admitted (stored then, valid from then)', async () => {
    const ids = await seed(3);
    const r = runner(1);
    const jobs: Job[] = [];
    for (const henbId of ids) jobs.push(await r.start({ henbId, request: REQUEST }));
    await vi.advanceTimersByTimeAsync(40 * 60_000);
    pve.release();
    await settle(r);
    const third = pve.asked.find((c) => c.jobId === jobs[2]!.jobId)!;
    const rec = store.d.nonces.get(third.nonce)!;
    expect(rec.createdAt).toBeGreaterThanOrEqual(T0 + 40 * 60_000);
    expect(rec.consumedAt).not.toBeNull();
    expect((await store.getJob<Job>(jobs[2]!.jobId))?.state).toBe('verified');
  });

  it('after a restart, never-started jobs wait for a slot too', async () => {
    const ids = await seed(10);
    const r1 = runner(10);
    pve.release();
    // stored but never started: as a crash right after the software-update reply would leave them
    for (const [i, henbId] of ids.entries()) {
      await store.createJob<Job>({
        jobId: `old-${i}`, henbId, kind: 'software-update', state: 'created', deadline: null, reason: 'software-update requested', owner: r1.instanceId, leaseUntil: T0,
        data: {
          jobId: `old-${i}`, henbId, state: 'created', request: REQUEST, timeouts: TIMEOUTS, updatedComponent: 'rootfs', nonce: 'f'.repeat(64),
          createdAt: T0, updatedAt: T0, priorHenbState: 'trusted', oldRim: OLD_RIM,
        } as Job,
      });
    }
    await r1.close();
    pve = new GatedPve();
    const r2 = runner(3);
    const resumed = await r2.resume();
    expect(resumed).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(10);
    expect(r2.load()).toEqual({ active: 3, waiting: 7, max: 3 });
    pve.release();
    await settle(r2);
    expect(pve.maxInFlight).toBeLessThanOrEqual(3);
    for (let i = 0; i < 10; i++) expect((await store.getJob<Job>(`old-${i}`))?.state).toBe('verified');
    // each got a fresh nonce (the stored placeholder was never sent)
    expect(pve.asked).toHaveLength(10);
    expect(pve.asked.some((c) => c.nonce === 'f'.repeat(64))).toBe(false);
  });
});
