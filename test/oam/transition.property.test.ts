/**
 * Properties of transition() over arbitrary event sequences (fast-check): whatever arrives in whatever order,
 * the software-update is sent at most once, a job ends at most once and then ignores everything, the RIM is
 * changed only by a verified completion, and nothing touches the device before an affirming PVE result.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTerminal, transition } from '../../src/oam/transition.js';
import type { Effect, Job, JobEvent, JobState } from '../../src/oam/transition.js';
import { EXPECTED, GOOD_LOG, T0, baseJob, h } from './helpers.js';

/** a JobEvent without its time (distributed over the union) */
type Ev = JobEvent extends infer E ? (E extends JobEvent ? Omit<E, 'at'> : never) : never;

const NONCE_A = 'a1'.repeat(32);
const NONCE_B = 'b2'.repeat(32);

const STATES: JobState[] = ['created', 'pve-requested', 'fetching', 'update-sending', 'awaiting-completion', 'verified', 'mismatch', 'refused', 'failed', 'timeout'];

const eventArb: fc.Arbitrary<Ev> = fc.oneof(
  fc.constant({ type: 'start' as const }),
  fc.constantFrom('affirming', 'warning', 'contraindicated', 'none').map((s) => ({ type: 'pve-result' as const, earStatus: s as 'affirming', token: 'p.v.e' })),
  fc.boolean().map((t) => ({ type: 'pve-error' as const, reason: 'down', timedOut: t })),
  fc.tuple(fc.constantFrom(h('image-2.0.0'), h('other-image'), 'not-a-digest'), fc.constantFrom(NONCE_A, NONCE_B))
    .map(([d, updateNonce]) => ({ type: 'software-digest' as const, sha256: d, size: 1, updateNonce })),
  fc.constant({ type: 'fetch-error' as const, reason: 'gone' }),
  fc.constant({ type: 'device-accepted' as const }),
  fc.boolean().map((r) => ({ type: 'device-error' as const, reason: 'no', refused: r })),
  fc.record({
    tim: fc.constantFrom(EXPECTED, h('bad'), undefined),
    status: fc.constantFrom('completed' as const, 'failed' as const),
    selfCheck: fc.constantFrom('passed' as const, 'failed' as const, undefined),
    withLog: fc.boolean(),
    jobId: fc.constantFrom('job-1', 'job-2'),
    // the appraisal the runner attaches: none (unsigned), over either nonce, about either job / H(e)NB, of either TIM
    attested: fc.option(fc.record({
      nonce: fc.constantFrom(NONCE_A, NONCE_B),
      jobId: fc.constantFrom('job-1', 'job-2'),
      henbId: fc.constantFrom('henb-1', 'henb-2'),
      tim: fc.constantFrom(EXPECTED, h('bad'), h('unchanged')),
    }), { nil: undefined }),
  }).map((c) => ({
    type: 'completion' as const,
    completion: {
      henbId: 'henb-1', jobId: c.jobId, status: c.status,
      ...(c.tim !== undefined ? { tim: c.tim } : {}),
      ...(c.selfCheck !== undefined ? { selfCheck: c.selfCheck } : {}),
      ...(c.withLog ? { measurementLog: GOOD_LOG } : {}),
    },
    ...(c.attested !== undefined ? { attested: { ...c.attested, format: 'software-key' as const, token: 'p.o.st' } } : {}),
  })),
  fc.constantFrom(...STATES).map((s) => ({ type: 'timeout' as const, state: s })),
  fc.integer({ min: 0, max: 1e9 }).map((n) => ({ type: 'restart' as const, nonce: h(String(n)) })),
);

const HAPPY: Array<Ev> = [
  { type: 'start' },
  { type: 'pve-result', earStatus: 'affirming', token: 'p.v.e' },
  { type: 'software-digest', sha256: h('image-2.0.0'), size: 1, updateNonce: NONCE_A },
  { type: 'device-accepted' },
  {
    type: 'completion', completion: { henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: EXPECTED, selfCheck: 'passed', measurementLog: GOOD_LOG },
    attested: { henbId: 'henb-1', jobId: 'job-1', nonce: NONCE_A, tim: EXPECTED, format: 'software-key', token: 'p.o.st' },
  },
];

/** arbitrary sequences, half of them the happy path with arbitrary events slipped in between its steps */
const seqArb = fc.oneof(
  fc.array(eventArb, { maxLength: 40 }),
  fc.array(fc.tuple(fc.nat(HAPPY.length), eventArb), { maxLength: 6 }).map((noise) => {
    const out: Array<Ev> = [];
    HAPPY.forEach((e, i) => {
      for (const [k, n] of noise) if (k === i) out.push(n);
      out.push(e);
    });
    for (const [k, n] of noise) if (k === HAPPY.length) out.push(n);
    return out;
  }),
);

function run(events: Array<Ev>): { trace: Array<{ before: Job; event: JobEvent; after: Job; effects: Effect[]; ignored: boolean }>; job: Job } {
  let job = baseJob({ oldRim: undefined });
  // half of the runs know the RIM in advance
  if (events.length % 2 === 0) job = baseJob();
  const trace = [];
  let at = T0;
  for (const e of events) {
    at += 7;
    const event = { ...e, at } as JobEvent;
    const out = transition(job, event);
    trace.push({ before: job, event, after: out.job, effects: out.effects, ignored: out.ignored !== undefined });
    job = out.job;
  }
  return { trace, job };
}

const all = (trace: ReturnType<typeof run>['trace']): Effect[] => trace.flatMap((t) => t.effects);

describe('transition properties', () => {
  it('software-update sent at most once, and only after an affirming PVE result', () => {
    fc.assert(fc.property(seqArb, (events) => {
      const { trace } = run(events);
      const sends = trace.filter((t) => t.effects.some((e) => e.type === 'send-update'));
      expect(sends.length).toBeLessThanOrEqual(1);
      for (const s of sends) {
        expect(s.before.pve?.earStatus).toBe('affirming');
        expect(s.after.updateSent).toBe(true);
      }
    }), { numRuns: 500 });
  });

  it('a job ends at most once (one result), then ignores every event', () => {
    fc.assert(fc.property(seqArb, (events) => {
      const { trace, job } = run(events);
      const results = all(trace).filter((e) => e.type === 'emit-result').length;
      expect(results).toBe(isTerminal(job.state) ? 1 : 0);
      const end = trace.findIndex((t) => isTerminal(t.after.state));
      if (end >= 0) {
        for (const t of trace.slice(end + 1)) {
          expect(t.ignored).toBe(true);
          expect(t.effects).toEqual([]);
        }
        expect(job.result?.status).toBe(job.state);
        expect(job.deadline).toBeUndefined();
      }
    }), { numRuns: 500 });
  });

  it('the RIM changes only with a verified completion whose TIM is the expected RIM (or bootstraps from an affirmed TIM)', () => {
    fc.assert(fc.property(seqArb, (events) => {
      const { trace } = run(events);
      for (const t of trace) {
        for (const e of t.effects) {
          if (e.type !== 'store-rim') continue;
          if (t.event.type === 'pve-result') {
            expect(t.before.oldRim).toBeUndefined();
            expect(e.version).toBeUndefined();
          } else {
            expect(t.after.state).toBe('verified');
            expect(e.rim).toBe(t.after.expectedRim);
            expect(t.event.type === 'completion' && t.event.completion.tim).toBe(t.after.expectedRim);
          }
        }
      }
    }), { numRuns: 500 });
  });

  it('a completion ends a job only with the device\'s evidence over THIS job\'s nonce (issue 10)', () => {
    fc.assert(fc.property(seqArb, (events) => {
      const { trace } = run(events);
      for (const t of trace) {
        if (t.event.type !== 'completion' || t.ignored) continue;
        // whatever the outcome (verified, mismatch, failed), it rests on an appraisal over the job's own nonce
        const a = t.event.attested;
        expect(a).toBeDefined();
        expect(a!.nonce).toBe(t.before.updateNonce);
        expect(a!.jobId).toBe(t.before.jobId);
        expect(a!.henbId).toBe(t.before.henbId);
        expect(t.before.state).toBe('awaiting-completion');
        if (t.event.completion.tim !== undefined) expect(a!.tim).toBe(t.event.completion.tim);
      }
    }), { numRuns: 1000 });
  });

  it('no rollback and no quarantine for a device that never received the update (unless the PVE contraindicated it)', () => {
    fc.assert(fc.property(seqArb, (events) => {
      const { trace } = run(events);
      const sent = trace.some((t) => t.effects.some((e) => e.type === 'send-update'));
      if (sent) return;
      const effects = all(trace);
      expect(effects.some((e) => e.type === 'rollback')).toBe(false);
      const contraindicated = trace.some((t) => t.event.type === 'pve-result' && t.event.earStatus === 'contraindicated' && !t.ignored);
      if (!contraindicated) expect(effects.some((e) => e.type === 'set-henb-state' && e.state === 'quarantined')).toBe(false);
    }), { numRuns: 500 });
  });

  it('every non-final state has a deadline; progress steps stay within 1..9', () => {
    fc.assert(fc.property(seqArb, (events) => {
      const { trace } = run(events);
      for (const t of trace) {
        if (!isTerminal(t.after.state) && t.after.state !== 'created') expect(t.after.deadline).toBeGreaterThan(T0);
        for (const e of t.effects) if (e.type === 'emit-progress') expect(e.step >= 1 && e.step <= 9).toBe(true);
      }
    }), { numRuns: 300 });
  });

  it('the generator reaches every outcome (the properties above are not vacuous)', () => {
    const seen = new Set<string>();
    for (const events of fc.sample(seqArb, { numRuns: 2000, seed: 42 })) seen.add(run(events).job.state);
    for (const s of ['verified', 'mismatch', 'refused', 'failed', 'timeout']) expect(seen).toContain(s);
  });
});
