// Properties of the rollout engine over random fleets, outcomes, wave sizes, concurrency and thresholds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planWaves, runRollout } from '../../src/cli/rollout/engine.js';
import type { DeviceResult, RolloutTarget } from '../../src/cli/rollout/engine.js';
import { summarize } from '../../src/cli/rollout/report.js';
import type { ResultStatus, RolloutReport } from '../../src/cli/rollout/report.js';

const STATUSES: ResultStatus[] = ['verified', 'mismatch', 'refused', 'failed', 'timeout'];

describe('rollout engine properties', () => {
  it('waves cover every device once, in order, with the planned sizes', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), (n, wave, first) => {
      const ids = Array.from({ length: n }, (_, i) => `d${i}`);
      const plan = planWaves(ids, wave, first);
      expect(plan.map((d) => d.henbId)).toEqual(ids);
      const sizes = new Map<number, number>();
      for (const d of plan) sizes.set(d.wave, (sizes.get(d.wave) ?? 0) + 1);
      const waves = [...sizes.keys()];
      expect(waves).toEqual(Array.from({ length: waves.length }, (_, i) => i + 1));
      expect(sizes.get(1)).toBe(Math.min(first, n));
      for (const [w, size] of sizes) if (w > 1) expect(size).toBeLessThanOrEqual(wave);
    }));
  });

  it('concurrency bound, threshold halts after the failing wave, every finished device has a status', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.constantFrom(...STATUSES), { minLength: 1, maxLength: 25 }),
      fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }),
      fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }),
      async (outcomes, waveSize, firstWave, concurrency, maxFailures) => {
        const ids = outcomes.map((_, i) => `d${i}`);
        const outcome = new Map(ids.map((id, i) => [id, outcomes[i] as ResultStatus]));
        let inFlight = 0;
        let peak = 0;
        const started: string[] = [];
        const target: RolloutTarget = {
          async start(id) {
            started.push(id);
            return outcome.get(id) === 'refused' ? { status: 'refused' } : { jobId: `j-${id}` };
          },
          async wait(id): Promise<DeviceResult> {
            inFlight++;
            peak = Math.max(peak, inFlight);
            await new Promise((r) => setImmediate(r));
            inFlight--;
            return { status: outcome.get(id) as ResultStatus };
          },
        };
        const report: RolloutReport = {
          format: 'henb-sw-verify-rollout/1', server: 's', software: { uri: 'file:///x' },
          plan: { waveSize, firstWave, concurrency, maxFailures, timeoutSec: 10 },
          startedAt: '', updatedAt: '', state: 'running', devices: planWaves(ids, waveSize, firstWave), summary: summarize([]),
        };
        const r = await runRollout(report, target, { onChange: () => undefined }, { deviceTimeoutMs: 5000, signal: new AbortController().signal });
        expect(peak).toBeLessThanOrEqual(concurrency);
        expect(new Set(started).size).toBe(started.length); // never started twice
        for (const d of r.devices) {
          if (d.state === 'done') expect(d.status).toBe(outcome.get(d.henbId));
          else expect(started).not.toContain(d.henbId);
        }
        const failed = r.devices.filter((d) => d.state === 'done' && d.status !== 'verified').length;
        if (r.state === 'completed') {
          expect(r.devices.every((d) => d.state === 'done')).toBe(true);
          if (maxFailures !== null) expect(failed).toBeLessThanOrEqual(maxFailures);
        } else {
          expect(r.state).toBe('halted');
          expect(maxFailures).not.toBeNull();
          expect(failed).toBeGreaterThan(maxFailures as number);
          // no device of a later wave than the one that crossed the threshold was started
          const lastStartedWave = Math.max(...r.devices.filter((d) => started.includes(d.henbId)).map((d) => d.wave));
          expect(r.devices.filter((d) => d.wave > lastStartedWave).every((d) => d.state === 'pending')).toBe(true);
        }
      },
    ), { numRuns: 150 });
  });
});
