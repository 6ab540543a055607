/**
 * RFC 5277 subscriptions of the driver to a device's NETCONF stream: the subscription of a session (with a replay
 * from where the previous one stopped when a job waits for a completion), the reading of its notifications, and a
 * short second session that replays a past window (startTime/stopTime) for resume().
 */
import { NetconfError } from '../netconf/rpc-error.js';
import { NETCONF_NOTIFICATION_NS, NETMOD_NOTIFICATION_NS, child, el, elements, leaf } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import type { Logger } from '../log/logger.js';
import type { DeviceConnector, DeviceSession } from './connect.js';
import { DeviceDriverError, abortedError } from './driver-error.js';
import type { DeviceLink } from './link.js';
import { COMPLETION_NOTIFICATION, DEVICE_NS } from './wire.js';

const N = NETCONF_NOTIFICATION_NS;

export interface SubscriptionContext {
  log: Logger;
  rpcTimeoutMs: number;
  /** a replay after a dropped session starts this long before it dropped (when no event was seen), ms */
  replayMarginMs?: number;
}

/**
 * Subscribe on a new session: live, or, while a job of this device waits for its completion, with a replay
 * (startTime) from the last event seen or the pending resume(). A device that refuses the replay gets a live
 * subscription (logged) and is not asked again. Sets what the subscription covers (coveredFrom). A failure closes the
 * session unless `closeOnFailure` is false (a subscription asked for ahead: the caller that takes its outcome closes).
 */
export async function subscribe(l: DeviceLink, s: DeviceSession, signal: AbortSignal, ctx: SubscriptionContext, o: { closeOnFailure?: boolean } = {}): Promise<void> {
  const start = l.awaiting.size > 0 && !l.noReplay ? l.replayStart(ctx.replayMarginMs) : undefined;
  const began = Date.now();
  try {
    await s.rpc(el(N, 'create-subscription', start !== undefined ? leaf(N, 'startTime', start) : undefined), { signal, timeoutMs: ctx.rpcTimeoutMs });
    l.coveredFrom = start !== undefined ? Math.min(Date.parse(start), began) : began;
    // a live subscription: what came before is not asked for again (a later replay starts at what this one sees)
    if (start === undefined) l.lastEventTime = undefined;
  } catch (e) {
    if (start === undefined || !(e instanceof NetconfError)) {
      if (o.closeOnFailure !== false) void s.close();
      throw new DeviceDriverError('ERR_DEVICE_NETCONF', `${l.henbId} refused create-subscription`, { cause: e });
    }
    // no replay on this device: a live subscription is the best we can do
    ctx.log.warn('device refused a replay; live subscription only', { henbId: l.henbId, startTime: start });
    await s.rpc(el(N, 'create-subscription'), { signal, timeoutMs: ctx.rpcTimeoutMs });
    l.coveredFrom = began;
    l.lastEventTime = undefined;
    l.replaySince = undefined;
    l.noReplay = true;
  }
}

/** the event of a <notification> (its element other than eventTime) */
function eventOf(note: XmlElement): XmlElement | undefined {
  return elements(note).find((e) => !(e.ns === N && e.name === 'eventTime'));
}

const isCompletion = (ev: XmlElement | undefined): ev is XmlElement => ev !== undefined && ev.ns === DEVICE_NS && ev.name === COMPLETION_NOTIFICATION;
const isNetmod = (ev: XmlElement | undefined, name: string): boolean => ev !== undefined && ev.ns === NETMOD_NOTIFICATION_NS && ev.name === name;

/**
 * Read the session's notifications until it ends: completions go to `onCompletion`, the event time is kept (the
 * next replay starts there), replayComplete ends a pending resume() replay. Never throws.
 */
export async function readNotifications(l: DeviceLink, s: DeviceSession, onCompletion: (l: DeviceLink, ev: XmlElement) => void, log: Logger): Promise<void> {
  try {
    for await (const note of s.notifications()) {
      const eventTime = child(note, N, 'eventTime');
      const ev = eventOf(note);
      if (eventTime) l.noteEventTime(eventTime.children.join('').trim());
      if (isCompletion(ev)) onCompletion(l, ev);
      else if (isNetmod(ev, 'replayComplete') && l.session === s) l.replaySince = undefined;
    }
  } catch (e) {
    log.debug('notification stream ended', { henbId: l.henbId, err: e });
  }
}

/**
 * A short second session that replays [from, now] (startTime/stopTime) and ends at notificationComplete: for a
 * resume() while the main session's subscription began after `from`. Bounded by the rpc timeout.
 */
export async function replayWindow(
  l: DeviceLink, from: number, signal: AbortSignal, connect: DeviceConnector, connectTimeoutMs: number,
  onCompletion: (l: DeviceLink, ev: XmlElement) => void, ctx: SubscriptionContext,
): Promise<void> {
  const stop = new Date(Math.max(Date.now(), from + 1)).toISOString();
  const s = await connect(l.entry, { timeoutMs: connectTimeoutMs, signal });
  const onAbort = (): void => void s.close();
  signal.addEventListener('abort', onAbort, { once: true });
  const watchdog = setTimeout(() => {
    ctx.log.warn('replay did not complete in time', { henbId: l.henbId });
    void s.close();
  }, ctx.rpcTimeoutMs);
  try {
    try {
      await s.rpc(el(N, 'create-subscription', leaf(N, 'startTime', new Date(from).toISOString()), leaf(N, 'stopTime', stop)), { signal, timeoutMs: ctx.rpcTimeoutMs });
    } catch (e) {
      if (e instanceof NetconfError) {
        ctx.log.warn('device refused a replay; the completion may only come by the completion-tim RPC', { henbId: l.henbId });
        l.noReplay = true;
        return;
      }
      throw e;
    }
    for await (const note of s.notifications()) {
      const ev = eventOf(note);
      if (isCompletion(ev)) onCompletion(l, ev);
      else if (isNetmod(ev, 'notificationComplete')) break;
    }
  } finally {
    clearTimeout(watchdog);
    signal.removeEventListener('abort', onAbort);
    await s.close().catch(() => undefined);
  }
  if (signal.aborted) throw abortedError(signal);
}
