/**
 * Ports for peers that must be told theirs up front (a device told where to call home, swtpm, a peer in a test).
 * A port found free is free only until another process binds it, so it is handed over with withFreePort, which
 * tries again on another port when the start fails with the address in use. A server of our own that nobody
 * must be told about in advance listens on port 0 instead and reads its port back.
 */
import { createServer } from 'node:net';

/** A TCP port free on `host` right now (no longer held: use withFreePort to hand it to a peer). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

function listenOn(port: number, host: string): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(null));
    srv.listen(port, host, () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

/**
 * A port P free on `host` right now with P + 1 free too (at most 20 tries), for a peer that binds two adjacent
 * ports itself (swtpm: TPM commands on P, its control channel on P + 1). Not held either: the peer's start must
 * be tried again on another pair when it finds one taken.
 */
export async function freePortPair(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = await listenOn(0, host);
    if (p !== null && p < 65535 && (await listenOn(p + 1, host)) !== null) return p;
  }
  throw new Error(`no two adjacent free ports on ${host}`);
}

/** how a child process words EADDRINUSE (sshd, PostgreSQL, swtpm, netconfd-peer-start.sh's own check) */
const IN_USE_WORDS = /already in use/i;

/**
 * Whether `err` failed on an address in use: the code EADDRINUSE on it or on an error of its cause chain, or, for
 * a child process (whose errors carry its output, not a code), its words for it in the message or stderr.
 */
export function addressInUse(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    const x = e as { code?: unknown; message?: unknown; stderr?: unknown };
    if (x.code === 'EADDRINUSE') return true;
    if ((typeof x.message === 'string' && IN_USE_WORDS.test(x.message)) || (typeof x.stderr === 'string' && IN_USE_WORDS.test(x.stderr))) return true;
  }
  return false;
}

/**
 * `start(port)` on a port free on `host` (default 127.0.0.1) right now; when it fails with the address in use
 * (another process took the port in between: addressInUse), `cleanUp(port)` if given, then again on another port,
 * `attempts` (default 5) times at most. Any other failure, or the last one, is thrown.
 */
export async function withFreePort<T>(start: (port: number) => Promise<T> | T, o: { attempts?: number; host?: string; cleanUp?: (port: number) => Promise<void> | void } = {}): Promise<T> {
  const attempts = o.attempts ?? 5;
  for (let i = 1; ; i++) {
    const port = await freePort(o.host);
    try {
      return await start(port);
    } catch (err) {
      if (i >= attempts || !addressInUse(err)) throw err;
      await o.cleanUp?.(port);
    }
  }
}
