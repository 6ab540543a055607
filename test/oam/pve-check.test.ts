/** Steps 2-4's outcome as an event (src/oam/pve-check.ts): which cause a failed integrity-request is given. */
import { describe, expect, it } from 'vitest';
import { HsvError } from '../../src/errors.js';
import { pveFailure, verdictEvent } from '../../src/oam/pve-check.js';
import { PVE_HENB_UNREACHABLE } from '../../src/oam/ports.js';
import type { EarClaims } from '../../src/tokens/index.js';

class PveErr extends HsvError {
  constructor(code: string, readonly appTag?: string) { super(code, `pve said ${code}`); }
}

describe('pveFailure', () => {
  it('an H(e)NB the PVE does not know: its own cause and what to do, not a timeout', () => {
    const e = pveFailure(new PveErr('ERR_PVE_UNKNOWN_HENB'), 'henb-1', 5);
    expect(e).toEqual({
      type: 'pve-error', at: 5, cause: { kind: 'henb-unknown-to-pve', code: 'ERR_PVE_UNKNOWN_HENB' },
      reason: 'the PVE does not know H(e)NB henb-1 (ERR_PVE_UNKNOWN_HENB); add it to the PVE\'s devices file',
    });
  });

  it('the PVE could not reach the H(e)NB: henb-unreachable, a timeout', () => {
    const e = pveFailure(new PveErr('ERR_PVE_REJECTED', PVE_HENB_UNREACHABLE), 'henb-1', 5);
    expect(e.cause).toEqual({ kind: 'henb-unreachable', code: 'ERR_PVE_REJECTED' });
    expect(e.timedOut).toBe(true);
    expect(e.reason).toBe('the PVE could not collect evidence: H(e)NB unreachable (ERR_PVE_REJECTED): pve said ERR_PVE_REJECTED');
  });

  it('the PVE itself: a timeout is a timeout, anything else is not; a foreign error\'s text stays out', () => {
    expect(pveFailure(new PveErr('ERR_PVE_TIMEOUT'), 'h', 1)).toMatchObject({ timedOut: true, cause: { kind: 'pve-unreachable', code: 'ERR_PVE_TIMEOUT' } });
    const other = pveFailure(new Error('secret detail'), 'h', 1);
    expect(other).toMatchObject({ timedOut: false, cause: { kind: 'pve-unreachable', code: 'ERR_UNEXPECTED' } });
    expect(other.reason).toBe('PVE unreachable or in error (ERR_UNEXPECTED): unexpected error');
  });
});

describe('verdictEvent', () => {
  it('carries the status, the token and what the platform submodule attests', () => {
    const log = [{ component: 'rootfs', digest: 'ab'.repeat(32) }];
    const claims = {
      sub: 'henb-1', ear_status: 'warning',
      submods: { platform: { ear_status: 'warning', 'reported-tim': 'cd'.repeat(32), 'software-version': '1.0', reason: 'old', 'measurement-log': log } },
    } as unknown as EarClaims;
    expect(verdictEvent(claims, 't.o.k', 9)).toEqual({
      type: 'pve-result', at: 9, earStatus: 'warning', token: 't.o.k',
      attestedTim: 'cd'.repeat(32), attestedVersion: '1.0', verdictReason: 'old', attestedLog: log,
    });
    const bare = { sub: 'henb-1', ear_status: 'affirming', submods: { x: { ear_status: 'affirming' } } } as unknown as EarClaims;
    expect(verdictEvent(bare, 't', 1)).toEqual({ type: 'pve-result', at: 1, earStatus: 'affirming', token: 't' });
  });
});
