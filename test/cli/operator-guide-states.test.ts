/**
 * docs/operator-guide.md's status table says what happens to the H(e)NB, and the flow does exactly that
 * (issue 14 item 5: a refused update with a contraindicated verdict quarantines the H(e)NB; the guide said
 * "untouched"). The decision: contraindicated quarantines, as an integrity-request with that verdict does;
 * other refusals leave the state as it was. Either way the RIM is untouched and no update is sent.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { transition } from '../../src/oam/transition.js';
import type { Job } from '../../src/oam/transition.js';

const guide = readFileSync(new URL('../../docs/operator-guide.md', import.meta.url), 'utf8');
const row = (status: string): string[] => {
  const line = guide.split('\n').find((l) => l.startsWith(`| \`${status}\``));
  if (line === undefined) throw new Error(`no row for ${status}`);
  return line.split(' | ').map((c) => c.trim());
};

function pveRequested(prior: Job['priorHenbState']): Job {
  return {
    jobId: 'j1', henbId: 'h1', kind: 'software-update', state: 'pve-requested', nonce: 'n'.repeat(43), createdAt: 0, updatedAt: 0,
    request: { uri: 'file:///img', selfCheck: true, measures: ['alarm'] }, timeouts: { pve: 1000, fetch: 1000, send: 1000, completion: 1000 },
    priorHenbState: prior, oldRim: 'a'.repeat(64),
  } as unknown as Job;
}

describe('operator guide: what a refused update does to the H(e)NB', () => {
  it('the refused row says contraindicated quarantines and other refusals keep the state', () => {
    const effect = row('refused')[2] ?? '';
    expect(effect).toMatch(/`contraindicated`: `quarantined`/);
    expect(effect).toMatch(/state as it was/);
    expect(effect).not.toMatch(/^untouched$/);
  });

  it('the flow agrees: contraindicated -> quarantined, warning -> the prior state, no RIM change, no update', () => {
    for (const [verdict, expected] of [['contraindicated', 'quarantined'], ['warning', 'trusted'], ['none', 'trusted']] as const) {
      const out = transition(pveRequested('trusted'), { type: 'pve-result', at: 1, earStatus: verdict, token: 't', verdictReason: 'component rootfs is not a reference value' });
      expect(out.job.state, verdict).toBe('refused');
      const states = out.effects.filter((e) => e.type === 'set-henb-state').map((e) => (e as { state: string }).state);
      expect(states.at(-1) ?? 'trusted', verdict).toBe(expected);
      expect(out.effects.some((e) => e.type === 'store-rim' || e.type === 'send-update'), verdict).toBe(false);
      expect(out.job.result?.reason, verdict).toContain('component rootfs is not a reference value');
    }
  });
});

describe('operator guide: what an integrity-request of other software than the recorded version does (issue 10)', () => {
  const checkRow = (start: string): string[] => {
    const line = guide.split('\n').find((l) => l.startsWith(`| ${start}`));
    if (line === undefined) throw new Error(`no row starting ${start}`);
    return line.split(' | ').map((c) => c.trim());
  };
  const checking = (over: Partial<Job> = {}): Job => ({
    ...pveRequested('trusted'), kind: 'integrity-check', jobId: 'ir-1', recordedVersion: '2.0.0', ...over,
  }) as Job;

  it('the guide\'s row and the flow agree: refused, quarantined, one alarm, reason naming both versions, RIM untouched', () => {
    const row = checkRow('`contraindicated`, reason `software changed outside the OAM');
    expect(row[2]).toMatch(/`quarantined`; RIM and recorded version untouched; the job ends `refused`/);
    expect(row[3]).toMatch(/one `integrity-alarm` \(severity `critical`/);
    const out = transition(checking(), { type: 'pve-result', at: 1, earStatus: 'affirming', token: 't', attestedVersion: '1.0.0' });
    expect(out.job.state).toBe('refused');
    expect(out.job.result?.reason).toMatch(/^software changed outside the OAM \(downgrade\?\): software version 1\.0\.0 attested, 2\.0\.0 recorded for the H\(e\)NB/);
    const states = out.effects.filter((e) => e.type === 'set-henb-state').map((e) => (e as { state: string }).state);
    expect(states).toEqual(['quarantined']);
    expect(out.effects.filter((e) => e.type === 'raise-alarm')).toHaveLength(1);
    expect(out.effects.some((e) => e.type === 'store-rim')).toBe(false);
  });

  it('the affirming row: the recorded software (or nothing recorded) -> trusted, no alarm', () => {
    expect(checkRow('`affirming` | the PVE affirms')[2]).toMatch(/^`trusted`/);
    for (const over of [{}, { recordedVersion: undefined }] as Array<Partial<Job>>) {
      const out = transition(checking(over), { type: 'pve-result', at: 1, earStatus: 'affirming', token: 't', attestedVersion: '2.0.0' });
      expect(out.job.state).toBe('verified');
      expect(out.effects.some((e) => e.type === 'raise-alarm')).toBe(false);
      expect(out.effects.find((e) => e.type === 'set-henb-state')).toMatchObject({ state: 'trusted' });
    }
  });
});
