/**
 * The kit's HTTPS server: serves a test image it makes (random octets, so its digest is known only to the
 * kit) under paths the checks choose, logs every request, and can hold one path's answer until the check
 * releases it (so that "an install is running" lasts as long as the slot-busy check needs, on any device
 * that fetches when it starts). Loopback by default; bounded: each held answer is released at close.
 */
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { isIP } from 'node:net';
import { ConformanceError } from './errors.js';
import type { KitTls } from './tls.js';

export interface ImageServer {
  /** the test image's SHA-256 (lowercase hex): its software RIM */
  readonly digest: string;
  readonly size: number;
  /** https URL of the image under `path` (e.g. '/image-JOB.bin') */
  url(path: string): string;
  /** an https URL on the server's host where nothing listens (a port the kit bound and closed) */
  unreachableUrl(): Promise<string>;
  /** paths requested so far, in order */
  readonly requests: readonly string[];
  /** hold GETs of `path` until release(path) */
  hold(path: string): void;
  release(path: string): void;
  /** resolves when `path` was requested (true) or after timeoutMs (false) */
  requested(path: string, timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

export async function startImageServer(tls: KitTls, host: string, port: number, imageBytes = 256 * 1024): Promise<ImageServer> {
  const image = randomBytes(imageBytes);
  const digest = createHash('sha256').update(image).digest('hex');
  const requests: string[] = [];
  const held = new Map<string, Array<() => void>>();
  const holding = new Set<string>();
  const waiters: Array<{ path: string; resolve: (v: boolean) => void }> = [];
  const sockets = new Set<Socket>();

  const serve = (res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(image.length) });
    res.end(image);
  };
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'https://kit').pathname;
    requests.push(path);
    for (const w of waiters.filter((x) => x.path === path)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(true);
    }
    if (req.method !== 'GET' || !path.startsWith('/image-')) {
      res.writeHead(404).end();
      return;
    }
    if (holding.has(path)) {
      const list = held.get(path) ?? [];
      list.push(() => serve(res));
      held.set(path, list);
      return;
    }
    serve(res);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new ConformanceError('ERR_CONFORMANCE_SETUP', `the kit's image server cannot listen on ${host}:${port}`, { cause: e })));
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const urlHost = isIP(host) === 6 ? `[${host}]` : host;
  const release = (path: string): void => {
    holding.delete(path);
    for (const send of held.get(path) ?? []) send();
    held.delete(path);
  };

  return {
    digest,
    size: image.length,
    url: (path) => `https://${urlHost}:${bound}${path}`,
    async unreachableUrl() {
      // a port that was free a moment ago and is closed now: the connection is refused
      const tcp = createTcpServer();
      const p = await new Promise<number>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(0, host, () => resolve((tcp.address() as AddressInfo).port));
      });
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      return `https://${urlHost}:${p}/image-unreachable.bin`;
    },
    get requests() {
      return requests;
    },
    hold(path) {
      holding.add(path);
    },
    release,
    requested(path, timeoutMs) {
      if (requests.includes(path)) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const w = { path, resolve: (v: boolean) => {
          clearTimeout(t);
          resolve(v);
        } };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          resolve(false);
        }, timeoutMs);
        waiters.push(w);
      });
    },
    async close() {
      for (const p of [...holding]) release(p);
      for (const w of waiters.splice(0)) w.resolve(false);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
