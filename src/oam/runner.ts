/**
 * The runner: drives jobs through transition() and performs the effects with injected ports.
 *
 * Order for every event (per job, one event at a time: job-queues.ts):
 *   1. out = transition(job, event)                       (pure)
 *   2. terminal state: sign the OAM's result token        (result-token.ts; no side effect yet)
 *   3. ONE store transaction: the job's new state (+ updateSent / terminal flags, deadline), the persist-effects
 *      store-rim and set-henb-state, the result token    (persist.ts: persist before effect)
 *   4. arm the state's timer from job.deadline (expiry -> timeout event), abort the previous step's calls
 *   5. perform the other effects (effects.ts: PVE, fetch, software-update, rollback, notifications); a final
 *      state's are its outbox (outbox.ts), delivered before the job is marked terminal
 *
 * One job per H(e)NB: the in-memory hold answers fast for this instance; the store's createJob is the rule
 * across instances sharing a database (ERR_STORE_HENB_BUSY, reported as ERR_OAM_HENB_BUSY).
 *
 * Bounded admission (admission.ts): at most maxActiveJobs jobs are driven at once; a job submitted beyond that is
 * created in the store (state created) and waits as a compact record until one ends; it gets its PVE nonce when it
 * is admitted, so that a long wait never outlives the nonce.
 *
 * Several instances on a shared store divide the jobs by leases (leases.ts); a completion-tim RPC for a job another
 * instance drives takes that job when it awaits its completion. close() releases this instance's jobs.
 *
 * Restart: resume() claims the active jobs and sends each a `restart` event (transition() decides: redo the PVE
 * or fetch step with a fresh nonce, keep waiting for the completion, or fail a job whose software-update may
 * have been sent without an acknowledgement). A software-update is never sent twice: the job is persisted with
 * updateSent = true before the driver is called.
 */
import { errorCode, withoutStack } from '../errors.js';
import { silentLogger } from '../log/logger.js';
import { uuidV7 } from '../uuid-v7.js';
import type { JobRecord } from '../store/index.js';
import { Admission } from './admission.js';
import type { WaitingJob } from './admission.js';
import { attest } from './attest.js';
import type { AttestedJob } from './attest.js';
import { perform } from './effects.js';
import { CompletionRefused, OamError, messageOf, notWaiting } from './errors.js';
import { JobQueues, moved, savedFrom, written } from './job-queues.js';
import { Step } from './job-queues.js';
import type { Live, Written } from './job-queues.js';
import { LeaseKeeper, dropIfLost, leaseSettings } from './leases.js';
import { freshPveNonce, putPveNonce } from './nonces.js';
import { deliver, outboxOf } from './outbox.js';
import { persist } from './persist.js';
import type { AttestedCompletion, DeviceCompletion, MeasurementLogEntry } from './ports.js';
import { systemClock } from './ports.js';
import { signResult } from './result-token.js';
import { DetachedCalls } from './runner-context.js';
import type { RunnerContext } from './runner-context.js';
import type { RunnerOptions, StartRequest } from './runner-options.js';
import type { StoredJob } from './stored-job.js';
import { storedJob, withTokens } from './stored-job.js';
import type { Job, JobEvent, JobKind, JobRequest, StepTimeouts, TransitionOutput } from './transition.js';
import { JOB_KINDS, isTerminal, kindOf, newJob, transition } from './transition.js';

/** how long a new request waits for a decided job of its H(e)NB to deliver its outbox before henb-busy */
const DELIVERY_WAIT_MS = 5000;

/** the request of an integrity-check job: no software (never read: the job ends with the PVE's verdict) */
const NO_SOFTWARE: JobRequest = { uri: '', selfCheck: false, measures: [] };

/** jobs driven at once by default (RunnerOptions.maxActiveJobs; plugin config jobs.max-active) */
export const DEFAULT_MAX_ACTIVE_JOBS = 500;

export class JobRunner {
  /** the owner of this instance's job leases */
  readonly instanceId: string;
  private readonly ctx: RunnerContext;
  private readonly jobs: JobQueues;
  private readonly leases: LeaseKeeper;
  private readonly admission: Admission;
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(options: RunnerOptions) {
    if (options.pveEvidence === 'relay' && options.devices.integrityMeasurement === undefined) {
      throw new OamError('ERR_OAM_CONFIG', 'pve.evidence relay needs a device driver with integrity-measurement (DeviceDriver.integrityMeasurement)');
    }
    const { instanceId, leaseMs } = leaseSettings(options);
    this.instanceId = instanceId;
    const clock = options.clock ?? systemClock;
    this.jobs = new JobQueues(() => this.closed, () => this.pump());
    this.admission = new Admission(options.maxActiveJobs ?? DEFAULT_MAX_ACTIVE_JOBS, () => this.jobs.size);
    this.ctx = {
      o: options, clock, log: options.log ?? silentLogger, instanceId, leaseMs, jobs: this.jobs, calls: new DetachedCalls(clock),
      closed: () => this.closed,
      dispatch: (jobId, event) => this.dispatch(jobId, event),
    };
    this.unsubscribe = options.devices.onCompletion((c) => {
      void this.jobs.track(this.deviceCompletion(c));
    });
    this.leases = new LeaseKeeper(this.ctx, (recs, cause) => this.takeOver(recs, cause));
  }

  /**
   * Step 1: create and start a job. Resolves once the job is persisted: its first step (the start event's
   * transition, progress notification and PVE request) runs on without the caller, as a waiting job's does when
   * maxActiveJobs are driven already (state created). A software-update naming many H(e)NBs answers after their
   * inserts, not after the first steps of the jobs it started; a first step that fails ends its job failed (the
   * reason stored), as a waiting job's does in admit().
   */
  start(req: StartRequest): Promise<Job> {
    return this.create('software-update', (this.ctx.o.newJobId ?? (() => `job-${uuidV7()}`))(), req);
  }

  /**
   * Steps 2-4 alone (the integrity-request RPC): a job of kind integrity-check, under the same one-job-per-H(e)NB
   * rule as updates. Resolves with the ended job (its result: the PVE's verdict, or why there is none) once it is
   * stored; rejects ERR_OAM_HENB_BUSY when a job runs for the H(e)NB (on any instance), ERR_OAM_CLOSED or
   * ERR_OAM_LEASE_LOST when this instance stops driving it before the end.
   */
  async check(henbId: string, timeouts: Partial<StepTimeouts>): Promise<Job> {
    const jobId = `ir-${uuidV7()}`;
    const ended = this.jobs.awaitEnd(jobId);
    try {
      await this.create('integrity-check', jobId, { henbId, request: NO_SOFTWARE, timeouts });
    } catch (err) {
      this.jobs.forgetWaiter(jobId);
      throw err;
    }
    return ended;
  }

  private async create(kind: JobKind, jobId: string, req: StartRequest): Promise<Job> {
    this.ensureOpen();
    await this.untilDelivered(req.henbId);
    const active = this.jobs.holder(req.henbId);
    if (active !== undefined) throw new OamError('ERR_OAM_HENB_BUSY', `a job (${active}) is already running for H(e)NB ${req.henbId}`);
    this.jobs.hold(req.henbId, jobId);
    // integrity checks (an RPC waits for each) go before the software updates that wait for a slot
    const first = kind === 'integrity-check';
    let reserved = this.admission.tryReserve(first);
    try {
      const at = this.ctx.clock.now();
      const job = await this.newJob(kind, jobId, req, at);
      const rec = await this.insert(job, at, reserved);
      if (!reserved) {
        this.admission.enqueue({ jobId, henbId: req.henbId }, first);
        this.pump(); // a slot may have come free meanwhile
        return job;
      }
      this.jobs.add(job, rec.version, savedFrom(rec));
      this.admission.settled();
      reserved = false;
      const started = this.dispatch(jobId, { type: 'start', at });
      if (kind === 'software-update') {
        void this.jobs.track(started.catch((err: unknown) => this.startFailed(jobId, req.henbId, err)));
        return job;
      }
      await started;
      return this.jobs.get(jobId)?.job ?? job;
    } catch (err) {
      if (reserved) this.admission.settled();
      await this.abandonStart(jobId, req.henbId, err);
      throw err;
    }
  }

  /** Admit waiting jobs while slots are free (a job ended, or a start gave its slot back). */
  private pump(): void {
    if (this.closed) return;
    for (let w = this.admission.next(); w !== undefined; w = this.admission.next()) void this.jobs.track(this.admit(w));
  }

  /**
   * A waiting job's turn (its slot is reserved): read back from the store (still created and this instance's, else
   * it moved meanwhile and is left alone), a fresh PVE nonce stored, then started.
   */
  private async admit(w: WaitingJob): Promise<void> {
    let rec: JobRecord<StoredJob> | undefined;
    let admitted = false;
    try {
      rec = await this.ctx.o.store.getJob<StoredJob>(w.jobId);
      if (this.closed) return;
      if (rec === undefined || rec.terminal || rec.owner !== this.instanceId || rec.data.state !== 'created') {
        this.ctx.log.warn('waiting job not started here: it moved meanwhile', { jobId: w.jobId, henbId: w.henbId, state: rec?.data.state, owner: rec?.owner });
        this.jobs.release(w.henbId, w.jobId);
        this.jobs.abandoned(w.jobId, new OamError('ERR_OAM_LEASE_LOST', `job ${w.jobId} is driven by ${rec?.owner ?? 'nobody'} (${rec?.data.state ?? 'gone'})`));
        return;
      }
      const at = this.ctx.clock.now();
      const nonce = await freshPveNonce(this.ctx, w.jobId, w.henbId, at, rec.data.timeouts.pve);
      const job = await this.reconcile(rec);
      if (this.closed) return;
      this.jobs.add({ ...job, nonce }, rec.version, savedFrom(rec));
      admitted = true;
    } catch (err) {
      this.ctx.log.error('waiting job could not start', { jobId: w.jobId, henbId: w.henbId, err });
      if (rec !== undefined) {
        const reason = `job could not start (${errorCode(err)})`;
        await this.ctx.o.store.saveJobTransition(w.jobId, 'failed', {
          expectPrevVersion: rec.version, terminal: true, deadline: null, reason,
          data: { ...rec.data, state: 'failed', result: { status: 'failed', reason, at: this.ctx.clock.now() } },
        }).catch((e: unknown) => this.ctx.log.error('failed job not recorded', { jobId: w.jobId, err: e }));
      }
      this.jobs.release(w.henbId, w.jobId);
      this.jobs.abandoned(w.jobId, err);
      return;
    } finally {
      this.admission.settled();
      if (!admitted) this.pump();
    }
    await this.dispatch(w.jobId, { type: 'start', at: this.ctx.clock.now() });
  }

  /** jobs driven now and jobs waiting for a slot (metrics, tests) */
  load(): { active: number; waiting: number; max: number } {
    return { active: this.jobs.size, waiting: this.admission.waiting, max: this.admission.max };
  }

  /** a new job from what the store knows of the H(e)NB (state, RIM, reference log), with a fresh nonce */
  private async newJob(kind: JobKind, jobId: string, req: StartRequest, at: number): Promise<Job> {
    const { o } = this.ctx;
    const henb = await o.store.getHenb(req.henbId);
    const referenceLog = await o.store.getReferenceLog<MeasurementLogEntry[]>(req.henbId);
    return newJob({
      jobId, henbId: req.henbId, kind, request: req.request, at, nonce: o.newNonce(),
      priorHenbState: henb?.state ?? 'unknown',
      timeouts: { ...(o.timeouts ?? {}), ...(req.timeouts ?? {}) },
      ...(o.updatedComponent !== undefined ? { updatedComponent: o.updatedComponent } : {}),
      ...(henb?.rim !== undefined && henb.rim !== null ? { oldRim: henb.rim } : {}),
      ...(referenceLog !== undefined ? { referenceLog: referenceLog.log } : {}),
      // what /hsv:henbs records: an integrity-check compares the attested version with it (transition.ts softwareDrift)
      ...(henb?.softwareVersion !== undefined && henb.softwareVersion !== null ? { recordedVersion: henb.softwareVersion } : {}),
    });
  }

  /**
   * The nonce and the job together: the database allows one active job per H(e)NB (across OAM instances); when
   * another holds it, nothing of this one is left behind. Returns what the runner keeps of the job's record (written). A job that will wait for a slot
   * stores no nonce yet (it gets a fresh one when admitted).
   */
  private async insert(job: Job, at: number, withNonce: boolean): Promise<Written> {
    const { o } = this.ctx;
    const kind = kindOf(job);
    return o.store.transaction(async (tx) => {
      if (withNonce) await putPveNonce(tx, job.nonce, job.jobId, job.henbId, at, job.timeouts.pve);
      return written(await tx.createJob<Job>({
        jobId: job.jobId, henbId: job.henbId, kind, state: job.state, data: job, deadline: null, reason: `${kind} requested`,
        owner: this.instanceId, leaseUntil: at + this.ctx.leaseMs,
      }));
    }).catch((err: unknown) => {
      if (errorCode(err) !== 'ERR_STORE_HENB_BUSY') throw err;
      throw new OamError('ERR_OAM_HENB_BUSY', `a job is already running for H(e)NB ${job.henbId}: ${(err as Error).message}`, { cause: err });
    });
  }

  /**
   * A job whose result is decided (final state stored) still holds its H(e)NB while it delivers its outbox (the
   * result notification, then its end saved): an NMS that answers the result notification at once with a new
   * request for the H(e)NB would be refused henb-busy by bookkeeping. Such a request waits for the delivery, at
   * most DELIVERY_WAIT_MS (a rollback in the outbox may take longer: then henb-busy, as before).
   */
  private async untilDelivered(henbId: string): Promise<void> {
    const active = this.jobs.holder(henbId);
    const l = active !== undefined ? this.jobs.get(active) : undefined;
    if (l === undefined || !isTerminal(l.job.state)) return;
    await this.jobs.whenFree(henbId, DELIVERY_WAIT_MS);
    this.ensureOpen();
  }

  /** the first step of a started software-update failed after start() resolved: the job ends failed, nothing waits */
  private async startFailed(jobId: string, henbId: string, err: unknown): Promise<void> {
    this.ctx.log.error('job could not start', { jobId, henbId, err });
    await this.abandonStart(jobId, henbId, err);
  }

  /** the job could not start (e.g. the database failed): never leave it half-started */
  private async abandonStart(jobId: string, henbId: string, err: unknown): Promise<void> {
    const l = this.jobs.get(jobId);
    this.jobs.remove(jobId, henbId);
    if (l === undefined || isTerminal(l.job.state)) return;
    const reason = `job could not start (${errorCode(err)})`;
    await this.ctx.o.store.saveJobTransition(jobId, 'failed', {
      expectPrevVersion: l.version, terminal: true, deadline: null, reason,
      data: storedJob({ ...l.job, state: 'failed', result: { status: 'failed', reason, at: this.ctx.clock.now() } }),
    }).catch((e: unknown) => this.ctx.log.error('failed job not recorded', { jobId, err: e }));
  }

  /**
   * After a restart: the jobs this instance claims (unowned, its own, or whose lease expired) get a `restart`
   * event. Returns the ids of the jobs resumed.
   */
  async resume(): Promise<string[]> {
    this.ensureOpen();
    return this.takeOver(await this.leases.claim());
  }

  /** Drive claimed jobs this instance does not run yet: a `restart` event each (or the delivery of a final one). */
  private async takeOver(recs: JobRecord<StoredJob>[], cause: 'restart' | 'takeover' = 'restart'): Promise<string[]> {
    const ids: string[] = [];
    let waiting = false;
    for (const rec of recs) {
      // live here already, or being started by start() (its H(e)NB is held before its createJob commits), or waiting
      if (!isJobKind(rec.kind) || this.jobs.has(rec.jobId) || this.jobs.holder(rec.henbId) !== undefined) continue;
      if (rec.data.state === 'created' && !rec.terminal) {
        // never started: it waits for a slot like a new job (and gets its nonce when admitted)
        this.jobs.hold(rec.henbId, rec.jobId);
        this.admission.enqueue({ jobId: rec.jobId, henbId: rec.henbId }, rec.kind === 'integrity-check');
        waiting = true;
        ids.push(rec.jobId);
        continue;
      }
      const job = await this.reconcile(rec);
      // the tokens' read awaited: the job or its H(e)NB may have been taken up here meanwhile
      if (this.jobs.has(rec.jobId) || this.jobs.holder(rec.henbId) !== undefined) continue;
      this.jobs.add(job, rec.version);
      this.jobs.hold(job.henbId, job.jobId);
      ids.push(rec.jobId);
    }
    for (const id of ids) {
      const l = this.jobs.get(id);
      if (!l) continue;
      if (isTerminal(l.job.state)) {
        // ended before a crash, result not delivered yet: deliver the persisted outbox
        await this.jobs.enqueue(l, () => deliver(this.ctx, l));
        continue;
      }
      const at = this.ctx.clock.now();
      await this.dispatch(id, {
        type: 'restart', at, nonce: await freshPveNonce(this.ctx, id, l.job.henbId, at, l.job.timeouts.pve),
        ...(cause === 'takeover' ? { takenOverBy: this.instanceId } : {}),
      });
    }
    if (waiting) this.pump();
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
    const l = this.jobs.get(c.jobId);
    if (l !== undefined) {
      await this.completeHere(l, c);
      // dropped meanwhile (another instance had taken the job): nothing was written here; take it back below
      if (l.lost !== true) return this.latest(c.jobId, l.job);
    }
    const stored = await this.ctx.o.store.getJob<StoredJob>(c.jobId);
    // appraised before the job is taken: a refused completion moves nothing, not even the job's lease
    const attested = stored !== undefined && stored.data.henbId === c.henbId && stored.data.state === 'awaiting-completion' && !stored.terminal
      ? await this.attest(stored.data, c) : undefined;
    const taken = await this.leases.takeForCompletion(c);
    await this.dispatch(c.jobId, { type: 'completion', at: this.ctx.clock.now(), completion: c, ...(attested !== undefined ? { attested } : {}) });
    if (taken.lost === true) throw notWaiting(c.jobId, 'taken by another OAM instance');
    return this.latest(c.jobId, taken.job);
  }

  /** a completion-tim for a job driven here: of its H(e)NB, awaiting it (after the device's acknowledgement), appraised */
  private async completeHere(l: Live, c: DeviceCompletion): Promise<void> {
    const job = l.job;
    if (job.henbId !== c.henbId) throw new OamError('ERR_OAM_HENB_MISMATCH', `job ${c.jobId} does not belong to H(e)NB ${c.henbId}`);
    // before the device acknowledged the software-update, no completion is believed
    if (job.state !== 'awaiting-completion') throw notWaiting(c.jobId, job.state);
    const attested = await this.attest(job, c);
    await this.dispatch(c.jobId, { type: 'completion', at: this.ctx.clock.now(), completion: c, attested });
  }

  /** a job as it is now: driven here, else as stored, else as last seen */
  private async latest(jobId: string, seen: Job): Promise<Job> {
    return (await this.getJob(jobId)) ?? seen;
  }

  /** The current state of a job (live or stored: then with its tokens from its results). */
  async getJob(jobId: string): Promise<Job | undefined> {
    const live = this.jobs.get(jobId)?.job;
    if (live !== undefined) return live;
    const rec = await this.ctx.o.store.getJob<StoredJob>(jobId);
    return rec === undefined ? undefined : this.tokensOf(rec.data);
  }

  /** a stored job with the tokens its results keep (stored-job.ts); a verdict's that is not there is logged */
  private tokensOf(job: StoredJob): Promise<Job> {
    return withTokens(this.ctx.o.store, job, (parts) => {
      this.ctx.log.error('stored job without the result rows of its tokens', { jobId: job.jobId, parts });
    });
  }

  /** A job read back after a restart (the blob is what we wrote; the record's flags win when they disagree). */
  private async reconcile(rec: JobRecord<StoredJob>): Promise<Job> {
    const job = { ...(await this.tokensOf(rec.data)) };
    if (rec.updateSent) job.updateSent = true;
    return job;
  }

  /** The job running for an H(e)NB, if any. */
  activeJobFor(henbId: string): string | undefined {
    return this.jobs.holder(henbId);
  }

  /** Wait until every effect started so far has settled (tests, shutdown). */
  idle(): Promise<void> {
    return this.jobs.idle();
  }

  /** Stop timers and calls; the jobs stay in the store as they are (resume() picks them up). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.leases.stop();
    this.unsubscribe();
    const closed = (): OamError => new OamError('ERR_OAM_CLOSED', 'OAM runner closed');
    for (const l of this.jobs.all()) {
      if (l.timer !== undefined) this.ctx.clock.clearTimeout(l.timer);
      l.step?.abort(closed);
    }
    this.ctx.calls.stop(closed());
    this.admission.clear();
    this.jobs.rejectWaiters(closed());
    await this.jobs.settle();
    this.jobs.forgetAll();
    await this.leases.release();
  }

  /**
   * Have the PVE appraise a completion and verify its token (attest.ts); throws CompletionRefused, nothing
   * written, when it is not believed.
   */
  attest(job: AttestedJob, c: DeviceCompletion): Promise<AttestedCompletion> {
    return attest(this.ctx, job, c);
  }

  /** Queue an event for a job; events of one job are processed in order, one at a time. */
  dispatch(jobId: string, event: JobEvent): Promise<void> {
    const l = this.jobs.get(jobId);
    if (l === undefined) return Promise.resolve();
    return this.jobs.enqueue(l, () => this.process(l, event));
  }

  // ---------------------------------------------------------------------------------------------------------

  private ensureOpen(): void {
    if (this.closed) throw new OamError('ERR_OAM_CLOSED', 'OAM runner closed');
  }

  /**
   * Step 8 by the device's notification: appraised like the RPC (attest()); a refused one changes nothing, is logged
   * and raises an integrity-alarm. A completion that arrives before the device's acknowledgement was processed
   * waits for it (the device answers the software-update before it installs, but the two may cross here).
   */
  private async deviceCompletion(c: DeviceCompletion): Promise<void> {
    if (this.closed) return;
    const l = this.jobs.get(c.jobId);
    if (l === undefined) {
      this.ctx.log.warn('completion for a job that is not running', { jobId: c.jobId, henbId: c.henbId });
      return;
    }
    if (l.job.state === 'update-sending' && l.sending !== undefined) await l.sending.catch(() => undefined);
    const job = l.job;
    try {
      if (job.henbId !== c.henbId) throw new CompletionRefused('ERR_OAM_HENB_MISMATCH', 'henb-mismatch', `job ${c.jobId} does not belong to H(e)NB ${c.henbId}`);
      if (job.state !== 'awaiting-completion') throw notWaiting(c.jobId, job.state);
      const attested = await this.attest(job, c);
      await this.dispatch(c.jobId, { type: 'completion', at: this.ctx.clock.now(), completion: c, attested });
    } catch (err) {
      if (this.closed) return;
      this.ctx.log.warn('device completion refused; the job keeps waiting', { jobId: c.jobId, henbId: c.henbId, code: errorCode(err), err });
      if (err instanceof CompletionRefused || errorCode(err) === 'ERR_OAM_JOB_NOT_WAITING') {
        await this.ctx.o.events.alarm(job, `completion for job ${c.jobId} refused (${errorCode(err)}): ${messageOf(err)}; nothing changed`);
      }
    }
  }

  /** One event of one job: transition, the result token, persist, then timers and effects (see the header). */
  private async process(l: Live, event: JobEvent): Promise<void> {
    if (this.closed || !this.jobs.isCurrent(l)) return;
    const out = transition(l.job, event);
    if (out.ignored !== undefined) {
      this.ctx.log.debug('event ignored', { jobId: l.job.jobId, event: event.type, why: out.ignored });
      return;
    }
    const job = await this.withResult(out);
    const from = l.job.state;
    try {
      moved(l, job, await persist(this.ctx.o.store, l, job, out.effects, event));
    } catch (err) {
      if (dropIfLost(this.ctx, l, err)) return;
      throw err;
    }
    const terminal = isTerminal(job.state);
    this.ctx.log.info('job transition', {
      jobId: job.jobId, henbId: job.henbId, event: event.type, from, to: job.state,
      ...(terminal ? { reason: job.result?.reason } : {}),
    });
    const step = this.nextStep(l);
    if (terminal) {
      await deliver(this.ctx, l);
      return;
    }
    this.armTimer(l, job);
    for (const e of out.effects) await perform(this.ctx, l, job, e, step);
  }

  /**
   * A final job with its result token: an update's is the OAM's signed result (none when signing failed: logged),
   * an integrity check's the PVE's verdict; stored with its outbox (it stays active until that is delivered).
   */
  private async withResult(out: TransitionOutput): Promise<Job> {
    let job = out.job;
    if (!isTerminal(job.state)) return job;
    const result = job.result;
    if (result !== undefined && kindOf(job) === 'integrity-check') {
      // steps 2-4 alone: the result is the PVE's signed verdict (when there is one), not an OAM token
      if (job.pve !== undefined) job = { ...job, result: { ...result, token: job.pve.token } };
    } else if (result !== undefined) {
      const token = await signResult(this.ctx.o.tokens, job, this.ctx.clock.now()).catch((err: unknown) => {
        this.ctx.log.error('result token not signed', { jobId: job.jobId, err });
        return undefined;
      });
      if (token !== undefined) job = { ...job, result: { ...result, token } };
    }
    return { ...job, outbox: outboxOf(out.effects) };
  }

  /** the previous state's timer and in-flight calls stop; returns the new step (its signal made when a call takes it) */
  private nextStep(l: Live): Step {
    if (l.timer !== undefined) { this.ctx.clock.clearTimeout(l.timer); delete l.timer; }
    l.step?.abort(stepEnded);
    l.step = new Step();
    return l.step;
  }

  /** the state's timeout, from the job's deadline: a `timeout` event naming the state */
  private armTimer(l: Live, job: Job): void {
    if (job.deadline === undefined) return;
    const { state, jobId } = job;
    const { clock, log } = this.ctx;
    l.timer = clock.setTimeout(() => {
      void this.dispatch(jobId, { type: 'timeout', at: clock.now(), state }).catch((err: unknown) => {
        log.error('timeout not processed', { jobId, err });
      });
    }, Math.max(0, job.deadline - clock.now()));
  }
}

/** why a step's calls stop when its job moves on (a reason only: its stack would name this function) */
function stepEnded(): OamError {
  return withoutStack(() => new OamError('ERR_OAM_STEP_ENDED', 'step ended'));
}

function isJobKind(kind: string): kind is JobKind {
  return (JOB_KINDS as readonly string[]).includes(kind);
}
