/**
 * The client side of one NETCONF session over a MessageConnection, independent of SSH.
 *
 * - RFC 6241 section 8.1: sends its hello at once, waits for the server hello (helloTimeoutMs), which
 *   must carry capabilities and a session-id; RFC 6242 section 4.1: chunked framing when both list
 *   base:1.1. The first rpc is never in the same write as the hello (netconfd processes an rpc that
 *   arrives in the same read as the hello only when more input arrives).
 * - RFC 6241 section 4.1: message-ids are unique per session; replies are matched by message-id.
 *   Each rpc has a timeout; at most `maxInFlight` are outstanding (more wait for a slot).
 * - A reply without message-id (RFC 6241 section 4.3: an rpc-error to a message the server could not
 *   read, e.g. malformed-message, appendix A) answers the oldest request not yet answered, since the
 *   server replies in the order it received the requests (section 4.5); if that request has already
 *   timed out, the reply is reported through onUnexpected and dropped.
 * - When the session ends, every pending request fails: with ERR_SESSION_CLOSED naming its message-id,
 *   or with the error the session ended with.
 * - RFC 5277 notifications are delivered in order through an async iterable.
 */
import type { Duplex } from 'node:stream';
import { NETCONF_BASE_NS, NETCONF_NOTIFICATION_NS } from '../xml/index.js';
import type { XmlElement } from '../xml/index.js';
import { parseXml } from '../xml/index.js';
import { attr } from '../xml/index.js';
import { serializeXml } from '../xml/index.js';
import { NetconfError, rpcErrorFromXml } from '../rpc-error.js';
import { MessageConnection } from './connection.js';
import type { ConnectionOptions } from './connection.js';
import { SessionError } from './errors.js';
import { BASE_10, BASE_11, buildHello, negotiatesBase11, parseHello } from './hello.js';

export interface ClientSessionOptions extends ConnectionOptions {
  /** capabilities in our hello; default base:1.0 and base:1.1 */
  capabilities?: string[];
  /** default 30 s */
  helloTimeoutMs?: number;
  /** default timeout of each rpc; default 60 s */
  rpcTimeoutMs?: number;
  /** outstanding rpcs; default 128 (netconfd hangs beyond a few hundred) */
  maxInFlight?: number;
  /** notifications buffered while nobody reads them; older ones are dropped beyond; default 10000 */
  maxQueuedNotifications?: number;
  /** a reply or message that could not be matched (for logging) */
  onUnexpected?: (what: string) => void;
}

export interface RpcOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Pending {
  resolve: (reply: XmlElement) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Settle a pending request (removing its abort listener): a reply element resolves, an Error rejects. */
function settle(p: Pending, outcome: XmlElement | Error): void {
  if (p.onAbort) p.signal!.removeEventListener('abort', p.onAbort);
  if (outcome instanceof Error) p.reject(outcome);
  else p.resolve(outcome);
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new SessionError('ERR_SESSION_CLOSED', 'aborted');
}

export class ClientSession {
  readonly conn: MessageConnection;
  serverCapabilities: string[] = [];
  sessionId = 0;
  base11 = false;
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  /**
   * message-ids sent and not yet answered, in send order, including requests that timed out or were
   * aborted here (the server still answers them): the head is what a reply without message-id answers.
   */
  private readonly unanswered = new Set<string>();
  private readonly maxUnanswered: number;
  private readonly slotWaiters: Array<() => void> = [];
  private readonly notes: XmlElement[] = [];
  private noteWaiters: Array<{ resolve: (r: IteratorResult<XmlElement>) => void; reject: (e: Error) => void }> = [];
  private droppedNotes = 0;
  private helloDone: { resolve: () => void; reject: (e: Error) => void } | undefined;
  /** why the session ended; an orderly end's ERR_SESSION_CLOSED is made when first asked for (closeError) */
  private closedErr: Error | undefined;
  private isClosed = false;
  private closeSent = false;
  private readonly ourCaps: string[];
  private readonly rpcTimeoutMs: number;
  private readonly maxInFlight: number;
  private readonly maxNotes: number;

  private constructor(stream: Duplex, private readonly opts: ClientSessionOptions) {
    this.conn = new MessageConnection(stream, opts);
    this.ourCaps = opts.capabilities ?? [BASE_10, BASE_11];
    this.rpcTimeoutMs = opts.rpcTimeoutMs ?? 60_000;
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 128);
    this.maxUnanswered = Math.max(1024, 4 * this.maxInFlight);
    this.maxNotes = opts.maxQueuedNotifications ?? 10_000;
    this.conn.onMessage = (m) => this.onMessage(m);
    this.conn.onInputEnd = () => void this.conn.end();
    this.conn.onClose = (err) => this.finish(err);
  }

  /** Exchange hellos over `stream`; resolves when the session is established. */
  static async open(stream: Duplex, opts: ClientSessionOptions = {}): Promise<ClientSession> {
    const s = new ClientSession(stream, opts);
    const helloMs = opts.helloTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        s.helloDone = { resolve, reject };
        timer = setTimeout(() => reject(new SessionError('ERR_SESSION_HELLO_TIMEOUT', `no server hello within ${helloMs} ms`)), helloMs);
        s.conn.send(buildHello(s.ourCaps));
      });
    } catch (e) {
      s.conn.destroy(e as Error);
      throw e;
    } finally {
      clearTimeout(timer);
      s.helloDone = undefined;
    }
    return s;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Why the session ended (undefined while open). */
  get closeReason(): Error | undefined {
    return this.isClosed ? this.closeError() : undefined;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Send one rpc: `operation` is the child of <rpc> (an element, or XML text; unprefixed text is in
   * the base namespace). Resolves with the <rpc-reply>; rejects with NetconfError when the reply has
   * an rpc-error of severity error, with SessionError on timeout or when the session ends.
   */
  rpc(operation: XmlElement | string, options: RpcOptions = {}): Promise<XmlElement> {
    // fast path without an async frame: a free slot (the common case)
    if (this.pending.size < this.maxInFlight || this.isClosed) return this.send(operation, options, Date.now() + (options.timeoutMs ?? this.rpcTimeoutMs));
    return this.rpcAfterSlot(operation, options);
  }

  private async rpcAfterSlot(operation: XmlElement | string, options: RpcOptions): Promise<XmlElement> {
    const deadline = Date.now() + (options.timeoutMs ?? this.rpcTimeoutMs);
    while (this.pending.size >= this.maxInFlight && !this.isClosed) {
      await this.waitSlot(deadline, options.signal);
    }
    return this.send(operation, options, deadline);
  }

  /**
   * Send one rpc now. No closures per request beyond the promise executor (and the abort listener
   * when a signal is given): the timer calls a per-session function with the message-id.
   */
  private send(operation: XmlElement | string, options: RpcOptions, deadline: number): Promise<XmlElement> {
    if (this.isClosed) return Promise.reject(this.closeError());
    const timeoutMs = options.timeoutMs ?? this.rpcTimeoutMs;
    const id = String(this.nextId++);
    let opXml: string;
    try {
      opXml = typeof operation === 'string' ? operation : serializeXml(operation);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const msg = '<rpc xmlns="' + NETCONF_BASE_NS + '" message-id="' + id + '">' + opXml + '</rpc>';
    const signal = options.signal;
    return new Promise<XmlElement>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const p: Pending = {
        resolve, reject, signal, onAbort: undefined,
        timer: setTimeout(this.onRpcTimeout, Math.max(0, deadline - Date.now()), id, timeoutMs),
      };
      if (signal) {
        p.onAbort = () => this.abortRpc(id);
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.pending.set(id, p);
      this.unanswered.add(id);
      // a server that never answers timed-out requests must not make this grow without bound
      if (this.unanswered.size > this.maxUnanswered) this.unanswered.delete(this.unanswered.values().next().value!);
      this.conn.send(msg);
    });
  }

  private readonly onRpcTimeout = (id: string, timeoutMs: number): void => {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.releaseSlot();
    settle(p, new SessionError('ERR_SESSION_RPC_TIMEOUT', `no reply to message-id ${id} within ${timeoutMs} ms`));
  };

  private abortRpc(id: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    this.releaseSlot();
    p.reject(abortReason(p.signal!));
  }

  /** Notifications (<notification> elements) in arrival order; ends when the session ends. */
  notifications(): AsyncIterable<XmlElement> {
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          const n = this.notes.shift();
          if (n) return Promise.resolve({ value: n, done: false });
          if (this.isClosed) return Promise.resolve({ value: undefined, done: true });
          return new Promise<IteratorResult<XmlElement>>((resolve, reject) => this.noteWaiters.push({ resolve, reject }));
        },
        return: () => Promise.resolve({ value: undefined, done: true }),
      }),
    };
  }

  /** notifications dropped because nobody read them */
  get droppedNotifications(): number {
    return this.droppedNotes;
  }

  /** Send close-session once and wait for the session to end (bounded by timeoutMs). */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.isClosed) return;
    if (!this.closeSent) {
      this.closeSent = true;
      try {
        await this.rpc(`<close-session/>`, { timeoutMs });
      } catch {
        /* the session ends below either way */
      }
    }
    const t = setTimeout(() => this.conn.destroy(), timeoutMs);
    await this.conn.end();
    clearTimeout(t);
  }

  /** End at once; every pending request fails with `err`. */
  destroy(err?: Error): void {
    if (this.isClosed) return; // ended already: the connection is closed, no reason to make
    this.conn.destroy(err ?? new SessionError('ERR_SESSION_CLOSED', 'session destroyed'));
  }

  private waitSlot(deadline: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.slotWaiters.indexOf(wake);
        if (i >= 0) this.slotWaiters.splice(i, 1);
        reject(new SessionError('ERR_SESSION_RPC_TIMEOUT', 'timed out waiting for an rpc slot'));
      }, Math.max(0, deadline - Date.now()));
      const wake = (): void => {
        clearTimeout(timer);
        if (signal?.aborted) reject(signal.reason instanceof Error ? signal.reason : new SessionError('ERR_SESSION_CLOSED', 'aborted'));
        else resolve();
      };
      this.slotWaiters.push(wake);
    });
  }

  private releaseSlot(): void {
    this.slotWaiters.shift()?.();
  }

  private onMessage(m: Buffer): void {
    let root: XmlElement;
    try {
      root = parseXml(m);
    } catch (e) {
      this.conn.destroy(new SessionError('ERR_SESSION_MALFORMED_MESSAGE', 'malformed XML from the server', { cause: e }));
      return;
    }
    if (this.helloDone) {
      try {
        const h = parseHello(root, 'server', this.ourCaps);
        this.serverCapabilities = h.capabilities;
        this.sessionId = h.sessionId!;
        if (negotiatesBase11(this.ourCaps, h.capabilities)) {
          this.base11 = true;
          this.conn.useChunked();
        }
        this.helloDone.resolve();
      } catch (e) {
        this.helloDone.reject(e as Error);
      }
      return;
    }
    if (root.ns === NETCONF_BASE_NS && root.name === 'rpc-reply') return this.onReply(root);
    if (root.ns === NETCONF_NOTIFICATION_NS && root.name === 'notification') return this.onNotification(root);
    if (root.ns === NETCONF_BASE_NS && root.name === 'hello') {
      this.conn.destroy(new SessionError('ERR_SESSION_SECOND_HELLO', 'the server sent a second hello'));
      return;
    }
    this.opts.onUnexpected?.(`unexpected <${root.name}> in ${root.ns}`);
  }

  private onReply(reply: XmlElement): void {
    let id = attr(reply, 'message-id');
    if (id === undefined) {
      // RFC 6241 sections 4.3 and 4.5: the answer to the oldest request not yet answered
      const head = this.unanswered.values().next().value;
      if (head === undefined) {
        this.opts.onUnexpected?.('rpc-reply without message-id, with no request outstanding');
        return;
      }
      this.unanswered.delete(head);
      if (!this.pending.has(head)) {
        this.opts.onUnexpected?.(`rpc-reply without message-id for message-id ${head}, which no longer waits (timed out or aborted)`);
        return;
      }
      id = head;
    } else if (this.unanswered.has(id)) {
      // replies come in request order (section 4.5): everything sent before this one is answered
      for (const k of this.unanswered) {
        this.unanswered.delete(k);
        if (k === id) break;
      }
    }
    const p = this.pending.get(id);
    if (!p) {
      this.opts.onUnexpected?.(`rpc-reply for unknown message-id ${id}`);
      return;
    }
    this.pending.delete(id);
    clearTimeout(p.timer);
    this.releaseSlot();
    settle(p, replyOutcome(reply));
  }

  /** the reason of the ended session: as given, else (an orderly end) ERR_SESSION_CLOSED, made once */
  private closeError(): Error {
    return (this.closedErr ??= new SessionError('ERR_SESSION_CLOSED', 'session closed'));
  }

  private onNotification(n: XmlElement): void {
    const w = this.noteWaiters.shift();
    if (w) return w.resolve({ value: n, done: false });
    if (this.notes.length >= this.maxNotes) {
      this.notes.shift();
      this.droppedNotes++;
    }
    this.notes.push(n);
  }

  /**
   * The session ended (`err`: why, none for an orderly end). An orderly end's reason is made only when something
   * gets it (a hello or request still waiting, closeReason, a later request): most sessions end with nothing
   * waiting, and an error's stack costs more than the rest of the end (issue 15: 0.39 s at 10,000 devices).
   */
  private finish(err: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closedErr = err;
    if (this.helloDone !== undefined) this.helloDone.reject(this.closeError());
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      settle(p, pendingError(this.closeError(), id));
    }
    this.pending.clear();
    this.unanswered.clear();
    for (const w of this.slotWaiters.splice(0)) w();
    for (const w of this.noteWaiters.splice(0)) w.resolve({ value: undefined, done: true });
  }
}

/**
 * The error for a request still pending when the session ended: a generic end (ERR_SESSION_CLOSED) is
 * restated for the request, naming its message-id; any other reason (a caller's destroy(err), a framing
 * or protocol error) is passed on as it is.
 */
function pendingError(err: Error, id: string): Error {
  if (!(err instanceof SessionError) || err.code !== 'ERR_SESSION_CLOSED') return err;
  return new SessionError('ERR_SESSION_CLOSED', `${err.message} before the reply to message-id ${id}`, { cause: err });
}

/** The reply itself, or a NetconfError when it carries an rpc-error of severity error. */
function replyOutcome(reply: XmlElement): XmlElement | NetconfError {
  let errors: ReturnType<typeof rpcErrorFromXml>[] | undefined;
  for (const c of reply.children) {
    if (typeof c !== 'string' && c.name === 'rpc-error' && c.ns === NETCONF_BASE_NS) (errors ??= []).push(rpcErrorFromXml(c));
  }
  if (errors && errors.some((e) => (e.severity ?? 'error') === 'error')) return new NetconfError(errors);
  return reply;
}
