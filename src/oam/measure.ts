/**
 * Step 9 arithmetic, pure and synchronous (the transition function calls it): TCG extend, log replay and
 * the comparison of a reported measurement log with the expected one.
 *
 * Model (shared with src/device/model.ts): TIM = extend chain over the measurement log from 32 zero bytes.
 * A device that activates an update live appends one entry {component: <updated component>, digest: software RIM},
 * so expected RIM = extend(old RIM, software RIM) (the seed's 7'/9 arithmetic). A device that reboots measures its
 * boot chain again: the pre-update log with that component's digest replaced, replayed from the start.
 */
import { createHash } from 'node:crypto';
import { appraiseUpdatedLog, rebootLogAfterUpdate } from '../integrity/index.js';
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
  | { ok: true; tim: string; activation: 'live' | 'reboot' }
  | { ok: false; reason: string; component?: string };

/**
 * Check a reported log after an update (step 9):
 * - with the pre-update log (attested by the PVE before this update, else the stored reference log): the reported
 *   log must replay to the TIM and equal either the live-activation log (pre-update log + the updated component
 *   appended with the software RIM) or the reboot log (the pre-update log with that component's digest REPLACED by
 *   the software RIM, replayed from the start); otherwise the first differing component is named
 *   (src/integrity/log.ts appraiseUpdatedLog);
 * - without it (no log known before the update): only the live activation can be judged: the log replays to the
 *   TIM, its last entry is the updated component with the software RIM, and the entries before replay to the old
 *   RIM.
 */
export function checkReportedLog(args: {
  log: readonly MeasurementLogEntry[];
  tim: string;
  oldRim: string;
  softwareRim: string;
  updatedComponent: string;
  /** the measurement log before the update (attested by the PVE, or the stored reference log) */
  preLog?: readonly MeasurementLogEntry[];
}): LogCheck {
  const { log, tim, oldRim, softwareRim, updatedComponent, preLog } = args;
  for (const e of log) {
    if (!isDigest(e.digest)) return { ok: false, reason: `measurement log entry ${e.component} has a malformed digest`, component: e.component };
  }
  if (preLog !== undefined && preLog.length > 0) {
    const r = appraiseUpdatedLog({ reported: log, tim, preUpdate: preLog, component: updatedComponent, softwareRim });
    return r.ok ? { ok: true, tim: r.tim, activation: r.activation } : r;
  }
  const replayed = replayLog(log);
  if (replayed !== tim) {
    return { ok: false, reason: `measurement log replays to ${replayed}, not to the reported TIM ${tim}` };
  }
  const last = log[log.length - 1];
  if (last === undefined) return { ok: false, reason: 'measurement log is empty' };
  if (last.component !== updatedComponent || last.digest !== softwareRim) {
    return {
      ok: false,
      component: last.component === updatedComponent ? updatedComponent : last.component,
      reason: last.component !== updatedComponent
        ? `last measurement is component ${last.component}, expected the updated component ${updatedComponent} (no measurement log from before the update is known, so a reboot cannot be judged)`
        : `component ${updatedComponent} measured ${last.digest}, expected the software RIM ${softwareRim}`,
    };
  }
  const before = replayLog(log.slice(0, -1));
  if (before !== oldRim) {
    return { ok: false, reason: `measurements before the update replay to ${before}, not to the stored RIM ${oldRim}` };
  }
  return { ok: true, tim, activation: 'live' };
}

/** The TIM of a device that rebooted into the update (the replace rule), or undefined without a pre-update log. */
export function rebootRim(preLog: readonly MeasurementLogEntry[] | undefined, updatedComponent: string, softwareRim: string): string | undefined {
  if (preLog === undefined || preLog.length === 0) return undefined;
  try {
    return replayLog(rebootLogAfterUpdate(preLog, updatedComponent, softwareRim));
  } catch {
    return undefined;
  }
}
