/**
 * NETCONF Call Home over SSH (RFC 8071 section 3.1), the device's side: a simulated H(e)NB opens the TCP
 * connection to a NETCONF client's call-home port and serves NETCONF on it in the SSH SERVER role (its own
 * host key, its own login), exactly as on a dialled connection (src/netconf/server callHome).
 *
 * When the connection cannot be made or drops, the device calls again after a jittered exponential backoff
 * (RFC 8071 leaves the reconnect strategy to the server; RFC 9643's `reconnect-strategy` has the same knobs):
 * delay(n) = min(maxMs, initialMs * 2^n) scaled by a random factor in [1 - jitter, 1], so that a fleet cut off
 * together does not call back in one burst. A connection that stayed up at least `stableMs` resets n.
 */
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import type { Logger } from '../log/logger.js';

export interface CallHomeBackoff {
  /** first delay, ms (default 500) */
  initialMs?: number;
  /** cap of a delay, ms (default 30000) */
  maxMs?: number;
  /** fraction of the delay that is random (default 0.5: between half and all of it) */
  jitter?: number;
  /** a connection up at least this long resets the backoff, ms (default 5000) */
  stableMs?: number;
}

/** the delay before call-home attempt n+1 after n consecutive failures (n >= 0); random() in [0, 1) */
export function callHomeDelay(n: number, backoff: CallHomeBackoff = {}, random: () => number = Math.random): number {
  const initial = backoff.initialMs ?? 500;
  const max = backoff.maxMs ?? 30_000;
  const jitter = Math.min(1, Math.max(0, backoff.jitter ?? 0.5));
  const base = Math.min(max, initial * 2 ** Math.min(n, 30));
  return Math.round(base * (1 - jitter * random()));
}

export interface CallHomeLoopOptions {
  /** the NETCONF client's call-home address */
  host: string;
  port: number;
  /** serve NETCONF on the connection (the device's NETCONF server's callHome); false: refused */
  serve(socket: Socket): boolean;
  backoff?: CallHomeBackoff;
  log: Logger;
  /** ends the loop and the current connection */
  signal: AbortSignal;
  /** TCP connect budget, ms (default 10000) */
  connectTimeoutMs?: number;
  random?: () => number;
  /** told of each connection made (tests, the fleet's state) */
  onConnected?(socket: Socket): void;
}

/**
 * Call home until the signal is aborted: connect, serve, wait for the connection to end, back off, again.
 * Resolves when the loop has stopped (the current connection destroyed).
 */
export async function callHomeLoop(o: CallHomeLoopOptions): Promise<void> {
  let failures = 0;
  const where = `${o.host}:${o.port}`;
  while (!o.signal.aborted) {
    const started = Date.now();
    const socket = await connectOnce(o.host, o.port, o.connectTimeoutMs ?? 10_000, o.signal);
    if (socket !== undefined) {
      if (o.serve(socket)) {
        o.onConnected?.(socket);
        o.log.info('called home', { to: where });
        await new Promise<void>((resolve) => {
          if (socket.destroyed) return resolve();
          const onAbort = (): void => {
            socket.destroy();
          };
          o.signal.addEventListener('abort', onAbort, { once: true });
          socket.once('close', () => {
            o.signal.removeEventListener('abort', onAbort);
            resolve();
          });
        });
        o.log.info('call-home connection ended', { to: where });
      } else {
        socket.destroy();
      }
    }
    if (o.signal.aborted) break;
    if (socket !== undefined && Date.now() - started >= (o.backoff?.stableMs ?? 5000)) failures = 0;
    const ms = callHomeDelay(failures, o.backoff, o.random);
    failures++;
    o.log.debug('calling home again', { to: where, inMs: ms, failures });
    await sleep(ms, o.signal);
  }
}

function connectOnce(host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(undefined);
    const socket = tcpConnect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      if (!ok) socket.destroy();
      resolve(ok ? socket : undefined);
    };
    const onConnect = (): void => done(true);
    const onError = (): void => done(false);
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve();
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
