import { describe, expect, it } from 'vitest';
import { ACTIVE_STATES, TERMINAL_STATES, transition } from '../../src/oam/transition.js';
import type { Effect, EventType, Job, JobEvent, JobState } from '../../src/oam/transition.js';
import type { MeasurementLogEntry } from '../../src/oam/ports.js';
import type { DeviceCompletion } from '../../src/oam/ports.js';
import { extendDigest, replayLog } from '../../src/oam/measure.js';
import { rebootLogAfterUpdate } from '../../src/integrity/index.js';
import { BASE_LOG, EXPECTED, GOOD_LOG, OLD_RIM, SW_RIM, T0, UPDATE_NONCE, attestedFor, h, jobIn, sampleEvent } from './helpers.js';

const EVENTS: EventType[] = ['start', 'pve-result', 'pve-error', 'software-digest', 'fetch-error', 'device-accepted', 'device-error', 'completion', 'timeout', 'restart'];
const I = 'ignored';

// rows: state; columns: EVENTS in order. The resulting state, or 'ignored' (job unchanged, no effects).
const TABLE: Record<JobState, Array<JobState | typeof I>> = {
  created: ['pve-requested', I, I, I, I, I, I, I, 'timeout', 'pve-requested'],
  'pve-requested': [I, 'fetching', 'refused', I, I, I, I, I, 'timeout', 'pve-requested'],
  fetching: [I, I, I, 'update-sending', 'failed', I, I, I, 'timeout', 'fetching'],
  // a completion before the device acknowledged the software-update is not believed (issue 10)
  'update-sending': [I, I, I, I, I, 'awaiting-completion', 'failed', I, 'timeout', 'failed'],
  'awaiting-completion': [I, I, I, I, I, I, I, 'verified', 'timeout', 'awaiting-completion'],
  verified: EVENTS.map(() => I),
  mismatch: EVENTS.map(() => I),
  refused: EVENTS.map(() => I),
  failed: EVENTS.map(() => I),
  timeout: EVENTS.map(() => I),
};

const types = (effects: Effect[]): string[] => effects.map((e) => e.type);
/** a completion as the runner hands it on once the PVE appraised its evidence over the job's nonce */
const comp = (c: DeviceCompletion): JobEvent => ({ type: 'completion', at: T0, completion: c, attested: attestedFor(c.tim) });

describe('transition: every state x every event', () => {
  for (const state of [...ACTIVE_STATES, ...TERMINAL_STATES]) {
    EVENTS.forEach((ev, i) => {
      const want = TABLE[state][i]!;
      it(`${state} + ${ev} -> ${want}`, () => {
        const job = jobIn(state);
        const out = transition(job, sampleEvent(ev, state));
        if (want === I) {
          expect(out.ignored).toBeTypeOf('string');
          expect(out.job).toBe(job);
          expect(out.effects).toEqual([]);
        } else {
          expect(out.ignored).toBeUndefined();
          expect(out.job.state).toBe(want);
          expect(out.job.updatedAt).toBe(T0 + 10);
          const terminal = (TERMINAL_STATES as readonly string[]).includes(want);
          expect(out.job.deadline === undefined).toBe(terminal);
          if (terminal) {
            expect(out.job.result?.status).toBe(want);
            expect(out.job.result?.reason.length).toBeGreaterThan(0);
            expect(types(out.effects)).toContain('emit-result');
          }
        }
      });
    });
  }
});

describe('transition: paths', () => {
  it('start asks the PVE with the job nonce, arms the PVE deadline, reports steps 1 and 2', () => {
    const out = transition(jobIn('created'), { type: 'start', at: T0 });
    expect(out.job.deadline).toBe(T0 + 1000);
    expect(out.effects).toEqual([
      { type: 'emit-progress', step: 1, text: 'software update initiated' },
      { type: 'emit-progress', step: 2, text: 'integrity-request sent to the PVE' },
      { type: 'request-pve', henbId: 'henb-1', jobId: 'job-1', nonce: 'n'.repeat(64) },
    ]);
  });

  it('affirming PVE result: H(e)NB updating, fetch the software', () => {
    const out = transition(jobIn('pve-requested'), sampleEvent('pve-result', 'pve-requested'));
    expect(out.job.pve).toEqual({ earStatus: 'affirming', token: 'p.v.e' });
    expect(out.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'updating' });
    expect(out.effects).toContainEqual({ type: 'fetch-software', uri: 'https://images.example/2.0.0.img' });
    expect(out.job.deadline).toBe(T0 + 10 + 2000);
  });

  it('affirming PVE result without a stored RIM takes the attested TIM as the old RIM', () => {
    const out = transition(jobIn('pve-requested', { oldRim: undefined }), { type: 'pve-result', at: T0, earStatus: 'affirming', token: 't', attestedTim: OLD_RIM });
    expect(out.job.oldRim).toBe(OLD_RIM);
    expect(out.effects).toContainEqual({ type: 'store-rim', henbId: 'henb-1', rim: OLD_RIM });
    const known = transition(jobIn('pve-requested'), { type: 'pve-result', at: T0, earStatus: 'affirming', token: 't', attestedTim: h('other') });
    expect(known.job.oldRim).toBe(OLD_RIM);
    expect(types(known.effects)).not.toContain('store-rim');
  });

  for (const status of ['contraindicated', 'warning', 'none'] as const) {
    it(`PVE verdict ${status}: refused, the device is never contacted`, () => {
      const out = transition(jobIn('pve-requested'), { type: 'pve-result', at: T0, earStatus: status, token: 't' });
      expect(out.job.state).toBe('refused');
      expect(out.job.result?.reason).toContain(`PVE verdict ${status}`);
      expect(types(out.effects)).not.toContain('send-update');
      expect(types(out.effects)).not.toContain('fetch-software');
      expect(out.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: status === 'contraindicated' ? 'quarantined' : 'trusted' });
    });
  }

  it('PVE error: refused with the reason; a PVE timeout error: timeout', () => {
    const a = transition(jobIn('pve-requested'), { type: 'pve-error', at: T0, reason: 'connect ECONNREFUSED' });
    expect(a.job.state).toBe('refused');
    expect(a.job.result?.reason).toContain('connect ECONNREFUSED');
    const b = transition(jobIn('pve-requested'), { type: 'pve-error', at: T0, reason: 'slow', timedOut: true });
    expect(b.job.state).toBe('timeout');
  });

  it('software digest: expected RIM = extend(old RIM, software RIM), software-update sent once', () => {
    const out = transition(jobIn('fetching'), sampleEvent('software-digest', 'fetching'));
    expect(out.job.expectedRim).toBe(EXPECTED);
    expect(out.job.softwareRim).toBe(SW_RIM);
    expect(out.job.updateSent).toBe(true);
    expect(out.job.updateNonce).toBe(UPDATE_NONCE);
    expect(out.effects.filter((e) => e.type === 'send-update')).toEqual([{
      type: 'send-update', henbId: 'henb-1',
      command: { jobId: 'job-1', uri: 'https://images.example/2.0.0.img', softwareRim: SW_RIM, selfCheck: true, version: '2.0.0', nonce: UPDATE_NONCE },
    }]);
  });

  it('software digest differs from the requested sha256: failed, nothing sent', () => {
    const job = jobIn('fetching', { request: { ...jobIn('fetching').request, sha256: h('other') } });
    const out = transition(job, sampleEvent('software-digest', 'fetching'));
    expect(out.job.state).toBe('failed');
    expect(out.job.result?.reason).toContain('differs from the requested sha256');
    expect(types(out.effects)).not.toContain('send-update');
    expect(out.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'trusted' });
  });

  it('no reference RIM at all: failed before sending', () => {
    const out = transition(jobIn('fetching', { oldRim: undefined }), sampleEvent('software-digest', 'fetching'));
    expect(out.job.state).toBe('failed');
    expect(out.job.result?.reason).toContain('no reference RIM');
  });

  it('verified: new RIM + version stored with the result, H(e)NB trusted', () => {
    const out = transition(jobIn('awaiting-completion'), sampleEvent('completion', 'awaiting-completion'));
    expect(out.job.state).toBe('verified');
    expect(out.effects).toContainEqual({ type: 'store-rim', henbId: 'henb-1', rim: EXPECTED, version: '2.0.0', measurementLog: GOOD_LOG });
    expect(out.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'trusted' });
    expect(types(out.effects)).not.toContain('raise-alarm');
    expect(types(out.effects)).not.toContain('rollback');
  });

  it('verified: the new reference values (the verified log, the new software with its version) go to the PVE before the result', () => {
    const out = transition(jobIn('awaiting-completion'), sampleEvent('completion', 'awaiting-completion'));
    const values = GOOD_LOG.map((e, i) => ({ ...e, ...(i === GOOD_LOG.length - 1 ? { version: '2.0.0' } : {}) }));
    expect(out.effects).toContainEqual({ type: 'provide-reference-values', henbId: 'henb-1', jobId: 'job-1', values });
    expect(types(out.effects).indexOf('provide-reference-values')).toBeLessThan(types(out.effects).indexOf('emit-result'));
  });

  it('verified without a measurement log (the seed arithmetic only)', () => {
    const out = transition(jobIn('awaiting-completion'), comp({ henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: EXPECTED }));
    expect(out.job.state).toBe('verified');
    // no log: the updated component's digest is the software RIM
    expect(out.effects).toContainEqual({ type: 'provide-reference-values', henbId: 'henb-1', jobId: 'job-1', values: [{ component: 'rootfs', digest: SW_RIM, version: '2.0.0' }] });
  });

  it('mismatch without log: old RIM kept, quarantined, alarm and rollback by policy', () => {
    const out = transition(jobIn('awaiting-completion'), comp({ henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: h('bad') }));
    expect(out.job.state).toBe('mismatch');
    expect(out.job.result?.reason).toContain('is not the expected RIM');
    expect(types(out.effects)).not.toContain('store-rim');
    expect(out.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'quarantined' });
    expect(types(out.effects)).toEqual(expect.arrayContaining(['raise-alarm', 'rollback', 'emit-result']));
      expect(types(out.effects)).not.toContain('provide-reference-values');
  });

  it('mismatch with policy [] (no measures): still quarantined, no alarm, no rollback', () => {
    const job = jobIn('awaiting-completion', { request: { ...jobIn('created').request, measures: [] } });
    const out = transition(job, comp({ henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: h('bad') }));
    expect(out.job.state).toBe('mismatch');
    expect(out.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'quarantined' });
    expect(types(out.effects)).not.toContain('raise-alarm');
    expect(types(out.effects)).not.toContain('rollback');
  });

  it('mismatch with a measurement log names the component that differs', () => {
    const badRootfs = h('rootfs-corrupted');
    const log = [...BASE_LOG, { component: 'rootfs', digest: badRootfs }];
    const tim = extendDigest(OLD_RIM, badRootfs);
    const out = transition(jobIn('awaiting-completion'), comp({ henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim, measurementLog: log }));
    expect(out.job.state).toBe('mismatch');
    expect(out.job.result?.component).toBe('rootfs');
    expect(out.job.result?.reason).toContain(badRootfs);
  });

  it('log with a changed earlier component: named from the reference log', () => {
    const log = [BASE_LOG[0]!, { component: 'kernel', digest: h('implant') }, BASE_LOG[2]!, BASE_LOG[3]!, { component: 'rootfs', digest: SW_RIM }];
    const out = transition(jobIn('awaiting-completion', { referenceLog: BASE_LOG }), comp({ henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: replayLog(log), measurementLog: log }));
    expect(out.job.state).toBe('mismatch');
    expect(out.job.result?.component).toBe('kernel');
  });

  it('log that does not replay to the reported TIM: mismatch', () => {
    const out = transition(jobIn('awaiting-completion'), comp({ henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: EXPECTED, measurementLog: BASE_LOG }));
    expect(out.job.state).toBe('mismatch');
    expect(out.job.result?.reason).toContain('replays to');
  });

  it('self-check failure reported by the device: mismatch with the reason, measures applied', () => {
    const out = transition(jobIn('awaiting-completion'), comp({ henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: EXPECTED, selfCheck: 'failed', reason: 'TIM differs' }));
    expect(out.job.state).toBe('mismatch');
    expect(out.job.result?.reason).toBe('H(e)NB self-check failed: TIM differs');
    expect(types(out.effects)).toEqual(expect.arrayContaining(['raise-alarm', 'rollback']));
  });

  it('install failure reported by the device: failed, quarantined', () => {
    const out = transition(jobIn('awaiting-completion'), comp({ henbId: 'henb-1', jobId: 'job-1', status: 'failed', reason: 'FILE_NOT_FOUND' }));
    expect(out.job.state).toBe('failed');
    expect(out.job.result?.reason).toContain('FILE_NOT_FOUND');
    expect(out.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'quarantined' });
  });

  it('completion for another job or H(e)NB is ignored', () => {
    const a = transition(jobIn('awaiting-completion'), comp({ henbId: 'henb-1', jobId: 'job-2', status: 'completed', tim: EXPECTED }));
    expect(a.ignored).toContain('does not match');
    const b = transition(jobIn('awaiting-completion'), comp({ henbId: 'henb-2', jobId: 'job-1', status: 'completed', tim: EXPECTED }));
    expect(b.ignored).toContain('does not match');
  });

  it('a stale timeout (armed for an earlier state) is ignored', () => {
    const out = transition(jobIn('fetching'), { type: 'timeout', at: T0, state: 'pve-requested' });
    expect(out.ignored).toContain('stale');
  });

  it('timeouts name the step; after the update was sent the H(e)NB is quarantined (alarm, no rollback)', () => {
    const a = transition(jobIn('pve-requested'), { type: 'timeout', at: T0, state: 'pve-requested' });
    expect(a.job.result?.reason).toBe('PVE integrity check (steps 2-4) timed out after 1000 ms');
    expect(a.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'trusted' });
    const b = transition(jobIn('awaiting-completion'), { type: 'timeout', at: T0, state: 'awaiting-completion' });
    expect(b.job.result?.reason).toBe('install and completion report (steps 7-8) timed out after 4000 ms');
    expect(b.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'quarantined' });
    expect(types(b.effects)).toContain('raise-alarm');
    expect(types(b.effects)).not.toContain('rollback');
  });

  it('restart while asking the PVE: asks again with the fresh nonce', () => {
    const out = transition(jobIn('pve-requested'), { type: 'restart', at: T0 + 50, nonce: 'f'.repeat(64) });
    expect(out.job.nonce).toBe('f'.repeat(64));
    expect(out.effects).toContainEqual({ type: 'request-pve', henbId: 'henb-1', jobId: 'job-1', nonce: 'f'.repeat(64) });
    expect(out.job.deadline).toBe(T0 + 50 + 1000);
  });

  it('device-error: an explicit refusal leaves the H(e)NB trusted; an unknown outcome quarantines it', () => {
    const a = transition(jobIn('update-sending'), { type: 'device-error', at: T0, reason: 'busy (ERR_DEVICE_REFUSED)', refused: true });
    expect(a.job.state).toBe('failed');
    expect(a.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'trusted' });
    expect(types(a.effects)).not.toContain('raise-alarm');
    const b = transition(jobIn('update-sending'), { type: 'device-error', at: T0, reason: 'session lost' });
    expect(b.job.state).toBe('failed');
    expect(b.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'quarantined' });
  });

  it('restart while sending: failed with a reason, never resent', () => {
    const out = transition(jobIn('update-sending'), { type: 'restart', at: T0, nonce: 'x' });
    expect(out.job.state).toBe('failed');
    expect(out.job.result?.reason).toContain('not resent');
    expect(types(out.effects)).not.toContain('send-update');
    expect(out.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'quarantined' });
  });

  it('restart while awaiting the completion: keeps waiting with the original deadline', () => {
    const out = transition(jobIn('awaiting-completion'), { type: 'restart', at: T0 + 99, nonce: 'x' });
    expect(out.job.state).toBe('awaiting-completion');
    expect(out.job.deadline).toBe(T0 + 4000);
    expect(out.effects[1]).toEqual({ type: 'watch-device', henbId: 'henb-1', jobId: 'job-1', since: T0 });
    expect(types(out.effects)).toEqual(['emit-progress', 'watch-device']);
  });

  it('the function is pure: the input job is not modified', () => {
    const job = jobIn('awaiting-completion');
    const copy = structuredClone(job);
    transition(job, sampleEvent('completion', 'awaiting-completion'));
    transition(job, { type: 'timeout', at: T0, state: 'awaiting-completion' });
    expect(job).toEqual(copy);
  });
});

describe('transition: an integrity-check job (steps 2-4 alone)', () => {
  const check = (state: 'created' | 'pve-requested') => jobIn(state, { kind: 'integrity-check', jobId: 'ir-1', oldRim: undefined });
  const types = (effects: Effect[]): string[] => effects.map((e) => e.type);

  // rows: the check's active states; columns: EVENTS in order
  const CHECK_TABLE: Record<'created' | 'pve-requested', Array<JobState | typeof I>> = {
    created: ['pve-requested', I, I, I, I, I, I, I, 'timeout', 'pve-requested'],
    'pve-requested': [I, 'verified', 'refused', I, I, I, I, I, 'timeout', 'pve-requested'],
  };
  for (const [state, row] of Object.entries(CHECK_TABLE) as Array<['created' | 'pve-requested', Array<JobState | typeof I>]>) {
    EVENTS.forEach((type, i) => {
      it(`${state} + ${type} -> ${row[i]}`, () => {
        const job = check(state);
        const out = transition(job, sampleEvent(type, state));
        if (row[i] === I) {
          expect(out.ignored).toBeDefined();
          expect(out.job).toBe(job);
        } else {
          expect(out.job.state).toBe(row[i]);
          expect(out.job.kind).toBe('integrity-check');
          // a check never fetches, sends or rolls back
          expect(types(out.effects).filter((t) => ['fetch-software', 'send-update', 'rollback', 'raise-alarm'].includes(t))).toEqual([]);
        }
      });
    });
  }

  it('starts as an update does: the request to the PVE with the job\'s nonce', () => {
    const out = transition(check('created'), { type: 'start', at: T0 });
    expect(out.effects).toContainEqual({ type: 'request-pve', henbId: 'henb-1', jobId: 'ir-1', nonce: 'n'.repeat(64) });
    expect(out.job.deadline).toBe(T0 + 1000);
  });

  it('affirming: verified, the H(e)NB trusted, the attested TIM its first RIM, the attested version recorded when none is', () => {
    const out = transition(jobIn('pve-requested', { kind: 'integrity-check', oldRim: undefined, priorHenbState: 'quarantined' }),
      { type: 'pve-result', at: T0 + 5, earStatus: 'affirming', token: 'p.v.e', attestedTim: OLD_RIM, attestedVersion: '1.0.0' });
    expect(out.job).toMatchObject({ state: 'verified', pve: { earStatus: 'affirming', token: 'p.v.e', attestedTim: OLD_RIM } });
    expect(out.effects).toEqual([
      { type: 'store-rim', henbId: 'henb-1', rim: OLD_RIM },
      { type: 'set-henb-state', henbId: 'henb-1', state: 'trusted', versionIfUnset: '1.0.0' },
      { type: 'emit-progress', step: 4, text: 'PVE verdict affirming: H(e)NB trusted' },
      { type: 'emit-result' },
    ]);
  });

  it('a known RIM stays; contraindicated quarantines with the PVE\'s reason; warning leaves the state as it was', () => {
    const known = transition(jobIn('pve-requested', { kind: 'integrity-check' }), { type: 'pve-result', at: T0, earStatus: 'affirming', token: 't', attestedTim: h('other') });
    expect(types(known.effects)).not.toContain('store-rim');
    const bad = transition(jobIn('pve-requested', { kind: 'integrity-check' }), { type: 'pve-result', at: T0, earStatus: 'contraindicated', token: 't', verdictReason: 'kernel differs' });
    expect(bad.job).toMatchObject({ state: 'refused', pve: { reason: 'kernel differs' } });
    expect(bad.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'quarantined' });
    const warn = transition(jobIn('pve-requested', { kind: 'integrity-check', priorHenbState: 'unknown' }), { type: 'pve-result', at: T0, earStatus: 'warning', token: 't' });
    expect(warn.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'unknown' });
  });

  it('no verdict: the cause is kept for the RPC; a timed-out PVE ends as timeout', () => {
    const cause = { kind: 'pve-result-invalid' as const, code: 'ERR_TOKEN_SIGNATURE' };
    const out = transition(check('pve-requested'), { type: 'pve-error', at: T0, reason: 'did not verify', cause });
    expect(out.job.result).toMatchObject({ status: 'refused', cause });
    const slow = transition(check('pve-requested'), { type: 'pve-error', at: T0, reason: 'no answer', timedOut: true, cause: { kind: 'pve-unreachable', code: 'ERR_PVE_TIMEOUT' } });
    expect(slow.job.result?.status).toBe('timeout');
  });

  it('a software update carries the same cause on a PVE error (its jobs stay as they were otherwise)', () => {
    const out = transition(jobIn('pve-requested'), { type: 'pve-error', at: T0, reason: 'down', cause: { kind: 'pve-unreachable', code: 'ERR_PVE_UNREACHABLE' } });
    expect(out.job.kind).toBeUndefined();
    expect(out.job.result).toMatchObject({ status: 'refused', reason: 'PVE integrity check failed: down; software-update not sent', cause: { kind: 'pve-unreachable' } });
  });
});

describe('transition: a completion counts only with evidence over the job\'s nonce (issue 10)', () => {
  const good: DeviceCompletion = { henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG, selfCheck: 'passed' };
  const cases: Array<[string, JobEvent]> = [
    ['no appraisal at all (the forgeable path before issue 10)', { type: 'completion', at: T0, completion: good }],
    ['evidence over another nonce', { type: 'completion', at: T0, completion: good, attested: attestedFor(EXPECTED, { nonce: 'b2'.repeat(32) }) }],
    ['evidence about another job', { type: 'completion', at: T0, completion: good, attested: attestedFor(EXPECTED, { jobId: 'job-2' }) }],
    ['evidence from another H(e)NB', { type: 'completion', at: T0, completion: good, attested: attestedFor(EXPECTED, { henbId: 'henb-2' }) }],
    ['an appraised TIM that is not the completion\'s', { type: 'completion', at: T0, completion: good, attested: attestedFor(h('other')) }],
  ];
  for (const [name, ev] of cases) {
    it(`ignored, nothing changes: ${name}`, () => {
      const job = jobIn('awaiting-completion');
      const out = transition(job, ev);
      expect(out.ignored).toBeDefined();
      expect(out.job).toBe(job);
      expect(out.effects).toEqual([]);
    });
  }

  it('a job without an update nonce accepts no completion', () => {
    const job = jobIn('awaiting-completion', { updateNonce: undefined });
    delete job.updateNonce;
    expect(transition(job, comp(good)).ignored).toBe('the job has no update nonce');
  });

  it('the software-digest needs a fresh update nonce, else nothing is sent', () => {
    const out = transition(jobIn('fetching'), { type: 'software-digest', at: T0, sha256: SW_RIM, size: 1, updateNonce: '' });
    expect(out.job.state).toBe('failed');
    expect(types(out.effects)).not.toContain('send-update');
  });

  it('the result records the evidence format and the PVE token of the appraisal', () => {
    const out = transition(jobIn('awaiting-completion'), comp(good));
    expect(out.job.state).toBe('verified');
    expect(out.job.completion).toMatchObject({ evidenceFormat: 'software-key', pveToken: 'p.o.st', activation: 'live' });
  });
});

describe('transition: reboot-aware appraisal (issue 10 item 3)', () => {
  const rebootLog = rebootLogAfterUpdate(BASE_LOG, 'rootfs', SW_RIM);
  const REBOOT_TIM = replayLog(rebootLog);
  const fetched = (): ReturnType<typeof jobIn> => transition(jobIn('fetching', { preLog: BASE_LOG }), sampleEvent('software-digest', 'fetching')).job;

  it('the expected log after a reboot replaces rootfs in its place, not appended', () => {
    expect(rebootLog.map((e) => e.component)).toEqual(['bootloader', 'kernel', 'rootfs', 'config']);
    expect(rebootLog[2]!.digest).toBe(SW_RIM);
    expect(fetched().expectedRimReboot).toBe(REBOOT_TIM);
    expect(fetched().expectedRim).toBe(EXPECTED);
  });

  it('a device that rebooted into the update: verified (not a mismatch), the new log becomes the reference', () => {
    const job = { ...fetched(), state: 'awaiting-completion' as const };
    const out = transition(job, comp({ henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: REBOOT_TIM, measurementLog: rebootLog, selfCheck: 'passed' }));
    expect(out.job.state).toBe('verified');
    expect(out.job.completion?.activation).toBe('reboot');
    expect(out.effects).toContainEqual({ type: 'store-rim', henbId: 'henb-1', rim: REBOOT_TIM, version: '2.0.0', measurementLog: rebootLog });
  });

  it('the seed\'s live activation still verifies with the same job', () => {
    const job = { ...fetched(), state: 'awaiting-completion' as const };
    const out = transition(job, comp({ henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG }));
    expect(out.job.state).toBe('verified');
    expect(out.job.completion?.activation).toBe('live');
  });

  it('a reboot into a wrong rootfs: mismatch naming rootfs, old RIM kept', () => {
    const bad = rebootLogAfterUpdate(BASE_LOG, 'rootfs', h('corrupted'));
    const job = { ...fetched(), state: 'awaiting-completion' as const };
    const out = transition(job, comp({ henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: replayLog(bad), measurementLog: bad }));
    expect(out.job.state).toBe('mismatch');
    expect(out.job.result?.component).toBe('rootfs');
    expect(out.job.result?.reason).toContain(`component rootfs measured ${h('corrupted')}, expected ${SW_RIM}`);
    expect(types(out.effects)).not.toContain('store-rim');
  });

  it('a reboot that also changed another component names that component', () => {
    const bad = rebootLog.map((e) => (e.component === 'kernel' ? { ...e, digest: h('implant') } : e));
    const job = { ...fetched(), state: 'awaiting-completion' as const };
    const out = transition(job, comp({ henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: replayLog(bad), measurementLog: bad }));
    expect(out.job.state).toBe('mismatch');
    expect(out.job.result?.component).toBe('kernel');
  });

  it('a rebooted device without a log: its TIM equals the replace-rule RIM -> verified', () => {
    const job = { ...fetched(), state: 'awaiting-completion' as const };
    const out = transition(job, comp({ henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: REBOOT_TIM }));
    expect(out.job.state).toBe('verified');
    expect(out.job.result?.reason).toContain('after a reboot');
  });
});

describe('transition: the version the device reports (issue 10 item 5)', () => {
  it('a verified update records the version the device signed in its completion, not the requested label', () => {
    const out = transition(jobIn('awaiting-completion'), comp({ henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG, softwareVersion: '2.0.0-build7' }));
    expect(out.job.state).toBe('verified');
    expect(out.effects).toContainEqual(expect.objectContaining({ type: 'store-rim', rim: EXPECTED, version: '2.0.0-build7' }));
  });

  it('without a reported version the requested one is kept', () => {
    const out = transition(jobIn('awaiting-completion'), comp({ henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG }));
    expect(out.effects).toContainEqual(expect.objectContaining({ type: 'store-rim', version: '2.0.0' }));
  });
});

describe('transition: an integrity-check of software other than the recorded version (issue 10, downgrade outside the OAM)', () => {
  const FACTORY_ROOTFS = BASE_LOG.find((e) => e.component === 'rootfs')!.digest;
  // the H(e)NB after a verified live update to 2.0.0: /hsv:henbs records 2.0.0, the reference log ends with the new rootfs
  const updated = (over: Partial<Job> = {}): Job => jobIn('pve-requested', { kind: 'integrity-check', jobId: 'ir-9', recordedVersion: '2.0.0', referenceLog: GOOD_LOG, priorHenbState: 'trusted', ...over });
  const affirm = (attestedVersion: string | undefined, attestedLog: MeasurementLogEntry[]): JobEvent => ({
    type: 'pve-result', at: T0 + 7, earStatus: 'affirming', token: 'p.v.e', attestedTim: replayLog(attestedLog), attestedLog,
    ...(attestedVersion !== undefined ? { attestedVersion } : {}),
  });

  it('an older attested version: refused naming both versions and the differing digest, quarantined, an alarm; no RIM change', () => {
    const out = transition(updated(), affirm('1.0.0', BASE_LOG));
    expect(out.job.state).toBe('refused');
    expect(out.job.pve).toMatchObject({ earStatus: 'affirming', token: 'p.v.e' });
    expect(out.job.result?.reason).toContain('software version 1.0.0 attested, 2.0.0 recorded for the H(e)NB');
    expect(out.job.result?.reason).toContain(`its rootfs measures ${FACTORY_ROOTFS}, not the verified ${SW_RIM}`);
    expect(out.job.result?.component).toBe('rootfs');
    expect(out.effects).toEqual([
      { type: 'set-henb-state', henbId: 'henb-1', state: 'quarantined' },
      { type: 'emit-progress', step: 4, text: `refused: ${out.job.result!.reason}` },
      { type: 'emit-result' },
      { type: 'raise-alarm', text: `H(e)NB henb-1 integrity check ir-9 refused: ${out.job.result!.reason}` },
    ]);
  });

  it('the version alone differs (no reference log): refused; the digest alone differs (same version claimed): refused naming it', () => {
    const byVersion = transition(updated({ referenceLog: undefined }), affirm('1.0.0', BASE_LOG));
    expect(byVersion.job.state).toBe('refused');
    expect(byVersion.job.result?.component).toBeUndefined();
    const byDigest = transition(updated(), affirm('2.0.0', BASE_LOG));
    expect(byDigest.job.state).toBe('refused');
    expect(byDigest.job.result?.reason).toMatch(/software version 2\.0\.0 attested, 2\.0\.0 recorded.*its rootfs measures/);
    const unreported = transition(updated(), affirm(undefined, BASE_LOG));
    expect(unreported.job.result?.reason).toContain('software version (not reported) attested, 2.0.0 recorded');
  });

  it('the verified software, live or after a reboot (rootfs in its place): verified and trusted', () => {
    const live = transition(updated(), affirm('2.0.0', GOOD_LOG));
    expect(live.job.state).toBe('verified');
    expect(live.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'trusted', versionIfUnset: '2.0.0' });
    const rebooted = transition(updated(), affirm('2.0.0', rebootLogAfterUpdate(BASE_LOG, 'rootfs', SW_RIM)));
    expect(rebooted.job.state).toBe('verified');
    expect(types(rebooted.effects)).not.toContain('raise-alarm');
  });

  it('nothing recorded to compare with: the PVE\'s verdict decides (first check records the attested version)', () => {
    const out = transition(updated({ recordedVersion: undefined, referenceLog: undefined }), affirm('1.0.0', BASE_LOG));
    expect(out.job.state).toBe('verified');
    expect(out.effects).toContainEqual({ type: 'set-henb-state', henbId: 'henb-1', state: 'trusted', versionIfUnset: '1.0.0' });
  });

  it('a verdict that is not affirming keeps the PVE\'s reason (no alarm); a software update\'s pre-check is not refused by the version', () => {
    const bad = transition(updated(), { type: 'pve-result', at: T0, earStatus: 'contraindicated', token: 't', verdictReason: 'component kernel is not a reference value', attestedVersion: '1.0.0' });
    expect(bad.job.result?.reason).toBe('PVE verdict contraindicated: component kernel is not a reference value');
    expect(types(bad.effects)).not.toContain('raise-alarm');
    // the remedy for a downgraded H(e)NB is an update: its steps 2-4 take the PVE's verdict alone
    const update = transition(jobIn('pve-requested', { recordedVersion: '2.0.0', referenceLog: GOOD_LOG, oldRim: EXPECTED }), affirm('1.0.0', BASE_LOG));
    expect(update.job.state).toBe('fetching');
    expect(types(update.effects)).not.toContain('raise-alarm');
    // ... and its expected RIM derives from the TIM the PVE attested (the device no longer runs the stored RIM)
    expect(update.job.oldRim).toBe(OLD_RIM);
    expect(update.effects).toContainEqual({ type: 'emit-progress', step: 4,
      text: expect.stringContaining('the H(e)NB runs other software than recorded (software version 1.0.0 attested, 2.0.0 recorded') as unknown as string });
    const next = transition(update.job, { type: 'software-digest', at: T0 + 8, sha256: SW_RIM, size: 1, updateNonce: UPDATE_NONCE });
    expect(next.job.expectedRim).toBe(EXPECTED);
    // no drift: the stored RIM stays the reference
    const same = transition(jobIn('pve-requested', { recordedVersion: '2.0.0', referenceLog: GOOD_LOG, oldRim: EXPECTED }), affirm('2.0.0', GOOD_LOG));
    expect(same.job.oldRim).toBe(EXPECTED);
  });
});
