/** Shared fixtures for the flow tests: digests, a job in any state, events that lead along the happy path. */
import { createHash } from 'node:crypto';
import type { AttestedCompletion, MeasurementLogEntry } from '../../src/oam/ports.js';
import { extendDigest, replayLog } from '../../src/oam/measure.js';
import type { Job, JobEvent, JobState, EventType } from '../../src/oam/transition.js';
import { newJob } from '../../src/oam/transition.js';

export const h = (s: string): string => createHash('sha256').update(s).digest('hex');

export const BASE_LOG: MeasurementLogEntry[] = [
  { component: 'bootloader', digest: h('bootloader') },
  { component: 'kernel', digest: h('kernel') },
  { component: 'rootfs', digest: h('rootfs-1') },
  { component: 'config', digest: h('config') },
];
export const OLD_RIM = replayLog(BASE_LOG);
export const SW_RIM = h('image-2.0.0');
export const EXPECTED = extendDigest(OLD_RIM, SW_RIM);
export const GOOD_LOG: MeasurementLogEntry[] = [...BASE_LOG, { component: 'rootfs', digest: SW_RIM }];

export const T0 = 1_800_000_000_000;
/** the nonce job-1's software-update carried (the device signs its completion over it) */
export const UPDATE_NONCE = 'a1'.repeat(32);

/** what the runner hands transition() once the PVE appraised a completion of job-1 over UPDATE_NONCE */
export function attestedFor(tim: string | undefined, over: Partial<AttestedCompletion> = {}): AttestedCompletion {
  return { henbId: 'henb-1', jobId: 'job-1', nonce: UPDATE_NONCE, tim: tim ?? h('unchanged'), format: 'software-key', token: 'p.o.st', ...over };
}

export function baseJob(over: Partial<Job> = {}): Job {
  return {
    ...newJob({
      jobId: 'job-1', henbId: 'henb-1', nonce: 'n'.repeat(64), at: T0, priorHenbState: 'trusted', oldRim: OLD_RIM,
      request: { uri: 'https://images.example/2.0.0.img', version: '2.0.0', selfCheck: true, measures: ['alarm', 'rollback'] },
      timeouts: { pve: 1000, fetch: 2000, send: 3000, completion: 4000 },
    }),
    ...over,
  };
}

/** A job as it is when it sits in `state` (fields earlier steps would have set are filled in). */
export function jobIn(state: JobState, over: Partial<Job> = {}): Job {
  const j = baseJob();
  const later = { softwareRim: SW_RIM, expectedRim: EXPECTED, softwareSize: 10, updateNonce: UPDATE_NONCE };
  const pve = { pve: { earStatus: 'affirming' as const, token: 'a.b.c' } };
  switch (state) {
    case 'created': return { ...j, ...over };
    case 'pve-requested': return { ...j, state, deadline: T0 + 1000, ...over };
    case 'fetching': return { ...j, ...pve, state, deadline: T0 + 2000, ...over };
    case 'update-sending': return { ...j, ...pve, ...later, updateSent: true, state, deadline: T0 + 3000, ...over };
    case 'awaiting-completion': return { ...j, ...pve, ...later, updateSent: true, sentAt: T0, state, deadline: T0 + 4000, ...over };
    default: return { ...j, ...pve, ...later, state, result: { status: state, reason: 'x', at: T0 }, ...over };
  }
}

/** One sample of each event type, leading along the happy path. */
export function sampleEvent(type: EventType, state: JobState, at = T0 + 10): JobEvent {
  switch (type) {
    case 'start': return { type, at };
    case 'pve-result': return { type, at, earStatus: 'affirming', token: 'p.v.e' };
    case 'pve-error': return { type, at, reason: 'connection refused' };
    case 'software-digest': return { type, at, sha256: SW_RIM, size: 10, updateNonce: UPDATE_NONCE };
    case 'fetch-error': return { type, at, reason: 'not found' };
    case 'device-accepted': return { type, at };
    case 'device-error': return { type, at, reason: 'unreachable' };
    case 'completion': return { type, at, completion: { henbId: 'henb-1', jobId: 'job-1', status: 'completed', tim: EXPECTED, measurementLog: GOOD_LOG, selfCheck: 'passed' }, attested: attestedFor(EXPECTED) };
    case 'timeout': return { type, at, state };
    case 'restart': return { type, at, nonce: 'f'.repeat(64) };
  }
}
