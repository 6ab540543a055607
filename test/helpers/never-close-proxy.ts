/**
 * A loopback TCP proxy whose far end never closes: bytes pass both ways until either side ends its output (FIN);
 * from then on the proxy forwards nothing more, in either direction, and closes neither side. The side that ended
 * waits for a FIN that never comes (FIN-WAIT-2; the proxy's socket stays in CLOSE-WAIT), as with a peer that hung
 * or stopped reading after the other end ended the connection. The proxy keeps reading (and dropping) what
 * arrives, so only the FIN is withheld, never a window.
 */
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface NeverCloseProxy {
  readonly port: number;
  /** connections accepted so far */
  readonly connections: number;
  /** connections where one side ended (and the proxy stopped forwarding) */
  readonly frozen: number;
  close(): Promise<void>;
}

export async function startNeverCloseProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<NeverCloseProxy> {
  let connections = 0;
  let frozen = 0;
  const open = new Set<Socket>();
  const track = (s: Socket): void => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => undefined);
  };
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    connections++;
    track(client);
    const upstream = connect({ port: targetPort, host: targetHost, allowHalfOpen: true });
    track(upstream);
    let stopped = false;
    const stop = (): void => {
      if (stopped) return;
      stopped = true;
      frozen++;
    };
    client.on('data', (b: Buffer) => {
      if (!stopped) upstream.write(b);
    });
    upstream.on('data', (b: Buffer) => {
      if (!stopped) client.write(b);
    });
    client.on('end', stop);
    upstream.on('end', stop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    get connections() { return connections; },
    get frozen() { return frozen; },
    close: () => new Promise<void>((r) => {
      for (const s of open) s.destroy();
      server.close(() => r());
    }),
  };
}
