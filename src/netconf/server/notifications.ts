/**
 * NETCONF event notifications (RFC 5277).
 *
 * - create-subscription (section 2.1.1) {stream, filter, startTime, stopTime} on the NETCONF stream
 *   (every event) and on the streams registered through the registry. One subscription per session:
 *   a second one while it is active is refused with operation-failed (protocol, no error-info;
 *   section 6.5). startTime and stopTime are RFC 3339 date-times with a time zone; a value RFC 3339
 *   section 5.7 does not allow (February 30, hour 24, offset +24:00) is invalid-value, not rolled over.
 * - Every event given to the registry's notify() is appended to the persistent event log, then sent to
 *   each subscription whose stream and subtree filter match (section 3.6: the filter selects events; a
 *   selected event is sent whole).
 * - Replay (section 3.3): with startTime, the logged events with eventTime >= startTime (and <= stopTime)
 *   are sent first, then <replayComplete>, then live events; events that arrive during the replay are
 *   queued and sent after it, so none is lost or repeated. At stopTime, <notificationComplete> ends the
 *   subscription.
 * - Errors (section 2.1.1, all error-type protocol): stopTime without startTime -> missing-element
 *   (bad-element startTime); startTime in the future -> bad-element (startTime); stopTime before
 *   startTime -> bad-element (stopTime); replay on a stream without replay support -> operation-failed
 *   (no error-info). An unknown stream (the RFC only says the request fails) -> invalid-value,
 *   application (bad-element stream). A startTime earlier than the oldest kept event replays from the
 *   earliest available one (section 2.1.1); replayLogAgedTime then says what retention dropped.
 * - :interleave (section 6): the session keeps accepting RPCs while subscribed (the server core does
 *   not block the session; nothing here does either).
 * - The nc-notifications `netconf/streams` state (section 3.2.1).
 */
import { NetconfError, info } from '../rpc-error.js';
import { child, childText, el, leaf } from '../xml/index.js';
import { parseXml } from '../xml/index.js';
import { serializeXml } from '../xml/index.js';
import { NETCONF_BASE_NS, NETCONF_NOTIFICATION_NS, NETMOD_NOTIFICATION_NS } from '../xml/index.js';
import type { XmlElement } from '../xml/index.js';
import type { Logger } from '../../log/logger.js';
import type { OperationContext, OperationHandler, OperationRegistrar, ServerSessionHandle } from './operations.js';
import type { LoggedEvent, ReplayLog, StreamInfo } from './registry.js';
import { RegistryError } from './host-registry.js';
import { parseFilter } from './filter.js';
import type { DataFilter } from './filter.js';

export const NETCONF_STREAM = 'NETCONF';
export const NOTIFICATION_CAPABILITY = 'urn:ietf:params:netconf:capability:notification:1.0';
export const INTERLEAVE_CAPABILITY = 'urn:ietf:params:netconf:capability:interleave:1.0';
const ATTACHMENT = 'rfc5277.subscription';

type SubState = 'pending' | 'live' | 'done';

/** a live event, as delivered to (or queued for) each subscription; one object for all of them */
interface Queued {
  id: number;
  stream: string;
  event: XmlElement;
  eventTime: Date;
  /** the event serialised (what the log stores), once for the log and every subscriber */
  eventXml: string | undefined;
  /** the <notification> serialised, made for the first subscriber that gets it and sent to the others as it is */
  text: string | undefined;
}

interface Subscription {
  session: ServerSessionHandle;
  stream: string;
  filter: DataFilter | undefined;
  startTime: Date | undefined;
  stopTime: Date | undefined;
  state: SubState;
  /**
   * events logged up to this id are sent by the replay; later ones live. Undefined while a replay's bound is
   * being read from the log (every live event is queued meanwhile)
   */
  upToId: number | undefined;
  queue: Queued[];
  timer: NodeJS.Timeout | undefined;
  onAbort: () => void;
}

/** what a create-subscription asks for */
type SubscriptionRequest = Pick<Subscription, 'stream' | 'filter' | 'startTime' | 'stopTime'>;

export interface NotificationOptions {
  /**
   * opens the server's own persistent log when it is first needed, unless a plugin provided one
   * (useReplayLog) before; undefined: no log of its own (replay only with a provided log)
   */
  openLog: (() => Promise<ReplayLog>) | undefined;
  /**
   * runs once when a log is provided (useReplayLog), before the log is first used (e.g. importing the server's
   * own log of an earlier version into it); a failure is the hook's to report, the log is used anyway
   */
  onProvidedLog?: (log: ReplayLog) => Promise<void>;
  log: Logger;
  /** clock (tests) */
  now?: () => Date;
  /** the largest number of live events queued for a session while its replay runs (default 10000) */
  maxQueued?: number;
  /** events sent per turn of the event loop during a replay (default 500) */
  replayPageSize?: number;
  /** access control (RFC 8341 3.4.6): may this subscriber receive this event (live or replayed)? */
  permits?: (event: XmlElement, session: ServerSessionHandle) => boolean;
}

/** yang:date-and-time (RFC 6991), the RFC 3339 date-time that startTime and stopTime are */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/;

/** false for field values RFC 3339 section 5.7 does not allow (Date would roll them over silently) */
function fieldsInRange(m: RegExpExecArray): boolean {
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const offOk = m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
  // second 60 (a leap second) is refused with the rest: Date cannot represent it
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59 && offOk;
}

function parseDateTime(text: string | undefined, name: string): Date | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  const m = DATE_TIME.exec(t);
  const d = new Date(t);
  if (!m || !fieldsInRange(m) || Number.isNaN(d.getTime())) {
    throw new NetconfError({ type: 'protocol', tag: 'invalid-value', message: `${name} is not a date-time (RFC 3339)`, info: [info.badElement(name)] });
  }
  return d;
}

export function notificationElement(eventTime: Date, event: XmlElement): XmlElement {
  return el(NETCONF_NOTIFICATION_NS, 'notification', leaf(NETCONF_NOTIFICATION_NS, 'eventTime', eventTime.toISOString()), event);
}

const NOTIFICATION_OPEN = '<notification xmlns="' + NETCONF_NOTIFICATION_NS + '"><eventTime>';
const NOTIFICATION_CLOSE = '</notification>';

/**
 * serializeXml(notificationElement(eventTime, event)), given `eventXml` = serializeXml(event): the event's text
 * is used as it is. An event in a namespace other than the notification's and not in none is written the same
 * inside <notification> as alone (its root declares its default namespace either way; nothing else is in scope);
 * any other event is serialised inside its notification.
 */
export function notificationText(eventTime: Date, event: XmlElement, eventXml: string): string {
  if (event.ns === '' || event.ns === NETCONF_NOTIFICATION_NS) return serializeXml(notificationElement(eventTime, event));
  // an ISO 8601 date-time has no character to escape
  return NOTIFICATION_OPEN + eventTime.toISOString() + '</eventTime>' + eventXml + NOTIFICATION_CLOSE;
}

export class NotificationService {
  private readonly subs = new Set<Subscription>();
  private readonly now: () => Date;
  private readonly maxQueued: number;
  private readonly replayPageSize: number;
  private lastLiveId = 0;
  private closed = false;
  /** the log in use once first needed: the provided one, or the server's own */
  private log: Promise<ReplayLog> | undefined;
  private provided: ReplayLog | undefined;
  /** onProvidedLog's work on the provided log, which its first use waits for */
  private providedReady: Promise<void> = Promise.resolve();

  constructor(private readonly reg: OperationRegistrar, private readonly options: NotificationOptions) {
    this.now = options.now ?? (() => new Date());
    this.maxQueued = options.maxQueued ?? 10_000;
    this.replayPageSize = Math.max(1, options.replayPageSize ?? 500);
  }

  /**
   * Log (and replay) in `log` instead of the server's own file (NetconfRegistry.setReplayLog): only before
   * the log was first used, so that no event is split between two logs.
   */
  useReplayLog(log: ReplayLog): void {
    if (this.log !== undefined) throw new RegistryError('ERR_REGISTRY_INVALID', 'the replay log is already in use: provide it before the first notification');
    this.provided = log;
    if (this.options.onProvidedLog !== undefined) this.providedReady = this.options.onProvidedLog(log).catch(() => undefined);
  }

  /** the log in use (opened on first use), or undefined when there is none */
  replayLog(): Promise<ReplayLog> | undefined {
    if (this.log === undefined) {
      const provided = this.provided;
      if (provided !== undefined) this.log = this.providedReady.then(() => provided);
      else if (this.options.openLog !== undefined) this.log = this.options.openLog();
    }
    return this.log;
  }

  private hasLog(): boolean {
    return this.provided !== undefined || this.options.openLog !== undefined;
  }

  /** Register create-subscription, the capabilities and the notify() listener. */
  register(): void {
    this.reg.addCapability(NOTIFICATION_CAPABILITY);
    this.reg.addCapability(INTERLEAVE_CAPABILITY);
    this.reg.addOperation(NETCONF_NOTIFICATION_NS, 'create-subscription', this.createSubscription());
    this.reg.onNotify((stream, event, eventTime) => this.publish(stream, event, eventTime));
  }

  private streams(): StreamInfo[] {
    const list = this.reg.streams();
    if (!list.some((s) => s.name === NETCONF_STREAM)) {
      list.unshift({ name: NETCONF_STREAM, description: 'default NETCONF event stream', replaySupport: true });
    }
    return list;
  }

  private replaySupported(s: StreamInfo): boolean {
    return this.hasLog() && (s.name === NETCONF_STREAM || s.replaySupport);
  }

  /** An event from NetconfRegistry.notify(): log it, then deliver it. */
  async publish(stream: string, event: XmlElement, eventTime: Date): Promise<void> {
    if (this.closed) return;
    const log = this.replayLog();
    const eventXml = log ? serializeXml(event) : undefined;
    const id = log ? await (await log).append(stream, eventTime, eventXml!) : this.lastLiveId + 1;
    this.lastLiveId = Math.max(this.lastLiveId, id);
    // one object for every subscription: the event is serialised once (for the log) and its notification once
    const q: Queued = { id, stream, event, eventTime, eventXml, text: undefined };
    for (const sub of this.subs) this.deliver(sub, q);
  }

  private matches(sub: Subscription, stream: string, event: XmlElement): boolean {
    if (sub.stream !== NETCONF_STREAM && sub.stream !== stream) return false;
    if (sub.filter && !sub.filter.matches(event)) return false;
    return this.options.permits?.(event, sub.session) ?? true;
  }

  private deliver(sub: Subscription, q: Queued): void {
    if (sub.state === 'done') return;
    if (sub.state === 'pending') {
      if (sub.upToId !== undefined && q.id <= sub.upToId) return; // the replay sends it
      if (sub.queue.length >= this.maxQueued) {
        this.options.log.warn('subscription queue full; dropping live event during replay', { session: sub.session.id });
        return;
      }
      sub.queue.push(q);
      return;
    }
    if (sub.stopTime && q.eventTime > sub.stopTime) return;
    if (!this.matches(sub, q.stream, q.event)) return;
    q.text ??= notificationText(q.eventTime, q.event, q.eventXml ??= serializeXml(q.event));
    sub.session.sendNotificationText(q.text);
  }

  private createSubscription(): OperationHandler {
    return (op: XmlElement, ctx: OperationContext) => this.subscribe(op, ctx);
  }

  /**
   * create-subscription: one per session; the request checked (subscriptionRequest), the subscription added,
   * a replay's bound read from the log, and the subscription activated once the reply is on its way
   */
  private async subscribe(op: XmlElement, ctx: OperationContext): Promise<'ok'> {
    const session = ctx.session;
    if (session.attachments.has(ATTACHMENT)) {
      // RFC 5277 section 6.5: operation-failed, protocol, no error-info
      throw new NetconfError({ type: 'protocol', tag: 'operation-failed', message: 'this session already has an active subscription (one per session)' });
    }
    const request = this.subscriptionRequest(op);
    const log = request.startTime ? this.replayLog() : undefined;
    // a replay's bound is the log's newest id (read below; other instances may share the log), else none
    const sub = this.addSubscription(session, request, log ? undefined : this.lastLiveId);
    if (log) {
      try {
        // subscribed first, bound read second: an event logged meanwhile is queued and sent live if the bound
        // does not cover it, or dropped from the queue because the replay sends it
        sub.upToId = await (await log).lastId();
      } catch (e) {
        this.end(sub);
        this.options.log.error('the replay log cannot be read', { session: session.id, err: e as Error });
        throw new NetconfError({ type: 'application', tag: 'operation-failed', message: 'the replay log cannot be read' });
      }
    }
    // replay and live events start once the <ok/> reply is on its way (the server core's afterReply
    // hook; without one, on the next turn of the event loop)
    const core = ctx as OperationContext & { afterReply?: (fn: () => void) => void };
    const activate = (): void => this.activate(sub);
    if (typeof core.afterReply === 'function') core.afterReply(activate);
    else setImmediate(activate);
    return 'ok';
  }

  /** the stream, filter, startTime and stopTime of a create-subscription, checked as RFC 5277 section 2.1.1 says */
  private subscriptionRequest(op: XmlElement): SubscriptionRequest {
    const N = NETCONF_NOTIFICATION_NS;
    const streamName = childText(op, N, 'stream')?.trim() ?? NETCONF_STREAM;
    const stream = this.streams().find((s) => s.name === streamName);
    if (!stream) {
      throw new NetconfError({ type: 'application', tag: 'invalid-value', message: `no stream named ${streamName}`, info: [info.badElement('stream')] });
    }
    const filter = child(op, N, 'filter') ? parseFilter(op, N) : parseFilter(op, NETCONF_BASE_NS);
    const startTime = parseDateTime(childText(op, N, 'startTime'), 'startTime');
    const stopTime = parseDateTime(childText(op, N, 'stopTime'), 'stopTime');
    this.checkTimes(startTime, stopTime);
    if (startTime && !this.replaySupported(stream)) {
      // RFC 5277 section 2.1.1: operation-failed, protocol, no error-info
      throw new NetconfError({ type: 'protocol', tag: 'operation-failed', message: `stream ${streamName} does not support replay` });
    }
    return { stream: streamName, filter, startTime, stopTime };
  }

  /** stopTime needs startTime; startTime not in the future; stopTime not earlier than startTime */
  private checkTimes(startTime: Date | undefined, stopTime: Date | undefined): void {
    if (stopTime && !startTime) {
      throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: 'stopTime needs startTime', info: [info.badElement('startTime')] });
    }
    const now = this.now();
    if (startTime && startTime > now) {
      throw new NetconfError({ type: 'protocol', tag: 'bad-element', message: 'startTime is in the future', info: [info.badElement('startTime')] });
    }
    if (startTime && stopTime && stopTime < startTime) {
      throw new NetconfError({ type: 'protocol', tag: 'bad-element', message: 'stopTime is earlier than startTime', info: [info.badElement('stopTime')] });
    }
  }

  /** a pending subscription of the session (its attachment), ended when the session ends */
  private addSubscription(session: ServerSessionHandle, request: SubscriptionRequest, upToId: number | undefined): Subscription {
    const sub: Subscription = {
      session, stream: request.stream, filter: request.filter,
      startTime: request.startTime, stopTime: request.stopTime, state: 'pending', upToId, queue: [], timer: undefined,
      onAbort: () => this.end(sub),
    };
    session.attachments.set(ATTACHMENT, sub);
    this.subs.add(sub);
    session.signal.addEventListener('abort', sub.onAbort, { once: true });
    if (session.signal.aborted) this.end(sub);
    return sub;
  }

  /** after the <ok/> reply: replay (in pages), replayComplete, queued live events, then live */
  private activate(sub: Subscription): void {
    if (sub.state !== 'pending') return;
    const log = sub.startTime ? this.replayLog() : undefined;
    if (!sub.startTime || !log) {
      this.goLive(sub);
      return;
    }
    const query = {
      ...(sub.stream !== NETCONF_STREAM ? { stream: sub.stream } : {}), startTime: sub.startTime,
      ...(sub.stopTime ? { stopTime: sub.stopTime } : {}), ...(sub.upToId !== undefined ? { upToId: sub.upToId } : {}),
    };
    let after = 0;
    const page = async (): Promise<void> => {
      if (sub.state !== 'pending' || this.closed) return;
      let events: LoggedEvent[];
      try {
        events = await (await log).replayPage(query, after, this.replayPageSize);
      } catch (e) {
        this.options.log.error('replay failed', { session: sub.session.id, err: e as Error });
        events = [];
      }
      if (sub.state !== 'pending' || this.closed) return;
      for (const ev of events) {
        after = ev.id;
        let event: XmlElement;
        try {
          event = parseXml(ev.xml);
        } catch (e) {
          this.options.log.error('unreadable event in the event log', { id: ev.id, err: e as Error });
          continue;
        }
        if (this.matches(sub, ev.stream, event)) sub.session.sendNotification(notificationElement(ev.eventTime, event));
      }
      if (events.length === this.replayPageSize) {
        setImmediate(() => void page()); // let other sessions run between pages
        return;
      }
      this.goLive(sub);
    };
    void page();
  }

  private goLive(sub: Subscription): void {
    if (sub.state !== 'pending') return;
    if (sub.startTime) sub.session.sendNotification(notificationElement(this.now(), el(NETMOD_NOTIFICATION_NS, 'replayComplete')));
    sub.state = 'live';
    const queued = sub.queue.splice(0);
    for (const q of queued) if (sub.upToId === undefined || q.id > sub.upToId) this.deliver(sub, q);
    if (sub.stopTime) {
      const wait = sub.stopTime.getTime() - this.now().getTime();
      if (wait <= 0) this.complete(sub);
      else {
        sub.timer = setTimeout(() => this.complete(sub), Math.min(wait, 2 ** 31 - 1));
        sub.timer.unref?.();
      }
    }
  }

  private complete(sub: Subscription): void {
    if (sub.state === 'done') return;
    if (sub.stopTime && this.now() < sub.stopTime) {
      // long waits are capped; wait again
      sub.timer = setTimeout(() => this.complete(sub), Math.min(sub.stopTime.getTime() - this.now().getTime(), 2 ** 31 - 1));
      sub.timer.unref?.();
      return;
    }
    sub.session.sendNotification(notificationElement(this.now(), el(NETMOD_NOTIFICATION_NS, 'notificationComplete')));
    this.end(sub);
  }

  private end(sub: Subscription): void {
    if (sub.state === 'done') return;
    sub.state = 'done';
    if (sub.timer) clearTimeout(sub.timer);
    sub.queue.length = 0;
    sub.session.signal.removeEventListener('abort', sub.onAbort);
    if (sub.session.attachments.get(ATTACHMENT) === sub) sub.session.attachments.delete(ATTACHMENT);
    this.subs.delete(sub);
  }

  /** number of active subscriptions (monitoring, tests) */
  activeSubscriptions(): number {
    return this.subs.size;
  }

  /** nc-notifications `netconf` container (RFC 5277 section 3.2.1) */
  async streamsState(): Promise<XmlElement> {
    const M = NETMOD_NOTIFICATION_NS;
    const log = this.replayLog();
    const times = log ? await (await log).times() : undefined;
    return el(M, 'netconf', el(M, 'streams', this.streams().map((s) => {
      const replay = this.replaySupported(s);
      return el(M, 'stream',
        leaf(M, 'name', s.name),
        leaf(M, 'description', s.description),
        leaf(M, 'replaySupport', replay),
        replay && times ? leaf(M, 'replayLogCreationTime', times.created.toISOString()) : undefined,
        replay && times?.aged ? leaf(M, 'replayLogAgedTime', times.aged.toISOString()) : undefined);
    })));
  }

  /** end every subscription and stop timers (server close) */
  close(): void {
    this.closed = true;
    for (const s of [...this.subs]) this.end(s);
  }
}
