/**
 * Our NETCONF server in a test, on a fresh temporary directory. Call `useTestServers(prefix)` in a
 * describe block (or at the top of a file): it registers an afterEach that closes every server started
 * and removes its directory.
 */
import { afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetconfServer, generateEd25519KeyPair, registerStandardOperations } from '../../src/netconf/server/index.js';
import type { NetconfServer, NetconfServerOptions, StandardOperations, StandardOperationsOptions } from '../../src/netconf/server/index.js';

/** the one user a test server accepts unless `auth` says otherwise */
export const USER = 'admin';
export const PASSWORD = 'interop-pw';
/** the pinned IETF modules of this repository */
export const IETF_YANG_DIR = join(import.meta.dirname, '../../yang/ietf');

export interface TestServerOptions extends Partial<NetconfServerOptions> {
  /**
   * also register the standard operations (RFC 6241, 6022, 5277, 7895) before `operations`: true, or
   * their options (ietfYangDir defaults to IETF_YANG_DIR)
   */
  standard?: boolean | StandardOperationsOptions;
}

export interface TestServer {
  server: NetconfServer;
  /** the temporary directory; the server's data directory is `dir/data` unless `dataDir` says otherwise */
  dir: string;
  /** set when `standard` was given */
  std: StandardOperations | undefined;
}

export function useTestServers(prefix: string): { start(options?: TestServerOptions): TestServer } {
  const started: TestServer[] = [];
  afterEach(async () => {
    for (const s of started.splice(0)) {
      await s.server.close();
      rmSync(s.dir, { recursive: true, force: true });
    }
  });
  return {
    start({ standard, ...options } = {}) {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      let std: StandardOperations | undefined;
      const operations = [...(options.operations ?? [])];
      if (standard) {
        const stdOptions = { ietfYangDir: IETF_YANG_DIR, ...(standard === true ? {} : standard) };
        operations.unshift((reg) => { std = registerStandardOperations(reg, stdOptions); });
      }
      let server: NetconfServer;
      try {
        server = createNetconfServer({
          hostKeys: [generateEd25519KeyPair().private],
          auth: { users: [{ username: USER, password: PASSWORD }] },
          dataDir: join(dir, 'data'),
          ...options,
          operations,
        });
      } catch (e) {
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
      const s = { server, dir, std };
      started.push(s);
      return s;
    },
  };
}
