/**
 * The nine steps of the revised flow (DESIGN.md) for ONE job, as a pure function:
 *
 *   transition(job, event) -> { job, effects, ignored? }
 *
 * No I/O, no clock, no randomness: times and nonces arrive in events. The runner (runner.ts) persists the
 * new job (and the persist-effects store-rim / set-henb-state, in one transaction) BEFORE it performs the
 * other effects, and arms one timer per non-terminal state from `job.deadline`; an expired timer comes
 * back as a `timeout` event naming the state it was armed for (stale timeouts are ignored).
 *
 *   created --start--> pve-requested --pve-result(affirming)--> fetching --software-digest--> update-sending
 *   update-sending --device-accepted--> awaiting-completion --completion--> verified | mismatch | failed
 *   any non-terminal --timeout--> timeout; PVE not affirming / PVE error --> refused
 *   restart: created/pve-requested/fetching start their step again (fresh nonce); update-sending fails (the
 *   device may or may not have received the update: never resent); awaiting-completion keeps waiting.
 *
 * A job of kind `integrity-check` (the integrity-request RPC) is steps 2-4 alone: the same created and
 * pve-requested handling, then the PVE's verdict ends it (affirming -> verified and the H(e)NB trusted, else
 * refused; contraindicated quarantines). An affirming verdict on software other than the verified version recorded
 * for the H(e)NB (softwareDrift: a downgrade outside the OAM) is refused too, quarantines and raises an alarm.
 * One active job per H(e)NB, whatever its kind, is the store's rule.
 *
 * A completion counts only in awaiting-completion (after the device acknowledged the software-update) and only
 * with `attested`: the PVE appraised the device's signature over the job's update nonce (the runner checked the
 * PVE's token). Anything else is ignored: the job keeps waiting for the genuine completion or its timeout.
 */
import type { HenbState } from '../store/index.js';
import type { EarStatus } from '../tokens/index.js';
import type { AttestedCompletion, DeviceCompletion, EvidenceFormat, MeasurementLogEntry, SoftwareUpdateCommand } from './ports.js';
import { checkReportedLog, extendDigest, isDigest, rebootRim } from './measure.js';
import { STEP } from './steps.js';
import type { Step } from './steps.js';

export const ACTIVE_STATES = ['created', 'pve-requested', 'fetching', 'update-sending', 'awaiting-completion'] as const;
export const TERMINAL_STATES = ['verified', 'mismatch', 'refused', 'failed', 'timeout'] as const;
export type ActiveState = (typeof ACTIVE_STATES)[number];
export type ResultStatus = (typeof TERMINAL_STATES)[number];
export type JobState = ActiveState | ResultStatus;

/** what a job does: the nine steps of a software update, or steps 2-4 alone (the integrity-request RPC) */
export const JOB_KINDS = ['software-update', 'integrity-check'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** a job's kind (jobs stored before kinds existed are software updates) */
export function kindOf(job: Pick<Job, 'kind'>): JobKind {
  return job.kind ?? 'software-update';
}

/**
 * why steps 2-4 gave no verdict: the PVE could not be asked, could not reach the H(e)NB, answered that it does not
 * know the H(e)NB, or its result did not verify
 */
export interface PveFailureCause {
  kind: 'pve-unreachable' | 'henb-unreachable' | 'pve-result-invalid' | 'henb-unknown-to-pve';
  /** the error code behind it (ERR_PVE_*, ERR_TOKEN_*, ERR_OAM_*) */
  code: string;
}

/** measures on mismatch (quarantine is applied whatever the policy) */
export type Measure = 'alarm' | 'quarantine' | 'rollback';

export function isTerminal(s: JobState): s is ResultStatus {
  return (TERMINAL_STATES as readonly string[]).includes(s);
}

/** per-step timeouts in milliseconds */
export interface StepTimeouts {
  /** steps 2-4: integrity-request to the PVE until a verified answer */
  pve: number;
  /** step 5: fetch and hash the software */
  fetch: number;
  /** step 6: software-update until the device accepts it */
  send: number;
  /** steps 7-8: install until completion */
  completion: number;
}

export const DEFAULT_TIMEOUTS: StepTimeouts = { pve: 30_000, fetch: 120_000, send: 30_000, completion: 600_000 };

const STATE_TIMEOUT: Record<ActiveState, keyof StepTimeouts | undefined> = {
  created: undefined,
  'pve-requested': 'pve',
  fetching: 'fetch',
  'update-sending': 'send',
  'awaiting-completion': 'completion',
};

/** the step a job in an active state is at (the jobs state's `step`, a timeout's progress) */
export const STATE_STEP: Record<ActiveState, Step> = {
  created: STEP.request, 'pve-requested': STEP.pveRequest, fetching: STEP.fetch, 'update-sending': STEP.sendUpdate,
  'awaiting-completion': STEP.install,
};

const STEP_NAME: Record<ActiveState, string> = {
  created: 'update initiation',
  'pve-requested': 'PVE integrity check (steps 2-4)',
  fetching: 'software fetch and RIM computation (step 5)',
  'update-sending': 'software-update to the H(e)NB (step 6)',
  'awaiting-completion': 'install and completion report (steps 7-8)',
};

export interface JobRequest {
  uri: string;
  version?: string;
  /** the image's SHA-256 as the NMS expects it (hex), checked against the fetched image */
  sha256?: string;
  /** ask the device to self-check (7') */
  selfCheck: boolean;
  /** measures on mismatch */
  measures: Measure[];
}

export interface JobResult {
  status: ResultStatus;
  reason: string;
  /** set when steps 2-4 failed without a verdict */
  cause?: PveFailureCause;
  /** the component that differs, when a measurement log named it */
  component?: string;
  at: number;
  /** the OAM-signed result token (set by the runner before it persists the terminal state) */
  token?: string;
}

export interface Job {
  jobId: string;
  henbId: string;
  /** absent: software-update (see kindOf) */
  kind?: JobKind;
  state: JobState;
  request: JobRequest;
  timeouts: StepTimeouts;
  /** the component a software update replaces in the measurement log */
  updatedComponent: string;
  /** nonce of the current PVE request (single use) */
  nonce: string;
  createdAt: number;
  updatedAt: number;
  /** when the current state's timer expires (ms since epoch); absent in created and terminal states */
  deadline?: number;
  /** the H(e)NB's state when the job started, restored when the job ends before the device was touched */
  priorHenbState: HenbState;
  /** the stored RIM when the job started (the reference before the update) */
  oldRim?: string;
  /** the stored reference log, when known */
  referenceLog?: MeasurementLogEntry[];
  /**
   * the software version /hsv:henbs records for the H(e)NB when the job started (the one its last verified update
   * or first check reported): an integrity-check compares the attested one with it
   */
  recordedVersion?: string;
  /** the PVE's verdict: its token, the TIM it attested and, when not affirming, its reason */
  pve?: { earStatus: EarStatus; token: string; attestedTim?: string; reason?: string };
  /** the measurement log the PVE attested before the update (what the expected post-update log derives from) */
  preLog?: MeasurementLogEntry[];
  /** the single-use nonce sent with the software-update: the device signs its completion over it */
  updateNonce?: string;
  /** the TIM expected when the device reboots into the update (pre-update log, component replaced, replayed) */
  expectedRimReboot?: string;
  softwareRim?: string;
  softwareSize?: number;
  expectedRim?: string;
  /** set as soon as the runner is about to send the software-update: it is never sent twice */
  updateSent?: boolean;
  /** when the software-update was sent (ms since epoch) */
  sentAt?: number;
  completion?: Omit<DeviceCompletion, 'henbId' | 'jobId' | 'evidence'> & { evidenceFormat?: EvidenceFormat; activation?: 'live' | 'reboot'; pveToken?: string };
  result?: JobResult;
  /**
   * Runner-managed (transition() never reads them): the effects of the final transition not yet delivered
   * (an outbox persisted with the final state, so a restart delivers the result that a crash interrupted),
   * and whether the rollback was already asked for (never asked twice).
   */
  outbox?: Effect[];
  rollbackSent?: boolean;
}

export type JobEvent =
  | { type: 'start'; at: number }
  /** attestedVersion / verdictReason: the software version the PVE attested, its reason when not affirming; attestedLog: its measurement log */
  | { type: 'pve-result'; at: number; earStatus: EarStatus; token: string; attestedTim?: string; attestedVersion?: string; verdictReason?: string; attestedLog?: MeasurementLogEntry[] }
  /** timedOut: the PVE (or the device behind it) did not answer in time -> result timeout, else refused */
  | { type: 'pve-error'; at: number; reason: string; timedOut?: boolean; cause?: PveFailureCause }
  /** updateNonce: fresh, single use (the runner makes and stores it): sent with the software-update */
  | { type: 'software-digest'; at: number; sha256: string; size: number; updateNonce: string }
  /** manifest: the image's vendor-signed manifest was refused (policy require-signed-software), not its fetch */
  | { type: 'fetch-error'; at: number; reason: string; manifest?: boolean }
  | { type: 'device-accepted'; at: number }
  /** refused: the device (or the driver, before sending) said no, so nothing reached the install: H(e)NB stays trusted */
  | { type: 'device-error'; at: number; reason: string; refused?: boolean }
  /** attested: set by the runner once the PVE appraised the completion's evidence; without it the event is ignored */
  | { type: 'completion'; at: number; completion: DeviceCompletion; attested?: AttestedCompletion }
  | { type: 'timeout'; at: number; state: JobState }
  /** `takenOverBy`: not this instance's own restart but another OAM instance taking the job over (its id) */
  | { type: 'restart'; at: number; nonce: string; takenOverBy?: string };

export type EventType = JobEvent['type'];

export type Effect =
  | { type: 'request-pve'; henbId: string; jobId: string; nonce: string }
  | { type: 'fetch-software'; uri: string }
  | { type: 'send-update'; henbId: string; command: SoftwareUpdateCommand }
  | { type: 'rollback'; henbId: string; jobId: string }
  /** after a restart: have the driver deliver the completion of an update sent before it (replay from `since`) */
  | { type: 'watch-device'; henbId: string; jobId: string; since: number }
  /** persist-effect (same transaction as the job): the new reference after a verified update */
  | { type: 'store-rim'; henbId: string; rim: string; version?: string; measurementLog?: MeasurementLogEntry[] }
  /**
   * after a verified update (the OAM as Reference Value Provider): sign the H(e)NB's new reference values and hand
   * them to the PVE, so that its next appraisal of the H(e)NB affirms the verified software (before the result is
   * notified)
   */
  | { type: 'provide-reference-values'; henbId: string; jobId: string; values: Array<{ component: string; digest: string; version?: string }> }
  /** persist-effect (same transaction as the job); versionIfUnset: the software version to record when none is */
  | { type: 'set-henb-state'; henbId: string; state: HenbState; versionIfUnset?: string }
  | { type: 'emit-progress'; step: Step; text: string }
  /** sign (already done by the runner for terminal states) and notify software-update-result */
  | { type: 'emit-result' }
  | { type: 'raise-alarm'; text: string };

export interface TransitionOutput {
  job: Job;
  effects: Effect[];
  /** set when the event does not apply to this state: job unchanged, no effects */
  ignored?: string;
}

function ignore(job: Job, why: string): TransitionOutput {
  return { job, effects: [], ignored: why };
}

function enter(job: Job, state: ActiveState, at: number, patch: Partial<Job> = {}): Job {
  const key = STATE_TIMEOUT[state];
  const next: Job = { ...job, ...patch, state, updatedAt: at };
  if (key !== undefined) next.deadline = at + job.timeouts[key];
  else delete next.deadline;
  return next;
}

function finish(job: Job, status: ResultStatus, at: number, reason: string, patch: Partial<Job> = {}, component?: string): Job {
  const next: Job = { ...job, ...patch, state: status, updatedAt: at, result: { status, reason, at, ...(component !== undefined ? { component } : {}) } };
  delete next.deadline;
  return next;
}

const progress = (step: Step, text: string): Effect => ({ type: 'emit-progress', step, text });
const henbState = (job: Job, state: HenbState): Effect => ({ type: 'set-henb-state', henbId: job.henbId, state });

/** end before the device was touched: restore the H(e)NB's prior state (unless told otherwise) */
function endUntouched(job: Job, status: ResultStatus, at: number, step: Step, reason: string, state?: HenbState): TransitionOutput {
  const done = finish(job, status, at, reason);
  return {
    job: done,
    effects: [henbState(job, state ?? job.priorHenbState), progress(step, `${status}: ${reason}`), { type: 'emit-result' }],
  };
}

/** end after the software-update may have reached the device: quarantined, alarm when the policy says so */
function endTouched(job: Job, status: ResultStatus, at: number, step: Step, reason: string,
  opts: { rollback: boolean; component?: string; patch?: Partial<Job> }): TransitionOutput {
  const done = finish(job, status, at, reason, opts.patch ?? {}, opts.component);
  const effects: Effect[] = [henbState(job, 'quarantined'), progress(step, `${status}: ${reason}`), { type: 'emit-result' }];
  if (job.request.measures.includes('alarm')) {
    effects.push({ type: 'raise-alarm', text: `H(e)NB ${job.henbId} job ${job.jobId} ${status}: ${reason}` });
  }
  if (opts.rollback && job.request.measures.includes('rollback')) {
    effects.push({ type: 'rollback', henbId: job.henbId, jobId: job.jobId });
  }
  return { job: done, effects };
}

function startPve(job: Job, at: number, nonce: string, text: string): TransitionOutput {
  const next = enter(job, 'pve-requested', at, { nonce });
  return {
    job: next,
    effects: [progress(STEP.pveRequest, text), { type: 'request-pve', henbId: job.henbId, jobId: job.jobId, nonce }],
  };
}

function startFetch(job: Job, at: number): TransitionOutput {
  return {
    job: enter(job, 'fetching', at),
    effects: [progress(STEP.fetch, `fetching ${job.request.uri} to compute the software RIM`), { type: 'fetch-software', uri: job.request.uri }],
  };
}

/** what the job keeps of a completion (the device's report and the PVE's appraisal of its evidence) */
function completionRecord(c: DeviceCompletion, attested: AttestedCompletion): NonNullable<Job['completion']> {
  const completion: NonNullable<Job['completion']> = { status: c.status, evidenceFormat: attested.format, pveToken: attested.token };
  if (c.tim !== undefined) completion.tim = c.tim;
  if (c.measurementLog !== undefined) completion.measurementLog = c.measurementLog;
  if (c.selfCheck !== undefined) completion.selfCheck = c.selfCheck;
  if (c.reason !== undefined) completion.reason = c.reason;
  if (c.softwareVersion !== undefined) completion.softwareVersion = c.softwareVersion;
  if (c.deviceStatus !== undefined) completion.deviceStatus = c.deviceStatus;
  return completion;
}

/** the reference values a verified update provides: the verified log's components (the new software's entry carries the version), or the updated component alone */
function verifiedValues(job: Job, c: DeviceCompletion): Array<{ component: string; digest: string; version?: string }> {
  const version = c.softwareVersion ?? job.request.version;
  return c.measurementLog !== undefined && c.measurementLog.length > 0
    ? c.measurementLog.filter((e, i, all) => all.findIndex((x) => x.component === e.component && x.digest === e.digest) === i)
      .map((e) => ({ component: e.component, digest: e.digest, ...(e.component === job.updatedComponent && e.digest === job.softwareRim && version !== undefined ? { version } : {}) }))
    : [{ component: job.updatedComponent, digest: job.softwareRim ?? '', ...(version !== undefined ? { version } : {}) }];
}

/** step 9 passed: the new RIM stored (with the version and log), the H(e)NB trusted, the reference values provided */
function verifiedUpdate(job: Job, c: DeviceCompletion & { tim: string }, at: number, patch: Partial<Job>, rebooted: boolean): TransitionOutput {
  const done = finish(job, 'verified', at, rebooted
    ? `TIM equals the expected RIM after a reboot ${c.tim} (pre-update log, ${job.updatedComponent} replaced by the software RIM)`
    : `TIM equals the expected RIM ${job.expectedRim ?? ''}`, patch);
  const store: Effect = {
    type: 'store-rim', henbId: job.henbId, rim: c.tim,
    // the version the device reports it runs (signed in its completion), else the one the NMS asked for
    ...((c.softwareVersion ?? job.request.version) !== undefined ? { version: (c.softwareVersion ?? job.request.version)! } : {}),
    ...(c.measurementLog !== undefined && c.measurementLog.length > 0 ? { measurementLog: c.measurementLog } : {}),
  };
  return {
    job: done,
    effects: [
      store, henbState(job, 'trusted'), progress(STEP.compare, `verified: TIM equals the expected RIM; new RIM stored`),
      { type: 'provide-reference-values', henbId: job.henbId, jobId: job.jobId, values: verifiedValues(job, c) }, { type: 'emit-result' },
    ],
  };
}

/** step 9: compare the completion with the expectation */
function evaluate(job: Job, c: DeviceCompletion, attested: AttestedCompletion, at: number): TransitionOutput {
  const completion = completionRecord(c, attested);
  const patch: Partial<Job> = { completion, updateSent: true };
  const got = c.tim !== undefined ? ` with TIM ${c.tim}` : '';
  const received = progress(STEP.completion, `completion received${got}`);
  const withReceived = (o: TransitionOutput): TransitionOutput => ({ ...o, effects: [received, ...o.effects] });

  if (c.status === 'failed') {
    return withReceived(endTouched(job, 'failed', at, STEP.compare, `H(e)NB reported install failure: ${c.reason ?? 'no reason given'}`,
      { rollback: true, patch }));
  }
  if (c.selfCheck === 'failed' || c.deviceStatus === 'self-check-failed') {
    return withReceived(endTouched(job, 'mismatch', at, STEP.compare, `H(e)NB self-check failed${c.reason !== undefined ? `: ${c.reason}` : ''}`,
      { rollback: true, patch }));
  }
  if (!isDigest(c.tim)) {
    return withReceived(endTouched(job, 'failed', at, STEP.compare, 'completion carries no valid TIM', { rollback: true, patch }));
  }
  const expected = job.expectedRim ?? '';
  const preLog = job.preLog ?? job.referenceLog;
  let activation: 'live' | 'reboot' | undefined;
  if (c.measurementLog !== undefined && c.measurementLog.length > 0) {
    const check = checkReportedLog({
      log: c.measurementLog, tim: c.tim, oldRim: job.oldRim ?? '', softwareRim: job.softwareRim ?? '',
      updatedComponent: job.updatedComponent,
      ...(preLog !== undefined ? { preLog } : {}),
    });
    if (!check.ok) {
      return withReceived(endTouched(job, 'mismatch', at, STEP.compare, check.reason,
        { rollback: true, patch, ...(check.component !== undefined ? { component: check.component } : {}) }));
    }
    activation = check.activation;
  }
  // live activation: the seed's extend chain; a reboot: the replace rule (the log above decided which)
  const want = activation === 'reboot' ? job.expectedRimReboot ?? '' : expected;
  const tolerated = activation === undefined && job.expectedRimReboot !== undefined && c.tim === job.expectedRimReboot;
  if (c.tim !== want && !tolerated) {
    return withReceived(endTouched(job, 'mismatch', at, STEP.compare, `reported TIM ${c.tim} is not the expected RIM ${expected}`
      + (job.expectedRimReboot !== undefined ? ` (nor ${job.expectedRimReboot} after a reboot)` : ''),
    { rollback: true, patch }));
  }
  if (activation === 'reboot' || tolerated) patch.completion = { ...completion, activation: 'reboot' };
  else if (activation === 'live') patch.completion = { ...completion, activation: 'live' };
  return withReceived(verifiedUpdate(job, { ...c, tim: c.tim }, at, patch, activation === 'reboot' || tolerated));
}

export function transition(job: Job, event: JobEvent): TransitionOutput {
  const s = job.state;
  if (isTerminal(s)) return ignore(job, `job ${job.jobId} already ended (${s})`);
  if (event.type === 'timeout') return timedOut(job, s, event);
  return IN_STATE[s](job, event);
}

type Handler = (job: Job, event: Exclude<JobEvent, { type: 'timeout' }>) => TransitionOutput;
type Of<T extends JobEvent['type']> = Extract<JobEvent, { type: T }>;

/** what each active state does with an event (a timeout aside) */
const IN_STATE: Record<ActiveState, Handler> = {
  created: (job, event) => {
    if (event.type === 'start') return withInit(startPve(job, event.at, job.nonce, 'integrity-request sent to the PVE'));
    if (event.type === 'restart') return withInit(startPve(job, event.at, event.nonce, 'integrity-request sent to the PVE'));
    return ignore(job, `${event.type} before the job started`);
  },
  'pve-requested': (job, event) => {
    if (event.type === 'pve-result') return pveVerdict(job, event);
    if (event.type === 'pve-error') return pveError(job, event);
    if (event.type === 'restart') return startPve(job, event.at, event.nonce, `integrity-request sent to the PVE again after ${restartCause(event)}`);
    return ignore(job, `${event.type} while waiting for the PVE`);
  },
  fetching: (job, event) => {
    if (event.type === 'software-digest') return softwareDigest(job, event);
    if (event.type === 'fetch-error') {
      return endUntouched(job, 'failed', event.at, STEP.fetch, event.manifest === true
        ? `software not signed as required (require-signed-software): ${event.reason}; software-update not sent`
        : `software fetch failed: ${event.reason}`);
    }
    if (event.type === 'restart') {
      const out = startFetch(job, event.at);
      return { job: out.job, effects: [progress(STEP.fetch, `fetching the software again after ${restartCause(event)}`), ...out.effects.slice(1)] };
    }
    return ignore(job, `${event.type} while fetching the software`);
  },
  'update-sending': (job, event) => {
    if (event.type === 'device-accepted') {
      return { job: enter(job, 'awaiting-completion', event.at), effects: [progress(STEP.install, 'H(e)NB accepted the software-update; installing')] };
    }
    if (event.type === 'device-error') return deviceError(job, event);
    // refused before the device acknowledged the software-update (the runner holds a device's own notification
    // until the acknowledgement is processed)
    if (event.type === 'completion') return ignore(job, 'completion before the H(e)NB acknowledged the software-update');
    if (event.type === 'restart') {
      return endTouched(job, 'failed', event.at, STEP.sendUpdate,
        `${event.takenOverBy !== undefined ? `OAM instance ${event.takenOverBy} took the job over` : 'OAM restarted'} before the H(e)NB acknowledged the software-update; not resent (state unknown)`, { rollback: false });
    }
    return ignore(job, `${event.type} while sending the software-update`);
  },
  'awaiting-completion': (job, event) => {
    if (event.type === 'completion') return completion(job, event);
    if (event.type === 'restart') {
      // keep the original deadline: a restart does not extend the device's time
      return {
        job: { ...job, updatedAt: event.at },
        effects: [
          progress(STEP.install, `${event.takenOverBy !== undefined ? `OAM instance ${event.takenOverBy} took the job over` : 'OAM restarted'}; still waiting for the completion`),
          { type: 'watch-device', henbId: job.henbId, jobId: job.jobId, since: job.sentAt ?? job.createdAt },
        ],
      };
    }
    return ignore(job, `${event.type} while waiting for the completion`);
  },
};

/** the state's timer fired: the job ends with a timeout (a stale timer, armed for an earlier state, is ignored) */
function timedOut(job: Job, s: ActiveState, event: Of<'timeout'>): TransitionOutput {
  if (event.state !== s) return ignore(job, `stale timeout for state ${event.state}`);
  const reason = `${STEP_NAME[s]} timed out after ${STATE_TIMEOUT[s] !== undefined ? job.timeouts[STATE_TIMEOUT[s]] : 0} ms`;
  if (s === 'update-sending' || s === 'awaiting-completion') {
    return endTouched(job, 'timeout', event.at, STATE_STEP[s], reason, { rollback: false });
  }
  return endUntouched(job, 'timeout', event.at, STATE_STEP[s], reason);
}

/** Step 4: the PVE's verified verdict; only affirming lets an update go on to step 5 */
function pveVerdict(job: Job, event: Of<'pve-result'>): TransitionOutput {
  const pve: Job['pve'] = {
    earStatus: event.earStatus, token: event.token, ...(event.attestedTim !== undefined ? { attestedTim: event.attestedTim } : {}),
    ...(event.earStatus !== 'affirming' && event.verdictReason !== undefined ? { reason: event.verdictReason } : {}),
  };
  if (kindOf(job) === 'integrity-check') return checkVerdict({ ...job, pve }, event);
  if (event.earStatus !== 'affirming') {
    return endUntouched({ ...job, pve }, 'refused', event.at, STEP.pveVerdict,
      `PVE verdict ${event.earStatus}: ${event.verdictReason ?? 'H(e)NB not trusted'}; software-update not sent`,
      event.earStatus === 'contraindicated' ? 'quarantined' : undefined);
  }
  // software other than the recorded one (changed outside the OAM): the update is the remedy, and the device's TIM
  // before it is the one the PVE just affirmed, not the stored RIM (which the device no longer runs)
  const drift = softwareDrift(job, event);
  const fromAttested = drift !== undefined && isDigest(event.attestedTim);
  const oldRim = fromAttested ? event.attestedTim : job.oldRim ?? event.attestedTim;
  const trusted: Job = { ...job, pve, ...(oldRim !== undefined ? { oldRim } : {}),
    ...(event.attestedLog !== undefined && event.attestedLog.length > 0 ? { preLog: event.attestedLog } : {}) };
  const out = startFetch(trusted, event.at);
  // no stored RIM yet: the TIM the PVE just affirmed becomes the reference (not an update's result)
  const bootstrap: Effect[] = job.oldRim === undefined && isDigest(event.attestedTim)
    ? [{ type: 'store-rim', henbId: job.henbId, rim: event.attestedTim }] : [];
  const drifted: Effect[] = fromAttested
    ? [progress(STEP.pveVerdict, `the H(e)NB runs other software than recorded (${drift.what}): the expected RIM derives from the TIM the PVE attested`)]
    : [];
  return { job: out.job, effects: [progress(STEP.pveVerdict, 'PVE verdict affirming: H(e)NB trusted'), ...drifted, ...bootstrap, henbState(job, 'updating'), ...out.effects] };
}

/** steps 2-4 gave no verdict: refused (or timed out), with the cause when known */
function pveError(job: Job, event: Of<'pve-error'>): TransitionOutput {
  const out = endUntouched(job, event.timedOut === true ? 'timeout' : 'refused', event.at, STEP.pveVerdict,
    kindOf(job) === 'integrity-check' ? `PVE integrity check failed: ${event.reason}` : `PVE integrity check failed: ${event.reason}; software-update not sent`);
  return event.cause === undefined ? out : { ...out, job: { ...out.job, result: { ...out.job.result!, cause: event.cause } } };
}

/** Step 5 done: the software RIM and the expected RIM; then step 6, the software-update with the job's nonce */
function softwareDigest(job: Job, event: Of<'software-digest'>): TransitionOutput {
  const at = event.at;
  const refused = digestRefusal(job, event);
  if (refused !== undefined) return endUntouched(job, 'failed', at, STEP.fetch, refused);
  const expectedRim = extendDigest(job.oldRim!, event.sha256);
  const expectedRimReboot = rebootRim(job.preLog ?? job.referenceLog, job.updatedComponent, event.sha256);
  const next = enter(job, 'update-sending', at, {
    softwareRim: event.sha256, softwareSize: event.size, expectedRim, updateSent: true, sentAt: at, updateNonce: event.updateNonce,
    ...(expectedRimReboot !== undefined ? { expectedRimReboot } : {}),
  });
  const command: SoftwareUpdateCommand = {
    jobId: job.jobId, uri: job.request.uri, softwareRim: event.sha256, selfCheck: job.request.selfCheck, nonce: event.updateNonce,
    ...(job.request.version !== undefined ? { version: job.request.version } : {}),
  };
  return {
    job: next,
    effects: [
      progress(STEP.fetch, `software RIM ${event.sha256}; expected RIM ${expectedRim}`),
      progress(STEP.sendUpdate, 'software-update sent to the H(e)NB'),
      { type: 'send-update', henbId: job.henbId, command },
    ],
  };
}

/** why a fetched digest cannot go to the device, if it cannot */
function digestRefusal(job: Job, event: Of<'software-digest'>): string | undefined {
  if (!isDigest(event.sha256)) return 'software digest is not a SHA-256 hex value';
  if (job.request.sha256 !== undefined && job.request.sha256.toLowerCase() !== event.sha256) {
    return `software image digest ${event.sha256} differs from the requested sha256 ${job.request.sha256.toLowerCase()}`;
  }
  if (!isDigest(job.oldRim)) return 'no reference RIM known for the H(e)NB: cannot compute the expected RIM';
  if (typeof event.updateNonce !== 'string' || event.updateNonce.length < 22) return 'no fresh nonce for the software-update';
  return undefined;
}

/** Step 6 failed: an explicit refusal leaves the device untouched; anything else may have reached it */
function deviceError(job: Job, event: Of<'device-error'>): TransitionOutput {
  const reason = `software-update not accepted by the H(e)NB: ${event.reason}`;
  // an explicit refusal: nothing was installed and the PVE has just affirmed the H(e)NB
  if (event.refused === true) return endUntouched(job, 'failed', event.at, STEP.sendUpdate, reason, 'trusted');
  // unreachable, session lost, no answer: the update may have reached the device
  return endTouched(job, 'failed', event.at, STEP.sendUpdate, reason, { rollback: false });
}

/** how a progress text names a restart event */
function restartCause(event: Extract<JobEvent, { type: 'restart' }>): string {
  return event.takenOverBy !== undefined ? `OAM instance ${event.takenOverBy} took the job over` : 'an OAM restart';
}

function completion(job: Job, event: Extract<JobEvent, { type: 'completion' }>): TransitionOutput {
  const c = event.completion;
  if (c.jobId !== job.jobId || c.henbId !== job.henbId) {
    return ignore(job, `completion for ${c.henbId}/${c.jobId} does not match job ${job.henbId}/${job.jobId}`);
  }
  const why = unattested(job, c, event.attested);
  if (why !== undefined) return ignore(job, why);
  return evaluate(job, c, event.attested!, event.at);
}

/** Why a completion is not the device's own answer to this job's software-update (undefined: it is). */
export function unattested(job: Job, c: DeviceCompletion, a: AttestedCompletion | undefined): string | undefined {
  if (a === undefined) return 'completion without appraised evidence';
  if (job.updateNonce === undefined) return 'the job has no update nonce';
  if (a.nonce !== job.updateNonce) return 'evidence over another nonce than the job\'s';
  if (a.jobId !== job.jobId || a.henbId !== job.henbId) return 'evidence about another job or H(e)NB';
  if (c.tim !== undefined && a.tim !== c.tim) return 'the completion\'s TIM is not the appraised one';
  if (c.tim === undefined && c.status === 'completed') return 'completion without a TIM';
  return undefined;
}

function withInit(out: TransitionOutput): TransitionOutput {
  const text = kindOf(out.job) === 'integrity-check' ? 'integrity check initiated' : 'software update initiated';
  return { job: out.job, effects: [progress(STEP.request, text), ...out.effects] };
}

/**
 * The end of an integrity-check: the PVE's verdict decides the H(e)NB's state (affirming: trusted; contraindicated:
 * quarantined; otherwise as it was). The first affirmed TIM of an H(e)NB without a RIM becomes its RIM, and the
 * attested software version is recorded when none is.
 */
function checkVerdict(job: Job, event: Extract<JobEvent, { type: 'pve-result' }>): TransitionOutput {
  const affirming = event.earStatus === 'affirming';
  const drift = affirming ? softwareDrift(job, event) : undefined;
  if (drift !== undefined) {
    // the PVE affirms the evidence (the older software's digests are reference values too), the Relying Party's
    // policy does not: the H(e)NB runs other software than the verified one recorded for it
    const reason = `software changed outside the OAM (downgrade?): ${drift.what}; H(e)NB quarantined`;
    const done = finish(job, 'refused', event.at, reason, {}, drift.component);
    return {
      job: done,
      effects: [
        { type: 'set-henb-state', henbId: job.henbId, state: 'quarantined' },
        progress(STEP.pveVerdict, `refused: ${reason}`), { type: 'emit-result' },
        { type: 'raise-alarm', text: `H(e)NB ${job.henbId} integrity check ${job.jobId} refused: ${reason}` },
      ],
    };
  }
  const state: HenbState = affirming ? 'trusted' : event.earStatus === 'contraindicated' ? 'quarantined' : job.priorHenbState;
  const text = affirming ? 'PVE verdict affirming: H(e)NB trusted' : `PVE verdict ${event.earStatus}: ${event.verdictReason ?? 'H(e)NB not trusted'}`;
  const bootstrap: Effect[] = affirming && job.oldRim === undefined && isDigest(event.attestedTim)
    ? [{ type: 'store-rim', henbId: job.henbId, rim: event.attestedTim }] : [];
  return {
    job: finish(job, affirming ? 'verified' : 'refused', event.at, text),
    effects: [
      ...bootstrap,
      { type: 'set-henb-state', henbId: job.henbId, state, ...(event.attestedVersion !== undefined ? { versionIfUnset: event.attestedVersion } : {}) },
      progress(STEP.pveVerdict, text), { type: 'emit-result' },
    ],
  };
}

/**
 * An affirming integrity check of an H(e)NB that runs other software than the verified one recorded for it
 * (issue 10: a downgrade outside the OAM, e.g. a device rolled back by hand to a release whose digests are still
 * reference values): the software version the PVE's token attests differs from the recorded one, or the attested
 * log's last entry for the updated component has another digest than the stored reference log's. Undefined when
 * both agree or nothing is recorded to compare with.
 */
export function softwareDrift(job: Job, event: { attestedVersion?: string; attestedLog?: MeasurementLogEntry[] }): { what: string; component?: string } | undefined {
  const recorded = job.recordedVersion;
  const attested = event.attestedVersion;
  const versionDiffers = recorded !== undefined && attested !== undefined && recorded !== attested;
  const last = (log: MeasurementLogEntry[] | undefined): string | undefined => log?.filter((e) => e.component === job.updatedComponent).at(-1)?.digest;
  const want = last(job.referenceLog);
  const got = last(event.attestedLog);
  const digestDiffers = want !== undefined && got !== undefined && want !== got;
  if (!versionDiffers && !digestDiffers) return undefined;
  const versions = `software version ${attested ?? '(not reported)'} attested, ${recorded ?? '(none)'} recorded for the H(e)NB`;
  const digest = digestDiffers ? `; its ${job.updatedComponent} measures ${got}, not the verified ${want}` : '';
  return { what: `${versions}${digest}`, ...(digestDiffers ? { component: job.updatedComponent } : {}) };
}

/** A new job in state created (the runner persists it, then sends `start`). */
export function newJob(args: {
  jobId: string; henbId: string; kind?: JobKind; request: JobRequest; nonce: string; at: number; priorHenbState: HenbState;
  timeouts?: Partial<StepTimeouts>; updatedComponent?: string; oldRim?: string; referenceLog?: MeasurementLogEntry[]; recordedVersion?: string;
}): Job {
  const job: Job = {
    jobId: args.jobId, henbId: args.henbId, state: 'created', request: args.request,
    timeouts: { ...DEFAULT_TIMEOUTS, ...(args.timeouts ?? {}) },
    updatedComponent: args.updatedComponent ?? 'rootfs',
    nonce: args.nonce, createdAt: args.at, updatedAt: args.at, priorHenbState: args.priorHenbState,
  };
  if (args.kind !== undefined && args.kind !== 'software-update') job.kind = args.kind;
  if (args.oldRim !== undefined) job.oldRim = args.oldRim;
  if (args.referenceLog !== undefined) job.referenceLog = args.referenceLog;
  if (args.recordedVersion !== undefined) job.recordedVersion = args.recordedVersion;
  return job;
}
