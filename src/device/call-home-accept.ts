/**
 * What the two call-home listeners (SSH: ./call-home.ts, TLS: ./call-home-tls.ts) share: listening for the
 * devices' TCP connections, admitting a bounded number that are not yet identified, counting refused devices
 * by fingerprint, and callers that wait for a device to call within their time limit and signal.
 */
import type { Server as NetServer, Socket } from 'node:net';
import type { Logger } from '../log/logger.js';
import { DeviceConnectError } from './connect.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Listen on host:port for calling devices; `error(detail, cause)` builds the error of a port that cannot be bound
 * (detail: the errno code, or the message). Later server errors are logged, the address at info.
 */
export async function listenForCalls(server: NetServer, o: {
  host: string; port: number; log: Logger; transport: 'SSH' | 'TLS'; error: (detail: string, cause: unknown) => Error;
}): Promise<ListenAddress> {
  const address = await new Promise<ListenAddress>((resolve, reject) => {
    server.once('error', (e) => reject(o.error((e as NodeJS.ErrnoException).code ?? e.message, e)));
    server.listen(o.port, o.host, () => {
      const a = server.address() as { address: string; port: number };
      resolve({ host: a.address, port: a.port });
    });
  });
  server.on('error', (e) => logServerError(o, e));
  o.log.info(`listening for NETCONF call home (${o.transport})`, { ...address });
  return address;
}

function logServerError(o: { log: Logger; transport: 'SSH' | 'TLS' }, err: Error): void {
  o.log.error(o.transport === 'SSH' ? 'call-home listener error' : 'call-home TLS listener error', { err });
}

export function closeServer(server: NetServer | undefined): Promise<void> {
  if (server === undefined) return Promise.resolve();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

/** one accepted connection while it counts as not yet identified */
export interface Admitted {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** still counted against maxPending (not yet identified, not closed) */
  readonly counted: boolean;
  /** identified (or given up): no longer counted */
  uncount(): void;
}

/**
 * The accepted sockets and how many are not yet identified: a connection beyond `maxPending`, or after close,
 * is refused at accept (logged at warn with the reason).
 */
export class CallAdmission {
  private pending = 0;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly o: {
    maxPending: number; log: Logger; isClosed: () => boolean;
    /** 'tls' adds transport to the log line */
    transport?: 'tls';
    /** the log's word for "identified" ('authenticated', 'identified') */
    identified: string;
  }) {}

  /** take an accepted socket, or refuse it (undefined) */
  admit(socket: Socket): Admitted | undefined {
    socket.on('error', () => undefined); // the protocol on top reports its own
    const remoteAddress = socket.remoteAddress ?? '';
    const remotePort = socket.remotePort ?? 0;
    if (this.o.isClosed() || this.pending >= this.o.maxPending) {
      const reason = this.o.isClosed() ? 'closing' : `too many connections not yet ${this.o.identified}`;
      this.o.log.warn('call-home connection refused', { ...(this.o.transport !== undefined ? { transport: this.o.transport } : {}), reason, remoteAddress, remotePort });
      socket.destroy();
      return undefined;
    }
    socket.setNoDelay(true);
    this.sockets.add(socket);
    this.pending++;
    let counted = true;
    const uncount = (): void => {
      if (counted) this.pending--;
      counted = false;
    };
    socket.once('close', () => {
      this.sockets.delete(socket);
      uncount();
    });
    return { remoteAddress, remotePort, get counted() { return counted; }, uncount };
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}

/** count one more refusal of this fingerprint */
export function countRefused(refused: Map<string, number>, fingerprint: string): void {
  refused.set(fingerprint, (refused.get(fingerprint) ?? 0) + 1);
}

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
}

/**
 * Callers waiting for a device to call, by key (host key, henb-id): each waits at most its time limit and until
 * its signal (ERR_DEVICE_TIMEOUT, ERR_DEVICE_ABORTED), and leaves no timer or listener behind.
 */
export class CallWaiters<K, T> {
  private readonly waiting = new Map<K, Set<Waiter<T>>>();

  /** wait for `key`'s call; `where` names the device in the errors, `timedOut` overrides the timeout's message */
  wait(key: K, o: { where: string; timeoutMs: number; signal?: AbortSignal | undefined; timedOut?: string }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const set = this.waiting.get(key) ?? new Set<Waiter<T>>();
      this.waiting.set(key, set);
      const done = (): void => {
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        set.delete(w);
        if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
      };
      const w: Waiter<T> = {
        resolve: (x) => {
          done();
          resolve(x);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      const onAbort = (): void => w.reject(new DeviceConnectError('ERR_DEVICE_ABORTED', `waiting for ${o.where} to call home aborted`, { cause: o.signal?.reason }));
      const timer = setTimeout(() => w.reject(new DeviceConnectError('ERR_DEVICE_TIMEOUT', o.timedOut ?? `${o.where} did not call home within ${o.timeoutMs} ms`)), o.timeoutMs);
      set.add(w);
      o.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** hand `value` to every caller waiting for `key` */
  resolveAll(key: K, value: T): void {
    const set = this.waiting.get(key);
    if (set === undefined) return;
    this.waiting.delete(key);
    for (const w of [...set]) w.resolve(value);
  }

  /** hand `value` to the caller that has waited longest for `key`; false when none waits */
  resolveFirst(key: K, value: T): boolean {
    const w = this.waiting.get(key)?.values().next().value;
    if (w === undefined) return false;
    w.resolve(value);
    return true;
  }

  rejectAll(e: Error): void {
    for (const set of [...this.waiting.values()]) for (const w of [...set]) w.reject(e);
  }
}
