/**
 * Persist before effect: a job's new state, the effects that are database writes (store-rim, set-henb-state),
 * the nonce a completion uses up, the PVE's and the final result, all in one store transaction; and the small
 * saves of a final job's outbox (each a transaction too: with the store's group commit, the transactions of
 * several jobs made at the same time share one COMMIT, each acknowledged only after it).
 */
import type { HenbRecord, JobRecord, Store, StoreOps } from '../store/index.js';
import { CompletionRefused } from './errors.js';
import type { Live } from './job-queues.js';
import { finalEarStatus } from './result-token.js';
import type { Effect, Job, JobEvent } from './transition.js';
import { isTerminal, kindOf } from './transition.js';

/** The job's new state, the persist-effects and the result, in one transaction (at the version `l` holds). */
export function persist(store: Store, l: Live, job: Job, effects: Effect[], event: JobEvent): Promise<JobRecord<Job>> {
  const terminal = isTerminal(job.state);
  return store.transaction(async (tx) => {
    const rec = await tx.saveJobTransition<Job>(job.jobId, job.state, {
      expectPrevVersion: l.version,
      data: job,
      deadline: job.deadline ?? null,
      ...(job.updateSent === true ? { updateSent: true } : {}),
      reason: terminal ? job.result?.reason ?? event.type : event.type,
      at: job.updatedAt,
    });
    for (const e of effects) await persistEffect(tx, e);
    await persistEvent(tx, job, event);
    if (terminal) await persistResult(tx, job);
    return rec;
  });
}

/** the effects that are writes: the H(e)NB's state (and a first version), the new RIM and reference log */
async function persistEffect(tx: StoreOps, e: Effect): Promise<void> {
  if (e.type === 'set-henb-state') {
    const cur = e.versionIfUnset !== undefined ? await tx.getHenb(e.henbId) : undefined;
    const version = e.versionIfUnset !== undefined && (cur?.softwareVersion ?? null) === null ? { softwareVersion: e.versionIfUnset } : {};
    await setHenb(tx, e.henbId, { state: e.state, ...version });
  } else if (e.type === 'store-rim') {
    await setHenb(tx, e.henbId, { rim: e.rim, ...(e.version !== undefined ? { softwareVersion: e.version } : {}) });
    if (e.measurementLog !== undefined) await tx.putReferenceLog(e.henbId, e.measurementLog);
  }
}

/** an applied completion uses up the job's update nonce; a PVE verdict is recorded as the job's pve result */
async function persistEvent(tx: StoreOps, job: Job, event: JobEvent): Promise<void> {
  if (event.type === 'completion' && event.attested !== undefined) {
    const used = await tx.consumeNonce(event.attested.nonce, event.at);
    if (!used.ok) {
      throw new CompletionRefused('ERR_OAM_NONCE_USED', 'nonce-used',
        `the nonce of job ${job.jobId} is ${used.reason === 'consumed' ? 'used already' : used.reason}`);
    }
  }
  if (event.type === 'pve-result') {
    await tx.putResult({ jobId: job.jobId, kind: 'pve', henbId: job.henbId, earStatus: event.earStatus, token: event.token, createdAt: event.at });
  }
}

/** a final job's token: the OAM's final result (an integrity check's is the PVE's, stored as its pve result) */
async function persistResult(tx: StoreOps, job: Job): Promise<void> {
  const token = job.result?.token;
  if (token === undefined) return;
  if (kindOf(job) !== 'integrity-check') {
    await tx.putResult({ jobId: job.jobId, kind: 'final', henbId: job.henbId, earStatus: finalEarStatus(job), token, createdAt: job.updatedAt });
  }
  await setHenb(tx, job.henbId, { lastResultToken: token });
}

/**
 * Save a job at the next version (no effects): the outbox's steps and its end. A transaction of its own, so that
 * with the store's group commit it shares a COMMIT with the other jobs' transactions of the moment.
 */
export async function save(store: Store, l: Live, job: Job, terminal: boolean, reason: string, at: number): Promise<void> {
  const rec = await store.transaction((tx) => tx.saveJobTransition<Job>(job.jobId, job.state, {
    expectPrevVersion: l.version, data: job, deadline: null, reason, at,
    ...(terminal ? { terminal: true } : {}),
  }));
  l.job = rec.data;
  l.version = rec.version;
}

type HenbPatch = Partial<Pick<HenbRecord, 'rim' | 'softwareVersion' | 'state' | 'lastResultToken'>>;

/** change some fields of an H(e)NB's record (created when missing) */
async function setHenb(tx: StoreOps, henbId: string, patch: HenbPatch): Promise<void> {
  const cur = await tx.getHenb(henbId);
  await tx.putHenb({
    henbId,
    rim: cur?.rim ?? null,
    softwareVersion: cur?.softwareVersion ?? null,
    state: cur?.state ?? 'unknown',
    lastResultToken: cur?.lastResultToken ?? null,
    ...patch,
  });
}
