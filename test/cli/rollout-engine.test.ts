import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planWaves, runRollout } from '../../src/cli/rollout/engine.js';
import type { DeviceResult, RolloutTarget } from '../../src/cli/rollout/engine.js';
import { ReportWriter, loadReport, saveReport, summarize } from '../../src/cli/rollout/report.js';
import type { ResultStatus, RolloutReport } from '../../src/cli/rollout/report.js';

function newReport(henbs: string[], plan: Partial<RolloutReport['plan']> = {}): RolloutReport {
  const p = { waveSize: henbs.length, firstWave: henbs.length, concurrency: 2, maxFailures: null, timeoutSec: 10, ...plan };
  return {
    format: 'henb-sw-verify-rollout/1', server: '127.0.0.1:1', software: { uri: 'file:///img' }, plan: p,
    startedAt: new Date().toISOString(), updatedAt: '', state: 'running', devices: planWaves(henbs, p.waveSize, p.firstWave), summary: summarize([]),
  };
}

/** a fake server: each device's outcome by its name prefix; records every start */
class FakeTarget implements RolloutTarget {
  readonly started: string[] = [];
  readonly waited: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  async start(henbId: string): Promise<{ jobId: string } | DeviceResult> {
    this.started.push(henbId);
    if (henbId.startsWith('compromised')) return { status: 'refused', reason: 'PVE: contraindicated' };
    return { jobId: `job-${henbId}` };
  }
  async wait(henbId: string, jobId: string, signal: AbortSignal): Promise<DeviceResult> {
    this.waited.push(henbId);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (henbId.startsWith('hang')) {
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
      }
      await new Promise((r) => setImmediate(r));
      const status: ResultStatus = henbId.startsWith('bad') ? 'mismatch' : 'verified';
      return { status, jobId, ...(status === 'mismatch' ? { differingComponent: 'rootfs' } : {}) };
    } finally {
      this.inFlight--;
    }
  }
}

const never = new AbortController().signal;
const noop = { onChange: () => undefined };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-rollout-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('rollout engine', () => {
  it('waves: the first wave is the canary size, then wave-size', () => {
    expect(planWaves(['a', 'b', 'c', 'd', 'e'], 2, 1).map((d) => d.wave)).toEqual([1, 2, 2, 3, 3]);
  });

  it('runs every device with at most `concurrency` at once and summarizes', async () => {
    const t = new FakeTarget();
    const r = await runRollout(newReport(['h1', 'h2', 'h3', 'compromised-1', 'bad-1']), t, noop, { deviceTimeoutMs: 5000, signal: never });
    expect(r.state).toBe('completed');
    expect(summarize(r.devices)).toMatchObject({ verified: 3, refused: 1, mismatch: 1, pending: 0 });
    expect(t.maxInFlight).toBeLessThanOrEqual(2);
    expect(r.devices.find((d) => d.henbId === 'bad-1')?.differingComponent).toBe('rootfs');
  });

  it('halts when failures exceed the threshold: no new device starts after the failing wave', async () => {
    const t = new FakeTarget();
    const report = newReport(['bad-1', 'bad-2', 'h1', 'h2', 'h3'], { waveSize: 2, firstWave: 2, concurrency: 1, maxFailures: 1 });
    const r = await runRollout(report, t, noop, { deviceTimeoutMs: 5000, signal: never });
    expect(r.state).toBe('halted');
    expect(r.haltReason).toContain('2 device(s) did not verify');
    expect(t.started).toEqual(['bad-1', 'bad-2']);
    expect(summarize(r.devices).pending).toBe(3);
  });

  it('a device with no result in time is a timeout', async () => {
    const r = await runRollout(newReport(['hang-1', 'h1']), new FakeTarget(), noop, { deviceTimeoutMs: 50, signal: never });
    expect(r.devices.map((d) => d.status)).toEqual(['timeout', 'verified']);
    expect(r.devices[0]?.reason).toContain('no result within');
  });

  it('resume: finished devices are not redone; started ones are followed, never re-sent', async () => {
    const file = join(dir, 'report.json');
    const report = newReport(['h1', 'h2', 'h3', 'bad-1']);
    report.devices[0] = { ...report.devices[0]!, state: 'done', status: 'verified', jobId: 'job-h1' };
    report.devices[1] = { ...report.devices[1]!, state: 'started', jobId: 'job-h2' };
    report.devices[3] = { ...report.devices[3]!, state: 'done', status: 'mismatch', jobId: 'job-bad-1' };
    report.state = 'halted';
    await saveReport(file, report);
    const t = new FakeTarget();
    const writer = new ReportWriter(file);
    const r = await runRollout(await loadReport(file), t, { onChange: (rep) => writer.save(rep) }, { deviceTimeoutMs: 5000, signal: never });
    expect(t.started).toEqual(['h3']);
    expect(t.waited.sort()).toEqual(['h2', 'h3']);
    expect(r.state).toBe('completed');
    const saved = JSON.parse(await readFile(file, 'utf8')) as RolloutReport;
    expect(saved.summary).toMatchObject({ verified: 3, mismatch: 1, pending: 0 });

    const t2 = new FakeTarget();
    await runRollout(r, t2, noop, { deviceTimeoutMs: 5000, signal: never, retryFailed: true });
    expect(t2.started).toEqual(['bad-1']);
  });

  it('interrupt: in-flight devices stay resumable, nothing new starts', async () => {
    const ac = new AbortController();
    const t = new FakeTarget();
    const report = newReport(['hang-1', 'h1', 'h2'], { concurrency: 1 });
    const p = runRollout(report, t, noop, { deviceTimeoutMs: 60_000, signal: ac.signal });
    while (t.waited.length === 0) await new Promise((r) => setImmediate(r));
    ac.abort();
    const r = await p;
    expect(r.state).toBe('interrupted');
    expect(r.devices[0]).toMatchObject({ state: 'started', jobId: 'job-hang-1' });
    expect(t.started).toEqual(['hang-1']);
  });

  it('a lost session leaves the device resumable and interrupts the rollout (outcome unknown, not failed)', async () => {
    const t = new FakeTarget();
    t.wait = async () => {
      throw Object.assign(new Error('the NETCONF session ended'), { code: 'ERR_ROLLOUT_SESSION' });
    };
    const r = await runRollout(newReport(['h1', 'h2', 'h3'], { concurrency: 1 }), t, noop, { deviceTimeoutMs: 5000, signal: never });
    expect(r.state).toBe('interrupted');
    expect(r.haltReason).toContain('lost the session');
    expect(r.devices[0]).toMatchObject({ state: 'started', jobId: 'job-h1' });
    expect(t.started).toEqual(['h1']);
  });

  it('a report that is not ours is refused with a coded error', async () => {
    const file = join(dir, 'x.json');
    await saveReport(file, { ...newReport(['a']), format: 'other' as 'henb-sw-verify-rollout/1' });
    await expect(loadReport(file)).rejects.toMatchObject({ code: 'ERR_ROLLOUT_REPORT' });
    await expect(loadReport(join(dir, 'none.json'))).rejects.toMatchObject({ code: 'ERR_ROLLOUT_REPORT' });
  });
});
