/**
 * A loopback TCP proxy that loses answers on purpose: bytes pass both ways unchanged until the test arms it; then
 * the next bytes coming back from the server are dropped and both connections are reset (the client sees
 * ECONNRESET). Armed from a server-side hook after the server received a request, it is a reset after the request
 * arrived and before its answer: the failure a client cannot tell from one before the request was read.
 */
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface CutProxy {
  readonly port: number;
  /** connections accepted so far */
  readonly connections: number;
  /** answers lost (connections reset) so far */
  readonly resets: number;
  /** lose the next answer that comes back from the server, on whichever connection it comes */
  arm(): void;
  close(): Promise<void>;
}

export async function startCutProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<CutProxy> {
  let armed = false;
  let connections = 0;
  let resets = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    connections++;
    const upstream = connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => {
      if (armed) {
        armed = false;
        resets++;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      client.write(d);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    get connections() { return connections; },
    get resets() { return resets; },
    arm() { armed = true; },
    close: () => new Promise<void>((r) => {
      for (const s of open) s.destroy();
      server.close(() => r());
    }),
  };
}
