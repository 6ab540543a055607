/**
 * The end of a test with an HTTPS server and a client of it (the PVE client's wire tests): the client's pooled
 * sockets first, then the server, its open connections cut so that close() does not wait for their keep-alive.
 */
import type { Server } from 'node:https';

export async function closeClientAndServer(client: { close(): void } | undefined, server: Server | undefined): Promise<void> {
  client?.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server?.closeAllConnections();
}
