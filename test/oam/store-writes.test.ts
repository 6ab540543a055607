/**
 * What a job leaves in, and costs, the SQLite store (issue 15: the OAM's main thread sets the pace of a fleet update,
 * and the store's statements were a fifth of it). One software-update per H(e)NB through the nine steps (relay
 * evidence) on a real SQLite store whose statements are counted: the rows and audit records each path writes, and
 * a budget of statements per verified update (161.7 before the store and persist changes of 6 December, 97.3 after).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobRunner } from '../../src/oam/runner.js';
import { replayLog } from '../../src/oam/measure.js';
import type { PreUpdateEvidence } from '../../src/oam/ports.js';
import type { Job } from '../../src/oam/transition.js';
import type { SqliteStore } from '../../src/store/index.js';
import { openCountingSqliteStore } from '../helpers/counting-sqlite.js';
import type { StatementCounts } from '../helpers/counting-sqlite.js';
import { until } from '../helpers/until.js';
import { FakeDevices, FakeFetcher, FakePve, FakeTokens } from './fakes.js';
import { OLD_RIM } from './helpers.js';

class MeasuringDevices extends FakeDevices {
  async integrityMeasurement(henbId: string): Promise<PreUpdateEvidence> {
    const log = this.logOf(henbId);
    return { format: 'software-key', tim: replayLog(log), measurementLog: log, signature: 'c2ln', signatureAlgorithm: 'ES256' };
  }
}

const REQUEST = { uri: 'file:///img', version: '2.0.0', selfCheck: true, measures: ['alarm' as const, 'rollback' as const] };

let dir: string;
let store: SqliteStore;
let counts: StatementCounts;
let devices: MeasuringDevices;
let runner: JobRunner;
let results: Job[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oam-store-writes-'));
  ({ store, counts } = openCountingSqliteStore(dir, { groupCommit: true }));
  devices = new MeasuringDevices();
  devices.installMs = 5;
  results = [];
  let nonce = 0;
  let id = 0;
  runner = new JobRunner({
    store, pve: new FakePve(), devices, fetcher: new FakeFetcher(), tokens: new FakeTokens(), pveEvidence: 'relay',
    timeouts: { pve: 5000, fetch: 5000, send: 5000, completion: 5000 },
    events: { progress: () => undefined, alarm: () => undefined, result: (j) => { results.push(j); } },
    newNonce: () => (++nonce).toString(16).padStart(64, 'a'), newJobId: () => `job-${++id}`,
  });
});
afterEach(async () => {
  await runner.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function update(henbIds: string[]): Promise<void> {
  for (const henbId of henbIds) await store.putHenb({ henbId, rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
  counts.reset();
  for (const henbId of henbIds) await runner.start({ henbId, request: REQUEST });
  await until(() => results.length === henbIds.length, 'every result', 10_000);
  await runner.idle();
}

/** the store's own audit records of an H(e)NB (its jobs' aside), action and details */
async function henbAudit(henbId: string): Promise<Array<[string, unknown]>> {
  return (await store.listAudit()).filter((r) => r.object === `henb/${henbId}`).map((r) => [r.action, JSON.parse(r.details)]);
}

describe('a software-update in the SQLite store', () => {
  it('verified: the RIM, version, state and result token in the H(e)NB\'s record, one audit record per change, within the statement budget', async () => {
    const henbIds = Array.from({ length: 8 }, (_, i) => `h${i}`);
    await update(henbIds);
    expect(results.map((j) => j.state)).toEqual(henbIds.map(() => 'verified'));
    const perUpdate = counts.total() / henbIds.length;
    expect(perUpdate).toBeLessThanOrEqual(100);
    // the job is not read back after its writes; the H(e)NB is read once per transaction that writes it (3 writes:
    // updating; then RIM and version; then trusted with the result token) and once by the start
    expect(counts.matching(/^SELECT \* FROM jobs/) / henbIds.length).toBe(0);
    expect(counts.matching(/^INSERT INTO henbs/) / henbIds.length).toBe(3);
    expect(counts.matching(/^SELECT \* FROM henbs/) / henbIds.length).toBeLessThanOrEqual(6);
    const job = results[0]!;
    const henb = await store.getHenb(job.henbId);
    expect(henb).toMatchObject({ rim: job.completion?.tim, softwareVersion: '2.0.0', state: 'trusted', lastResultToken: job.result?.token });
    expect(job.result?.token).toEqual(expect.any(String));
    expect(Object.fromEntries((await store.getResults(job.jobId)).map((r) => [r.kind, r.token]))).toEqual({
      pve: job.pve?.token, 'post-update': job.completion?.pveToken, final: job.result?.token,
    });
    // the tokens are kept once, in those rows: the job's JSON as stored has none of them (src/oam/stored-job.ts)
    const stored = JSON.stringify((await store.getJob(job.jobId))?.data);
    for (const token of [job.pve?.token, job.completion?.pveToken, job.result?.token]) expect(stored).not.toContain(token);
    expect(await henbAudit(job.henbId)).toEqual([
      ['henb-added', expect.anything()],
      ['henb-state-changed', { state: ['trusted', 'updating'] }],
      ['rim-changed', { rim: [OLD_RIM, job.completion?.tim], softwareVersion: ['1.0.0', '2.0.0'] }],
      ['reference-log-changed', expect.objectContaining({ entries: 5 })],
      ['henb-state-changed', { state: ['updating', 'trusted'] }],
      ['reference-values-provided', expect.objectContaining({ accepted: true, jobId: job.jobId })],
    ]);
    expect((await store.getReferenceLog(job.henbId))?.log).toEqual(job.completion?.measurementLog);
    expect((await store.listJobEvents(job.jobId)).map((e) => e.toState)).toEqual([
      'created', 'pve-requested', 'fetching', 'update-sending', 'awaiting-completion', 'verified', 'verified',
    ]);
  });

  it('no transaction of the runner hands back a job record: the JSON text a record holds is not kept through the COMMIT', async () => {
    // (issue 15: the record returned by createJob/saveJobTransition holds its data's JSON text, 2-7 KB; handed back by
    // the transaction it lived through the group's COMMIT and the sync barrier, and the young generation copied it)
    const handedBack: unknown[] = [];
    const transaction = store.transaction.bind(store);
    store.transaction = (async (fn: Parameters<typeof transaction>[0]) => {
      const out = await transaction(fn);
      handedBack.push(out);
      return out;
    }) as typeof store.transaction;
    await update(['w1', 'w2']);
    expect(results.map((j) => j.state)).toEqual(['verified', 'verified']);
    const records = handedBack.filter((v) => typeof v === 'object' && v !== null && 'version' in v);
    expect(records.length).toBeGreaterThanOrEqual(2 * 7); // creation, 5 transitions, the outbox's end, per update
    for (const v of records) expect(Object.keys(v as object).sort()).toEqual(['createdAt', 'state', 'updatedAt', 'version']);
  });

  it('a bad install: quarantined with the result token in one write, the rollback asked once', async () => {
    devices.profiles.set('b1', 'bad-install');
    await update(['b1']);
    const job = results[0]!;
    expect(job.state).toBe('mismatch');
    expect(await store.getHenb('b1')).toMatchObject({ rim: OLD_RIM, softwareVersion: '1.0.0', state: 'quarantined', lastResultToken: job.result?.token });
    expect(await henbAudit('b1')).toEqual([
      ['henb-added', expect.anything()], ['henb-state-changed', { state: ['trusted', 'updating'] }], ['henb-quarantined', { state: ['updating', 'quarantined'] }],
    ]);
    expect(devices.rollbacks).toEqual([{ henbId: 'b1', jobId: job.jobId }]);
    expect((await store.getJob<Job>(job.jobId))?.data.rollbackSent).toBe(true);
  });
});
