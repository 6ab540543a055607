/**
 * Ports for peers that must be told theirs up front (netconfd, PostgreSQL, a listener named in a config). A port
 * found free is free only until another process binds it, so it is handed over with withFreePort, which tries again
 * on another port when the start fails with the address in use. A server of our own listens on port 0 instead and
 * reads its port back.
 */
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

/** A TCP port free on 127.0.0.1 right now (no longer held: use withFreePort to hand it to a peer). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

/**
 * A port on 127.0.0.1 where a connection is refused and that no other process can bind until `release()`: the
 * local end of a loopback connection to a listener of our own (bound, never listened on; not bound explicitly, so
 * not SO_REUSEADDR: even a listener with that option is refused it). For a test that needs "nothing listens there";
 * a port found free and closed could be taken before the test dials it. The same technique as the conformance
 * kit's unreachableUrl (src/conformance/image-server.ts).
 */
export async function refusedPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const held = new Set<Socket>();
  const srv: Server = createServer((s) => {
    held.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const c = createConnection((srv.address() as { port: number }).port, '127.0.0.1');
  held.add(c);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', resolve);
    c.once('error', reject);
  });
  c.on('error', () => undefined);
  return {
    port: c.localPort!,
    // reset, not closed: a closed end would keep the port in TIME_WAIT for a minute
    release: async () => {
      await Promise.all([...held].map((s) => new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.resetAndDestroy();
      })));
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

/** how a child process words EADDRINUSE (sshd, PostgreSQL, netconfd-peer-start.sh's own check) */
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
 * `start(port)` on a port free right now; when it fails with the address in use (another process took the port
 * in between: addressInUse), `cleanUp(port)` if given, then again on another port, `attempts` times at most. Any
 * other failure, or the last one, is thrown.
 */
export async function withFreePort<T>(start: (port: number) => Promise<T> | T, o: { attempts?: number; cleanUp?: (port: number) => Promise<void> | void } = {}): Promise<T> {
  const attempts = o.attempts ?? 5;
  for (let i = 1; ; i++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (i >= attempts || !addressInUse(err)) throw err;
      await o.cleanUp?.(port);
    }
  }
}
