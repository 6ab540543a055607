/**
 * Ports for peers that must be told theirs up front (netconfd, PostgreSQL, a listener named in a config): withFreePort
 * (src/free-port.ts), which tries again on another port when the start fails with the address in use. A server of
 * our own listens on port 0 instead and reads its port back; a port where nothing must listen is refusedPort.
 */
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export { addressInUse, freePort, withFreePort } from '../../src/free-port.js';

/**
 * A port on 127.0.0.1 where a connection is refused and that no other process can bind until `release()`: the
 * local end of a loopback connection to a listener of our own (bound, never listened on; not bound explicitly, so
 * not SO_REUSEADDR: even a listener with that option is refused it). For a test that needs "nothing listens there";
 * a port found free and closed could be taken before the test dials it. The same technique as the conformance
 * kit's unreachableUrl (src/conformance/image-server.ts).
 */
export async function refusedPort(): Promise<{ port: number; listenerPort: number; release: () => Promise<void> }> {
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
    /** the port of our own listener, the held connection's other end */
    listenerPort: (srv.address() as { port: number }).port,
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
