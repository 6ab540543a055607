/**
 * A job as the store keeps it. The token texts a job collects are the largest part of its JSON. In bench/fleet.ts
 * (1,000 devices, relay) they were 22.7 of the 33.1 thousand characters the runner wrote per update: the PVE's
 * verdict, rewritten at each of the five transitions after it, and the PVE's appraisal of the completion and the
 * OAM's final result, at both of the last two. Each token is kept once, as a result row of its job, written in the
 * same transaction as the transition that brings it:
 * - the PVE's verdict (`pve.token`): kind `pve` (persist.ts, the pve-result event);
 * - the PVE's appraisal of the completion (`completion.pveToken`): kind `post-update` (the completion event);
 * - the final result (`result.token`): kind `final` for an update (persistResult); an integrity check's result is
 *   its PVE verdict, kind `pve`.
 * The job's JSON leaves those three out (storedJob). A job read back for the runner gets them again from its results
 * (withTokens). A row written before this change still carries its tokens, and they are kept as they are.
 */
import type { StoreOps } from '../store/index.js';
import type { Job } from './transition.js';
import { kindOf } from './transition.js';

/** the result kinds that hold a job's tokens */
export const TOKEN_RESULT = { pve: 'pve', completion: 'post-update', final: 'final' } as const;

/** A job as stored: a job whose token texts may be left out (they are in its results). */
export type StoredJob = Omit<Job, 'pve'> & { pve?: Omit<NonNullable<Job['pve']>, 'token'> & { token?: string } };

/** the job's JSON as the store keeps it: without the token texts its results hold (the job itself is not changed) */
export function storedJob(job: Job): StoredJob {
  const { pve, completion, result } = job;
  if (pve?.token === undefined && completion?.pveToken === undefined && result?.token === undefined) return job;
  const out: StoredJob = { ...job };
  if (pve !== undefined) {
    const { token: _token, ...rest } = pve;
    out.pve = rest;
  }
  if (completion !== undefined) {
    const { pveToken: _pveToken, ...rest } = completion;
    out.completion = rest;
  }
  if (result !== undefined) {
    const { token: _token, ...rest } = result;
    out.result = rest;
  }
  return out;
}

/** what a stored job's parts lack that its results may hold */
function lacksTokens(job: StoredJob): boolean {
  return (job.pve !== undefined && job.pve.token === undefined)
    || (job.completion !== undefined && job.completion.pveToken === undefined)
    || (job.result !== undefined && job.result.token === undefined);
}

/**
 * A stored job with its tokens again, from its results (one read, and only when a part lacks its token). A part whose
 * token has no result row keeps none: a result not signed (the runner logs that) has none to keep, and
 * `pve.token` is then empty (`missing` names the parts, for the caller to log).
 */
export async function withTokens(store: Pick<StoreOps, 'getResults'>, job: StoredJob, missing?: (parts: string[]) => void): Promise<Job> {
  if (!lacksTokens(job)) return job as Job;
  const rows = new Map((await store.getResults(job.jobId)).map((r) => [r.kind, r.token]));
  const lost: string[] = [];
  const out = { ...job } as Job;
  if (job.pve !== undefined && job.pve.token === undefined) {
    const token = rows.get(TOKEN_RESULT.pve);
    if (token === undefined) lost.push('pve');
    out.pve = { ...job.pve, token: token ?? '' };
  }
  if (job.completion !== undefined && job.completion.pveToken === undefined) {
    const token = rows.get(TOKEN_RESULT.completion);
    if (token !== undefined) out.completion = { ...job.completion, pveToken: token };
  }
  if (job.result !== undefined && job.result.token === undefined) {
    const token = rows.get(kindOf(job) === 'integrity-check' ? TOKEN_RESULT.pve : TOKEN_RESULT.final);
    if (token !== undefined) out.result = { ...job.result, token };
  }
  if (lost.length > 0) missing?.(lost);
  return out;
}
