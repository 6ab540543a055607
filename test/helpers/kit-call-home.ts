/**
 * A run of the conformance kit listening for a call home (RFC 8071): once the kit listens (on port 0), the fleet is
 * told the bound port and its devices call it until the run ends. Shared by the SSH and TLS kit tests.
 */
import { runConformance } from '../../src/conformance/index.js';
import type { ConformanceOptions, ConformanceReport } from '../../src/conformance/index.js';
import type { Fleet } from '../../src/simulator/index.js';

export async function runCalledHome(fleet: Fleet, o: ConformanceOptions, onPort: (port: number) => void, transport?: 'tls'): Promise<ConformanceReport> {
  let stop: (() => Promise<void>) | undefined;
  try {
    return await runConformance({
      ...o,
      onReady: (i) => {
        if (i.callHome !== undefined) {
          const port = i.callHome.port;
          onPort(port);
          stop = fleet.startCallHome([{ host: '127.0.0.1', port, ...(transport !== undefined ? { transport } : {}) }]);
        }
        o.onReady?.(i);
      },
    });
  } finally {
    await stop?.();
  }
}
