import { describe, expect, it } from 'vitest';
import type { ResultRecord } from '../../src/store/index.js';
import { storedJob, withTokens } from '../../src/oam/stored-job.js';
import type { StoredJob } from '../../src/oam/stored-job.js';
import type { Job } from '../../src/oam/transition.js';
import { EXPECTED, baseJob } from './helpers.js';

const PVE = 'pve.token.sig';
const COMPLETION = 'completion.token.sig';
const FINAL = 'final.token.sig';

/** a job at its end with all three tokens, as the runner holds it */
function finalJob(over: Partial<Job> = {}): Job {
  return baseJob({
    state: 'verified',
    pve: { earStatus: 'affirming', token: PVE, attestedTim: EXPECTED },
    completion: { status: 'completed', tim: EXPECTED, evidenceFormat: 'software-key', pveToken: COMPLETION },
    result: { status: 'verified', reason: 'TIM equals the expected RIM', at: 1, token: FINAL },
    ...over,
  });
}

/** getResults over fixed rows, counting its reads */
function results(rows: Array<[string, string]>): { getResults: (jobId: string) => Promise<ResultRecord[]>; reads: number } {
  const r = {
    reads: 0,
    getResults: (jobId: string): Promise<ResultRecord[]> => {
      r.reads++;
      return Promise.resolve(rows.map(([kind, token]) => ({ jobId, kind, henbId: 'h1', earStatus: 'affirming', token, createdAt: 1 })));
    },
  };
  return r;
}

describe('a job as stored: its tokens kept once, in its results', () => {
  it('storedJob leaves the three token texts out and changes nothing else (nor the job itself)', () => {
    const job = finalJob();
    const stored = storedJob(job);
    expect(stored.pve).toEqual({ earStatus: 'affirming', attestedTim: EXPECTED });
    expect(stored.completion).toEqual({ status: 'completed', tim: EXPECTED, evidenceFormat: 'software-key' });
    expect(stored.result).toEqual({ status: 'verified', reason: 'TIM equals the expected RIM', at: 1 });
    const text = JSON.stringify(stored);
    for (const t of [PVE, COMPLETION, FINAL]) expect(text).not.toContain(t);
    expect({ ...stored, pve: job.pve, completion: job.completion, result: job.result }).toEqual(job);
    expect(job.pve?.token).toBe(PVE);
    expect(job.result?.token).toBe(FINAL);
  });

  it('storedJob hands a job without tokens back as it is', () => {
    const job = baseJob({ state: 'pve-requested' });
    expect(storedJob(job)).toBe(job);
  });

  it('withTokens puts them back from the result rows, in one read', async () => {
    const store = results([['pve', PVE], ['post-update', COMPLETION], ['final', FINAL]]);
    const job = await withTokens(store, storedJob(finalJob()));
    expect(job).toEqual(finalJob());
    expect(store.reads).toBe(1);
  });

  it('an integrity check\'s result token is its PVE verdict (kind pve)', async () => {
    const check = finalJob({ kind: 'integrity-check', result: { status: 'verified', reason: 'trusted', at: 1, token: PVE } });
    delete check.completion;
    const job = await withTokens(results([['pve', PVE]]), storedJob(check));
    expect(job.result?.token).toBe(PVE);
    expect(job.pve?.token).toBe(PVE);
  });

  it('a job stored with its tokens (before this layout) is not read again', async () => {
    const store = results([]);
    const old = finalJob() as StoredJob;
    expect(await withTokens(store, old)).toBe(old);
    expect(store.reads).toBe(0);
  });

  it('a part without a row keeps no token; a missing verdict row is named to the caller', async () => {
    const missing: string[][] = [];
    const job = await withTokens(results([]), storedJob(finalJob()), (parts) => missing.push(parts));
    expect(job.result?.token).toBeUndefined();
    expect(job.completion?.pveToken).toBeUndefined();
    expect(job.pve?.token).toBe('');
    expect(missing).toEqual([['pve']]);
    // a result never signed has no row, and nothing is missing
    const unsigned = storedJob(finalJob({ result: { status: 'failed', reason: 'timeout', at: 1 } }));
    delete unsigned.pve;
    delete unsigned.completion;
    const seen: string[][] = [];
    expect((await withTokens(results([]), unsigned, (p) => seen.push(p))).result).toEqual({ status: 'failed', reason: 'timeout', at: 1 });
    expect(seen).toEqual([]);
  });
});
