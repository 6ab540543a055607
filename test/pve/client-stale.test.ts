/**
 * Issue 15 (12 of 1,000 updates ended ERR_PVE_UNREACHABLE in the fleet bench): a request written on a reused
 * keep-alive connection that the PVE had already closed fails before any byte of an answer. Only that case is sent
 * once more, on a new connection of its own; a new connection that breaks after the write, a second stale failure,
 * and an answer cut after it began are not repeated. A real HTTPS server on loopback closes the connections.
 */
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPveClient } from '../../src/pve/client.js';
import type { PveClientError, RestconfPveClient } from '../../src/pve/client.js';
import { OUTPUT_MEMBER } from '../../src/pve/restconf.js';
import { createTestPki } from '../helpers/tls-pki.js';
import type { TestPki } from '../helpers/tls-pki.js';
import { closeClientAndServer } from '../helpers/https-close.js';

const req = { henbId: 'h1', nonce: 'a1'.repeat(32), jobId: 'job-1' };

/** what the server does with the n-th request (1-based) that arrives as the k-th on its connection */
type Plan = (n: number, onConnection: number) => 'answer' | 'close' | 'cut';

let pki: TestPki;
let server: Server | undefined;
let client: RestconfPveClient | undefined;
const seen: Array<{ n: number; connection: number; onConnection: number }> = [];

beforeAll(() => {
  pki = createTestPki();
});
afterAll(() => pki.cleanup());
afterEach(async () => {
  await closeClientAndServer(client, server);
  client = undefined;
  server = undefined;
  seen.length = 0;
});

async function pve(plan: Plan): Promise<RestconfPveClient> {
  const ids = new WeakMap<Socket, { id: number; count: number }>();
  let connections = 0;
  server = createServer({ cert: pki.server.cert, key: pki.server.key }, (rq: IncomingMessage, res: ServerResponse) => {
    const sock = rq.socket;
    let c = ids.get(sock);
    if (!c) ids.set(sock, (c = { id: ++connections, count: 0 }));
    c.count++;
    const n = seen.length + 1;
    seen.push({ n, connection: c.id, onConnection: c.count });
    const what = plan(n, c.count);
    // closed before the request is read: what a server's idle timeout does to a connection a request is already on
    if (what === 'close') {
      sock.destroy();
      return;
    }
    rq.resume();
    rq.on('end', () => {
      const body = JSON.stringify({ [OUTPUT_MEMBER]: { 'attestation-result': `tok.${n}.jws`, 'ear-status': 'affirming' } });
      res.writeHead(200, { 'Content-Type': 'application/yang-data+json', 'Content-Length': Buffer.byteLength(body) });
      if (what === 'cut') {
        res.write(body.slice(0, 5));
        setImmediate(() => sock.destroy());
      } else res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  // no backoff waits: a retry of a connection failure before sending would show as an extra request anyway
  client = createPveClient({ url: `https://127.0.0.1:${port}`, ca: pki.ca.cert, timeoutMs: 5_000, retry: { attempts: 1 } });
  return client;
}

const failure = (p: Promise<unknown>): Promise<PveClientError | undefined> => p.then(() => undefined, (e: unknown) => e as PveClientError);

describe('PVE client: a reused keep-alive connection the PVE had closed', () => {
  it('is sent once more on a new connection, and that answer is the result', async () => {
    const c = await pve((_n, k) => (k === 2 ? 'close' : 'answer'));
    const signal = new AbortController().signal;
    expect(await c.integrityRequest(req, signal)).toEqual({ token: 'tok.1.jws', earStatus: 'affirming' });
    expect(await c.integrityRequest(req, signal)).toEqual({ token: 'tok.3.jws', earStatus: 'affirming' });
    expect(seen).toEqual([
      { n: 1, connection: 1, onConnection: 1 },
      { n: 2, connection: 1, onConnection: 2 }, // the pooled connection, closed without an answer
      { n: 3, connection: 2, onConnection: 1 }, // the repeat, on a new connection
    ]);
    // the pool still works afterwards
    expect(await c.integrityRequest(req, signal)).toEqual({ token: 'tok.4.jws', earStatus: 'affirming' });
  }, 20_000);

  it('a new connection closed after the request was written is not repeated (the PVE may have acted on it)', async () => {
    const c = await pve(() => 'close');
    const e = await failure(c.integrityRequest(req, new AbortController().signal));
    expect(e).toMatchObject({ code: 'ERR_PVE_UNREACHABLE' });
    expect(e?.message).toMatch(/^cannot reach the PVE at 127\.0\.0\.1:\d+ \(ECONNRESET\)$/);
    expect(e?.staleConnection).toBeUndefined();
    expect(seen).toHaveLength(1);
  }, 20_000);

  it('is repeated once only: the repeat closed as well fails ERR_PVE_UNREACHABLE after two sends', async () => {
    const c = await pve((n) => (n === 1 ? 'answer' : 'close'));
    const signal = new AbortController().signal;
    await c.integrityRequest(req, signal);
    const e = await failure(c.integrityRequest(req, signal));
    expect(e).toMatchObject({ code: 'ERR_PVE_UNREACHABLE' });
    expect(seen.map((s) => [s.connection, s.onConnection])).toEqual([[1, 1], [1, 2], [2, 1]]);
  }, 20_000);

  it('an answer that began and was then cut is not repeated', async () => {
    const c = await pve((n) => (n === 1 ? 'answer' : 'cut'));
    const signal = new AbortController().signal;
    await c.integrityRequest(req, signal);
    const e = await failure(c.integrityRequest(req, signal));
    expect(e).toMatchObject({ code: 'ERR_PVE_UNREACHABLE' });
    expect(seen).toHaveLength(2);
  }, 20_000);

  it('provide-reference-values takes the same path (a repeated store of one signed set)', async () => {
    const c = await pve((_n, k) => (k === 2 ? 'close' : 'answer'));
    const signal = new AbortController().signal;
    await c.integrityRequest(req, signal);
    await c.provideReferenceValues('a.b.c', signal);
    expect(seen.map((s) => [s.connection, s.onConnection])).toEqual([[1, 1], [1, 2], [2, 1]]);
  }, 20_000);
});
