/**
 * The server side of one NETCONF session over a MessageConnection, independent of SSH.
 *
 * RFC 6241 section 8.1: the server sends its hello (with session-id) at once, the client's hello must
 * arrive within helloTimeoutMs, carry capabilities, no session-id and a base version in common; any
 * failure ends the session. A second hello ends the session.
 * RFC 6241 section 4.1: every <rpc> needs a message-id (else rpc-error missing-attribute, error-info
 * bad-attribute and bad-element, the one reply without message-id: 4.3) and exactly one operation; the
 * reply echoes every attribute of the <rpc> with the namespace declarations it came with (4.2 and its
 * example). A message that is not an <rpc> in the base namespace is rejected with its attributes echoed
 * (error-type rpc: the Messages layer, 4.3).
 * RFC 6241 section 3 and appendix A: a message that is not well-formed XML in UTF-8 gets
 * malformed-message (without message-id: it could not be read) under base:1.1; under base:1.0, which
 * has no such error-tag ("MUST NOT be sent to old clients"), the requests received before it are
 * answered and the session then ends.
 * RFC 6241 section 4.5: requests are processed serially and every reply, rejections included, goes out
 * in the order the messages were received. Input is paused while `maxPending` messages are queued.
 */
import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { NETCONF_BASE_NS } from '../xml/index.js';
import type { XmlElement, XmlNode } from '../xml/index.js';
import { parseXml, resolveParseLimits } from '../xml/index.js';
import type { ParseLimits } from '../xml/index.js';
import { attr, inScopeNamespaces, leaf } from '../xml/index.js';
import { serializeXml } from '../xml/index.js';
import { rpcErrorToXml } from '../rpc-error.js';
import type { RpcErrorInfo } from '../rpc-error.js';
import { MessageConnection } from './connection.js';
import type { ConnectionOptions } from './connection.js';
import { SessionError } from './errors.js';
import { buildHello, negotiatesBase11, parseHello } from './hello.js';

export interface ServerSessionOptions extends ConnectionOptions {
  sessionId: number;
  capabilities: string[];
  /** default 30 s */
  helloTimeoutMs?: number;
  /** no message in either direction for this long ends the session; 0 = never; default 0 */
  idleTimeoutMs?: number;
  /** requests queued before input is paused; default 64 */
  maxPending?: number;
  /** XML limits checked while each message (hello included) is parsed; defaults in DEFAULT_PARSE_LIMITS */
  parseLimits?: ParseLimits;
  /**
   * how long an orderly close (close-session, the client's end of its input, close() without an argument) waits for
   * the request in progress, then for the transport to close, before it is torn down; default DEFAULT_CLOSE_GRACE_MS
   */
  closeGraceMs?: number;
  /**
   * Handles one valid <rpc> (message-id present, one operation child). Returns the children of the
   * <rpc-reply> (<ok/>, data, or <rpc-error>s), optionally with callbacks to run right after the reply
   * is written. Must not throw (a throw is answered with a generic operation-failed). An answer known at once may be
   * returned without a promise: it is sent in the same turn.
   */
  handleRpc: (rpc: XmlElement, operation: XmlElement) => XmlElement[] | RpcOutcome | Promise<XmlElement[] | RpcOutcome>;
  /** the client hello was accepted */
  onEstablished?: (clientCapabilities: string[]) => void;
  /** a bad or missing hello (ietf-netconf-monitoring inBadHellos) */
  onBadHello?: (err: Error) => void;
  /** a message that was not a valid rpc (inBadRpcs) */
  onBadRpc?: (err: Error) => void;
  /** an rpc-error was sent (outRpcErrors) */
  onRpcErrorSent?: () => void;
  /** the session ended; err undefined for an orderly end */
  onClose?: (err: Error | undefined) => void;
}

export interface RpcOutcome {
  body: XmlElement[];
  afterReply?: Array<() => void>;
}

/**
 * Replies to a burst of pipelined requests go out in writes of about this size rather than one write
 * at the end (see ConnectionOptions.flushBytes). Measured with bench/netconf.ts conditions (32
 * outstanding get-config over SSH, ~110-byte replies): 1800 bytes gave 98-110k rpc/s against 70-77k
 * with one write per burst when a core was free; 3000 (an uneven split of 3.6 KB) gave no gain.
 */
const SERVER_FLUSH_BYTES = 1536;

/** the default of ServerSessionOptions.closeGraceMs (and of the server's limits.closeGraceMs) */
export const DEFAULT_CLOSE_GRACE_MS = 5_000;

const GENERIC_FAILURE: RpcErrorInfo = { type: 'application', tag: 'operation-failed', message: 'internal error' };
const MALFORMED: RpcErrorInfo = { type: 'rpc', tag: 'malformed-message', message: 'malformed XML message' };

/**
 * One received message, answered in turn (RFC 6241 section 4.5). Always the same four fields (one
 * object shape on the hot path): a valid request has rpc and op; a rejection has error (and rpc, the
 * envelope to echo, when there is one); `end` ends the session when its turn comes.
 */
interface Item {
  rpc: XmlElement | undefined;
  op: XmlElement | undefined;
  error: RpcErrorInfo | undefined;
  end: Error | undefined;
}

export class ServerSession {
  readonly conn: MessageConnection;
  private state: 'hello' | 'open' | 'closing' | 'closed' = 'hello';
  private clientCaps: string[] = [];
  private base11Value = false;
  private helloTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly queue: Item[] = [];
  private working = false;
  private closeAfterCurrent = false;
  private readonly maxPending: number;
  private readonly idleMs: number;
  private readonly closeGraceMs: number;
  private readonly parseLimits: Required<ParseLimits>;
  /** made when the signal is first asked for: a session nobody asked it of ends without an abort event or reason */
  private controller: AbortController | undefined;
  private closeWaiters: Array<() => void> = [];
  private endReason: Error | undefined;
  /** a received message is being handled (onMessage): the idle timer was refreshed for it */
  private delivering = false;

  constructor(stream: Duplex, private readonly opts: ServerSessionOptions) {
    this.conn = new MessageConnection(stream, { ...opts, flushBytes: opts.flushBytes ?? SERVER_FLUSH_BYTES });
    this.maxPending = opts.maxPending ?? 64;
    this.idleMs = opts.idleTimeoutMs ?? 0;
    this.closeGraceMs = opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
    this.parseLimits = resolveParseLimits(opts.parseLimits);
    this.conn.onMessage = (m) => this.onMessage(m);
    this.conn.onInputEnd = () => void this.close();
    this.conn.onClose = (err) => this.finish(err);
    this.conn.send(buildHello(opts.capabilities, opts.sessionId));
    const helloMs = opts.helloTimeoutMs ?? 30_000;
    this.helloTimer = setTimeout(() => {
      const e = new SessionError('ERR_SESSION_HELLO_TIMEOUT', `no client hello within ${helloMs} ms`);
      opts.onBadHello?.(e);
      this.conn.destroy(e);
    }, helloMs);
    this.touch();
  }

  get id(): number {
    return this.opts.sessionId;
  }
  get base11(): boolean {
    return this.base11Value;
  }
  get clientCapabilities(): string[] {
    return this.clientCaps;
  }
  get established(): boolean {
    return this.state === 'open' || this.state === 'closing';
  }
  get closed(): boolean {
    return this.state === 'closed';
  }
  /** aborted when the session ends (with the reason the session ended for) */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.state === 'closed') this.controller.abort(this.abortReason());
    }
    return this.controller.signal;
  }
  private abortReason(): Error {
    return this.endReason ?? new SessionError('ERR_SESSION_CLOSED', 'session closed');
  }
  get closeReason(): Error | undefined {
    return this.endReason;
  }

  /**
   * Send an unsolicited message (a <notification>). Returns false when the session is gone. Written with the other
   * output of this turn of the event loop (MessageConnection.sendDeferred): in order, one write for many.
   */
  sendMessage(xml: string): boolean {
    if (this.state !== 'open' && this.state !== 'closing') return false;
    this.touch();
    return this.conn.sendDeferred(xml);
  }

  /** End the session after the reply to the request in progress has been sent (close-session). */
  closeAfterReply(): void {
    this.closeAfterCurrent = true;
  }

  /**
   * Orderly close: stop reading, let the request in progress finish (bounded by graceMs), then end the
   * transport (destroyed when it has not closed within graceMs more). Queued requests not started are dropped.
   * close-session and the client's end of its input close with the session's closeGraceMs.
   */
  async close(graceMs = this.closeGraceMs): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state !== 'closing') {
      this.state = 'closing';
      this.conn.discardInput();
      this.queue.length = 0;
      if (this.working) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((r) => this.closeWaiters.push(r)),
          new Promise<void>((r) => { timer = setTimeout(r, graceMs); }),
        ]);
        clearTimeout(timer);
      }
      const t = setTimeout(() => this.conn.destroy(), graceMs);
      await this.conn.end();
      clearTimeout(t);
    }
    await this.conn.whenClosed();
  }

  /** Immediate end (kill-session, server shutdown timeout). */
  kill(reason: Error): void {
    this.conn.destroy(reason);
  }

  private touch(): void {
    if (this.idleMs <= 0) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => {
        this.conn.destroy(new SessionError('ERR_SESSION_IDLE_TIMEOUT', `idle for ${this.idleMs} ms`));
      }, this.idleMs);
    }
  }

  private onMessage(m: Buffer): void {
    this.touch();
    // a reply sent before this returns (an answer known at once) needs no second refresh of the idle timer
    this.delivering = true;
    try {
      this.deliver(m);
    } finally {
      this.delivering = false;
    }
  }

  private deliver(m: Buffer): void {
    if (this.state === 'hello') return this.onHello(m);
    if (this.state !== 'open') return;
    let root: XmlElement;
    try {
      // RFC 6241 section 3: "All NETCONF messages MUST be well-formed XML, encoded in UTF-8"
      if (!isUtf8(m)) throw new SessionError('ERR_SESSION_MALFORMED_MESSAGE', 'message is not valid UTF-8');
      root = parseXml(m, this.parseLimits);
    } catch (e) {
      this.opts.onBadRpc?.(e as Error);
      if (!this.base11Value) {
        // no malformed-message for base:1.0 (appendix A); answer what came before, then end
        this.conn.discardInput();
        return this.enqueue(undefined, undefined, undefined,
          new SessionError('ERR_SESSION_MALFORMED_MESSAGE', 'malformed XML under base:1.0', { cause: e }));
      }
      return this.reject(undefined, MALFORMED);
    }
    if (root.ns === NETCONF_BASE_NS && root.name === 'hello') {
      this.opts.onBadRpc?.(new SessionError('ERR_SESSION_SECOND_HELLO', 'second hello'));
      this.conn.destroy(new SessionError('ERR_SESSION_SECOND_HELLO', 'a second hello ends the session (RFC 6241 section 8.1)'));
      return;
    }
    if (root.ns !== NETCONF_BASE_NS) {
      return this.reject(root, { type: 'rpc', tag: 'unknown-namespace', message: 'message is not in the NETCONF base namespace',
        info: [leaf(NETCONF_BASE_NS, 'bad-element', root.name), leaf(NETCONF_BASE_NS, 'bad-namespace', root.ns)] });
    }
    if (root.name !== 'rpc') {
      return this.reject(root, { type: 'rpc', tag: 'unknown-element', message: `unexpected <${root.name}>`,
        info: [leaf(NETCONF_BASE_NS, 'bad-element', root.name)] });
    }
    if (attr(root, 'message-id') === undefined) {
      return this.reject(root, { type: 'rpc', tag: 'missing-attribute', message: 'rpc without message-id (RFC 6241 section 4.1)',
        info: [leaf(NETCONF_BASE_NS, 'bad-attribute', 'message-id'), leaf(NETCONF_BASE_NS, 'bad-element', 'rpc')] });
    }
    // the operation, and a second element child if there is one (no array of them per message)
    const children = root.children;
    const op = nextElement(children, 0);
    if (op < 0) {
      return this.reject(root, { type: 'rpc', tag: 'missing-element', message: 'rpc without an operation',
        info: [leaf(NETCONF_BASE_NS, 'bad-element', 'rpc')] });
    }
    const second = nextElement(children, op + 1);
    if (second >= 0) {
      return this.reject(root, { type: 'rpc', tag: 'unknown-element', message: 'rpc with more than one operation',
        info: [leaf(NETCONF_BASE_NS, 'bad-element', (children[second] as XmlElement).name)] });
    }
    this.enqueue(root, children[op] as XmlElement, undefined, undefined);
  }

  private enqueue(rpc: XmlElement | undefined, op: XmlElement | undefined, error: RpcErrorInfo | undefined, end: Error | undefined): void {
    this.queue.push({ rpc, op, error, end });
    if (this.queue.length >= this.maxPending) this.conn.pauseInput('queue');
    if (!this.working) this.work();
  }

  /**
   * Queue the rejection of a message that is not a valid rpc: answered in turn, echoing the envelope
   * `rpc` when there is one (a method, not a closure per message: see dispatch.ts).
   */
  private reject(rpc: XmlElement | undefined, e: RpcErrorInfo): void {
    this.opts.onBadRpc?.(new SessionError('ERR_SESSION_MALFORMED_MESSAGE', e.message ?? e.tag));
    this.enqueue(rpc, undefined, e, undefined);
  }

  private onHello(m: Buffer): void {
    clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
    try {
      if (!isUtf8(m)) throw new SessionError('ERR_SESSION_BAD_HELLO', 'hello is not valid UTF-8 (RFC 6241 section 3)');
      const hello = parseHello(parseXml(m, this.parseLimits), 'client', this.opts.capabilities);
      this.clientCaps = hello.capabilities;
    } catch (e) {
      this.opts.onBadHello?.(e as Error);
      this.conn.destroy(e instanceof SessionError ? e : new SessionError('ERR_SESSION_BAD_HELLO', 'malformed hello', { cause: e }));
      return;
    }
    this.state = 'open';
    if (negotiatesBase11(this.opts.capabilities, this.clientCaps)) {
      this.base11Value = true;
      this.conn.useChunked();
    }
    this.opts.onEstablished?.(this.clientCaps);
  }

  /**
   * Answer the queued messages in turn. Synchronous while the answers are known at once (get-config in lockstep: no
   * async function, so no promise per request); a handler's promise hands the rest of the queue to `resume`, which
   * awaits it and then comes back here. `working` stays true until the queue is done either way. A reply that cannot
   * be written throws out of here to the caller (the connection's drain, or resume), which ends the connection.
   */
  private work(): void {
    this.working = true;
    let awaiting = false;
    try {
      for (let item = this.queue.shift(); item && this.state === 'open'; item = this.queue.shift()) {
        if (this.queue.length < this.maxPending) this.conn.resumeInput('queue');
        if (item.end) {
          this.conn.destroy(item.end);
          break;
        }
        if (item.error) {
          this.sendReply(item.rpc, [rpcErrorToXml(item.error)]);
          continue;
        }
        let answer: XmlElement[] | RpcOutcome | Promise<XmlElement[] | RpcOutcome>;
        try {
          answer = this.opts.handleRpc(item.rpc!, item.op!);
        } catch {
          answer = [rpcErrorToXml(GENERIC_FAILURE)];
        }
        if (typeof (answer as { then?: unknown }).then === 'function') {
          awaiting = true;
          void this.resume(item, answer as Promise<XmlElement[] | RpcOutcome>);
          return;
        }
        if (!this.answered(item, answer as XmlElement[] | RpcOutcome)) break;
      }
    } finally {
      if (!awaiting) this.idle();
    }
  }

  /**
   * The answer to `item` still to come: send it when it does, then go on with the queue. A reply that cannot be written
   * (a body the serialiser or the framing throws on) ends the connection with that error, as it does for an answer
   * known at once (work() throws into MessageConnection's drain, which ends the connection): never an unhandled
   * rejection, never a session left waiting with its queue stopped.
   */
  private async resume(item: Item, answer: Promise<XmlElement[] | RpcOutcome>): Promise<void> {
    let out: XmlElement[] | RpcOutcome;
    try {
      out = await answer;
    } catch {
      out = [rpcErrorToXml(GENERIC_FAILURE)];
    }
    try {
      if ((this.state as string) === 'closed' || !this.answered(item, out)) return this.idle();
      this.work();
    } catch (e) {
      this.idle();
      this.conn.destroy(e as Error);
    }
  }

  /** reply to `item` and run its callbacks; false when the queue is not to go on (the session closed, close-session) */
  private answered(item: Item, out: XmlElement[] | RpcOutcome): boolean {
    if ((this.state as string) === 'closed') return false;
    this.sendReply(item.rpc, Array.isArray(out) ? out : out.body);
    if (!Array.isArray(out) && out.afterReply) {
      for (const fn of out.afterReply) {
        try {
          fn();
        } catch {
          /* a callback's failure does not end the session */
        }
      }
    }
    if (this.closeAfterCurrent) {
      this.closeAfterCurrent = false;
      this.working = false;
      void this.close();
      return false;
    }
    return true;
  }

  /** the queue is done: whoever waits for the request in progress to finish (close) goes on */
  private idle(): void {
    this.working = false;
    if (this.closeWaiters.length === 0) return;
    const ws = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of ws) w();
  }

  /**
   * Send one <rpc-reply> echoing the envelope `rpc` (none for a message that could not be parsed): its
   * attributes and the namespace declarations on it, so that a prefixed attribute comes back with its
   * own prefix (RFC 6241 section 4.2 and its example).
   */
  private sendReply(rpc: XmlElement | undefined, body: XmlElement[]): void {
    if (hasRpcError(body)) this.opts.onRpcErrorSent?.();
    // one object shape whether or not there is a context (an undefined nsContext is none to the serialiser)
    const reply: XmlElement = {
      ns: NETCONF_BASE_NS, name: 'rpc-reply', attrs: rpc?.attrs ?? [], children: body, nsContext: hoistedNamespaces(rpc?.nsContext, body),
    };
    if (!this.delivering) this.touch();
    this.conn.send(serializeXml(reply));
  }

  private finish(err: Error | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.endReason = err;
    clearTimeout(this.helloTimer);
    clearTimeout(this.idleTimer);
    this.queue.length = 0;
    this.controller?.abort(this.abortReason());
    const ws = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of ws) w();
    this.opts.onClose?.(err);
  }
}

/** the index of the first element among children[from..], -1 when there is none */
function nextElement(children: XmlNode[], from: number): number {
  for (let i = from; i < children.length; i++) if (typeof children[i] !== 'string') return i;
  return -1;
}

function hasRpcError(body: XmlElement[]): boolean {
  for (let i = 0; i < body.length; i++) {
    const b = body[i]!;
    if (b.ns === NETCONF_BASE_NS && b.name === 'rpc-error') return true;
  }
  return false;
}

/**
 * The namespace context of an rpc-reply: the rpc's own declarations (echoed), plus a prefix for a namespace that
 * several top-level elements of the body are in (an RPC's output list: the software-update reply has one `job` per
 * H(e)NB), so that the serializer declares it once on the reply instead of once per element (a reply of 10,000
 * entries otherwise carries 10,000 declarations, past what a careful parser accepts in one message). Hoisted: when
 * the first such element names a prefix for its namespace (nsContext; that prefix is used), or when more than
 * HOIST_WITHOUT_PREFIX elements share it (prefix n1, n2, ...). A few output leaves without a prefix hint (the
 * integrity-request reply) keep their plain xmlns="..." declarations.
 */
export function hoistedNamespaces(echoed: Readonly<Record<string, string>> | undefined, body: XmlElement[]): Readonly<Record<string, string>> | undefined {
  // one element (ok, data, one rpc-error) shares its namespace with none: nothing to hoist, no map per reply
  if (body.length < 2) return echoed;
  const seen = new Map<string, { first: XmlElement; count: number }>();
  for (const b of body) {
    if (b.ns === '' || b.ns === NETCONF_BASE_NS) continue;
    const entry = seen.get(b.ns);
    if (entry === undefined) seen.set(b.ns, { first: b, count: 1 });
    else entry.count++;
  }
  let ctx: Record<string, string> | undefined;
  let n = 0;
  for (const [ns, { first, count }] of seen) {
    if (count < 2) continue;
    const own = ownPrefix(first, ns);
    // a few output leaves keep their plain xmlns="..." (what clients and scripts see from other servers); a list
    // hoists with its module's prefix, and a long one without a prefix hint still gets a single declaration
    if (own === undefined && count <= HOIST_WITHOUT_PREFIX) continue;
    ctx ??= inScopeNamespaces(echoed);
    const scope = ctx;
    if (Object.keys(scope).some((p) => p !== '' && scope[p] === ns)) continue;
    let prefix = own !== undefined && scope[own] === undefined ? own : undefined;
    if (prefix === undefined) {
      do prefix = `n${++n}`; while (scope[prefix] !== undefined);
    }
    scope[prefix] = ns;
  }
  return ctx ?? echoed;
}

/** top-level elements of one namespace, without a prefix of their own, that still share one declaration */
const HOIST_WITHOUT_PREFIX = 64;

function ownPrefix(e: XmlElement, ns: string): string | undefined {
  const own = e.nsContext;
  if (own !== undefined) for (const p in own) if (p !== '' && own[p] === ns) return p;
  return undefined;
}

