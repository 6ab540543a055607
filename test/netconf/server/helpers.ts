import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetconfServer, generateEd25519KeyPair, loadOrCreateHostKey } from '../../../src/netconf/server/index.js';
import type { NetconfServer, NetconfServerOptions } from '../../../src/netconf/server/index.js';
import { connectNetconf } from '../../../src/netconf/client/index.js';
import type { ConnectOptions, NetconfClient } from '../../../src/netconf/client/index.js';
import { createLogger } from '../../../src/log/logger.js';

export const clientKey = generateEd25519KeyPair();

export interface Started {
  server: NetconfServer;
  port: number;
  fingerprint: string;
  dataDir: string;
  logLines: string[];
  connect(over?: Partial<ConnectOptions>): Promise<NetconfClient>;
  stop(): Promise<void>;
}

export async function startServer(over: Partial<NetconfServerOptions> = {}): Promise<Started> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hsv-srv-test-'));
  const logLines: string[] = [];
  const server = createNetconfServer({
    hostKeys: [loadOrCreateHostKey(dataDir)],
    auth: { users: [{ username: 'admin', password: 'secret-pw' }, { username: 'keyuser', authorizedKeys: [clientKey.public] }] },
    dataDir,
    log: createLogger({ level: 'debug', write: (l) => void logLines.push(l) }),
    ...over,
  });
  const { port } = await server.listen('127.0.0.1', 0);
  const clients: NetconfClient[] = [];
  return {
    server, port, dataDir, logLines,
    fingerprint: server.hostKeyFingerprints[0]!,
    async connect(o = {}) {
      const c = await connectNetconf({
        host: '127.0.0.1', port, username: 'admin', password: 'secret-pw',
        hostKeySha256: server.hostKeyFingerprints[0]!, rpcTimeoutMs: 10_000, ...o,
      });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
