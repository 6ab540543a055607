import { extend, isDigestHex, normalizeDigest, ZERO_DIGEST } from './digest.js';
import type { DigestHex } from './digest.js';
import { IntegrityError } from './errors.js';

/**
 * One measurement-log event (like a TCG event log / IMA entry): the component measured and its SHA-256.
 * `order` (when present on every entry) sorts the log; otherwise array order is the order. `pcr` groups entries
 * into separate chains (replayLogByPcr); replayLog treats the whole log as one chain.
 */
export interface MeasurementEntry {
  component: string;
  digest: string;
  order?: number;
  pcr?: number;
}

export type ComponentStatus = 'match' | 'mismatch' | 'missing' | 'unexpected';

/** Structurally the same as tokens' ComponentResult, so it can go into a result token as is. */
export interface ComponentComparison {
  component: string;
  status: ComponentStatus;
  expected?: string;
  reported?: string;
}

export interface LogComparison {
  /** true when both logs list the same components, in the same order, with the same digests */
  match: boolean;
  /** the first component (in log order) that differs, or null when they match */
  firstMismatch: string | null;
  /** why the first difference: a different digest, a component missing/unexpected, or the same ones reordered */
  firstMismatchReason: 'digest' | 'missing' | 'unexpected' | 'order' | null;
  /** one row per expected component (in expected order), then the unexpected ones (in reported order) */
  components: ComponentComparison[];
}

/** Validates a log and returns it in replay order with lowercase digests. Throws ERR_INTEGRITY_LOG. */
export function normalizeLog(entries: readonly MeasurementEntry[]): MeasurementEntry[] {
  if (!Array.isArray(entries)) throw new IntegrityError('ERR_INTEGRITY_LOG', 'measurement log must be a list');
  const withOrder = entries.filter((e) => e?.order !== undefined).length;
  if (withOrder !== 0 && withOrder !== entries.length) {
    throw new IntegrityError('ERR_INTEGRITY_LOG', 'either every measurement log entry has an order or none has');
  }
  const out = entries.map((e, i) => {
    if (e === null || typeof e !== 'object') throw new IntegrityError('ERR_INTEGRITY_LOG', `log entry ${i} is not an object`);
    if (typeof e.component !== 'string' || e.component === '') {
      throw new IntegrityError('ERR_INTEGRITY_LOG', `log entry ${i} has no component name`);
    }
    if (!isDigestHex(e.digest)) {
      throw new IntegrityError('ERR_INTEGRITY_LOG', `log entry ${i} (${e.component}) has no valid SHA-256 digest`);
    }
    if (e.order !== undefined && !Number.isSafeInteger(e.order)) {
      throw new IntegrityError('ERR_INTEGRITY_LOG', `log entry ${i} (${e.component}) has an invalid order`);
    }
    if (e.pcr !== undefined && !(Number.isInteger(e.pcr) && e.pcr >= 0 && e.pcr < 64)) {
      throw new IntegrityError('ERR_INTEGRITY_LOG', `log entry ${i} (${e.component}) has an invalid pcr`);
    }
    const n: MeasurementEntry = { component: e.component, digest: e.digest.toLowerCase() };
    if (e.order !== undefined) n.order = e.order;
    if (e.pcr !== undefined) n.pcr = e.pcr;
    return n;
  });
  if (withOrder > 0) {
    const seen = new Set<number>();
    for (const e of out) {
      if (seen.has(e.order as number)) throw new IntegrityError('ERR_INTEGRITY_LOG', `duplicate order ${e.order}`);
      seen.add(e.order as number);
    }
    out.sort((a, b) => (a.order as number) - (b.order as number));
  }
  return out;
}

/** Replays the log as one extend chain from `initial` (default ZERO_DIGEST): the final value. */
export function replayLog(initial: string | null, entries: readonly MeasurementEntry[]): DigestHex {
  let value = initial === null ? ZERO_DIGEST : normalizeDigest(initial, 'initial value');
  for (const e of normalizeLog(entries)) value = extend(value, e.digest);
  return value;
}

/** Replays each PCR's entries separately (entries without pcr count as pcr 0). */
export function replayLogByPcr(entries: readonly MeasurementEntry[], initial: string = ZERO_DIGEST): Map<number, DigestHex> {
  const out = new Map<number, DigestHex>();
  const init = normalizeDigest(initial, 'initial value');
  for (const e of normalizeLog(entries)) {
    const pcr = e.pcr ?? 0;
    out.set(pcr, extend(out.get(pcr) ?? init, e.digest));
  }
  return out;
}

/**
 * Compares the expected log (reference values) with the one the device reported and names the first component
 * that differs. Components are matched by name and occurrence (the 2nd 'config' with the 2nd 'config').
 */
export function compareLogs(expectedEntries: readonly MeasurementEntry[], reportedEntries: readonly MeasurementEntry[]): LogComparison {
  const exp = keyed(normalizeLog(expectedEntries));
  const rep = keyed(normalizeLog(reportedEntries));
  const repByKey = new Map(rep.map((r) => [r.key, r]));
  const expByKey = new Map(exp.map((e) => [e.key, e]));

  const components: ComponentComparison[] = [];
  for (const e of exp) {
    const r = repByKey.get(e.key);
    if (r === undefined) components.push({ component: e.entry.component, status: 'missing', expected: e.entry.digest });
    else {
      components.push({
        component: e.entry.component,
        status: r.entry.digest === e.entry.digest ? 'match' : 'mismatch',
        expected: e.entry.digest,
        reported: r.entry.digest,
      });
    }
  }
  for (const r of rep) {
    if (!expByKey.has(r.key)) components.push({ component: r.entry.component, status: 'unexpected', reported: r.entry.digest });
  }

  // Walk both logs in replay order; the first position where they differ names the component.
  let firstMismatch: string | null = null;
  let firstMismatchReason: LogComparison['firstMismatchReason'] = null;
  for (let i = 0; i < Math.max(exp.length, rep.length); i++) {
    const e = exp[i];
    const r = rep[i];
    if (e !== undefined && r !== undefined && e.key === r.key && e.entry.digest === r.entry.digest) continue;
    if (e !== undefined && r !== undefined && e.key === r.key) {
      firstMismatch = e.entry.component;
      firstMismatchReason = 'digest';
    } else if (r !== undefined && !expByKey.has(r.key)) {
      firstMismatch = r.entry.component;
      firstMismatchReason = 'unexpected';
    } else if (e !== undefined && !repByKey.has(e.key)) {
      firstMismatch = e.entry.component;
      firstMismatchReason = 'missing';
    } else {
      // both components are known on both sides but sit at different positions
      const c = r ?? e;
      firstMismatch = c === undefined ? null : c.entry.component;
      firstMismatchReason = 'order';
    }
    break;
  }
  return { match: firstMismatch === null, firstMismatch, firstMismatchReason, components };
}

function keyed(entries: MeasurementEntry[]): { key: string; entry: MeasurementEntry }[] {
  const count = new Map<string, number>();
  return entries.map((entry) => {
    const n = (count.get(entry.component) ?? 0) + 1;
    count.set(entry.component, n);
    return { key: `${entry.pcr ?? 0}\u0000${entry.component}\u0000${n}`, entry };
  });
}

/**
 * The measurement log a device shows after it installed `softwareRim` as `component` and REBOOTED: the boot chain
 * is measured again from the start, so the component sits in its own place in the boot order with the new digest
 * (replaced, not appended). A pre-update log that still carries the entries of earlier live activations (the same
 * component measured again at the end) collapses to one entry: the component's first place. Replay the result from
 * the zero digest for the expected TIM. Throws ERR_INTEGRITY_LOG when the pre-update log never measured the
 * component (there is no place to put it).
 */
export function rebootLogAfterUpdate(preUpdate: readonly MeasurementEntry[], component: string, softwareRim: string): MeasurementEntry[] {
  const log = normalizeLog(preUpdate);
  const rim = normalizeDigest(softwareRim, 'software RIM');
  const first = log.findIndex((e) => e.component === component);
  if (first < 0) throw new IntegrityError('ERR_INTEGRITY_LOG', `the measurement log before the update has no ${component} entry`);
  const out: MeasurementEntry[] = [];
  log.forEach((e, i) => {
    if (e.component !== component) out.push({ component: e.component, digest: e.digest });
    else if (i === first) out.push({ component, digest: rim });
  });
  return out;
}

/** The log of a device that activated the update live (no reboot): the pre-update log with the software appended. */
export function liveLogAfterUpdate(preUpdate: readonly MeasurementEntry[], component: string, softwareRim: string): MeasurementEntry[] {
  return [...normalizeLog(preUpdate).map((e) => ({ component: e.component, digest: e.digest })), { component, digest: normalizeDigest(softwareRim, 'software RIM') }];
}

export type UpdateAppraisal =
  | { ok: true; activation: 'live' | 'reboot'; tim: DigestHex }
  | { ok: false; reason: string; component?: string };

/**
 * Step 9 (and the device's 7') with a measurement log: does the reported log show exactly the expected post-update
 * state? The log must replay to the reported TIM; then it must equal either the live-activation log (pre-update
 * log + the software appended; TIM = extend(old TIM, software RIM), the seed's arithmetic) or the reboot log
 * (rebootLogAfterUpdate). Which of the two is judged by its length; a log that fits neither names the first
 * component that differs from the reboot log (or the live one, when it is one entry longer than the old log).
 */
export function appraiseUpdatedLog(args: {
  reported: readonly MeasurementEntry[];
  tim: string;
  preUpdate: readonly MeasurementEntry[];
  component: string;
  softwareRim: string;
}): UpdateAppraisal {
  let reported: MeasurementEntry[];
  try {
    reported = normalizeLog(args.reported);
  } catch (e) {
    return { ok: false, reason: `the measurement log is malformed: ${(e as Error).message}` };
  }
  if (reported.length === 0) return { ok: false, reason: 'the measurement log is empty' };
  const replayed = replayLog(null, reported);
  if (!isDigestHex(args.tim) || replayed !== args.tim.toLowerCase()) {
    return { ok: false, reason: `the measurement log replays to ${replayed}, not to the reported TIM ${String(args.tim)}` };
  }
  const live = liveLogAfterUpdate(args.preUpdate, args.component, args.softwareRim);
  let reboot: MeasurementEntry[] | undefined;
  try {
    reboot = rebootLogAfterUpdate(args.preUpdate, args.component, args.softwareRim);
  } catch {
    reboot = undefined;
  }
  if (compareLogs(live, reported).match) return { ok: true, activation: 'live', tim: replayed };
  if (reboot !== undefined && compareLogs(reboot, reported).match) return { ok: true, activation: 'reboot', tim: replayed };
  const against = reboot === undefined || reported.length === live.length ? live : reboot;
  const cmp = compareLogs(against, reported);
  const c = cmp.firstMismatch ?? args.component;
  const row = cmp.components.find((x) => x.component === c && x.status !== 'match');
  const reason = cmp.firstMismatchReason === 'digest' || row?.status === 'mismatch'
    ? `component ${c} measured ${row?.reported ?? '?'}, expected ${row?.expected ?? '?'}`
    : cmp.firstMismatchReason === 'missing' ? `component ${c} is missing from the measurement log`
      : cmp.firstMismatchReason === 'unexpected' ? `unexpected component ${c} in the measurement log`
        : `component ${c} is not in its expected place in the measurement log`;
  return { ok: false, reason, component: c };
}
