/**
 * The runner: drives jobs through transition() and performs the effects with injected ports.
 *
 * Order for every event (per job, one event at a time):
 *   1. out = transition(job, event)                       (pure)
 *   2. terminal state: sign the OAM's result token        (no side effect yet)
 *   3. ONE store transaction: the job's new state (+ updateSent / terminal flags, deadline), the persist-effects
 *      store-rim and set-henb-state, the result token                       (persist before effect)
 *   4. arm the state's timer from job.deadline (expiry -> timeout event), abort the previous step's calls
 *   5. perform the other effects (PVE, fetch, software-update, rollback, notifications)
 *
 * One job per H(e)NB: the in-memory `busy` map answers fast for this instance; the store's createJob is the
 * rule across instances sharing a database (ERR_STORE_HENB_BUSY, reported as ERR_OAM_HENB_BUSY).
 *
 * Several instances (a shared PostgreSQL store): each job has a lease in the store (owner = this runner's
 * instanceId, leaseUntil). New jobs are this instance's; resume() claims (Store.claimJobs) the jobs that are
 * unowned, its own or whose lease expired, instead of every active job; every leaseMs/3 a timer renews this
 * instance's leases and claims the jobs of instances that stopped renewing (resumed as resume() does). A job
 * claimed away from a live instance has moved on (its version too): that instance's next transition fails
 * ERR_STORE_CONFLICT and it drops the job (timers, calls) and logs it; each lease renewal also drops the jobs it
 * finds taken (owner or version moved), so that none waits here for an event that would tell. A completion-tim
 * RPC (complete()) for a job another instance drives takes that job (Store.takeJob) when it awaits its
 * completion, and ends it here. close() releases this instance's jobs.
 *
 * Restart: resume() loads the active jobs and sends each a `restart` event (transition() decides: redo the PVE
 * or fetch step with a fresh nonce, keep waiting for the completion, or fail a job whose software-update may
 * have been sent without an acknowledgement). A software-update is never sent twice: the job is persisted with
 * updateSent = true before the driver is called.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { HsvError, errorCode } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import type { Store, StoreOps, JobRecord, HenbRecord } from '../store/index.js';
import type { EarClaims, EarStatus, EarSubmod, ResultClaimsInput, ComponentResult } from '../tokens/index.js';
import { timingSafeEqual } from 'node:crypto';
import { rebootLogAfterUpdate } from '../integrity/index.js';
import type {
  AttestedCompletion, Clock, DeviceCompletion, DeviceDriver, PveClient, SoftwareFetcher, SoftwareManifestCheck, TimerHandle, MeasurementLogEntry,
} from './ports.js';
import { deviceRefused, pveFailureKind, systemClock } from './ports.js';
import type { Effect, Job, JobEvent, JobKind, JobRequest, StepTimeouts } from './transition.js';
import { STEP } from './steps.js';
import type { Step } from './steps.js';
import { DEFAULT_TIMEOUTS, JOB_KINDS, isTerminal, kindOf, newJob, transition } from './transition.js';

/** The flow's codes (docs/errors.md). */
export type OamErrorCode =
  /** a job is already running for the H(e)NB */
  | 'ERR_OAM_HENB_BUSY'
  /** completion-tim: no such job / a job of another H(e)NB / a job not waiting for a completion */
  | 'ERR_OAM_JOB_UNKNOWN' | 'ERR_OAM_HENB_MISMATCH' | 'ERR_OAM_JOB_NOT_WAITING'
  /** the runner or the caller's session closed */
  | 'ERR_OAM_CLOSED'
  /** RunnerOptions out of range (instanceId, leaseMs) */
  | 'ERR_OAM_CONFIG'
  /** a PVE result whose nonce was used or unknown / about another H(e)NB */
  | 'ERR_OAM_NONCE' | 'ERR_OAM_SUBJECT'
  /** a step's signal: its timeout fired / the step ended / another instance took the job */
  | 'ERR_OAM_TIMEOUT' | 'ERR_OAM_STEP_ENDED' | 'ERR_OAM_LEASE_LOST'
  /**
   * a completion refused, nothing changed (issue 10): no evidence / the PVE did not accept it / over another nonce
   * than the job's / the job's nonce already used; the PVE could not appraise it / its verdict did not verify
   */
  | 'ERR_OAM_EVIDENCE_REQUIRED' | 'ERR_OAM_EVIDENCE_INVALID' | 'ERR_OAM_NONCE_MISMATCH' | 'ERR_OAM_NONCE_USED'
  | 'ERR_OAM_PVE_UNREACHABLE' | 'ERR_OAM_PVE_RESULT_INVALID';

export class OamError extends HsvError<OamErrorCode> {}

/** the OamError code of an error, or undefined for any other error */
export function oamErrorCode(err: unknown): OamErrorCode | undefined {
  return err instanceof OamError ? err.code : undefined;
}

/** A completion refused before it reached the job: `appTag` is the completion-tim rpc-error's error-app-tag. */
export class CompletionRefused extends OamError {
  constructor(code: OamErrorCode, readonly appTag: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Tokens as the flow uses them (src/tokens behind it; see createResultTokens in tokens-adapter.ts). */
export interface ResultTokens {
  /**
   * Verify a PVE token before trusting it: algorithm allow-list, signature, issuer, audience, max age,
   * eat_nonce === expectedNonce, jti unseen. Rejects with a coded error (ERR_TOKEN_*) otherwise.
   */
  verifyPve(token: string, expectedNonce: string): Promise<EarClaims>;
  /** Sign the OAM's final result (iss, aud, exp filled in by the implementation when omitted). */
  signFinal(input: Omit<ResultClaimsInput, 'iss' | 'aud' | 'ear_verifier_id'>): Promise<string>;
  /**
   * Optional (item 4, the OAM as Reference Value Provider): sign the reference values of a verified update as a JWS
   * for the PVE (src/tokens reference-values). Without it no reference values are provided.
   */
  signReferenceValues?(input: ReferenceValuesInput): Promise<string>;
}

/** What the OAM provides to the PVE after a verified update. */
export interface ReferenceValuesInput {
  henbId: string;
  jobId: string;
  values: Array<{ component: string; digest: string; version?: string }>;
}

/** Where the runner reports what happens (the service maps these to NETCONF notifications). */
export interface OamEvents {
  progress(job: Job, step: Step, text: string): void | Promise<void>;
  result(job: Job): void | Promise<void>;
  alarm(job: Job, text: string): void | Promise<void>;
}

export interface RunnerOptions {
  store: Store;
  pve: PveClient;
  devices: DeviceDriver;
  fetcher: SoftwareFetcher;
  /** policy require-signed-software: every image's vendor-signed manifest is checked before the software-update */
  softwareManifest?: SoftwareManifestCheck;
  tokens: ResultTokens;
  events: OamEvents;
  newNonce: () => string;
  clock?: Clock;
  log?: Logger;
  newJobId?: () => string;
  /** defaults for every job (a request may override) */
  timeouts?: Partial<StepTimeouts>;
  /** the measurement-log component a software update replaces (default rootfs) */
  updatedComponent?: string;
  /**
   * this OAM instance's id, the owner of its jobs' leases in the store (default: 'local' on a SQLite store, else
   * host, pid and a random part, so that each process is an instance)
   */
  instanceId?: string;
  /** how long a job's lease lasts without renewal, ms (default 60000); renewed every leaseMs/3 */
  leaseMs?: number;
  /**
   * the check after a rollback (fresh evidence through the PVE must give the stored RIM): how many attempts
   * (default 6) and the delay before the second one (default 2000 ms, doubled each time); all of them within the
   * job's completion timeout (a rolled-back device reboots)
   */
  rollbackCheck?: { attempts?: number; firstDelayMs?: number };
}

export const DEFAULT_LEASE_MS = 60_000;
/** the default instanceId on a SQLite store (one OAM instance per database) */
export const SQLITE_INSTANCE_ID = 'local';

export interface StartRequest {
  henbId: string;
  request: JobRequest;
  timeouts?: Partial<StepTimeouts>;
}

/** the request of an integrity-check job: no software (never read: the job ends with the PVE's verdict) */
const NO_SOFTWARE: JobRequest = { uri: '', selfCheck: false, measures: [] };

interface Live {
  job: Job;
  version: number;
  timer?: TimerHandle;
  step?: AbortController;
  queue: Promise<void>;
  /** set when the job was found driven by another instance and dropped here */
  lost?: boolean;
  /** the software-update call in flight (a device's completion waits for its acknowledgement) */
  sending?: Promise<void>;
}

export class JobRunner {
  private readonly o: RunnerOptions;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly live = new Map<string, Live>();
  private readonly busy = new Map<string, string>(); // henbId -> active jobId
  private readonly unsubscribe: () => void;
  private readonly pending = new Set<Promise<unknown>>();
  /** calls that outlive their job's step (rollbacks): aborted by close() */
  private readonly detached = new Set<AbortController>();
  /** timers of later rollback checks: cleared by close() */
  private readonly retryTimers = new Set<TimerHandle>();
  /** check() calls waiting for their job's end */
  private readonly waiters = new Map<string, { resolve(job: Job): void; reject(err: unknown): void }>();
  private closed = false;
  /** the owner of this instance's job leases */
  readonly instanceId: string;
  private readonly leaseMs: number;
  private readonly leaseTimer: ReturnType<typeof setInterval>;
  private leaseTicking = false;

  constructor(options: RunnerOptions) {
    this.o = options;
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger;
    // SQLite is one OAM instance's store: a fixed id, so that a restart after a crash resumes its jobs at once;
    // with a shared store each process is its own instance
    this.instanceId = options.instanceId ?? (options.store.kind === 'sqlite' ? SQLITE_INSTANCE_ID : `oam-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`);
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    if (this.instanceId === '') throw new OamError('ERR_OAM_CONFIG', 'instanceId must not be empty');
    if (!(Number.isFinite(this.leaseMs) && this.leaseMs >= 3)) throw new OamError('ERR_OAM_CONFIG', 'leaseMs must be a number of milliseconds (at least 3)');
    this.unsubscribe = options.devices.onCompletion((c) => {
      void this.track(this.deviceCompletion(c));
    });
    this.leaseTimer = setInterval(() => { void this.leaseTick(); }, Math.floor(this.leaseMs / 3));
    this.leaseTimer.unref();
  }

  /** Step 1: create and start a job. Resolves once the job is persisted and its first step is under way. */
  start(req: StartRequest): Promise<Job> {
    return this.create('software-update', (this.o.newJobId ?? (() => `job-${randomUUID()}`))(), req);
  }

  /**
   * Steps 2-4 alone (the integrity-request RPC): a job of kind integrity-check, under the same one-job-per-H(e)NB
   * rule as updates. Resolves with the ended job (its result: the PVE's verdict, or why there is none) once it is
   * stored; rejects ERR_OAM_HENB_BUSY when a job runs for the H(e)NB (on any instance), ERR_OAM_CLOSED or
   * ERR_OAM_LEASE_LOST when this instance stops driving it before the end.
   */
  async check(henbId: string, timeouts: Partial<StepTimeouts>): Promise<Job> {
    const jobId = `ir-${randomUUID()}`;
    const ended = new Promise<Job>((resolve, reject) => this.waiters.set(jobId, { resolve, reject }));
    ended.catch(() => undefined);
    try {
      await this.create('integrity-check', jobId, { henbId, request: NO_SOFTWARE, timeouts });
    } catch (err) {
      this.waiters.delete(jobId);
      throw err;
    }
    return ended;
  }

  private async create(kind: JobKind, jobId: string, req: StartRequest): Promise<Job> {
    this.ensureOpen();
    const active = this.busy.get(req.henbId);
    if (active !== undefined) throw new OamError('ERR_OAM_HENB_BUSY', `a job (${active}) is already running for H(e)NB ${req.henbId}`);
    this.busy.set(req.henbId, jobId);
    try {
      const at = this.clock.now();
      const timeouts = { ...(this.o.timeouts ?? {}), ...(req.timeouts ?? {}) };
      const henb = await this.o.store.getHenb(req.henbId);
      const referenceLog = await this.o.store.getReferenceLog<MeasurementLogEntry[]>(req.henbId);
      const nonce = this.o.newNonce();
      const job = newJob({
        jobId, henbId: req.henbId, kind, request: req.request, at, nonce,
        priorHenbState: henb?.state ?? 'unknown',
        timeouts,
        ...(this.o.updatedComponent !== undefined ? { updatedComponent: this.o.updatedComponent } : {}),
        ...(henb?.rim !== undefined && henb.rim !== null ? { oldRim: henb.rim } : {}),
        ...(referenceLog !== undefined ? { referenceLog: referenceLog.log } : {}),
      });
      // the nonce and the job together: the database allows one active job per H(e)NB (across OAM instances);
      // when another holds it, nothing of this one is left behind
      const rec = await this.o.store.transaction(async (tx) => {
        await this.putNonce(tx, nonce, jobId, req.henbId, at, { ...DEFAULT_TIMEOUTS, ...timeouts }.pve);
        return tx.createJob<Job>({
          jobId, henbId: req.henbId, kind, state: job.state, data: job, deadline: null, reason: `${kind} requested`,
          owner: this.instanceId, leaseUntil: at + this.leaseMs,
        });
      }).catch((err: unknown) => {
        if (errorCode(err) !== 'ERR_STORE_HENB_BUSY') throw err;
        throw new OamError('ERR_OAM_HENB_BUSY', `a job is already running for H(e)NB ${req.henbId}: ${(err as Error).message}`, { cause: err });
      });
      this.live.set(jobId, { job, version: rec.version, queue: Promise.resolve() });
      await this.dispatch(jobId, { type: 'start', at });
      return this.live.get(jobId)?.job ?? job;
    } catch (err) {
      // the job could not start (e.g. the database failed): never leave it half-started
      const l = this.live.get(jobId);
      this.live.delete(jobId);
      if (this.busy.get(req.henbId) === jobId) this.busy.delete(req.henbId);
      if (l !== undefined && !isTerminal(l.job.state)) {
        await this.o.store.saveJobTransition(jobId, 'failed', {
          expectPrevVersion: l.version, terminal: true, deadline: null, reason: `job could not start (${errorCode(err)})`,
          data: { ...l.job, state: 'failed', result: { status: 'failed', reason: `job could not start (${errorCode(err)})`, at: this.clock.now() } },
        }).catch((e: unknown) => this.log.error('failed job not recorded', { jobId, err: e }));
      }
      throw err;
    }
  }

  /**
   * After a restart: the jobs this instance claims (unowned, its own, or whose lease expired) get a `restart`
   * event. Returns the ids of the jobs resumed.
   */
  async resume(): Promise<string[]> {
    this.ensureOpen();
    return this.takeOver(await this.o.store.claimJobs<Job>(this.instanceId, this.leaseMs, this.clock.now()));
  }

  /** Renew this instance's leases, claim the jobs of instances that stopped renewing theirs and resume them. */
  private async leaseTick(): Promise<void> {
    if (this.closed || this.leaseTicking) return;
    this.leaseTicking = true;
    try {
      await this.track((async () => {
        // one statement renews this instance's leases and takes the expired ones (claimJobs covers its own jobs)
        const recs = await this.o.store.claimJobs<Job>(this.instanceId, this.leaseMs, this.clock.now());
        if (this.closed) return;
        this.checkHeld(new Set(recs.map((r) => r.jobId)));
        const taken = await this.takeOver(recs, 'takeover');
        if (taken.length > 0) this.log.info('jobs taken over from an instance whose lease expired', { instanceId: this.instanceId, jobs: taken });
      })());
    } catch (err) {
      this.log.warn('job leases not renewed', { instanceId: this.instanceId, err });
    } finally {
      this.leaseTicking = false;
    }
  }

  /**
   * Jobs live here that the store no longer gives this instance (another took one, e.g. for its completion-tim):
   * each is checked in its queue (after any transition under way) and dropped when its owner or version moved,
   * so that it holds no timer, call or H(e)NB here while it waits for an event that would find out.
   */
  private checkHeld(held: Set<string>): void {
    for (const [jobId, l] of this.live) {
      if (held.has(jobId)) continue;
      void this.enqueue(l, async () => {
        if (this.live.get(jobId) !== l) return;
        const rec = await this.o.store.getJob(jobId);
        if (rec === undefined || rec.owner !== this.instanceId || rec.version !== l.version) {
          this.drop(l, new OamError('ERR_OAM_LEASE_LOST', `job ${jobId} is owned by ${rec?.owner ?? 'nobody'} at version ${rec?.version ?? '-'}`));
        }
      }).catch((err: unknown) => this.log.warn('job lease not checked', { jobId, err }));
    }
  }

  /** Drive claimed jobs this instance does not run yet: a `restart` event each (or the delivery of a final one). */
  private async takeOver(recs: JobRecord<Job>[], cause: 'restart' | 'takeover' = 'restart'): Promise<string[]> {
    const ids: string[] = [];
    for (const rec of recs) {
      // live here already, or being started by start() (busy is set before its createJob commits)
      if (!isJobKind(rec.kind) || this.live.has(rec.jobId) || this.busy.has(rec.henbId)) continue;
      const job = reconcile(rec);
      this.live.set(rec.jobId, { job, version: rec.version, queue: Promise.resolve() });
      this.busy.set(job.henbId, job.jobId);
      ids.push(rec.jobId);
    }
    for (const id of ids) {
      const l = this.live.get(id);
      if (!l) continue;
      if (isTerminal(l.job.state)) {
        // ended before a crash, result not delivered yet: deliver the persisted outbox
        await this.enqueue(l, () => this.deliver(l));
        continue;
      }
      const at = this.clock.now();
      await this.dispatch(id, {
        type: 'restart', at, nonce: await this.freshNonce(id, l.job.henbId, at, l.job.timeouts.pve),
        ...(cause === 'takeover' ? { takenOverBy: this.instanceId } : {}),
      });
    }
    return ids;
  }

  /**
   * Step 8 by RPC: check the job is known, belongs to the H(e)NB and waits; then feed the completion. The RPC may
   * reach any instance (e.g. behind a load balancer): a job that another instance drives and that is waiting for
   * its completion (awaiting-completion; not update-sending, where a restart fails the job) is taken over here
   * (Store.takeJob at the version read, then the `restart` event that resume() sends) and gets the completion
   * here; the other instance's next transition fails ERR_STORE_CONFLICT and it drops the job.
   */
  async complete(c: DeviceCompletion): Promise<Job> {
    this.ensureOpen();
    const l = this.live.get(c.jobId);
    if (l !== undefined) {
      const job = l.job;
      if (job.henbId !== c.henbId) throw new OamError('ERR_OAM_HENB_MISMATCH', `job ${c.jobId} does not belong to H(e)NB ${c.henbId}`);
      // before the device acknowledged the software-update, no completion is believed
      if (job.state !== 'awaiting-completion') throw notWaiting(c.jobId, job.state);
      const attested = await this.attest(job, c);
      await this.dispatch(c.jobId, { type: 'completion', at: this.clock.now(), completion: c, attested });
      // dropped meanwhile (another instance had taken the job): nothing was written here; take it back below
      if (l.lost !== true) return this.live.get(c.jobId)?.job ?? (await this.o.store.getJob<Job>(c.jobId))?.data ?? l.job;
    }
    const stored = await this.o.store.getJob<Job>(c.jobId);
    // appraised before the job is taken: a refused completion moves nothing, not even the job's lease
    const attested = stored !== undefined && stored.data.henbId === c.henbId && stored.data.state === 'awaiting-completion' && !stored.terminal
      ? await this.attest(stored.data, c) : undefined;
    const taken = await this.takeForCompletion(c);
    await this.dispatch(c.jobId, { type: 'completion', at: this.clock.now(), completion: c, ...(attested !== undefined ? { attested } : {}) });
    if (taken.lost === true) throw notWaiting(c.jobId, 'taken by another OAM instance');
    return this.live.get(c.jobId)?.job ?? (await this.o.store.getJob<Job>(c.jobId))?.data ?? taken.job;
  }

  /**
   * complete() for a job this instance does not drive: the stored job must be active, of the H(e)NB and awaiting
   * its completion. Takes it only at the version checked (so never a job that moved since), then resumes it here
   * as resume() does (`restart`: keeps waiting, the original deadline, the device watched again).
   */
  private async takeForCompletion(c: DeviceCompletion): Promise<Live> {
    const rec = await this.o.store.getJob<Job>(c.jobId);
    if (rec === undefined) throw new OamError('ERR_OAM_JOB_UNKNOWN', `no job ${c.jobId}`);
    if (rec.data.henbId !== c.henbId) throw new OamError('ERR_OAM_HENB_MISMATCH', `job ${c.jobId} does not belong to H(e)NB ${c.henbId}`);
    if (rec.kind !== 'software-update' || rec.terminal || rec.data.state !== 'awaiting-completion' || this.busy.has(rec.henbId)) {
      throw notWaiting(c.jobId, rec.data.state);
    }
    const taken = await this.o.store.takeJob<Job>(c.jobId, this.instanceId, this.leaseMs, this.clock.now(), rec.version);
    if (taken === undefined) throw notWaiting(c.jobId, 'moved on meanwhile');
    if (this.closed) {
      // close() ran while the job was being taken: give it up with the others
      await this.o.store.releaseJobs(this.instanceId).catch(() => undefined);
      this.ensureOpen();
    }
    this.log.info('job taken over for its completion-tim', { jobId: c.jobId, henbId: c.henbId, instanceId: this.instanceId, from: rec.owner });
    await this.takeOver([taken], 'takeover');
    const l = this.live.get(c.jobId);
    if (l === undefined || l.job.state !== 'awaiting-completion') throw notWaiting(c.jobId, l?.job.state ?? 'not driven here');
    return l;
  }

  /** The current state of a job (live or stored). */
  async getJob(jobId: string): Promise<Job | undefined> {
    return this.live.get(jobId)?.job ?? (await this.o.store.getJob<Job>(jobId))?.data;
  }

  /** The job running for an H(e)NB, if any. */
  activeJobFor(henbId: string): string | undefined {
    return this.busy.get(henbId);
  }

  /** Wait until every effect started so far has settled (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Stop timers and calls; the jobs stay in the store as they are (resume() picks them up). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.leaseTimer);
    this.unsubscribe();
    for (const l of this.live.values()) {
      if (l.timer !== undefined) this.clock.clearTimeout(l.timer);
      l.step?.abort(new OamError('ERR_OAM_CLOSED', 'OAM runner closed'));
    }
    for (const ac of this.detached) ac.abort(new OamError('ERR_OAM_CLOSED', 'OAM runner closed'));
    for (const t of this.retryTimers) this.clock.clearTimeout(t);
    this.retryTimers.clear();
    for (const w of this.waiters.values()) w.reject(new OamError('ERR_OAM_CLOSED', 'OAM runner closed'));
    this.waiters.clear();
    await Promise.allSettled([...this.pending]);
    this.live.clear();
    this.busy.clear();
    // an orderly stop: other instances (or this one restarted) may claim the jobs at once, not after the lease
    await this.o.store.releaseJobs(this.instanceId).catch((err: unknown) => {
      this.log.warn('job leases not released; other instances take the jobs when the leases expire', { instanceId: this.instanceId, err });
    });
  }

  // ---------------------------------------------------------------------------------------------------------

  private ensureOpen(): void {
    if (this.closed) throw new OamError('ERR_OAM_CLOSED', 'OAM runner closed');
  }

  /** a fresh single-use nonce, valid for the PVE step (+ 5 minutes of clock slack) */
  private async freshNonce(jobId: string, henbId: string, at: number, pveMs: number): Promise<string> {
    const nonce = this.o.newNonce();
    await this.putNonce(this.o.store, nonce, jobId, henbId, at, pveMs);
    return nonce;
  }

  private async putNonce(ops: StoreOps, nonce: string, jobId: string, henbId: string, at: number, pveMs: number): Promise<void> {
    await ops.putNonce({ nonce, purpose: 'pve-integrity', jobId, henbId, createdAt: at, expiresAt: at + pveMs + 300_000 });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.then(() => this.pending.delete(p), () => this.pending.delete(p));
    return p;
  }

  /**
   * Step 8 by the device's notification: appraised like the RPC (attest()); a refused one changes nothing, is logged
   * and raises an integrity-alarm. A completion that arrives before the device's acknowledgement was processed
   * waits for it (the device answers the software-update before it installs, but the two may cross here).
   */
  private async deviceCompletion(c: DeviceCompletion): Promise<void> {
    if (this.closed) return;
    const l = this.live.get(c.jobId);
    if (l === undefined) {
      this.log.warn('completion for a job that is not running', { jobId: c.jobId, henbId: c.henbId });
      return;
    }
    if (l.job.state === 'update-sending' && l.sending !== undefined) await l.sending.catch(() => undefined);
    const job = l.job;
    try {
      if (job.henbId !== c.henbId) throw new CompletionRefused('ERR_OAM_HENB_MISMATCH', 'henb-mismatch', `job ${c.jobId} does not belong to H(e)NB ${c.henbId}`);
      if (job.state !== 'awaiting-completion') throw notWaiting(c.jobId, job.state);
      const attested = await this.attest(job, c);
      await this.dispatch(c.jobId, { type: 'completion', at: this.clock.now(), completion: c, attested });
    } catch (err) {
      if (this.closed) return;
      this.log.warn('device completion refused; the job keeps waiting', { jobId: c.jobId, henbId: c.henbId, code: errorCode(err), err });
      if (err instanceof CompletionRefused || errorCode(err) === 'ERR_OAM_JOB_NOT_WAITING') {
        await this.o.events.alarm(job, `completion for job ${c.jobId} refused (${errorCode(err)}): ${messageOf(err)}; nothing changed`);
      }
    }
  }

  /**
   * Have the PVE appraise a completion (phase post-update: the device's signature with its enrolled key over the
   * job's update nonce, the job, the TIM and the log; the log replays to the TIM) and verify the PVE's token.
   * Returns what transition() needs to accept the completion; throws CompletionRefused otherwise (nothing is
   * written). The nonce is used up with the transition that applies the completion (persist()).
   */
  async attest(job: Job, c: DeviceCompletion): Promise<AttestedCompletion> {
    const ev = c.evidence;
    if (ev === undefined) throw new CompletionRefused('ERR_OAM_EVIDENCE_REQUIRED', 'evidence-required', 'the completion carries no evidence signed by the H(e)NB');
    if (job.updateNonce === undefined) throw new CompletionRefused('ERR_OAM_NONCE_MISMATCH', 'nonce-mismatch', `job ${job.jobId} sent no nonce with its software-update`);
    if (!sameText(ev.nonce, job.updateNonce)) {
      throw new CompletionRefused('ERR_OAM_NONCE_MISMATCH', 'nonce-mismatch', `the evidence is signed over another nonce than job ${job.jobId}'s`);
    }
    if (c.tim === undefined || c.measurementLog === undefined) {
      throw new CompletionRefused('ERR_OAM_EVIDENCE_INVALID', 'evidence-invalid', 'the completion carries no TIM and measurement log to appraise');
    }
    const ac = new AbortController();
    const t = this.clock.setTimeout(() => ac.abort(new OamError('ERR_OAM_TIMEOUT', 'PVE appraisal timed out')), job.timeouts.pve);
    this.detached.add(ac);
    let token: string;
    try {
      token = (await this.o.pve.integrityRequest({
        henbId: job.henbId, jobId: job.jobId, nonce: job.updateNonce,
        completion: {
          status: c.deviceStatus ?? (c.status === 'completed' ? 'completed' : 'install-error'),
          tim: c.tim, measurementLog: c.measurementLog, evidence: ev,
          ...(c.selfCheck !== undefined ? { selfCheck: c.selfCheck } : {}),
          ...(c.softwareVersion !== undefined ? { softwareVersion: c.softwareVersion } : {}),
        },
      }, ac.signal, this.clock.now() + job.timeouts.pve)).token;
    } catch (err) {
      throw new CompletionRefused('ERR_OAM_PVE_UNREACHABLE', 'pve-unreachable', `the PVE could not appraise the completion (${errorCode(err)})`, { cause: err });
    } finally {
      this.clock.clearTimeout(t);
      this.detached.delete(ac);
    }
    let claims: EarClaims;
    try {
      claims = await this.o.tokens.verifyPve(token, job.updateNonce);
    } catch (err) {
      throw new CompletionRefused('ERR_OAM_PVE_RESULT_INVALID', 'pve-result-invalid', `the PVE's appraisal did not verify (${errorCode(err)})`, { cause: err });
    }
    const sub = claims.submods.completion;
    if (claims.sub !== job.henbId || sub === undefined || sub.phase !== 'post-update' || sub['job-id'] !== job.jobId) {
      throw new CompletionRefused('ERR_OAM_PVE_RESULT_INVALID', 'pve-result-invalid', 'the PVE\'s appraisal is not about this job\'s completion');
    }
    if (claims.ear_status !== 'affirming' || sub.ear_status !== 'affirming') {
      throw new CompletionRefused('ERR_OAM_EVIDENCE_INVALID', 'evidence-invalid', `the PVE did not accept the evidence: ${sub.reason ?? claims.ear_status}`);
    }
    if (sub['reported-tim'] !== c.tim) {
      throw new CompletionRefused('ERR_OAM_EVIDENCE_INVALID', 'evidence-invalid', 'the PVE appraised another TIM than the completion\'s');
    }
    // the nonce is used up in the transaction that applies the completion (persist()): only by the instance that
    // applies it, and never by one whose transition fails
    return {
      henbId: job.henbId, jobId: job.jobId, nonce: job.updateNonce, tim: c.tim, token,
      format: sub['evidence-format'] === 'tpm2-quote' ? 'tpm2-quote' : 'software-key',
    };
  }

  /** Queue an event for a job; events of one job are processed in order, one at a time. */
  dispatch(jobId: string, event: JobEvent): Promise<void> {
    const l = this.live.get(jobId);
    if (l === undefined) return Promise.resolve();
    return this.enqueue(l, () => this.process(l, event));
  }

  private enqueue(l: Live, fn: () => Promise<void>): Promise<void> {
    const run = l.queue.then(() => (this.closed ? undefined : fn()));
    l.queue = run.catch(() => undefined);
    return this.track(run);
  }

  private async process(l: Live, event: JobEvent): Promise<void> {
    if (this.closed || this.live.get(l.job.jobId) !== l) return;
    const out = transition(l.job, event);
    if (out.ignored !== undefined) {
      this.log.debug('event ignored', { jobId: l.job.jobId, event: event.type, why: out.ignored });
      return;
    }
    let job = out.job;
    if (isTerminal(job.state) && job.result !== undefined && kindOf(job) === 'integrity-check') {
      // steps 2-4 alone: the result is the PVE's signed verdict (when there is one), not an OAM token
      if (job.pve !== undefined) job = { ...job, result: { ...job.result, token: job.pve.token } };
    } else if (isTerminal(job.state) && job.result !== undefined) {
      const token = await this.signResult(job).catch((err: unknown) => {
        this.log.error('result token not signed', { jobId: job.jobId, err });
        return undefined;
      });
      if (token !== undefined) job = { ...job, result: { ...job.result!, token } };
    }
    const terminal = isTerminal(job.state);
    // a final state is stored with its outbox and stays "active" until the outbox is delivered
    if (terminal) job = { ...job, outbox: out.effects.filter((e) => e.type !== 'store-rim' && e.type !== 'set-henb-state') };
    const from = l.job.state;
    let rec: JobRecord<Job>;
    try {
      rec = await this.persist(l, job, out.effects, event);
    } catch (err) {
      if (this.dropIfLost(l, err)) return;
      throw err;
    }
    l.job = rec.data;
    l.version = rec.version;
    this.log.info('job transition', {
      jobId: job.jobId, henbId: job.henbId, event: event.type, from, to: job.state,
      ...(terminal ? { reason: job.result?.reason } : {}),
    });

    // timers and in-flight calls of the previous state
    if (l.timer !== undefined) { this.clock.clearTimeout(l.timer); delete l.timer; }
    l.step?.abort(new OamError('ERR_OAM_STEP_ENDED', 'step ended'));
    l.step = new AbortController();
    const signal = l.step.signal;
    if (terminal) {
      await this.deliver(l);
      return;
    }
    if (job.deadline !== undefined) {
      const state = job.state;
      const jobId = job.jobId;
      l.timer = this.clock.setTimeout(() => {
        void this.dispatch(jobId, { type: 'timeout', at: this.clock.now(), state }).catch((err: unknown) => {
          this.log.error('timeout not processed', { jobId, err });
        });
      }, Math.max(0, job.deadline - this.clock.now()));
    }
    for (const e of out.effects) await this.perform(l, job, e, signal);
  }

  /**
   * Perform a final job's outbox (notifications, alarm, rollback), then mark the job terminal. After a crash
   * the outbox is delivered again by resume(): notifications may repeat, a rollback is never asked twice.
   */
  private async deliver(l: Live): Promise<void> {
    try {
      await this.deliverOutbox(l);
    } catch (err) {
      if (!this.dropIfLost(l, err)) throw err;
    }
  }

  private async deliverOutbox(l: Live): Promise<void> {
    if (this.live.get(l.job.jobId) !== l) return;
    const outbox = l.job.outbox ?? [];
    for (const e of outbox) {
      if (e.type === 'rollback') {
        if (l.job.rollbackSent === true) {
          this.log.warn('rollback may have been asked before a restart; not asked again', { jobId: l.job.jobId });
          continue;
        }
        await this.save(l, { ...l.job, rollbackSent: true }, false, 'rollback requested');
      }
      await this.perform(l, l.job, e, l.step?.signal ?? new AbortController().signal);
    }
    const done: Job = { ...l.job };
    delete done.outbox;
    await this.save(l, done, true, 'result delivered');
    this.live.delete(done.jobId);
    if (this.busy.get(done.henbId) === done.jobId) this.busy.delete(done.henbId);
    this.waiters.get(done.jobId)?.resolve(l.job);
    this.waiters.delete(done.jobId);
  }

  /**
   * A transition refused with ERR_STORE_CONFLICT: another instance moved the job (it claimed it after this
   * instance's lease expired). The job is no longer driven here: its timer and calls stop, the H(e)NB is free
   * in this instance's memory. Returns false for any other error.
   */
  private dropIfLost(l: Live, err: unknown): boolean {
    if (errorCode(err) !== 'ERR_STORE_CONFLICT') return false;
    this.drop(l, err);
    return true;
  }

  /** The job is driven by another instance: stop driving it here (timer, calls, memory) and log it. */
  private drop(l: Live, err: unknown): void {
    const { jobId, henbId } = l.job;
    l.lost = true;
    if (this.live.get(jobId) === l) this.live.delete(jobId);
    if (this.busy.get(henbId) === jobId) this.busy.delete(henbId);
    if (l.timer !== undefined) { this.clock.clearTimeout(l.timer); delete l.timer; }
    l.step?.abort(new OamError('ERR_OAM_LEASE_LOST', `job ${jobId} is driven by another OAM instance`));
    this.waiters.get(jobId)?.reject(new OamError('ERR_OAM_LEASE_LOST', `job ${jobId} is driven by another OAM instance`));
    this.waiters.delete(jobId);
    this.log.warn('job moved by another OAM instance (lease lost); no longer driven here', { jobId, henbId, instanceId: this.instanceId, err });
  }

  private async save(l: Live, job: Job, terminal: boolean, reason: string): Promise<void> {
    const rec = await this.o.store.saveJobTransition<Job>(job.jobId, job.state, {
      expectPrevVersion: l.version, data: job, deadline: null, reason, at: this.clock.now(),
      ...(terminal ? { terminal: true } : {}),
    });
    l.job = rec.data;
    l.version = rec.version;
  }

  /** The job's new state, the persist-effects and the result, in one transaction. */
  private async persist(l: Live, job: Job, effects: Effect[], event: JobEvent): Promise<JobRecord<Job>> {
    const terminal = isTerminal(job.state);
    return this.o.store.transaction(async (tx) => {
      const rec = await tx.saveJobTransition<Job>(job.jobId, job.state, {
        expectPrevVersion: l.version,
        data: job,
        deadline: job.deadline ?? null,
        ...(job.updateSent === true ? { updateSent: true } : {}),
        reason: terminal ? job.result?.reason ?? event.type : event.type,
        at: job.updatedAt,
      });
      for (const e of effects) {
        if (e.type === 'set-henb-state') {
          const cur = e.versionIfUnset !== undefined ? await tx.getHenb(e.henbId) : undefined;
          const version = e.versionIfUnset !== undefined && (cur?.softwareVersion ?? null) === null ? { softwareVersion: e.versionIfUnset } : {};
          await setHenb(tx, e.henbId, { state: e.state, ...version });
        }
        else if (e.type === 'store-rim') {
          await setHenb(tx, e.henbId, { rim: e.rim, ...(e.version !== undefined ? { softwareVersion: e.version } : {}) });
          if (e.measurementLog !== undefined) await tx.putReferenceLog(e.henbId, e.measurementLog);
        }
      }
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
      if (terminal && job.result?.token !== undefined && kindOf(job) === 'integrity-check') {
        // the PVE's token, stored as the pve result of the pve-result event
        await setHenb(tx, job.henbId, { lastResultToken: job.result.token });
      } else if (terminal && job.result?.token !== undefined) {
        await tx.putResult({ jobId: job.jobId, kind: 'final', henbId: job.henbId, earStatus: finalEarStatus(job), token: job.result.token, createdAt: job.updatedAt });
        await setHenb(tx, job.henbId, { lastResultToken: job.result.token });
      }
      return rec;
    });
  }

  private async perform(l: Live, job: Job, e: Effect, signal: AbortSignal): Promise<void> {
    const ev = this.o.events;
    try {
      switch (e.type) {
        case 'store-rim':
        case 'set-henb-state':
          return; // done in the transaction
        case 'emit-progress':
          await ev.progress(job, e.step, e.text);
          return;
        case 'emit-result':
          await ev.result(job);
          return;
        case 'raise-alarm':
          await ev.alarm(job, e.text);
          return;
        case 'request-pve':
          void this.track(this.askPve(job.jobId, e.henbId, e.nonce, signal, job.deadline));
          return;
        case 'fetch-software':
          void this.track(this.fetch(job.jobId, e.uri, signal));
          return;
        case 'send-update':
          l.sending = this.track(this.send(job.jobId, e, signal, job.deadline));
          return;
        case 'rollback':
          void this.track(this.rollback(job));
          return;
        case 'provide-reference-values':
          // awaited: the result is notified after the PVE has the values (an integrity check right after affirms)
          await this.track(this.provideReferenceValues(job, e));
          return;
        case 'watch-device':
          if (this.o.devices.resume) {
            const resume = this.o.devices.resume.bind(this.o.devices);
            void this.track(resume(e.henbId, e.jobId, e.since, signal).catch((err: unknown) => {
              if (!signal.aborted) this.log.warn('device not watched after restart; completion-tim RPC or timeout', { jobId: e.jobId, err });
            }));
          }
          return;
      }
    } catch (err) {
      this.log.error('effect failed', { jobId: l.job.jobId, effect: e.type, err });
    }
  }

  private async askPve(jobId: string, henbId: string, nonce: string, signal: AbortSignal, deadline: number | undefined): Promise<void> {
    let token: string;
    try {
      token = (await this.o.pve.integrityRequest({ henbId, nonce, jobId }, signal, deadline)).token;
    } catch (err) {
      if (signal.aborted) return; // our own timeout or a newer step: the timeout event speaks
      const code = errorCode(err);
      // the PVE answered that it could not reach the H(e)NB: the device did not answer in time (status timeout)
      const kind = pveFailureKind(err);
      const deviceUnreachable = kind === 'henb-unreachable';
      if (kind === 'henb-unknown') {
        // the PVE answered: it is reachable, but the H(e)NB is not in its devices file
        this.log.warn('the PVE does not know the H(e)NB', { jobId, henbId, code });
        await this.dispatch(jobId, {
          type: 'pve-error', at: this.clock.now(), cause: { kind: 'henb-unknown-to-pve', code },
          reason: `the PVE does not know H(e)NB ${henbId} (${code}); add it to the PVE's devices file`,
        });
        return;
      }
      await this.dispatch(jobId, {
        type: 'pve-error', at: this.clock.now(), timedOut: kind !== 'other',
        cause: { kind: deviceUnreachable ? 'henb-unreachable' : 'pve-unreachable', code },
        reason: deviceUnreachable
          ? `the PVE could not collect evidence: H(e)NB unreachable (${code}): ${messageOf(err)}`
          : `PVE unreachable or in error (${code}): ${messageOf(err)}`,
      });
      return;
    }
    if (signal.aborted) return;
    let claims: EarClaims;
    try {
      claims = await this.o.tokens.verifyPve(token, nonce);
      const used = await this.o.store.consumeNonce(nonce, this.clock.now());
      if (!used.ok) throw new OamError('ERR_OAM_NONCE', `nonce ${used.reason}`);
    } catch (err) {
      if (signal.aborted) return;
      await this.dispatch(jobId, {
        type: 'pve-error', at: this.clock.now(),
        reason: `PVE result did not verify (${errorCode(err)})`, cause: { kind: 'pve-result-invalid', code: errorCode(err) },
      });
      return;
    }
    if (claims.sub !== henbId) {
      await this.dispatch(jobId, {
        type: 'pve-error', at: this.clock.now(), reason: `PVE result is about ${claims.sub}, not ${henbId}`,
        cause: { kind: 'pve-result-invalid', code: 'ERR_OAM_SUBJECT' satisfies OamErrorCode },
      });
      return;
    }
    const platform = claims.submods.platform ?? Object.values(claims.submods)[0];
    const attested = platform?.['reported-tim'];
    const version = platform?.['software-version'];
    const attestedLog = platform?.['measurement-log'];
    await this.dispatch(jobId, {
      type: 'pve-result', at: this.clock.now(), earStatus: claims.ear_status, token,
      ...(attested !== undefined ? { attestedTim: attested } : {}),
      ...(version !== undefined ? { attestedVersion: version } : {}),
      ...(platform?.reason !== undefined ? { verdictReason: platform.reason } : {}),
      ...(Array.isArray(attestedLog) && attestedLog.length > 0 ? { attestedLog } : {}),
    });
  }

  private async fetch(jobId: string, uri: string, signal: AbortSignal): Promise<void> {
    try {
      const d = await this.o.fetcher.fetchAndDigest(uri, signal);
      if (signal.aborted) return;
      const job = this.live.get(jobId)?.job;
      if (job === undefined) return;
      if (this.o.softwareManifest !== undefined) {
        try {
          await this.o.softwareManifest.check({
            uri, sha256: d.sha256, component: job.updatedComponent, ...(job.request.version !== undefined ? { version: job.request.version } : {}),
          }, signal);
        } catch (err) {
          if (signal.aborted) return;
          await this.dispatch(jobId, { type: 'fetch-error', at: this.clock.now(), reason: `${messageOf(err)} (${errorCode(err)})`, manifest: true });
          return;
        }
        if (signal.aborted) return;
      }
      // the completion's nonce: stored (single use) before it leaves in the software-update
      const at = this.clock.now();
      const updateNonce = this.o.newNonce();
      await this.o.store.putNonce({
        nonce: updateNonce, purpose: 'update-completion', jobId, henbId: job.henbId, createdAt: at,
        expiresAt: at + job.timeouts.send + job.timeouts.completion + 300_000,
      });
      await this.dispatch(jobId, { type: 'software-digest', at: this.clock.now(), sha256: d.sha256, size: d.size, updateNonce });
    } catch (err) {
      if (signal.aborted) return;
      await this.dispatch(jobId, { type: 'fetch-error', at: this.clock.now(), reason: `${messageOf(err)} (${errorCode(err)})` });
    }
  }

  private async send(jobId: string, e: Extract<Effect, { type: 'send-update' }>, signal: AbortSignal, deadline: number | undefined): Promise<void> {
    try {
      await this.o.devices.softwareUpdate(e.henbId, e.command, signal, deadline);
      if (signal.aborted) return;
      await this.dispatch(jobId, { type: 'device-accepted', at: this.clock.now() });
    } catch (err) {
      if (signal.aborted) return;
      const code = errorCode(err);
      await this.dispatch(jobId, {
        type: 'device-error', at: this.clock.now(), reason: `${messageOf(err)} (${code})`,
        refused: deviceRefused(err),
      });
    }
  }

  /**
   * Step 9 after a verified update, the OAM as Reference Value Provider: sign the new reference values and hand them
   * to the PVE, within the PVE step's timeout. A failure does not change the verified result; it is logged, told
   * in a progress notification and raised as an alarm (the PVE's next appraisal of the H(e)NB may not affirm).
   */
  private async provideReferenceValues(job: Job, e: Extract<Effect, { type: 'provide-reference-values' }>): Promise<void> {
    const sign = this.o.tokens.signReferenceValues?.bind(this.o.tokens);
    const provide = this.o.pve.provideReferenceValues?.bind(this.o.pve);
    if (sign === undefined || provide === undefined) {
      this.log.debug('reference values not provided: no signer or PVE operation configured', { jobId: job.jobId });
      return;
    }
    const ac = new AbortController();
    const t = this.clock.setTimeout(() => ac.abort(new OamError('ERR_OAM_TIMEOUT', 'providing the reference values timed out')), job.timeouts.pve);
    this.detached.add(ac);
    const what = e.values.map((v) => `${v.component}${v.version !== undefined ? ` ${v.version}` : ''}`).join(', ');
    // the audit log (src/store/audit.ts): which reference values the OAM handed the PVE, or tried to
    const audit = (outcome: Record<string, unknown>): Promise<void> => this.o.store.appendAudit({
      actor: 'system', action: 'reference-values-provided', object: `henb/${e.henbId}`,
      details: { jobId: e.jobId, values: e.values, ...outcome },
    }).then(() => undefined, (err: unknown) => this.log.error('audit record not written', { jobId: job.jobId, err }));
    try {
      const jws = await sign({ henbId: e.henbId, jobId: e.jobId, values: e.values });
      await provide(jws, ac.signal);
      await audit({ accepted: true });
      this.log.info('reference values provided to the PVE', { jobId: job.jobId, henbId: job.henbId, values: what });
      await this.o.events.progress(job, STEP.compare, `new reference values provided to the PVE (${what})`);
    } catch (err) {
      if (this.closed) return;
      const code = errorCode(err);
      await audit({ accepted: false, code });
      this.log.warn('reference values not provided to the PVE', { jobId: job.jobId, henbId: job.henbId, code, err });
      await this.o.events.progress(job, STEP.compare, `new reference values not provided to the PVE (${code})`);
      await this.o.events.alarm(job, `the PVE did not take the reference values of H(e)NB ${job.henbId} after job ${job.jobId} (${code}): `
        + 'its next integrity check may not affirm the verified software');
    } finally {
      this.clock.clearTimeout(t);
      this.detached.delete(ac);
    }
  }

  private async rollback(job: Job): Promise<void> {
    // the job is over: its step signal is aborted already, give the rollback its own bounded time
    const ac = new AbortController();
    const t = this.clock.setTimeout(() => ac.abort(new OamError('ERR_OAM_TIMEOUT', 'rollback timed out')), job.timeouts.send);
    this.detached.add(ac);
    let accepted = false;
    try {
      await this.o.devices.rollback(job.henbId, job.jobId, ac.signal);
      accepted = true;
      await this.o.events.progress(job, STEP.compare, 'measure applied: H(e)NB asked to roll back to its previous slot');
    } catch (err) {
      this.log.warn('rollback failed', { jobId: job.jobId, henbId: job.henbId, err });
      await this.o.events.progress(job, STEP.compare, `measure failed: rollback not accepted by the H(e)NB (${errorCode(err)})`);
    } finally {
      this.clock.clearTimeout(t);
      this.detached.delete(ac);
    }
    if (accepted && !this.closed) await this.checkRollback(job, 1, this.clock.now() + job.timeouts.completion, undefined);
  }

  /**
   * After a rollback (issue 10 item 5): the device's fresh evidence, collected by the PVE with a fresh nonce, must
   * equal the stored RIM (the reference the failed update never replaced) with an affirming verdict. A device that
   * is still rebooting, or not yet back, is asked again later (doubling delays, within the job's completion
   * timeout). The outcome is recorded (result kind rollback-check) and notified (progress); when the device never
   * shows the stored RIM, an alarm says so.
   */
  private async checkRollback(job: Job, attempt: number, deadline: number, last: { reason: string; token?: string } | undefined): Promise<void> {
    if (this.closed) return;
    const attempts = Math.max(1, this.o.rollbackCheck?.attempts ?? 6);
    const firstDelay = Math.max(1, this.o.rollbackCheck?.firstDelayMs ?? 2000);
    const outcome = await this.rollbackEvidence(job).catch((err: unknown): RollbackEvidence => ({ ok: false, reason: `rollback check failed (${errorCode(err)})` }));
    if (this.closed) return;
    if (outcome.ok) {
      await this.recordRollbackCheck(job, 'affirming', outcome.token);
      await this.o.events.progress(job, STEP.compare, `rollback verified: the H(e)NB's fresh evidence gives the stored RIM ${outcome.tim}`);
      return;
    }
    const now = this.clock.now();
    const delay = firstDelay * 2 ** (attempt - 1);
    if (attempt < attempts && now + delay <= deadline) {
      this.log.info('rollback not confirmed yet; asking again', { jobId: job.jobId, henbId: job.henbId, attempt, reason: outcome.reason });
      const t = this.clock.setTimeout(() => {
        this.retryTimers.delete(t);
        void this.track(this.checkRollback(job, attempt + 1, deadline, outcome));
      }, delay);
      this.retryTimers.add(t);
      return;
    }
    const why = outcome.reason !== '' ? outcome.reason : last?.reason ?? 'no evidence';
    this.log.warn('rollback not confirmed by fresh evidence', { jobId: job.jobId, henbId: job.henbId, attempts: attempt, reason: why });
    await this.recordRollbackCheck(job, 'contraindicated', outcome.token ?? last?.token);
    await this.o.events.progress(job, STEP.compare, `rollback not verified: ${why}`);
    await this.o.events.alarm(job, `H(e)NB ${job.henbId} job ${job.jobId}: the rollback is not confirmed by fresh evidence after ${attempt} attempt(s): ${why}`);
  }

  /** One attempt: a fresh nonce, the PVE's verdict on fresh evidence, verified; ok when affirming with the stored RIM. */
  private async rollbackEvidence(job: Job): Promise<RollbackEvidence> {
    const rim = (await this.o.store.getHenb(job.henbId))?.rim ?? undefined;
    if (rim === undefined || rim === null) return { ok: false, reason: 'no stored RIM to compare with' };
    const at = this.clock.now();
    const nonce = await this.freshNonce(job.jobId, job.henbId, at, job.timeouts.pve);
    const ac = new AbortController();
    const t = this.clock.setTimeout(() => ac.abort(new OamError('ERR_OAM_TIMEOUT', 'the PVE did not answer in time')), job.timeouts.pve);
    this.detached.add(ac);
    let token: string;
    try {
      token = (await this.o.pve.integrityRequest({ henbId: job.henbId, nonce, jobId: job.jobId }, ac.signal)).token;
    } catch (err) {
      return { ok: false, reason: `no fresh evidence: ${pveFailureKind(err) === 'henb-unreachable' ? 'the H(e)NB is unreachable' : 'the PVE did not answer'} (${errorCode(err)})` };
    } finally {
      this.clock.clearTimeout(t);
      this.detached.delete(ac);
    }
    let claims: EarClaims;
    try {
      claims = await this.o.tokens.verifyPve(token, nonce);
      const used = await this.o.store.consumeNonce(nonce, this.clock.now());
      if (!used.ok) throw new OamError('ERR_OAM_NONCE', `nonce ${used.reason}`);
    } catch (err) {
      return { ok: false, reason: `the PVE's verdict did not verify (${errorCode(err)})` };
    }
    if (claims.sub !== job.henbId) return { ok: false, reason: `the PVE's verdict is about ${claims.sub}` };
    const platform = claims.submods.platform ?? Object.values(claims.submods)[0];
    const tim = platform?.['reported-tim'];
    if (claims.ear_status !== 'affirming') {
      return { ok: false, token, reason: `PVE verdict ${claims.ear_status}${platform?.reason !== undefined ? `: ${platform.reason}` : ''}` };
    }
    if (tim !== rim) return { ok: false, token, reason: `the H(e)NB reports TIM ${tim ?? '(none)'}, not the stored RIM ${rim}` };
    return { ok: true, tim, token };
  }

  private async recordRollbackCheck(job: Job, earStatus: EarStatus, token: string | undefined): Promise<void> {
    await this.o.store.putResult({ jobId: job.jobId, kind: 'rollback-check', henbId: job.henbId, earStatus, token: token ?? '', createdAt: this.clock.now() })
      .catch((err: unknown) => this.log.error('rollback check not recorded', { jobId: job.jobId, err }));
  }

  private async signResult(job: Job): Promise<string> {
    const r = job.result!;
    const sub: EarSubmod = {
      ear_status: finalEarStatus(job),
      'job-id': job.jobId,
      phase: 'post-update',
      reason: r.reason,
      'software-uri': job.request.uri,
      ...(job.softwareRim !== undefined ? { 'software-rim': job.softwareRim } : {}),
      ...(job.expectedRim !== undefined ? { 'expected-rim': job.expectedRim } : {}),
      ...(job.completion?.tim !== undefined ? { 'reported-tim': job.completion.tim } : {}),
      ...(job.request.version !== undefined ? { 'software-version': job.request.version } : {}),
      ...(r.component !== undefined ? { 'first-mismatch': r.component } : {}),
      ...(job.completion?.evidenceFormat !== undefined ? { 'evidence-format': job.completion.evidenceFormat } : {}),
      ...(job.completion?.activation !== undefined ? { activation: job.completion.activation } : {}),
      // the completion was appraised as a quote by the device's enrolled TPM AK (AR4SI hardware: affirming)
      ...(job.completion?.evidenceFormat === 'tpm2-quote' ? { ear_trustworthiness_vector: { hardware: 2 } } : {}),
    };
    const comps = componentResults(job);
    if (comps !== undefined) sub.components = comps;
    return this.o.tokens.signFinal({
      sub: job.henbId,
      ear_status: sub.ear_status,
      iat: Math.floor(this.clock.now() / 1000),
      submods: { 'software-update': sub },
    });
  }
}

/** one attempt of the check after a rollback: the stored RIM shown by fresh evidence, or why not */
type RollbackEvidence = { ok: true; tim: string; token: string } | { ok: false; reason: string; token?: string };

/** EAR status of the OAM's final result. */
export function finalEarStatus(job: Job): EarStatus {
  switch (job.state) {
    case 'verified': return 'affirming';
    case 'mismatch': return 'contraindicated';
    case 'refused': return job.pve?.earStatus === 'contraindicated' ? 'contraindicated' : job.pve?.earStatus === 'warning' ? 'warning' : 'none';
    default: return 'none';
  }
}

/** Per-component results when the device sent a log (expected = reference/prefix + updated component). */
export function componentResults(job: Job): ComponentResult[] | undefined {
  const log = job.completion?.measurementLog;
  if (log === undefined || log.length === 0 || job.softwareRim === undefined) return undefined;
  const pre = job.preLog ?? job.referenceLog;
  let expected: MeasurementLogEntry[] = [...(pre ?? log.slice(0, -1)), { component: job.updatedComponent, digest: job.softwareRim }];
  // a rebooted device: the pre-update log with the updated component replaced (not appended)
  if (pre !== undefined && (job.completion?.activation === 'reboot' || (job.completion?.activation === undefined && log.length === pre.length))) {
    try {
      expected = rebootLogAfterUpdate(pre, job.updatedComponent, job.softwareRim);
    } catch {
      // no place for the component in the old log: compared with the live expectation
    }
  }
  const out: ComponentResult[] = [];
  const n = Math.max(expected.length, log.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    const a = log[i];
    if (e === undefined && a !== undefined) out.push({ component: a.component, status: 'unexpected', reported: a.digest });
    else if (a === undefined && e !== undefined) out.push({ component: e.component, status: 'missing', expected: e.digest });
    else if (a !== undefined && e !== undefined) {
      out.push({ component: e.component, status: a.component === e.component && a.digest === e.digest ? 'match' : 'mismatch', expected: e.digest, reported: a.digest });
    }
  }
  return out;
}

/** A job read back after a restart (the blob is what we wrote; the record's flags win when they disagree). */
function reconcile(rec: JobRecord<Job>): Job {
  const job = { ...rec.data };
  if (rec.updateSent) job.updateSent = true;
  return job;
}

async function setHenb(tx: StoreOps, henbId: string, patch: Partial<Pick<HenbRecord, 'rim' | 'softwareVersion' | 'state' | 'lastResultToken'>>): Promise<void> {
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


function isJobKind(kind: string): kind is JobKind {
  return (JOB_KINDS as readonly string[]).includes(kind);
}

/** constant-time equality of two nonce texts */
function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

function notWaiting(jobId: string, state: string): OamError {
  return new OamError('ERR_OAM_JOB_NOT_WAITING', `job ${jobId} is not waiting for a completion (${state})`);
}

function messageOf(err: unknown): string {
  return err instanceof HsvError ? err.message : 'unexpected error';
}

