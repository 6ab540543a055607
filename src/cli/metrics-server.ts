/**
 * The metrics and health endpoint of `serve` (config `metrics: {listen: HOST:PORT}`), plain HTTP on its own port:
 *   GET /metrics  Prometheus text format (src/metrics, prom-client)
 *   GET /healthz  200 "ok" while the process serves (liveness)
 *   GET /readyz   200 when every readiness check passes (store reachable, signing key loaded, PVE reachable),
 *                 503 otherwise; the body is JSON naming each check
 * Anything else is 404; a method other than GET/HEAD is 405. Bind it to a management address: it has no
 * authentication (the metrics hold no secret, but they describe the fleet).
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { METRICS_CONTENT_TYPE, checkReadiness, registry } from '../metrics/index.js';
import type { HostPort } from '../host-port.js';
import type { Logger } from '../log/logger.js';

export interface MetricsServer {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

export async function startMetricsServer(listen: HostPort, log: Logger): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (path === '/metrics') {
      registry.metrics().then((text) => send(200, METRICS_CONTENT_TYPE, text), (err: unknown) => {
        log.warn('metrics collection failed', { err });
        send(500, 'text/plain; charset=utf-8', 'metrics collection failed\n');
      });
    } else if (path === '/healthz') {
      send(200, 'text/plain; charset=utf-8', 'ok\n');
    } else if (path === '/readyz') {
      checkReadiness().then((r) => send(r.ready ? 200 : 503, 'application/json', JSON.stringify(r) + '\n'), () => send(503, 'application/json', '{"ready":false}\n'));
    } else {
      send(404, 'text/plain; charset=utf-8', 'not found: /metrics, /healthz, /readyz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  log.info('metrics listening', { host: a.address, port: a.port });
  return {
    address: { host: a.address, port: a.port },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
