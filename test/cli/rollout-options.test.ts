/** The rollout command's option parts on their own: software, host key, a new report's plan, the resume threshold. */
import { describe, expect, it } from 'vitest';
import { checkResumeThreshold, hostKeyOption, newRolloutReport, softwareOption } from '../../src/cli/commands/rollout.js';
import type { ParsedArgs } from '../../src/cli/command.js';
import type { RolloutReport } from '../../src/cli/rollout/report.js';

const args = (values: ParsedArgs['values']): ParsedArgs => ({ values, positionals: [] });
const SHA = 'AB'.repeat(32);

describe('softwareOption', () => {
  it('the URI, version and sha256 (lower case)', () => {
    expect(softwareOption(args({ software: 'file:///srv/v2.bin', version: '2.0', sha256: SHA }))).toEqual({ uri: 'file:///srv/v2.bin', version: '2.0', sha256: SHA.toLowerCase() });
    expect(softwareOption(args({ software: 'https://h/v2.bin' }))).toEqual({ uri: 'https://h/v2.bin' });
  });

  it('a bad URI before a bad sha256, both usage errors', () => {
    expect(() => softwareOption(args({ software: 'v2.bin', sha256: 'x' }))).toThrow(/--software expects a file:, http: or https: URI/);
    expect(() => softwareOption(args({ software: 'file:///v2.bin', sha256: 'x' }))).toThrow("rollout: --sha256 expects 64 hex digits, got 'x'");
  });
});

describe('hostKeyOption', () => {
  it('none, a fingerprint, or a usage error naming both forms', () => {
    const fp = 'SHA256:' + Buffer.alloc(32, 3).toString('base64').replace(/=+$/, '');
    expect(hostKeyOption(args({}))).toBeUndefined();
    expect(hostKeyOption(args({ 'host-key': fp }))).toBe(fp);
    expect(() => hostKeyOption(args({ 'host-key': 'garbage' }))).toThrow(expect.objectContaining({ code: 'ERR_CLI_USAGE', message: expect.stringContaining("got 'garbage'") }) as Error);
  });
});

describe('newRolloutReport', () => {
  it('plans waves from the options, every device pending; defaults: one wave, concurrency 4, timeout 600 s, no threshold', () => {
    const r = newRolloutReport(args({ 'wave-size': '2', 'first-wave': '1', 'max-failures': '50%' }), { host: '127.0.0.1', port: 830 }, { uri: 'file:///x' }, ['a', 'b', 'c', 'd'], '2026-12-03T00:00:00.000Z');
    expect(r).toMatchObject({ server: '127.0.0.1:830', state: 'running', startedAt: '2026-12-03T00:00:00.000Z', plan: { waveSize: 2, firstWave: 1, concurrency: 4, timeoutSec: 600, maxFailures: 2 } });
    expect(r.devices.map((d) => [d.henbId, d.wave, d.state])).toEqual([['a', 1, 'pending'], ['b', 2, 'pending'], ['c', 2, 'pending'], ['d', 3, 'pending']]);
    expect(r.summary).toMatchObject({ total: 0, pending: 0 });
    const d = newRolloutReport(args({}), { host: '::1', port: 8830 }, { uri: 'file:///x' }, ['a', 'b']);
    expect(d.plan).toEqual({ waveSize: 2, firstWave: 2, concurrency: 4, maxFailures: null, timeoutSec: 600 });
    expect(d.server).toBe('[::1]:8830');
  });
});

describe('checkResumeThreshold', () => {
  /** halted on the threshold after `failed` devices did not verify */
  const halted = (failed: number, maxFailures: number | null): RolloutReport => {
    const r = newRolloutReport(args({}), { host: 'h', port: 1 }, { uri: 'file:///x' }, ['a', 'b', 'c', 'd']);
    r.state = 'halted';
    r.haltedBy = 'threshold';
    r.plan.maxFailures = maxFailures;
    r.devices.slice(0, failed).forEach((d) => Object.assign(d, { state: 'done', status: 'mismatch' }));
    return r;
  };

  it('a halted rollout whose failures exceed the limit it would resume with: a usage error naming both ways on', () => {
    expect(() => checkResumeThreshold(halted(2, 1), args({}), 'r.json')).toThrow(/halted because 2 device\(s\) did not verify, more than --max-failures 1; resuming with the same limit/);
    expect(() => checkResumeThreshold(halted(2, 1), args({ 'max-failures': '1' }), 'r.json')).toThrow(/resuming with --max-failures 1 would halt again/);
  });

  it('resumes with a raised limit, with --retry-failed, or when it did not halt on the threshold', () => {
    expect(() => checkResumeThreshold(halted(2, 1), args({ 'max-failures': '2' }), 'r.json')).not.toThrow();
    expect(() => checkResumeThreshold(halted(2, 1), args({ 'retry-failed': true }), 'r.json')).not.toThrow();
    const interrupted = { ...halted(2, 1), state: 'interrupted' as const };
    expect(() => checkResumeThreshold(interrupted, args({}), 'r.json')).not.toThrow();
    const byReason = { ...halted(2, 1), haltedBy: undefined, haltReason: 'more than --max-failures 1' };
    expect(() => checkResumeThreshold(byReason, args({}), 'r.json')).toThrow(/would halt again/);
  });
});
