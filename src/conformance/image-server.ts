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
import type { AddressInfo, Server as TcpServer, Socket } from 'node:net';
import { createConnection, createServer as createTcpServer } from 'node:net';
import { isIP } from 'node:net';
import { ConformanceError } from './errors.js';
import type { KitTls } from './tls.js';

export interface ImageServer {
  /** the test image's SHA-256 (lowercase hex): its software RIM */
  readonly digest: string;
  readonly size: number;
  /** https URL of the image under `path` (e.g. '/image-JOB.bin') */
  url(path: string): string;
  /**
   * an https URL on the server's host where nothing listens: a connection to it is refused, and the port stays the
   * kit's (no other process can listen on it) until close()
   */
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

/** The image server's state: the image, the requests seen, the held answers, who waits for a request. */
class KitImageServer implements ImageServer {
  readonly digest: string;
  readonly requests: string[] = [];
  private readonly held = new Map<string, Array<() => void>>();
  private readonly holding = new Set<string>();
  private readonly waiters: Array<{ path: string; resolve: (v: boolean) => void }> = [];
  private readonly sockets = new Set<Socket>();
  readonly server: Server;
  private bound = 0;
  private readonly urlHost: string;
  /** unreachableUrl's: a listener of the kit's, and the connections to it whose local ends hold the ports */
  private holder: Promise<TcpServer> | undefined;
  private readonly holds = new Set<Socket>();

  constructor(tls: KitTls, private readonly host: string, private readonly image: Buffer) {
    this.digest = createHash('sha256').update(image).digest('hex');
    this.urlHost = isIP(host) === 6 ? `[${host}]` : host;
    this.server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => this.answer(req, res));
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('tlsClientError', () => undefined);
  }

  get size(): number {
    return this.image.length;
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (e) => reject(new ConformanceError('ERR_CONFORMANCE_SETUP', `the kit's image server cannot listen on ${this.host}:${port}`, { cause: e })));
      this.server.listen(port, this.host, () => resolve());
    });
    this.bound = (this.server.address() as AddressInfo).port;
  }

  private serve(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(this.image.length) });
    res.end(this.image);
  }

  /** log the request, tell who waits for it, then the image (held while its path is held), or 404 */
  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'https://kit').pathname;
    this.requests.push(path);
    for (const w of this.waiters.filter((x) => x.path === path)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(true);
    }
    if (req.method !== 'GET' || !path.startsWith('/image-')) {
      res.writeHead(404).end();
      return;
    }
    if (this.holding.has(path)) {
      const list = this.held.get(path) ?? [];
      list.push(() => this.serve(res));
      this.held.set(path, list);
      return;
    }
    this.serve(res);
  }

  url(path: string): string {
    return `https://${this.urlHost}:${this.bound}${path}`;
  }

  async unreachableUrl(): Promise<string> {
    // The local end of a connection from the kit to a listener of its own: a port the kernel chose among those no
    // one has bound, bound now and never listened on. A connection to it is refused, and while the kit holds it no
    // other process can bind it (a port bound and closed could be taken before the device dials it). Not bound
    // explicitly (no localAddress), so it is not SO_REUSEADDR: even a listener with that option is refused it.
    const holder = await (this.holder ??= this.listenHolder());
    const at = holder.address() as AddressInfo;
    const c = createConnection(at.port, at.address);
    this.holds.add(c);
    c.on('close', () => this.holds.delete(c));
    await new Promise<void>((resolve, reject) => {
      c.once('connect', resolve);
      c.once('error', (e) => reject(new ConformanceError('ERR_CONFORMANCE_SETUP', `the kit cannot hold a closed port on ${this.host}`, { cause: e })));
    });
    c.on('error', () => undefined);
    return `https://${this.urlHost}:${c.localPort!}/image-unreachable.bin`;
  }

  private async listenHolder(): Promise<TcpServer> {
    const holder = createTcpServer((s) => {
      this.holds.add(s);
      s.on('close', () => this.holds.delete(s));
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      holder.once('error', (e) => reject(new ConformanceError('ERR_CONFORMANCE_SETUP', `the kit cannot listen on ${this.host}`, { cause: e })));
      holder.listen(0, this.host, () => resolve());
    });
    return holder;
  }

  hold(path: string): void {
    this.holding.add(path);
  }

  release(path: string): void {
    this.holding.delete(path);
    for (const send of this.held.get(path) ?? []) send();
    this.held.delete(path);
  }

  requested(path: string, timeoutMs: number): Promise<boolean> {
    if (this.requests.includes(path)) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const w = { path, resolve: (v: boolean) => {
        clearTimeout(t);
        resolve(v);
      } };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  async close(): Promise<void> {
    for (const p of [...this.holding]) this.release(p);
    for (const w of this.waiters.splice(0)) w.resolve(false);
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
    // reset, not closed: a closed end would keep its port in TIME_WAIT, not bindable by others for a minute
    await Promise.all([...this.holds].map((s) => new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.resetAndDestroy();
    })));
    const holder = await this.holder?.catch(() => undefined);
    if (holder !== undefined) await new Promise<void>((resolve) => holder.close(() => resolve()));
  }
}

export async function startImageServer(tls: KitTls, host: string, port: number, imageBytes = 256 * 1024): Promise<ImageServer> {
  const server = new KitImageServer(tls, host, randomBytes(imageBytes));
  await server.listen(port);
  return server;
}
