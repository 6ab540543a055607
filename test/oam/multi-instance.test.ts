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
import { openSqliteStore } from '../../src/store/index.js';
import type { SqliteStore } from '../../src/store/index.js';
import { JobRunner } from '../../src/oam/runner.js';
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

/** one OAM instance: its own runner (own memory) on the shared store */
function instance(): JobRunner {
  const r = new JobRunner({
    store, pve: new FakePve(), devices, fetcher: new FakeFetcher(), tokens: new FakeTokens(),
    events: { progress: () => undefined, alarm: () => undefined, result: (j) => { results.push(j); } },
    newNonce: () => (++nonce).toString(16).padStart(64, 'a'),
    timeouts: { pve: 5000, fetch: 5000, send: 5000, completion: 5000 },
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
