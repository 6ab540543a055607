/**
 * A loopback TCP proxy that stalls connections on purpose: the first `stall` connections it accepts are held open and
 * silent (nothing is forwarded either way, nothing is answered), as a server whose accept queue took the connection
 * but whose process never gets to it; the later ones are passed to the target unchanged. A client on a stalled
 * connection sees its TCP connect succeed and its TLS or SSH handshake (or NETCONF hello) never finish.
 */
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface StallProxy {
  readonly port: number;
  /** connections accepted so far (stalled and passed) */
  readonly connections: number;
  /** connections stalled so far */
  readonly stalled: number;
  close(): Promise<void>;
}

/** `stall`: how many connections, the first ones, are held silent (Infinity: all) */
export async function startStallProxy(targetPort: number, stall: number, targetHost = '127.0.0.1'): Promise<StallProxy> {
  let connections = 0;
  let stalled = 0;
  const open = new Set<Socket>();
  const track = (s: Socket): void => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => undefined);
  };
  const server: Server = createServer((client) => {
    connections++;
    track(client);
    if (stalled < stall) {
      stalled++;
      // read and drop what the client sends (its ClientHello or SSH banner), answer nothing
      client.resume();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    get connections() { return connections; },
    get stalled() { return stalled; },
    close: () => new Promise<void>((r) => {
      for (const s of open) s.destroy();
      server.close(() => r());
    }),
  };
}
