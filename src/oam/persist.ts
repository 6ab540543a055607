/**
 * Persist before effect: a job's new state, the effects that are database writes (store-rim, set-henb-state),
 * the nonce a completion uses up, the PVE's and the final result, all in one store transaction; and the small
 * saves of a final job's outbox (each a transaction too: with the store's group commit, the transactions of
 * several jobs made at the same time share one COMMIT, each acknowledged only after it). The job's JSON is written
 * without its token texts: each is a result row of the job, put by the transaction that brings it (stored-job.ts).
 */
import type { HenbInput, HenbRecord, Store, StoreOps } from '../store/index.js';
import { CompletionRefused } from './errors.js';
import type { Live, Written } from './job-queues.js';
import { moved, written } from './job-queues.js';
import { finalEarStatus } from './result-token.js';
import type { StoredJob } from './stored-job.js';
import { TOKEN_RESULT, storedJob } from './stored-job.js';
import type { Effect, Job, JobEvent } from './transition.js';
import { isTerminal, kindOf } from './transition.js';

/** The job's new state, the persist-effects and the result, in one transaction (at the version `l` holds); its Written part. */
export function persist(store: Store, l: Live, job: Job, effects: Effect[], event: JobEvent): Promise<Written> {
  const terminal = isTerminal(job.state);
  return store.transaction(async (tx) => {
    const rec = await tx.saveJobTransition<StoredJob>(job.jobId, job.state, {
      expectPrevVersion: l.version,
      data: storedJob(job),
      deadline: job.deadline ?? null,
      ...(job.updateSent === true ? { updateSent: true } : {}),
      reason: terminal ? job.result?.reason ?? event.type : event.type,
      at: job.updatedAt,
    });
    const henbs = new Map<string, HenbWrites>();
    const henb = (id: string): HenbWrites => henbs.get(id) ?? henbs.set(id, new HenbWrites(tx, id)).get(id)!;
    for (const e of effects) persistEffect(henb, e);
    await persistEvent(tx, job, event);
    if (terminal) await persistResult(tx, henb(job.henbId), job);
    for (const w of henbs.values()) await w.write();
    return written(rec);
  });
}

/** the effects that are writes: the H(e)NB's state (and a first version), the new RIM and reference log */
function persistEffect(henb: (henbId: string) => HenbWrites, e: Effect): void {
  if (e.type === 'set-henb-state') {
    henb(e.henbId).patch({ state: e.state }, e.versionIfUnset);
  } else if (e.type === 'store-rim') {
    henb(e.henbId).patch({ rim: e.rim, ...(e.version !== undefined ? { softwareVersion: e.version } : {}) });
    if (e.measurementLog !== undefined) henb(e.henbId).referenceLog(e.measurementLog);
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
    // the PVE's appraisal of the completion (affirming: attest() refuses any other), kept once (stored-job.ts)
    await tx.putResult({ jobId: job.jobId, kind: TOKEN_RESULT.completion, henbId: job.henbId, earStatus: 'affirming', token: event.attested.token, createdAt: event.at });
  }
  if (event.type === 'pve-result') {
    await tx.putResult({ jobId: job.jobId, kind: TOKEN_RESULT.pve, henbId: job.henbId, earStatus: event.earStatus, token: event.token, createdAt: event.at });
  }
}

/** a final job's token: the OAM's final result (an integrity check's is the PVE's, stored as its pve result) */
async function persistResult(tx: StoreOps, henb: HenbWrites, job: Job): Promise<void> {
  const token = job.result?.token;
  if (token === undefined) return;
  if (kindOf(job) !== 'integrity-check') {
    await tx.putResult({ jobId: job.jobId, kind: TOKEN_RESULT.final, henbId: job.henbId, earStatus: finalEarStatus(job), token, createdAt: job.updatedAt });
  }
  henb.token(token);
}

/**
 * Save a job at the next version (no effects): the outbox's steps and its end. A transaction of its own, so that
 * with the store's group commit it shares a COMMIT with the other jobs' transactions of the moment.
 */
export async function save(store: Store, l: Live, job: Job, terminal: boolean, reason: string, at: number): Promise<void> {
  const rec = await store.transaction(async (tx) => written(await tx.saveJobTransition<StoredJob>(job.jobId, job.state, {
    expectPrevVersion: l.version, data: storedJob(job), deadline: null, reason, at,
    ...(terminal ? { terminal: true } : {}),
  })));
  moved(l, job, rec);
}

type HenbPatch = Partial<Pick<HenbRecord, 'rim' | 'softwareVersion' | 'state'>>;

/**
 * The writes of one transaction to its job's H(e)NB, made after the transaction's other writes, in the order the
 * effects asked for them: each a putHenb of the whole record, which the store audits on its own (a RIM change and a
 * state change stay two records, as when each effect wrote by itself), and the reference log right after the write
 * of its RIM. The record is read once: each write starts from the one before it. The result token goes into the last
 * write (putHenb records no token change: the audit records are the same as with a write of its own), or into a write
 * of its own when the transaction has no other.
 */
class HenbWrites {
  private readonly steps: Array<{ patch: HenbPatch; versionIfUnset?: string; log?: unknown }> = [];
  private lastResultToken: string | undefined;

  constructor(private readonly tx: StoreOps, private readonly henbId: string) {}

  patch(patch: HenbPatch, versionIfUnset?: string): void {
    this.steps.push({ patch, ...(versionIfUnset !== undefined ? { versionIfUnset } : {}) });
  }

  /** the reference log written with the RIM just patched */
  referenceLog(log: unknown): void {
    const last = this.steps.at(-1);
    if (last !== undefined) last.log = log;
  }

  token(token: string): void {
    this.lastResultToken = token;
  }

  async write(): Promise<void> {
    if (this.steps.length === 0 && this.lastResultToken === undefined) return;
    if (this.steps.length === 0) this.steps.push({ patch: {} });
    let cur = recordOf(this.henbId, await this.tx.getHenb(this.henbId));
    for (const [i, s] of this.steps.entries()) {
      const version = s.versionIfUnset !== undefined && cur.softwareVersion === null ? { softwareVersion: s.versionIfUnset } : {};
      const token = i === this.steps.length - 1 && this.lastResultToken !== undefined ? { lastResultToken: this.lastResultToken } : {};
      cur = recordOf(this.henbId, await this.tx.putHenb({ ...cur, ...s.patch, ...version, ...token }));
      if (s.log !== undefined) await this.tx.putReferenceLog(this.henbId, s.log);
    }
  }
}

/** an H(e)NB's record as putHenb takes it (a missing one: unknown, nothing recorded) */
function recordOf(henbId: string, cur: HenbRecord | undefined): HenbInput {
  // the record as stored (putHenb's answer: the RIM lowercased), what a read would give
  return {
    henbId,
    rim: cur?.rim ?? null,
    softwareVersion: cur?.softwareVersion ?? null,
    state: cur?.state ?? 'unknown',
    lastResultToken: cur?.lastResultToken ?? null,
  };
}
