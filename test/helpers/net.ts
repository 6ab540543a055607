/**
 * Ports for peers that must be told theirs up front (netconfd, PostgreSQL, a listener named in a config): withFreePort
 * (src/free-port.ts), which tries again on another port when the start fails with the address in use. A server of
 * our own listens on port 0 instead and reads its port back; a port where nothing must listen is refusedPort.
 */
import { readFileSync } from 'node:fs';
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

/** the lines of /proc/net/tcp (Linux; IPv4) as [local, remote, state], e.g. ['0100007F:A4B2', '0100007F:68BF', '06'] */
function tcpTable(): Array<[string, string, string]> {
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((line) => {
    const [, local = '', remote = '', state = ''] = line.trim().split(/\s+/);
    return [local, remote, state];
  });
}

const loopbackEnd = (port: number): string => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * The TCP sockets in TIME_WAIT between 127.0.0.1:a and 127.0.0.1:b, either way: a test that a connection was
 * reset (which leaves none), without listening on the port afterwards (a released port may be taken at once by
 * any process's outgoing connection, so a listen there races with the machine).
 */
export function timeWait(a: number, b: number): string[] {
  return tcpTable().filter(([l, r, st]) => st === '06' && ((l === loopbackEnd(a) && r === loopbackEnd(b)) || (l === loopbackEnd(b) && r === loopbackEnd(a))))
    .map((row) => row.join(' '));
}

/** the other ends (ports on 127.0.0.1) of the established connections whose local end is 127.0.0.1:port */
export function loopbackPeers(port: number): number[] {
  return tcpTable().filter(([l, r, st]) => st === '01' && l === loopbackEnd(port) && r.startsWith('0100007F:'))
    .map(([, r]) => parseInt(r.slice(9), 16));
}
