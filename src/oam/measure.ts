/**
 * Step 9 arithmetic, pure and synchronous (the transition function calls it): TCG extend, log replay and
 * the comparison of a reported measurement log with the expected one.
 *
 * Model (shared with src/device/model.ts): TIM = extend chain over the measurement log from 32 zero bytes;
 * an update appends one entry {component: <updated component>, digest: software RIM}, so with no reboot
 * in between, expected RIM = extend(old RIM, software RIM) (the seed's 7'/9 arithmetic).
 */
import { createHash } from 'node:crypto';
import type { MeasurementLogEntry } from './ports.js';

export const ZERO_DIGEST = '0'.repeat(64);
const HEX64 = /^[0-9a-f]{64}$/;

export function isDigest(s: unknown): s is string {
  return typeof s === 'string' && HEX64.test(s);
}

/** extend(old, d) = SHA-256(old || d) over the raw 32-byte values; hex in, hex out. */
export function extendDigest(old: string, digest: string): string {
  return createHash('sha256').update(Buffer.from(old, 'hex')).update(Buffer.from(digest, 'hex')).digest('hex');
}

export function replayLog(log: readonly MeasurementLogEntry[], from = ZERO_DIGEST): string {
  let tim = from;
  for (const e of log) tim = extendDigest(tim, e.digest);
  return tim;
}

export type LogCheck =
  | { ok: true; tim: string }
  | { ok: false; reason: string; component?: string };

/**
 * Check a reported log after an update:
 * 1. it must replay to the reported TIM (else the log does not back the TIM);
 * 2. its last entry must be the updated component with the software RIM (else that component is named);
 * 3. the entries before must replay to the old RIM; when a reference log is known, the first entry that
 *    differs from it is named.
 */
export function checkReportedLog(args: {
  log: readonly MeasurementLogEntry[];
  tim: string;
  oldRim: string;
  softwareRim: string;
  updatedComponent: string;
  referenceLog?: readonly MeasurementLogEntry[];
}): LogCheck {
  const { log, tim, oldRim, softwareRim, updatedComponent, referenceLog } = args;
  for (const e of log) {
    if (!isDigest(e.digest)) return { ok: false, reason: `measurement log entry ${e.component} has a malformed digest`, component: e.component };
  }
  const replayed = replayLog(log);
  if (replayed !== tim) {
    return { ok: false, reason: `measurement log replays to ${replayed}, not to the reported TIM ${tim}` };
  }
  const last = log[log.length - 1];
  if (last === undefined) return { ok: false, reason: 'measurement log is empty' };
  const prefix = log.slice(0, -1);
  if (referenceLog !== undefined) {
    const n = Math.max(prefix.length, referenceLog.length);
    for (let i = 0; i < n; i++) {
      const a = prefix[i];
      const r = referenceLog[i];
      if (a === undefined || r === undefined || a.component !== r.component || a.digest !== r.digest) {
        const component = (a ?? r)?.component ?? 'unknown';
        return {
          ok: false,
          component,
          reason: a === undefined ? `component ${component} missing from the measurement log`
            : r === undefined ? `unexpected component ${component} in the measurement log`
              : a.component !== r.component ? `measurement log entry ${i} is ${a.component}, expected ${r.component}`
                : `component ${component} measured ${a.digest}, expected ${r.digest}`,
        };
      }
    }
  }
  if (last.component !== updatedComponent || last.digest !== softwareRim) {
    const component = last.component === updatedComponent ? updatedComponent : last.component;
    return {
      ok: false,
      component,
      reason: last.component !== updatedComponent
        ? `last measurement is component ${last.component}, expected the updated component ${updatedComponent}`
        : `component ${component} measured ${last.digest}, expected the software RIM ${softwareRim}`,
    };
  }
  const before = replayLog(prefix);
  if (before !== oldRim) {
    // without a reference log the differing component cannot be told: none is named
    return { ok: false, reason: `measurements before the update replay to ${before}, not to the stored RIM ${oldRim}` };
  }
  return { ok: true, tim };
}
