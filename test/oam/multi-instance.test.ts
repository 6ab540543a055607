/**
 * Several OAM instances on one database: two JobRunners on one SQLite store stand for two instances (each has its
 * own in-memory view; only the store is shared). The database keeps one active job per H(e)NB (migration 2), so
 * the instance that loses gets ERR_OAM_HENB_BUSY (the NMS sees henb-busy, as for a job of the same instance) and
 * leaves nothing behind: no job, no nonce, no H(e)NB marked busy in its memory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log/logger.js';
import { openSqliteStore } from '../../src/store/index.js';
import type { SqliteStore, Store } from '../../src/store/index.js';
import { JobRunner } from '../../src/oam/runner.js';
import type { OamEvents } from '../../src/oam/runner-options.js';
import type { Clock } from '../../src/oam/ports.js';
import type { Job, StepTimeouts } from '../../src/oam/transition.js';
import { FakeDevices, FakeFetcher, FakePve, FakeTokens, signedCompletion } from './fakes.js';
import { BASE_LOG, EXPECTED, GOOD_LOG, OLD_RIM, h } from './helpers.js';
import type { DeviceCompletion } from '../../src/oam/ports.js';
import { replayLog } from '../../src/oam/measure.js';

const BAD_LOG = [...BASE_LOG, { component: 'rootfs', digest: h('corrupted-on-flash') }];
const BAD_TIM = replayLog(BAD_LOG);
import { until } from '../helpers/until.js';

const REQUEST = { uri: 'file:///img', version: '2', selfCheck: true, measures: ['alarm' as const] };

let dir: string;
let open: Array<{ close(): Promise<void> }>;
let store: SqliteStore;
let devices: FakeDevices;
let results: Job[];
let nonce = 0;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-multi-'));
  open = [];
  store = await openSqliteStore({ dataDir: dir });
  open.push(store);
  devices = new FakeDevices('slow');
  results = [];
  await store.putHenb({ henbId: 'h1', rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
});
afterEach(async () => {
  for (const o of open.reverse()) await o.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

/** what an instance logged */
function recordingLogger(lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }>): Logger {
  const log: Logger = {
    level: 'debug',
    debug: (msg, fields) => { lines.push({ level: 'debug', msg, fields }); },
    info: (msg, fields) => { lines.push({ level: 'info', msg, fields }); },
    warn: (msg, fields) => { lines.push({ level: 'warn', msg, fields }); },
    error: (msg, fields) => { lines.push({ level: 'error', msg, fields }); },
    child: () => log,
  };
  return log;
}

/** real timers, a time the test moves (leases expire when it says so), and the job timers still armed */
function testClock(): Clock & { t: number; armed: Set<unknown> } {
  const c = {
    t: Date.now(),
    armed: new Set<unknown>(),
    now: () => c.t,
    setTimeout: (fn: () => void, ms: number): unknown => {
      const h = setTimeout(() => { c.armed.delete(h); fn(); }, ms);
      c.armed.add(h);
      return h;
    },
    clearTimeout: (h: unknown): void => { c.armed.delete(h); clearTimeout(h as ReturnType<typeof setTimeout>); },
  };
  return c;
}

/** the store as an instance sees it that crashes: it never gets to release its leases */
function crashing(s: Store): Store {
  return new Proxy(s, {
    get: (target, key) => {
      if (key === 'releaseJobs') return async () => 0;
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** one OAM instance: its own runner (own memory) on the shared store */
function instance(over: { instanceId?: string; leaseMs?: number; clock?: Clock; store?: Store; log?: Logger; events?: OamEvents; timeouts?: Partial<StepTimeouts>; pve?: FakePve } = {}): JobRunner {
  const r = new JobRunner({
    store, pve: new FakePve(), devices, fetcher: new FakeFetcher(), tokens: new FakeTokens(),
    events: { progress: () => undefined, alarm: () => undefined, result: (j) => { results.push(j); } },
    newNonce: () => (++nonce).toString(16).padStart(64, 'a'),
    timeouts: { pve: 5000, fetch: 5000, send: 5000, completion: 5000 },
    ...over,
  });
  open.splice(1, 0, r); // runners close before the store
  return r;
}

/** the device's completion, signed over the job's update nonce (as stored), or unsigned for a job that does not exist */
const completion = async (jobId: string, henbId: string, tim: string, selfCheck: 'passed' | 'failed' = 'passed'): Promise<DeviceCompletion> => {
  const c: DeviceCompletion = { henbId, jobId, status: 'completed', tim, measurementLog: tim === BAD_TIM ? BAD_LOG : GOOD_LOG, selfCheck };
  const nonce = (await store.getJob<Job>(jobId))?.data.updateNonce;
  return nonce === undefined ? c : signedCompletion(c, nonce);
};

const nonceCount = (henbId: string): number =>
  (store.database.prepare("SELECT count(*) AS n FROM nonces WHERE henb_id = ? AND purpose = 'pve-integrity'").get(henbId) as { n: number }).n;

describe('two OAM instances on one store', () => {
  it('cannot both start a job for one H(e)NB: the loser gets ERR_OAM_HENB_BUSY and keeps nothing', async () => {
    const [a, b] = [instance(), instance()];
    const attempts = await Promise.allSettled([a.start({ henbId: 'h1', request: REQUEST }), b.start({ henbId: 'h1', request: REQUEST })]);
    const won = attempts.filter((x): x is PromiseFulfilledResult<Job> => x.status === 'fulfilled');
    const lost = attempts.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.reason).toMatchObject({ code: 'ERR_OAM_HENB_BUSY', message: expect.stringContaining('h1') });
    const job = won[0]!.value;
    const [winner, loser] = attempts[0]?.status === 'fulfilled' ? [a, b] : [b, a];
    expect(winner.activeJobFor('h1')).toBe(job.jobId);
    expect(loser.activeJobFor('h1')).toBeUndefined();
    expect((await store.listJobs({ henbId: 'h1' })).map((j) => j.jobId)).toEqual([job.jobId]);
    expect(nonceCount('h1')).toBe(1); // the winner's; the loser's nonce was rolled back with its job

    // the loser asked again (its memory says nothing runs): still refused by the database
    await expect(loser.start({ henbId: 'h1', request: REQUEST })).rejects.toMatchObject({ code: 'ERR_OAM_HENB_BUSY' });
    expect(loser.activeJobFor('h1')).toBeUndefined();
    expect(nonceCount('h1')).toBe(1);

    // once the job is over, the other instance may start the next one
    await until(async () => (await store.getJob(job.jobId))?.state === 'awaiting-completion', 'awaiting-completion');
    devices.emit(await completion(job.jobId, 'h1', EXPECTED));
    await until(async () => (await store.listActiveJobs()).length === 0, 'the first job final');
    expect(results.map((j) => j.state)).toEqual(['verified']);
    const next = await loser.start({ henbId: 'h1', request: REQUEST });
    expect(loser.activeJobFor('h1')).toBe(next.jobId);
    await expect(winner.start({ henbId: 'h1', request: REQUEST })).rejects.toMatchObject({ code: 'ERR_OAM_HENB_BUSY' });
    expect((await store.listActiveJobs()).map((j) => j.jobId)).toEqual([next.jobId]);
  });

  it('other H(e)NBs are not held back by a job on another instance', async () => {
    await store.putHenb({ henbId: 'h2', rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
    const [a, b] = [instance(), instance()];
    const j1 = await a.start({ henbId: 'h1', request: REQUEST });
    const j2 = await b.start({ henbId: 'h2', request: REQUEST });
    expect((await store.listActiveJobs()).map((j) => j.jobId).sort()).toEqual([j1.jobId, j2.jobId].sort());
  });
});

describe('an integrity-check is a job: it and a software-update of one H(e)NB exclude each other (the database\'s rule)', () => {
  const active = async (): Promise<string[]> => (await store.listActiveJobs()).map((j) => j.kind);

  it('an integrity-check while another instance (or this one) updates the H(e)NB is refused busy, and leaves nothing', async () => {
    const [a, b] = [instance(), instance()];
    const job = await a.start({ henbId: 'h1', request: REQUEST });
    await until(async () => (await store.getJob(job.jobId))?.state === 'awaiting-completion', 'awaiting-completion');
    const nonces = nonceCount('h1');
    await expect(b.check('h1', { pve: 5000 })).rejects.toMatchObject({ code: 'ERR_OAM_HENB_BUSY', message: expect.stringContaining(job.jobId) });
    await expect(a.check('h1', { pve: 5000 })).rejects.toMatchObject({ code: 'ERR_OAM_HENB_BUSY' });
    expect(b.activeJobFor('h1')).toBeUndefined();
    expect(await active()).toEqual(['software-update']);
    expect((await store.listJobs({ henbId: 'h1' })).map((j) => j.jobId)).toEqual([job.jobId]);
    expect(nonceCount('h1')).toBe(nonces);
    expect((await store.getHenb('h1'))?.state).toBe('updating');
  });

  it('a software-update while another instance runs an integrity-check of the H(e)NB is refused busy', async () => {
    const a = instance();
    const checker = instance({ pve: new FakePve('hang') });
    const checking = checker.check('h1', { pve: 60_000 }).catch((err: unknown) => err); // settled by close() below
    await until(async () => (await active()).includes('integrity-check'), 'the check running');
    await expect(a.start({ henbId: 'h1', request: REQUEST })).rejects.toMatchObject({ code: 'ERR_OAM_HENB_BUSY' });
    await expect(checker.start({ henbId: 'h1', request: REQUEST })).rejects.toMatchObject({ code: 'ERR_OAM_HENB_BUSY' });
    expect(await active()).toEqual(['integrity-check']);
    expect(devices.updates).toEqual([]);
    // the checking instance stops: its caller learns it, the job stays for an instance to resume
    await checker.close();
    expect(await checking).toMatchObject({ code: 'ERR_OAM_CLOSED' });
  });

  it('a check ends with the PVE\'s verdict: affirming trusts the H(e)NB, contraindicated quarantines it; then an update may start', async () => {
    await store.putHenb({ henbId: 'h1', rim: OLD_RIM, softwareVersion: '1.0.0', state: 'quarantined', lastResultToken: null });
    const a = instance();
    const ok = await a.check('h1', { pve: 5000 });
    expect(ok).toMatchObject({ kind: 'integrity-check', state: 'verified', pve: { earStatus: 'affirming' } });
    expect(ok.result?.token).toBe(ok.pve?.token);
    expect(await store.getHenb('h1')).toMatchObject({ state: 'trusted', rim: OLD_RIM, lastResultToken: ok.pve?.token });
    expect((await store.getResults(ok.jobId)).map((r) => [r.kind, r.earStatus])).toEqual([['pve', 'affirming']]);
    // the runner reports its end like any job's; the NETCONF adapter sends no software-update notification for it
    expect(results.map((j) => [j.kind, j.state])).toEqual([['integrity-check', 'verified']]);
    expect(await active()).toEqual([]);

    const bad = await instance({ pve: new FakePve('contraindicated') }).check('h1', { pve: 5000 });
    expect(bad).toMatchObject({ state: 'refused', pve: { earStatus: 'contraindicated' } });
    expect((await store.getHenb('h1'))?.state).toBe('quarantined');

    const down = await instance({ pve: new FakePve('down') }).check('h1', { pve: 5000 });
    expect(down).toMatchObject({ state: 'refused', result: { cause: { kind: 'pve-unreachable', code: 'ERR_PVE_UNREACHABLE' } } });
    expect(down.pve).toBeUndefined();
    expect((await store.getHenb('h1'))?.state).toBe('quarantined');

    const job = await a.start({ henbId: 'h1', request: REQUEST });
    expect(job.kind).toBeUndefined(); // a software update (kindOf)
  });
});

describe('job leases: instances divide the active jobs', () => {
  const waiting = async (jobId: string): Promise<boolean> => (await store.getJob(jobId))?.state === 'awaiting-completion';

  it('after a crash each instance resumes its own jobs; the jobs of one that does not come back go to another once its lease expired', async () => {
    await store.putHenb({ henbId: 'h2', rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
    const clock = testClock();
    const a = instance({ instanceId: 'A', leaseMs: 60_000, clock, store: crashing(store) });
    const b = instance({ instanceId: 'B', leaseMs: 300, clock, store: crashing(store) });
    const ja = await a.start({ henbId: 'h1', request: REQUEST });
    const jb = await b.start({ henbId: 'h2', request: REQUEST });
    await until(async () => (await waiting(ja.jobId)) && (await waiting(jb.jobId)), 'both jobs awaiting their completion');
    expect(await store.getJob(ja.jobId)).toMatchObject({ owner: 'A', leaseUntil: clock.t + 60_000 });
    await a.close(); // both crash: their leases stay
    await b.close();
    expect((await store.listActiveJobs()).map((j) => j.owner).sort()).toEqual(['A', 'B']);

    const c = instance({ instanceId: 'C', leaseMs: 300, clock });
    expect(await c.resume()).toEqual([]); // A's and B's leases hold
    const a2 = instance({ instanceId: 'A', leaseMs: 60_000, clock }); // A restarted: its own job at once
    expect(await a2.resume()).toEqual([ja.jobId]);
    expect(a2.activeJobFor('h1')).toBe(ja.jobId);
    expect(c.activeJobFor('h2')).toBeUndefined();

    clock.t += 1000; // B does not come back: its lease (300 ms) has expired, A's (60 s) holds
    await until(() => c.activeJobFor('h2') === jb.jobId, 'C taking over B\'s job');
    expect(await store.getJob(jb.jobId)).toMatchObject({ owner: 'C', leaseUntil: expect.any(Number) });
    expect(await store.getJob(ja.jobId)).toMatchObject({ owner: 'A' });
    expect(c.activeJobFor('h1')).toBeUndefined();
    expect(a2.activeJobFor('h2')).toBeUndefined();

    // each finishes its own job; the software-update was sent once per job
    for (const j of [ja, jb]) devices.emit(await completion(j.jobId, j.henbId, EXPECTED));
    await until(async () => (await store.listActiveJobs()).length === 0, 'both jobs final');
    expect(results.map((j) => [j.henbId, j.state]).sort()).toEqual([['h1', 'verified'], ['h2', 'verified']]);
    expect(devices.updates.map((u) => u.henbId).sort()).toEqual(['h1', 'h2']);
  });

  // issue 15: a renewal rewrote every active job of the instance (100,000 queued jobs: 100,000 rows every leaseMs/3);
  // now it writes the instance's heartbeat, and the job rows stay as they were
  it('an instance that keeps renewing keeps its jobs past their own leases without its job rows being written; once it stops, another takes them', async () => {
    const clock = testClock();
    const a = instance({ instanceId: 'A', leaseMs: 300, clock, store: crashing(store) });
    const b = instance({ instanceId: 'B', leaseMs: 300, clock });
    expect(await b.resume()).toEqual([]);
    const job = await a.start({ henbId: 'h1', request: REQUEST });
    await until(() => waiting(job.jobId), 'awaiting-completion');
    await a.idle();
    const row = await store.getJob(job.jobId);
    for (let i = 0; i < 6; i++) { // 1,200 ms of the test's time, four leases: A renews (every 100 ms), B claims
      clock.t += 200;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(await store.getJob(job.jobId)).toEqual(row); // not rewritten, not taken
    expect(a.activeJobFor('h1')).toBe(job.jobId);
    expect(b.activeJobFor('h1')).toBeUndefined();
    await a.close(); // A crashes: no more heartbeats, nothing released
    clock.t += 1000;
    await until(() => b.activeJobFor('h1') === job.jobId, 'B taking over A\'s job');
    const taken = await store.getJob(job.jobId);
    expect(taken).toMatchObject({ owner: 'B' });
    expect(taken!.version).toBeGreaterThan(row!.version); // taken from A (its next transition would fail)
  });

  it('an orderly close releases the jobs: another instance resumes them at once', async () => {
    const a = instance({ instanceId: 'A' });
    const job = await a.start({ henbId: 'h1', request: REQUEST });
    await until(() => waiting(job.jobId), 'awaiting-completion');
    await a.close();
    expect(await store.getJob(job.jobId)).toMatchObject({ owner: null, leaseUntil: null });
    const b = instance({ instanceId: 'B' });
    expect(await b.resume()).toEqual([job.jobId]);
    expect(await store.getJob(job.jobId)).toMatchObject({ owner: 'B' });
  });

  it('an instance whose job was claimed away drops it: no timer left, logged, the store keeps the other\'s state', async () => {
    const clock = testClock();
    const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
    const a = instance({ instanceId: 'A', leaseMs: 60_000, clock, log: recordingLogger(lines) });
    const job = await a.start({ henbId: 'h1', request: REQUEST });
    await until(() => waiting(job.jobId), 'awaiting-completion');
    await a.idle();
    expect(clock.armed.size).toBe(1); // the completion timeout
    // A stalled past its lease; another instance claimed the job
    const [taken] = await store.claimJobs('B', 60_000, clock.t + 120_000);
    expect(taken).toMatchObject({ jobId: job.jobId, owner: 'B' });
    const before = await store.listJobEvents(job.jobId);

    devices.emit(await completion(job.jobId, 'h1', EXPECTED));
    await until(() => a.activeJobFor('h1') === undefined, 'A dropping the job');
    await a.idle();
    expect(clock.armed.size).toBe(0);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining('lease lost'), fields: expect.objectContaining({ jobId: job.jobId }) }));
    expect(await store.getJob(job.jobId)).toMatchObject({ state: 'awaiting-completion', owner: 'B', version: taken!.version });
    expect(await store.listJobEvents(job.jobId)).toEqual(before);
    expect(results).toEqual([]);

    // B resumes it and finishes it
    const b = instance({ instanceId: 'B', leaseMs: 60_000, clock });
    expect(await b.resume()).toEqual([job.jobId]);
    devices.emit(await completion(job.jobId, 'h1', EXPECTED));
    await until(async () => (await store.getJob(job.jobId))?.terminal === true, 'the job final');
    expect(results.map((j) => j.state)).toEqual(['verified']);
    expect(devices.updates).toHaveLength(1);
    // over now: a completion RPC to either instance is refused
    for (const r of [a, b]) {
      await expect(r.complete({ henbId: 'h1', jobId: job.jobId, status: 'completed', tim: EXPECTED })).rejects.toMatchObject({ code: 'ERR_OAM_JOB_NOT_WAITING' });
    }
  });
});

describe('completion-tim on any instance', () => {
  const waiting = async (jobId: string): Promise<boolean> => (await store.getJob(jobId))?.state === 'awaiting-completion';
  type Line = { level: string; msg: string; fields?: Record<string, unknown> };

  /**
   * every write of an H(e)NB's RIM and of its reference log, seen by the database itself (triggers in the test's
   * database: TEMP ones would go when the store moves its savepoint journal, around a lease takeover)
   */
  function watchRimWrites(): () => Array<{ henb: string; what: string; old: string | null; new: string | null }> {
    store.database.exec(`
      CREATE TABLE rim_writes (henb TEXT, what TEXT, old TEXT, new TEXT);
      CREATE TRIGGER rim_changed AFTER UPDATE OF rim ON henbs WHEN NEW.rim IS NOT OLD.rim
        BEGIN INSERT INTO rim_writes VALUES (NEW.henb_id, 'rim', OLD.rim, NEW.rim); END;
      CREATE TRIGGER ref_log_inserted AFTER INSERT ON reference_logs
        BEGIN INSERT INTO rim_writes VALUES ('reference-log/' || NEW.henb_id, 'reference-log', NULL, NULL); END;
      CREATE TRIGGER ref_log_updated AFTER UPDATE ON reference_logs
        BEGIN INSERT INTO rim_writes VALUES ('reference-log/' || NEW.henb_id, 'reference-log', NULL, NULL); END;`);
    return () => store.database.prepare('SELECT * FROM rim_writes ORDER BY rowid').all() as Array<{ henb: string; what: string; old: string | null; new: string | null }>;
  }

  /** what an NMS sees of a finished job and its H(e)NB (ids and times left out) */
  async function outcome(jobId: string): Promise<unknown> {
    const rec = await store.getJob<Job>(jobId);
    const henb = await store.getHenb(rec!.henbId);
    return {
      state: rec?.state, terminal: rec?.terminal, reason: rec?.data.result?.reason, status: rec?.data.result?.status,
      henb: { rim: henb?.rim, softwareVersion: henb?.softwareVersion, state: henb?.state },
      finals: (await store.getResults(jobId)).filter((r) => r.kind === 'final').map((r) => r.earStatus),
    };
  }

  for (const [name, tim, selfCheck] of [
    ['verified: the new RIM stored', EXPECTED, 'passed'],
    ['mismatch: the measures applied', BAD_TIM, 'failed'],
  ] as const) {
    it(`sent to the instance that does not drive the job, it takes the job over and ends it as the owner would (${name}); the owner drops it`, async () => {
      await store.putHenb({ henbId: 'h2', rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
      const rimWrites = watchRimWrites();
      const clock = testClock();
      const linesA: Line[] = [];
      const linesB: Line[] = [];
      const alarms: string[] = [];
      const progress: string[] = [];
      const events = {
        progress: (j: Job, step: number, text: string) => { progress.push(`${j.henbId} ${step} ${text}`); },
        alarm: (j: Job, text: string) => { alarms.push(`${j.henbId} ${text.split(j.henbId).join('<henb>').split(j.jobId).join('<job>')}`); },
        result: (j: Job) => { results.push(j); },
      };
      // short leases (renewed every 100 ms, real time) on a clock that does not move: no lease ever expires here;
      // a completion timeout far away, so that A finds out from its lease renewal, not from its timer
      const timeouts = { pve: 5000, fetch: 5000, send: 5000, completion: 600_000 };
      const a = instance({ instanceId: 'A', leaseMs: 300, clock, log: recordingLogger(linesA), events, timeouts });
      const b = instance({ instanceId: 'B', leaseMs: 300, clock, log: recordingLogger(linesB), events, timeouts });

      // the reference: h1's job ends on its owner A (completion-tim to A)
      const ref = await a.start({ henbId: 'h1', request: REQUEST });
      // the case: h2's job started on A, its completion-tim sent to B
      const job = await a.start({ henbId: 'h2', request: REQUEST });
      await until(async () => (await waiting(ref.jobId)) && (await waiting(job.jobId)), 'both jobs awaiting their completion');
      await a.idle();
      expect(clock.armed.size).toBe(2); // A's two completion timeouts

      const done = await a.complete(await completion(ref.jobId, 'h1', tim, selfCheck));
      const taken = await b.complete(await completion(job.jobId, 'h2', tim, selfCheck));
      expect(taken.state).toBe(done.state);
      expect(taken.state).toBe(tim === EXPECTED ? 'verified' : 'mismatch');
      await until(async () => (await store.listActiveJobs()).length === 0, 'both jobs final');

      // B ended the job, A dropped it: no job, timer or H(e)NB held on either instance
      expect(await store.getJob(job.jobId)).toMatchObject({ owner: 'B', terminal: true });
      await until(() => a.activeJobFor('h2') === undefined, 'A dropping the job', 5000);
      await a.idle();
      await b.idle();
      expect(clock.armed.size).toBe(0);
      expect(b.activeJobFor('h2')).toBeUndefined();
      expect(linesA).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining('lease lost'), fields: expect.objectContaining({ jobId: job.jobId }) }));
      expect(linesB).toContainEqual(expect.objectContaining({ msg: 'job taken over for its completion-tim', fields: expect.objectContaining({ jobId: job.jobId, from: 'A' }) }));
      expect(devices.resumed).toEqual([expect.objectContaining({ henbId: 'h2', jobId: job.jobId })]); // B watches the device
      // the NMS is told who took the job over, not that an OAM restarted
      expect(progress).toContain('h2 7 OAM instance B took the job over; still waiting for the completion');
      expect(progress.some((p) => p.includes('OAM restarted'))).toBe(false);

      // the same result as on the owner, processed once: one final result, one transition to it, the RIM (or not) once
      expect(await outcome(job.jobId)).toEqual(await outcome(ref.jobId));
      // the job's history is the owner's, plus the takeover (a `restart` that keeps it waiting)
      const history = async (jobId: string) => (await store.listJobEvents(jobId)).map((e) => [e.fromState, e.toState, e.reason]);
      const steps = await history(job.jobId);
      const takeover = ['awaiting-completion', 'awaiting-completion', 'restart'];
      expect(steps.filter((e) => JSON.stringify(e) === JSON.stringify(takeover))).toHaveLength(1);
      expect(steps.filter((e) => JSON.stringify(e) !== JSON.stringify(takeover))).toEqual(await history(ref.jobId));
      expect(steps.filter((e) => e[1] === taken.state && e[0] !== taken.state)).toHaveLength(1); // one completion processed
      expect(results.map((j) => [j.henbId, j.state]).sort()).toEqual([['h1', taken.state], ['h2', taken.state]]);
      expect(alarms.filter((x) => x.startsWith('h2 '))).toEqual(alarms.filter((x) => x.startsWith('h1 ')).map((x) => x.replace(/^h1 /, 'h2 ')));
      expect(alarms.length).toBe(tim === EXPECTED ? 0 : 2);
      const writes = rimWrites().filter((w) => w.henb.endsWith('h2'));
      expect(writes).toEqual(tim === EXPECTED
        ? [{ henb: 'h2', what: 'rim', old: OLD_RIM, new: EXPECTED }, { henb: 'reference-log/h2', what: 'reference-log', old: null, new: null }]
        : []);
      expect(devices.updates.map((u) => u.henbId).sort()).toEqual(['h1', 'h2']); // sent once each

      // over now: a second completion-tim is refused by either instance, and changes nothing
      const before = await store.getJob(job.jobId);
      for (const r of [a, b]) {
        await expect(r.complete(await completion(job.jobId, 'h2', tim, selfCheck))).rejects.toMatchObject({ code: 'ERR_OAM_JOB_NOT_WAITING' });
      }
      expect(await store.getJob(job.jobId)).toEqual(before);
    });
  }

  it('to an instance that has not yet found out that its job was taken: it drops it on the conflict, then takes it back and ends it', async () => {
    const clock = testClock();
    const lines: Line[] = [];
    const a = instance({ instanceId: 'A', leaseMs: 60_000, clock, log: recordingLogger(lines) }); // next lease renewal in 20 s
    const job = await a.start({ henbId: 'h1', request: REQUEST });
    await until(() => waiting(job.jobId), 'awaiting-completion');
    await a.idle();
    // another instance took the job (e.g. for a completion-tim it has not processed yet): A still holds it in memory
    const held = (await store.getJob(job.jobId))!;
    const byB = await store.takeJob(job.jobId, 'B', 60_000, clock.t);
    expect(byB).toMatchObject({ owner: 'B', version: held.version + 1 });
    expect(a.activeJobFor('h1')).toBe(job.jobId);

    const done = await a.complete(await completion(job.jobId, 'h1', EXPECTED));
    expect(done.state).toBe('verified');
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining('lease lost') }));
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'job taken over for its completion-tim', fields: expect.objectContaining({ from: 'B' }) }));
    expect(await store.getJob(job.jobId)).toMatchObject({ state: 'verified', owner: 'A', terminal: true });
    expect((await store.getHenb('h1'))?.rim).toBe(EXPECTED);
    expect(results.map((j) => j.state)).toEqual(['verified']);
    // B's version is stale: its next transition fails
    await expect(store.saveJobTransition(job.jobId, 'x', { expectPrevVersion: byB!.version })).rejects.toMatchObject({ code: 'ERR_STORE_CONFLICT' });
    await a.idle();
    expect(clock.armed.size).toBe(0);
    expect(a.activeJobFor('h1')).toBeUndefined();
  });

  it('a completion-tim to another instance while the job is update-sending: job-not-waiting, nothing changed', async () => {
    devices.profiles.set('h1', 'no-ack'); // the software-update is never acknowledged: the job stays in update-sending
    const clock = testClock();
    const a = instance({ instanceId: 'A', leaseMs: 300, clock });
    const b = instance({ instanceId: 'B', leaseMs: 300, clock });
    const job = await a.start({ henbId: 'h1', request: REQUEST });
    await until(async () => (await store.getJob(job.jobId))?.state === 'update-sending', 'update-sending');
    const rec = await store.getJob(job.jobId);
    const events = await store.listJobEvents(job.jobId);
    const henb = await store.getHenb('h1');

    await expect(b.complete(await completion(job.jobId, 'h1', EXPECTED))).rejects.toMatchObject({
      code: 'ERR_OAM_JOB_NOT_WAITING', message: expect.stringContaining('update-sending'),
    });
    expect(await store.getJob(job.jobId)).toEqual(rec);
    expect(rec).toMatchObject({ owner: 'A', state: 'update-sending' });
    expect(await store.listJobEvents(job.jobId)).toEqual(events);
    expect(await store.getHenb('h1')).toEqual(henb);
    expect(b.activeJobFor('h1')).toBeUndefined();
    expect(a.activeJobFor('h1')).toBe(job.jobId);
    expect(devices.resumed).toEqual([]);
    expect(results).toEqual([]);
    // other refusals are as on the owner: an unknown job, another H(e)NB's job
    await expect(b.complete(await completion('job-nope', 'h1', EXPECTED))).rejects.toMatchObject({ code: 'ERR_OAM_JOB_UNKNOWN' });
    await expect(b.complete(await completion(job.jobId, 'h9', EXPECTED))).rejects.toMatchObject({ code: 'ERR_OAM_HENB_MISMATCH' });
    expect(await store.getJob(job.jobId)).toEqual(rec);
  });
});
