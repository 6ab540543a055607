/**
 * Several OAM instances on one database: two JobRunners on one SQLite store stand for two instances (each has its
 * own in-memory view; only the store is shared). The database keeps one active job per H(e)NB (migration 2), so
 * the instance that loses gets ERR_OAM_HENB_BUSY (the NMS sees henb-busy, as for a job of the same instance) and
 * leaves nothing behind: no job, no nonce, no H(e)NB marked busy in its memory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log/logger.js';
import { openSqliteStore } from '../../src/store/index.js';
import type { SqliteStore, Store } from '../../src/store/index.js';
import { JobRunner } from '../../src/oam/runner.js';
import type { Clock } from '../../src/oam/ports.js';
import type { Job } from '../../src/oam/transition.js';
import { FakeDevices, FakeFetcher, FakePve, FakeTokens } from './fakes.js';
import { EXPECTED, GOOD_LOG, OLD_RIM } from './helpers.js';
import { until } from '../helpers/until.js';

const REQUEST = { uri: 'file:///img', version: '2', selfCheck: true, measures: ['alarm' as const] };

let dir: string;
let open: Array<{ close(): Promise<void> }>;
let store: SqliteStore;
let devices: FakeDevices;
let results: Job[];
let nonce = 0;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-multi-'));
  open = [];
  store = await openSqliteStore({ dataDir: dir });
  open.push(store);
  devices = new FakeDevices('slow');
  results = [];
  await store.putHenb({ henbId: 'h1', rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
});
afterEach(async () => {
  for (const o of open.reverse()) await o.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

/** what an instance logged */
function recordingLogger(lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }>): Logger {
  const log: Logger = {
    level: 'debug',
    debug: (msg, fields) => { lines.push({ level: 'debug', msg, fields }); },
    info: (msg, fields) => { lines.push({ level: 'info', msg, fields }); },
    warn: (msg, fields) => { lines.push({ level: 'warn', msg, fields }); },
    error: (msg, fields) => { lines.push({ level: 'error', msg, fields }); },
    child: () => log,
  };
  return log;
}

/** real timers, a time the test moves (leases expire when it says so), and the job timers still armed */
function testClock(): Clock & { t: number; armed: Set<unknown> } {
  const c = {
    t: Date.now(),
    armed: new Set<unknown>(),
    now: () => c.t,
    setTimeout: (fn: () => void, ms: number): unknown => {
      const h = setTimeout(() => { c.armed.delete(h); fn(); }, ms);
      c.armed.add(h);
      return h;
    },
    clearTimeout: (h: unknown): void => { c.armed.delete(h); clearTimeout(h as ReturnType<typeof setTimeout>); },
  };
  return c;
}

/** the store as an instance sees it that crashes: it never gets to release its leases */
function crashing(s: Store): Store {
  return new Proxy(s, {
    get: (target, key) => {
      if (key === 'releaseJobs') return async () => 0;
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** one OAM instance: its own runner (own memory) on the shared store */
function instance(over: { instanceId?: string; leaseMs?: number; clock?: Clock; store?: Store; log?: Logger } = {}): JobRunner {
  const r = new JobRunner({
    store, pve: new FakePve(), devices, fetcher: new FakeFetcher(), tokens: new FakeTokens(),
    events: { progress: () => undefined, alarm: () => undefined, result: (j) => { results.push(j); } },
    newNonce: () => (++nonce).toString(16).padStart(64, 'a'),
    timeouts: { pve: 5000, fetch: 5000, send: 5000, completion: 5000 },
    ...over,
  });
  open.splice(1, 0, r); // runners close before the store
  return r;
}

const nonceCount = (henbId: string): number =>
  (store.database.prepare('SELECT count(*) AS n FROM nonces WHERE henb_id = ?').get(henbId) as { n: number }).n;

describe('two OAM instances on one store', () => {
  it('cannot both start a job for one H(e)NB: the loser gets ERR_OAM_HENB_BUSY and keeps nothing', async () => {
    const [a, b] = [instance(), instance()];
    const attempts = await Promise.allSettled([a.start({ henbId: 'h1', request: REQUEST }), b.start({ henbId: 'h1', request: REQUEST })]);
    const won = attempts.filter((x): x is PromiseFulfilledResult<Job> => x.status === 'fulfilled');
    const lost = attempts.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.reason).toMatchObject({ code: 'ERR_OAM_HENB_BUSY', message: expect.stringContaining('h1') });
    const job = won[0]!.value;
    const [winner, loser] = attempts[0]?.status === 'fulfilled' ? [a, b] : [b, a];
    expect(winner.activeJobFor('h1')).toBe(job.jobId);
    expect(loser.activeJobFor('h1')).toBeUndefined();
    expect((await store.listJobs({ henbId: 'h1' })).map((j) => j.jobId)).toEqual([job.jobId]);
    expect(nonceCount('h1')).toBe(1); // the winner's; the loser's nonce was rolled back with its job

    // the loser asked again (its memory says nothing runs): still refused by the database
    await expect(loser.start({ henbId: 'h1', request: REQUEST })).rejects.toMatchObject({ code: 'ERR_OAM_HENB_BUSY' });
    expect(loser.activeJobFor('h1')).toBeUndefined();
    expect(nonceCount('h1')).toBe(1);

    // once the job is over, the other instance may start the next one
    await until(async () => (await store.getJob(job.jobId))?.state === 'awaiting-completion', 'awaiting-completion');
    devices.emit({ henbId: 'h1', jobId: job.jobId, status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG, selfCheck: 'passed' });
    await until(async () => (await store.listActiveJobs()).length === 0, 'the first job final');
    expect(results.map((j) => j.state)).toEqual(['verified']);
    const next = await loser.start({ henbId: 'h1', request: REQUEST });
    expect(loser.activeJobFor('h1')).toBe(next.jobId);
    await expect(winner.start({ henbId: 'h1', request: REQUEST })).rejects.toMatchObject({ code: 'ERR_OAM_HENB_BUSY' });
    expect((await store.listActiveJobs()).map((j) => j.jobId)).toEqual([next.jobId]);
  });

  it('other H(e)NBs are not held back by a job on another instance', async () => {
    await store.putHenb({ henbId: 'h2', rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
    const [a, b] = [instance(), instance()];
    const j1 = await a.start({ henbId: 'h1', request: REQUEST });
    const j2 = await b.start({ henbId: 'h2', request: REQUEST });
    expect((await store.listActiveJobs()).map((j) => j.jobId).sort()).toEqual([j1.jobId, j2.jobId].sort());
  });
});

describe('job leases: instances divide the active jobs', () => {
  const waiting = async (jobId: string): Promise<boolean> => (await store.getJob(jobId))?.state === 'awaiting-completion';

  it('after a crash each instance resumes its own jobs; the jobs of one that does not come back go to another once its lease expired', async () => {
    await store.putHenb({ henbId: 'h2', rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
    const clock = testClock();
    const a = instance({ instanceId: 'A', leaseMs: 60_000, clock, store: crashing(store) });
    const b = instance({ instanceId: 'B', leaseMs: 300, clock, store: crashing(store) });
    const ja = await a.start({ henbId: 'h1', request: REQUEST });
    const jb = await b.start({ henbId: 'h2', request: REQUEST });
    await until(async () => (await waiting(ja.jobId)) && (await waiting(jb.jobId)), 'both jobs awaiting their completion');
    expect(await store.getJob(ja.jobId)).toMatchObject({ owner: 'A', leaseUntil: clock.t + 60_000 });
    await a.close(); // both crash: their leases stay
    await b.close();
    expect((await store.listActiveJobs()).map((j) => j.owner).sort()).toEqual(['A', 'B']);

    const c = instance({ instanceId: 'C', leaseMs: 300, clock });
    expect(await c.resume()).toEqual([]); // A's and B's leases hold
    const a2 = instance({ instanceId: 'A', leaseMs: 60_000, clock }); // A restarted: its own job at once
    expect(await a2.resume()).toEqual([ja.jobId]);
    expect(a2.activeJobFor('h1')).toBe(ja.jobId);
    expect(c.activeJobFor('h2')).toBeUndefined();

    clock.t += 1000; // B does not come back: its lease (300 ms) has expired, A's (60 s) holds
    await until(() => c.activeJobFor('h2') === jb.jobId, 'C taking over B\'s job');
    expect(await store.getJob(jb.jobId)).toMatchObject({ owner: 'C', leaseUntil: expect.any(Number) });
    expect(await store.getJob(ja.jobId)).toMatchObject({ owner: 'A' });
    expect(c.activeJobFor('h1')).toBeUndefined();
    expect(a2.activeJobFor('h2')).toBeUndefined();

    // each finishes its own job; the software-update was sent once per job
    for (const j of [ja, jb]) devices.emit({ henbId: j.henbId, jobId: j.jobId, status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG, selfCheck: 'passed' });
    await until(async () => (await store.listActiveJobs()).length === 0, 'both jobs final');
    expect(results.map((j) => [j.henbId, j.state]).sort()).toEqual([['h1', 'verified'], ['h2', 'verified']]);
    expect(devices.updates.map((u) => u.henbId).sort()).toEqual(['h1', 'h2']);
  });

  it('an orderly close releases the jobs: another instance resumes them at once', async () => {
    const a = instance({ instanceId: 'A' });
    const job = await a.start({ henbId: 'h1', request: REQUEST });
    await until(() => waiting(job.jobId), 'awaiting-completion');
    await a.close();
    expect(await store.getJob(job.jobId)).toMatchObject({ owner: null, leaseUntil: null });
    const b = instance({ instanceId: 'B' });
    expect(await b.resume()).toEqual([job.jobId]);
    expect(await store.getJob(job.jobId)).toMatchObject({ owner: 'B' });
  });

  it('an instance whose job was claimed away drops it: no timer left, logged, the store keeps the other\'s state', async () => {
    const clock = testClock();
    const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
    const a = instance({ instanceId: 'A', leaseMs: 60_000, clock, log: recordingLogger(lines) });
    const job = await a.start({ henbId: 'h1', request: REQUEST });
    await until(() => waiting(job.jobId), 'awaiting-completion');
    await a.idle();
    expect(clock.armed.size).toBe(1); // the completion timeout
    // A stalled past its lease; another instance claimed the job
    const [taken] = await store.claimJobs('B', 60_000, clock.t + 120_000);
    expect(taken).toMatchObject({ jobId: job.jobId, owner: 'B' });
    const before = await store.listJobEvents(job.jobId);

    devices.emit({ henbId: 'h1', jobId: job.jobId, status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG, selfCheck: 'passed' });
    await until(() => a.activeJobFor('h1') === undefined, 'A dropping the job');
    await a.idle();
    expect(clock.armed.size).toBe(0);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining('lease lost'), fields: expect.objectContaining({ jobId: job.jobId }) }));
    expect(await store.getJob(job.jobId)).toMatchObject({ state: 'awaiting-completion', owner: 'B', version: taken!.version });
    expect(await store.listJobEvents(job.jobId)).toEqual(before);
    expect(results).toEqual([]);
    // a completion RPC to A is refused now (the job is not waiting here)
    await expect(a.complete({ henbId: 'h1', jobId: job.jobId, status: 'completed', tim: EXPECTED })).rejects.toMatchObject({ code: 'ERR_OAM_JOB_NOT_WAITING' });

    // B resumes it and finishes it
    const b = instance({ instanceId: 'B', leaseMs: 60_000, clock });
    expect(await b.resume()).toEqual([job.jobId]);
    devices.emit({ henbId: 'h1', jobId: job.jobId, status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG, selfCheck: 'passed' });
    await until(async () => (await store.getJob(job.jobId))?.terminal === true, 'the job final');
    expect(results.map((j) => j.state)).toEqual(['verified']);
    expect(devices.updates).toHaveLength(1);
  });
});
