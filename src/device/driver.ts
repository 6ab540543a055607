/**
 * The southbound DeviceDriver (src/oam/ports.ts) over NETCONF/SSH: one client session per device, host
 * keys pinned, a RFC 5277 subscription on every session so that software-update-complete notifications
 * reach the listeners, reconnect with bounded exponential backoff, per-call timeouts, coded errors:
 *   ERR_DEVICE_UNKNOWN      henb-id not in the driver's inventory
 *   ERR_DEVICE_UNREACHABLE  / ERR_DEVICE_TIMEOUT / ERR_DEVICE_AUTH / ERR_DEVICE_HOST_KEY / ERR_DEVICE_NETCONF
 *                           (from src/device/connect.ts; the last attempt's error)
 *   ERR_DEVICE_REFUSED      the device answered refused or with an rpc-error (errorTag, appTag set)
 *   ERR_DEVICE_RPC_TIMEOUT  the device did not answer an rpc in time
 *   ERR_DEVICE_SESSION_LOST the session ended before the answer (the outcome is unknown)
 *   ERR_DEVICE_ABORTED      the caller's signal was aborted
 *   ERR_DEVICE_CLOSED       the driver is closed
 * Completions of a rollback the driver asked for are not handed to listeners (the flow's job is over by
 * then); they are logged.
 *
 * resume(henbId, jobId, since) (after an OAM restart): the job is awaited again and the subscription asks
 * the device for a replay (RFC 5277 startTime) from `since` minus a clock-skew margin, so that a completion
 * the device sent while the OAM was down reaches the listeners; the replay and the live events arrive on one
 * subscription, and a completion is handed on once per job whatever the overlap. When the session is already
 * open with a later start, a second, short session replays [since, now] (stopTime) and closes. A device
 * without replay gets a live subscription (logged): then only the completion-tim RPC can bring it.
 */
import { setMaxListeners } from 'node:events';
import { HsvError } from '../errors.js';
import { NetconfError } from '../netconf/rpc-error.js';
import { child, elements, el, leaf } from '../netconf/xml/index.js';
import { NETCONF_NOTIFICATION_NS, NETMOD_NOTIFICATION_NS } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import { silentLogger } from '../log/logger.js';
import type { Logger } from '../log/logger.js';
import type { DeviceCompletion, DeviceDriver, DeviceDriverErrorCode, SoftwareUpdateCommand } from '../oam/index.js';
import { DeviceConnectError, connectDevice } from './connect.js';
import type { CallHomeListener } from './call-home.js';
import type { DeviceConnector, DeviceSession, DeviceTarget } from './connect.js';
import {
  COMPLETION_NOTIFICATION, DEVICE_NS, parseCompletion, parseStartedReply, rollbackXml, softwareUpdateXml,
} from './wire.js';
import type { CompletionEvent } from './wire.js';

/** codes: the DeviceDriver port's (src/oam/ports.ts) */
export class DeviceDriverError extends HsvError<DeviceDriverErrorCode> {
  errorTag?: string;
  appTag?: string;
}

export interface DeviceInventoryEntry extends DeviceTarget {
  henbId: string;
}

export interface BackoffOptions {
  /** base of the exponential backoff, ms (default 200): the n-th retry waits uniform [0, min(maxMs, initialMs * 2^n)) (full jitter) */
  initialMs?: number;
  /** cap of a delay, ms (default 10000) */
  maxMs?: number;
  /**
   * connection attempts per call before giving up (default: 3 for a call without a deadline; unbounded, i.e. until
   * the next retry would not end before the deadline, for a call given one)
   */
  attempts?: number;
  /** uniform [0, 1) for the jitter (default Math.random; tests inject their own) */
  random?: () => number;
  /** epoch ms now (default Date.now; tests inject their own) */
  now?: () => number;
  /** wait ms or reject when the signal aborts (default a timer; tests inject their own, no real sleeping) */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** background reconnect attempts after a session drops while completions are awaited (default 8) */
  reconnectAttempts?: number;
}

export interface DeviceDriverOptions {
  devices: DeviceInventoryEntry[];
  /** SSH + hello budget per attempt, ms (default 10000) */
  connectTimeoutMs?: number;
  /** per rpc, ms (default 15000) */
  rpcTimeoutMs?: number;
  backoff?: BackoffOptions;
  connector?: DeviceConnector;
  log?: Logger;
  /** resume(): the replay starts this long before `since`, for clock skew with the device, ms (default 60000) */
  replayMarginMs?: number;
  /**
   * NETCONF Call Home (RFC 8071): entries with `callHome` are reached through this listener (a session on the
   * connection the device opened) instead of being dialled; the driver enrols them with it (setDevice).
   */
  callHome?: CallHomeListener;
}

/** How a device is connected now (/hsv:henbs). */
export interface DeviceConnectionInfo {
  kind: 'dialled' | 'called-home';
  /** epoch ms: when the session (dialled) or the device's call-home connection began */
  since: number;
}

export interface NetconfDeviceDriver extends DeviceDriver {
  /** after an OAM restart: await the job again, with a replay from `since` (epoch ms); see the header */
  resume(henbId: string, jobId: string, since: number, signal: AbortSignal): Promise<void>;
  /** open (or reuse) the session to one device now, with its subscription */
  connect(henbId: string, signal?: AbortSignal): Promise<void>;
  /** add or replace a device (an open session to the old entry is closed) */
  setDevice(entry: DeviceInventoryEntry): void;
  /** whether a session is open now */
  connected(henbId: string): boolean;
  /** how the device is connected now (a call-home device counts from its call, even before a session) */
  connection(henbId: string): DeviceConnectionInfo | undefined;
  /** forget a device (inventory change): its session is closed, pending calls fail */
  removeDevice(henbId: string): void;
  /** close every session and timer; pending calls fail with ERR_DEVICE_CLOSED. Idempotent. */
  close(): Promise<void>;
}

/**
 * Transient failures of connection establishment (TCP refused/reset, SSH handshake cut, no session in time, the
 * hello or subscription failed): retried. Auth, host key, config and rpc-error answers are final. Only the session's
 * establishment is retried, never an rpc that was sent: see softwareUpdate.
 */
const RETRIABLE = new Set(['ERR_DEVICE_UNREACHABLE', 'ERR_DEVICE_TIMEOUT', 'ERR_DEVICE_NETCONF']);

interface Link {
  entry: DeviceInventoryEntry;
  session: DeviceSession | undefined;
  connecting: Promise<DeviceSession> | undefined;
  /** jobs sent whose completion has not arrived */
  awaiting: Set<string>;
  /** jobs whose rollback we asked for: their next completion is the rollback's */
  rollingBack: Set<string>;
  /** jobs whose completion was handed on (a replay after reconnect may repeat it); bounded */
  delivered: Set<string>;
  /** last event time seen (for replay after a reconnect) */
  lastEventTime: string | undefined;
  /** when the session dropped (replay start when no event was seen) */
  droppedAt: Date | undefined;
  reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  generation: number;
  /** resume(): replay from here (epoch ms) on the next subscription, until its replayComplete */
  replaySince: number | undefined;
  /** epoch ms from which the open session's subscription delivers events (its startTime, or when it began) */
  coveredFrom: number | undefined;
  /** the device refused a replay (no event log): do not ask again */
  noReplay: boolean;
  /** epoch ms: when the current session was established */
  since: number | undefined;
}

/**
 * A parsed completion notification as the flow's port has it: the device's status mapped to completed/failed, the
 * signed leaves (status, self-check, software-version, TIM, log) and the evidence kept as the device sent them.
 */
export function toDeviceCompletion(henbId: string, c: CompletionEvent): DeviceCompletion {
  const out: DeviceCompletion = { henbId, jobId: c.jobId, status: 'completed', deviceStatus: c.status };
  if (c.tim !== undefined) out.tim = c.tim;
  if (c.log !== undefined) out.measurementLog = c.log;
  if (c.selfCheck !== undefined) out.selfCheck = c.selfCheck;
  if (c.softwareVersion !== undefined) out.softwareVersion = c.softwareVersion;
  if (c.status === 'completed' || c.status === 'self-check-failed') {
    if (c.reason !== undefined) out.reason = c.reason;
  } else {
    out.status = 'failed';
    out.reason = c.reason !== undefined ? `${c.status}: ${c.reason}` : c.status;
  }
  if (c.evidence !== undefined) {
    out.evidence = {
      format: c.evidence.format, nonce: c.evidence.nonce, signatureAlgorithm: c.evidence.signatureAlgorithm, signature: c.evidence.signature,
      ...(c.evidence.keyId !== undefined ? { keyId: c.evidence.keyId } : {}),
      ...(c.evidence.quote !== undefined ? { quote: c.evidence.quote } : {}),
      ...(c.evidence.eventLog !== undefined ? { eventLog: c.evidence.eventLog } : {}),
    };
  }
  return out;
}

/** whether two entries reach the device the same way (same address, pin, login and mode) */
function sameTarget(a: DeviceInventoryEntry, b: DeviceInventoryEntry): boolean {
  return a.host === b.host && a.port === b.port && a.username === b.username && a.password === b.password && a.privateKey === b.privateKey
    && a.hostKeySha256 === b.hostKeySha256 && (a.callHome === true) === (b.callHome === true) && a.insecureAcceptAnyHostKey === b.insecureAcceptAnyHostKey;
}

export function createDeviceDriver(options: DeviceDriverOptions): NetconfDeviceDriver {
  const log = (options.log ?? silentLogger).child({ component: 'device-driver' });
  const dial = options.connector ?? connectDevice;
  const callHome = options.callHome;
  // a call-home device is never dialled: its sessions open on the connection it made (./call-home.ts)
  const connector: DeviceConnector = (target, o) => {
    if (target.callHome !== true) return dial(target, o);
    if (callHome === undefined) return Promise.reject(new DeviceConnectError('ERR_DEVICE_CONFIG', 'the device calls home, but no call-home listener is configured (call-home.listen)'));
    return callHome.connect(target, o);
  };
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const rpcTimeoutMs = options.rpcTimeoutMs ?? 15_000;
  const initialMs = options.backoff?.initialMs ?? 200;
  const maxMs = options.backoff?.maxMs ?? 10_000;
  const attemptsCap = options.backoff?.attempts !== undefined ? Math.max(1, options.backoff.attempts) : undefined;
  const random = options.backoff?.random ?? Math.random;
  const now = options.backoff?.now ?? Date.now;
  const reconnectAttempts = options.backoff?.reconnectAttempts ?? 8;
  const replayMarginMs = Math.max(0, options.replayMarginMs ?? 60_000);
  const links = new Map<string, Link>();
  const listeners = new Set<(c: DeviceCompletion) => void>();
  const closeCtl = new AbortController();
  setMaxListeners(0, closeCtl.signal); // every device's connect in flight listens on it (removed when it settles): no leak
  let closed = false;

  /** the background reconnect's delay (no jitter needed: one timer per device) */
  const delay = (n: number): number => Math.min(maxMs, initialMs * 2 ** n);
  /** full jitter (uniform [0, cap)) of the n-th retry of a call */
  const jittered = (n: number): number => Math.floor(random() * Math.min(maxMs, initialMs * 2 ** Math.min(n, 52)));

  function setDevice(entry: DeviceInventoryEntry): void {
    const old = links.get(entry.henbId);
    if (old && sameTarget(old.entry, entry)) return; // unchanged: keep the session and what it awaits
    if (old) {
      old.generation++;
      if (old.reconnectTimer) clearTimeout(old.reconnectTimer);
      void old.session?.close();
    }
    if (callHome !== undefined) {
      if (entry.callHome === true && entry.hostKeySha256 !== undefined) {
        callHome.setDevice({
          henbId: entry.henbId, hostKeySha256: entry.hostKeySha256, username: entry.username,
          ...(entry.password !== undefined ? { password: entry.password } : {}),
          ...(entry.privateKey !== undefined ? { privateKey: entry.privateKey } : {}),
        });
      } else {
        callHome.removeDevice(entry.henbId);
      }
    }
    links.set(entry.henbId, {
      entry: { ...entry }, session: undefined, connecting: undefined, awaiting: new Set(), rollingBack: new Set(), delivered: new Set(),
      lastEventTime: undefined, droppedAt: undefined, reconnectTimer: undefined, generation: 0,
      replaySince: undefined, coveredFrom: undefined, noReplay: false, since: undefined,
    });
  }

  function removeDevice(henbId: string): void {
    const l = links.get(henbId);
    if (!l) return;
    l.generation++;
    if (l.reconnectTimer) clearTimeout(l.reconnectTimer);
    void l.session?.close();
    links.delete(henbId);
    callHome?.removeDevice(henbId);
  }
  for (const d of options.devices) setDevice(d);

  function linkOf(henbId: string): Link {
    if (closed) throw new DeviceDriverError('ERR_DEVICE_CLOSED', 'the device driver is closed');
    const l = links.get(henbId);
    if (!l) throw new DeviceDriverError('ERR_DEVICE_UNKNOWN', `H(e)NB ${henbId} is not in the device inventory`);
    return l;
  }

  const sleep = options.backoff?.sleep ?? timerSleep;
  function timerSleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason as Error);
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(t);
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * connect, retrying transient failures with full-jitter exponential backoff: at most `tries` attempts, and with a
   * deadline (epoch ms) only while the next attempt would start before it; each attempt's budget ends at the deadline.
   * Auth/host-key/config failures are final. Giving up after a retry names the attempts and the last error.
   */
  async function open(l: Link, tries: number, signal: AbortSignal, deadline?: number): Promise<DeviceSession> {
    const gen = l.generation;
    let last: unknown;
    let made = 0;
    for (let i = 0; i < tries; i++) {
      if (i > 0) {
        const wait = jittered(i - 1);
        if (deadline !== undefined && now() + wait >= deadline) break;
        await sleep(wait, signal);
      }
      const budget = deadline !== undefined ? Math.min(connectTimeoutMs, deadline - now()) : connectTimeoutMs;
      if (budget <= 0) break;
      made++;
      try {
        const s = await connector(l.entry, { timeoutMs: budget, signal });
        if (gen !== l.generation || closed) {
          void s.close();
          throw new DeviceDriverError('ERR_DEVICE_CLOSED', 'the device entry changed or the driver closed');
        }
        await subscribe(l, s, signal);
        if (made > 1) log.info('device session established after retries', { henbId: l.entry.henbId, attempts: made });
        return s;
      } catch (e) {
        last = e;
        const code = (e as { code?: unknown }).code;
        if (signal.aborted || typeof code !== 'string' || !RETRIABLE.has(code)) {
          if (signal.aborted) throw aborted(signal);
          throw e instanceof HsvError ? e : new DeviceDriverError('ERR_DEVICE_UNREACHABLE', `cannot reach ${l.entry.henbId}`, { cause: e });
        }
        log.debug('connect attempt failed', { henbId: l.entry.henbId, attempt: made, code });
      }
    }
    if (signal.aborted) throw aborted(signal);
    const code = ((last as { code?: unknown } | undefined)?.code ?? 'ERR_DEVICE_UNREACHABLE') as DeviceDriverErrorCode;
    const why = last === undefined ? 'no time left before the deadline' : `last error: ${(last as Error).message ?? String(last)}`;
    throw new DeviceDriverError(code,
      `no session to ${l.entry.henbId} after ${made} attempt${made === 1 ? '' : 's'}${deadline !== undefined ? ' within the step\'s deadline' : ''}; ${why}`,
      last !== undefined ? { cause: last } : undefined);
  }

  async function subscribe(l: Link, s: DeviceSession, signal: AbortSignal): Promise<void> {
    const n = NETCONF_NOTIFICATION_NS;
    const start = l.awaiting.size > 0 ? replayStart(l) : undefined;
    const began = Date.now();
    try {
      await s.rpc(el(n, 'create-subscription', start !== undefined ? leaf(n, 'startTime', start) : undefined), { signal, timeoutMs: rpcTimeoutMs });
      l.coveredFrom = start !== undefined ? Math.min(Date.parse(start), began) : began;
    } catch (e) {
      if (start === undefined || !(e instanceof NetconfError)) {
        void s.close();
        throw new DeviceDriverError('ERR_DEVICE_NETCONF', `${l.entry.henbId} refused create-subscription`, { cause: e });
      }
      // no replay on this device: a live subscription is the best we can do
      log.warn('device refused a replay; live subscription only', { henbId: l.entry.henbId, startTime: start });
      await s.rpc(el(n, 'create-subscription'), { signal, timeoutMs: rpcTimeoutMs });
      l.coveredFrom = began;
      l.replaySince = undefined;
      l.noReplay = true;
    }
    l.session = s;
    l.since = Date.now();
    l.droppedAt = undefined;
    void pump(l, s);
  }

  /** the earliest of: where the last session stopped, and a pending resume() replay */
  function replayStart(l: Link): string | undefined {
    const since = [l.lastEventTime ?? l.droppedAt?.toISOString(), l.replaySince !== undefined ? new Date(l.replaySince).toISOString() : undefined]
      .filter((t): t is string => t !== undefined && Number.isFinite(Date.parse(t)));
    if (since.length === 0) return undefined;
    return since.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b));
  }

  async function pump(l: Link, s: DeviceSession): Promise<void> {
    const gen = l.generation;
    try {
      for await (const note of s.notifications()) {
        const eventTime = child(note, NETCONF_NOTIFICATION_NS, 'eventTime');
        const ev = elements(note).find((e) => !(e.ns === NETCONF_NOTIFICATION_NS && e.name === 'eventTime'));
        if (eventTime) l.lastEventTime = eventTime.children.join('').trim();
        if (ev && ev.ns === DEVICE_NS && ev.name === COMPLETION_NOTIFICATION) onCompletionEvent(l, ev);
        else if (ev && ev.ns === NETMOD_NOTIFICATION_NS && ev.name === 'replayComplete' && l.session === s) l.replaySince = undefined;
      }
    } catch (e) {
      log.debug('notification stream ended', { henbId: l.entry.henbId, err: e });
    }
    if (gen !== l.generation || closed) return;
    if (l.session === s) {
      l.session = undefined;
      l.coveredFrom = undefined;
      l.since = undefined;
    }
    l.droppedAt = new Date();
    log.info('device session ended', { henbId: l.entry.henbId, awaiting: l.awaiting.size });
    if (l.awaiting.size > 0) scheduleReconnect(l, 0);
  }

  function scheduleReconnect(l: Link, n: number): void {
    if (closed || l.reconnectTimer || n >= reconnectAttempts) {
      if (n >= reconnectAttempts) log.warn('giving up reconnecting', { henbId: l.entry.henbId });
      return;
    }
    l.reconnectTimer = setTimeout(() => {
      l.reconnectTimer = undefined;
      if (closed || l.session || l.awaiting.size === 0) return;
      ensure(l, closeCtl.signal, 1).then(
        () => log.info('device session re-established', { henbId: l.entry.henbId }),
        () => scheduleReconnect(l, n + 1));
    }, delay(n));
  }

  function onCompletionEvent(l: Link, ev: XmlElement): void {
    let c: CompletionEvent;
    try {
      c = parseCompletion(ev);
    } catch (e) {
      log.warn('malformed completion ignored', { henbId: l.entry.henbId, err: e });
      return;
    }
    if (l.rollingBack.delete(c.jobId)) {
      log.info('rollback completed', { henbId: l.entry.henbId, jobId: c.jobId, status: c.status, tim: c.tim });
      return;
    }
    if (l.delivered.has(c.jobId)) {
      log.debug('repeated completion ignored', { henbId: l.entry.henbId, jobId: c.jobId });
      return;
    }
    l.delivered.add(c.jobId);
    if (l.delivered.size > 1000) l.delivered.delete(l.delivered.values().next().value as string);
    if (!l.awaiting.delete(c.jobId)) {
      log.debug('completion for a job this driver did not send (or a replayed duplicate)', { henbId: l.entry.henbId, jobId: c.jobId });
      // still handed on: the flow decides (it may have been sent before a restart)
    }
    const out = toDeviceCompletion(l.entry.henbId, c);
    for (const fn of [...listeners]) {
      try {
        fn(out);
      } catch (e) {
        log.error('completion listener failed', { err: e });
      }
    }
  }

  /**
   * A short second session that replays [from, now] (startTime/stopTime) and ends at notificationComplete:
   * for a resume() while the main session's subscription began after `from`.
   */
  async function replayWindow(l: Link, from: number, signal: AbortSignal): Promise<void> {
    const n = NETCONF_NOTIFICATION_NS;
    const stop = new Date(Math.max(Date.now(), from + 1)).toISOString();
    const s = await connector(l.entry, { timeoutMs: connectTimeoutMs, signal });
    const onAbort = (): void => void s.close();
    signal.addEventListener('abort', onAbort, { once: true });
    const watchdog = setTimeout(() => {
      log.warn('replay did not complete in time', { henbId: l.entry.henbId });
      void s.close();
    }, rpcTimeoutMs);
    try {
      try {
        await s.rpc(el(n, 'create-subscription', leaf(n, 'startTime', new Date(from).toISOString()), leaf(n, 'stopTime', stop)), { signal, timeoutMs: rpcTimeoutMs });
      } catch (e) {
        if (e instanceof NetconfError) {
          log.warn('device refused a replay; the completion may only come by the completion-tim RPC', { henbId: l.entry.henbId });
          l.noReplay = true;
          return;
        }
        throw e;
      }
      for await (const note of s.notifications()) {
        const ev = elements(note).find((e) => !(e.ns === NETCONF_NOTIFICATION_NS && e.name === 'eventTime'));
        if (ev && ev.ns === DEVICE_NS && ev.name === COMPLETION_NOTIFICATION) onCompletionEvent(l, ev);
        else if (ev && ev.ns === NETMOD_NOTIFICATION_NS && ev.name === 'notificationComplete') break;
      }
    } finally {
      clearTimeout(watchdog);
      signal.removeEventListener('abort', onAbort);
      await s.close().catch(() => undefined);
    }
    if (signal.aborted) throw aborted(signal);
  }

  function aborted(signal: AbortSignal): DeviceDriverError {
    return new DeviceDriverError('ERR_DEVICE_ABORTED', 'the device operation was aborted', { cause: signal.reason });
  }

  async function ensure(l: Link, signal: AbortSignal, tries?: number, deadline?: number): Promise<DeviceSession> {
    if (l.session && !l.session.closed) return l.session;
    if (!l.connecting) {
      // the shared attempt is bound to the driver's life (and the first caller's deadline), each caller to its own signal
      const n = tries ?? attemptsCap ?? (deadline !== undefined ? Number.POSITIVE_INFINITY : 3);
      l.connecting = open(l, n, closeCtl.signal, deadline).finally(() => {
        l.connecting = undefined;
      });
    }
    const shared = l.connecting;
    return new Promise<DeviceSession>((resolve, reject) => {
      if (signal.aborted) return reject(aborted(signal));
      const onAbort = (): void => reject(aborted(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      shared.then((s) => {
        signal.removeEventListener('abort', onAbort);
        resolve(s);
      }, (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      });
    });
  }

  async function call(l: Link, op: XmlElement, signal: AbortSignal, deadline?: number): Promise<XmlElement[]> {
    const s = await ensure(l, signal, undefined, deadline);
    try {
      const reply = await s.rpc(op, { signal, timeoutMs: rpcTimeoutMs });
      return elements(reply);
    } catch (e) {
      if (signal.aborted) throw aborted(signal);
      if (e instanceof NetconfError) {
        const first = e.errors[0];
        const err = new DeviceDriverError('ERR_DEVICE_REFUSED',
          `${l.entry.henbId} refused ${op.name}: ${first?.tag ?? 'rpc-error'}${first?.appTag ? ` (${first.appTag})` : ''}${first?.message ? `: ${first.message}` : ''}`,
          { cause: e });
        if (first) {
          err.errorTag = first.tag;
          if (first.appTag !== undefined) err.appTag = first.appTag;
        }
        throw err;
      }
      const code = (e as { code?: unknown }).code;
      if (code === 'ERR_SESSION_RPC_TIMEOUT') {
        throw new DeviceDriverError('ERR_DEVICE_RPC_TIMEOUT', `${l.entry.henbId} did not answer ${op.name} within ${rpcTimeoutMs} ms`, { cause: e });
      }
      throw new DeviceDriverError('ERR_DEVICE_SESSION_LOST', `the session to ${l.entry.henbId} ended before the answer to ${op.name}`, { cause: e });
    }
  }

  return {
    async softwareUpdate(henbId: string, cmd: SoftwareUpdateCommand, signal: AbortSignal, deadline?: number): Promise<void> {
      const l = linkOf(henbId);
      if (signal.aborted) throw aborted(signal);
      const input = {
        jobId: cmd.jobId, uri: cmd.uri, softwareRim: cmd.softwareRim, selfCheck: cmd.selfCheck, nonce: cmd.nonce,
        ...(cmd.version !== undefined ? { version: cmd.version } : {}),
      };
      // Only the session's establishment is retried (nothing was sent to the device then). Once the software-update
      // rpc is written it is never sent again: a lost session is ERR_DEVICE_SESSION_LOST and the completion is awaited
      // (the device module does not promise that a repeated job-id is ignored, so a resend could install twice).
      await ensure(l, signal, undefined, deadline);
      l.awaiting.add(cmd.jobId);
      try {
        const reply = parseStartedReply(await call(l, softwareUpdateXml(input), signal, deadline));
        if (reply.status !== 'started') {
          throw new DeviceDriverError('ERR_DEVICE_REFUSED', `${henbId} refused the software-update: ${reply.reason ?? 'no reason given'}`);
        }
      } catch (e) {
        // the outcome of a lost session is unknown: keep waiting for a completion then
        if ((e as { code?: unknown }).code !== 'ERR_DEVICE_SESSION_LOST') l.awaiting.delete(cmd.jobId);
        throw e;
      }
    },

    async rollback(henbId: string, jobId: string, signal: AbortSignal, deadline?: number): Promise<void> {
      const l = linkOf(henbId);
      l.rollingBack.add(jobId);
      try {
        const reply = parseStartedReply(await call(l, rollbackXml(jobId), signal, deadline));
        if (reply.status !== 'started') {
          throw new DeviceDriverError('ERR_DEVICE_REFUSED', `${henbId} refused the rollback: ${reply.reason ?? 'no reason given'}`);
        }
      } catch (e) {
        l.rollingBack.delete(jobId);
        throw e;
      }
    },

    async resume(henbId: string, jobId: string, since: number, signal: AbortSignal): Promise<void> {
      const l = linkOf(henbId);
      if (signal.aborted) throw aborted(signal);
      const from = since - replayMarginMs;
      // the flow still waits for this job, so whatever this driver handed on before did not reach it
      const seenBefore = l.delivered.delete(jobId);
      l.awaiting.add(jobId);
      if (!l.session || l.session.closed) l.replaySince = Math.min(l.replaySince ?? from, from);
      try {
        await ensure(l, signal);
      } catch (e) {
        // the device is down now: keep trying in the background (the replay still starts at `from`)
        if (!signal.aborted && RETRIABLE.has((e as { code?: string }).code ?? '')) scheduleReconnect(l, 0);
        throw e;
      }
      // a session opened before this call may not cover `from`, or already passed the completion
      const uncovered = l.coveredFrom === undefined || l.coveredFrom > from || seenBefore;
      if (uncovered && !l.noReplay && !l.delivered.has(jobId)) await replayWindow(l, from, signal);
    },

    onCompletion(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    async connect(henbId, signal) {
      await ensure(linkOf(henbId), signal ?? new AbortController().signal);
    },

    setDevice,
    removeDevice,

    connected(henbId) {
      const s = links.get(henbId)?.session;
      return s !== undefined && !s.closed;
    },

    connection(henbId) {
      const l = links.get(henbId);
      if (!l) return undefined;
      if (l.entry.callHome === true) {
        const c = callHome?.connection(henbId);
        return c ? { kind: 'called-home', since: c.since.getTime() } : undefined;
      }
      return l.session && !l.session.closed && l.since !== undefined ? { kind: 'dialled', since: l.since } : undefined;
    },

    async close() {
      if (closed) return;
      closed = true;
      closeCtl.abort(new DeviceDriverError('ERR_DEVICE_CLOSED', 'the device driver is closed'));
      listeners.clear();
      const all: Array<Promise<void>> = [];
      for (const l of links.values()) {
        l.generation++;
        if (l.reconnectTimer) clearTimeout(l.reconnectTimer);
        if (l.session) all.push(l.session.close().catch(() => undefined));
        l.session = undefined;
      }
      await Promise.all(all);
    },
  };
}
