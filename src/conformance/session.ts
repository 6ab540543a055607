/**
 * The kit's NETCONF session to the device under test: src/device's connectDevice (pinned host key, coded
 * connection failures) or, when the device calls home, a session on its call-home connection (src/device's
 * call-home listener: the same DeviceConnector port), with every rpc and notification recorded as XML text, and the notifications kept in a
 * queue the checks wait on (bounded by the caller's timeout). Nothing here judges: the checks do.
 */
import type { DeviceConnector, DeviceSession, DeviceTarget } from '../device/index.js';
import { NetconfError } from '../netconf/client/index.js';
import { rpcErrorToXml } from '../netconf/rpc-error.js';
import { NETCONF_BASE_NS, el, serializeXml } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import type { Exchange } from './types.js';

export interface RpcOutcome {
  /** the <rpc-reply> when it was not an rpc-error */
  reply?: XmlElement;
  /** the rpc-error(s) */
  error?: NetconfError;
  /** another failure (timeout, session lost) */
  failure?: Error;
  exchange: Exchange;
}

export interface Received {
  at: number;
  notification: XmlElement;
  xml: string;
}

/** between two attempts at a session on a call-home device whose connection was ending */
const RETRY_PAUSE_MS = 50;

export class KitSession {
  private readonly queue: Received[] = [];
  private readonly waiters = new Set<() => void>();
  private pumping = false;
  ended = false;

  private constructor(readonly session: DeviceSession, private readonly rpcTimeoutMs: number, private readonly transcript: Exchange[] | undefined) {}

  /**
   * `connect`: dial (connectDevice) or the call-home listener's; `transcript`: every rpc and notification of the
   * session is appended to it, in order. A device that calls home ends its connection when the kit's last session
   * on it closes, and calls again (RFC 8071 section 3.1; the kit's "reconnect"): a session that lands on a
   * connection just ending (ERR_DEVICE_UNREACHABLE) waits for the next call instead, within the same `timeoutMs`
   * (the first session too: a device whose call comes a little late is not given up on before that budget).
   */
  static async open(connect: DeviceConnector, target: DeviceTarget, timeoutMs: number, rpcTimeoutMs: number, transcript?: Exchange[], signal?: AbortSignal): Promise<KitSession> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const session = await connect(target, { timeoutMs: Math.max(1, deadline - Date.now()), ...(signal !== undefined ? { signal } : {}) });
        return new KitSession(session, rpcTimeoutMs, transcript);
      } catch (e) {
        if (target.callHome !== true || (e as { code?: unknown }).code !== 'ERR_DEVICE_UNREACHABLE' || Date.now() >= deadline) throw e;
        // a short pause: a connector that keeps failing at once is not spun on until the deadline
        await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_PAUSE_MS, Math.max(0, deadline - Date.now()))));
      }
    }
  }

  get capabilities(): readonly string[] {
    return this.session.serverCapabilities ?? [];
  }

  /** send `op`; never throws: the outcome says what happened, with the exchange as text */
  async rpc(op: XmlElement): Promise<RpcOutcome> {
    const o = await this.send(op);
    this.transcript?.push(o.exchange);
    return o;
  }

  private async send(op: XmlElement): Promise<RpcOutcome> {
    const sent = serializeXml(op);
    try {
      const reply = await this.session.rpc(op, { timeoutMs: this.rpcTimeoutMs });
      return { reply, exchange: { sent, received: serializeXml(reply) } };
    } catch (e) {
      if (e instanceof NetconfError) {
        // the rpc-error(s) as received, in XML again (src/netconf/rpc-error.ts keeps every RFC 6241 4.3 field)
        const received = serializeXml(el(NETCONF_BASE_NS, 'rpc-reply', e.errors.map((x) => rpcErrorToXml(x))));
        return { error: e, exchange: { sent, received } };
      }
      const err = e instanceof Error ? e : new Error(String(e));
      return { failure: err, exchange: { sent, received: `no reply: ${err.message}` } };
    }
  }

  /** start collecting notifications (once, after create-subscription) */
  startPump(): void {
    if (this.pumping) return;
    this.pumping = true;
    void (async () => {
      try {
        for await (const n of this.session.notifications()) {
          const xml = serializeXml(n);
          this.queue.push({ at: Date.now(), notification: n, xml });
          this.transcript?.push({ sent: '', received: xml });
          for (const w of [...this.waiters]) w();
        }
      } catch {
        // the session ended; waiters see `ended`
      }
      this.ended = true;
      for (const w of [...this.waiters]) w();
    })();
  }

  /** notifications received so far */
  get received(): readonly Received[] {
    return this.queue;
  }

  /** the first received notification (from index `from`) that satisfies `pred`, or undefined after timeoutMs / session end */
  async waitFor(pred: (n: XmlElement) => boolean, timeoutMs: number, from = 0): Promise<Received | undefined> {
    const find = (): Received | undefined => this.queue.slice(from).find((r) => pred(r.notification));
    const now = find();
    if (now || this.ended) return now;
    return new Promise((resolve) => {
      const done = (r: Received | undefined): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(r);
      };
      const check = (): void => {
        const r = find();
        if (r || this.ended) done(r);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.waiters.add(check);
    });
  }

  async close(): Promise<void> {
    await this.session.close().catch(() => undefined);
  }
}
