/**
 * What the RESTCONF PVE client puts on the wire and how it trusts the PVE, pinned while its per-request work is cut
 * (issue 15: the pinned CA given as one TLS secure context, the operation's URL resolved once per client, an answer
 * of one chunk decoded without a copy): the request line, Host and headers byte for byte (IPv4 and IPv6), one
 * keep-alive connection and one TLS handshake for requests in sequence, an answer that arrives in pieces, and the
 * trust: only the pinned CA, with the server's name checked.
 */
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPveClient } from '../../src/pve/client.js';
import type { PveClientError, RestconfPveClient } from '../../src/pve/client.js';
import { INTEGRITY_REQUEST_PATH, OUTPUT_MEMBER, PROVIDE_REFERENCE_VALUES_PATH } from '../../src/pve/restconf.js';
import { createTestPki } from '../helpers/tls-pki.js';
import type { TestPki } from '../helpers/tls-pki.js';
import { closeClientAndServer } from '../helpers/https-close.js';

const req = { henbId: 'h1', nonce: 'a1'.repeat(32), jobId: 'job-1' };

interface Seen {
  method: string;
  url: string;
  rawHeaders: string[];
  body: string;
}

let pki: TestPki;
let server: Server | undefined;
let client: RestconfPveClient | undefined;
let handshakes = 0;
const seen: Seen[] = [];

beforeAll(() => {
  pki = createTestPki();
});
afterAll(() => pki.cleanup());
afterEach(async () => {
  await closeClientAndServer(client, server);
  client = undefined;
  server = undefined;
  seen.length = 0;
  handshakes = 0;
});

/** a PVE on `host` that records each request and answers with `answer` (default: a verdict in one write) */
async function pve(host = '127.0.0.1', answer?: (res: ServerResponse) => void, cert = pki.server): Promise<number> {
  server = createServer({ cert: cert.cert, key: cert.key }, (rq: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    rq.on('data', (c: Buffer) => chunks.push(c));
    rq.on('end', () => {
      seen.push({ method: rq.method!, url: rq.url!, rawHeaders: rq.rawHeaders, body: Buffer.concat(chunks).toString('utf8') });
      if (answer) return answer(res);
      const body = JSON.stringify({ [OUTPUT_MEMBER]: { 'attestation-result': `tok.${seen.length}.jws`, 'ear-status': 'affirming' } });
      res.writeHead(200, { 'Content-Type': 'application/yang-data+json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.on('secureConnection', () => handshakes++);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r, j) => {
    server!.once('error', j);
    server!.listen(0, host, () => r());
  });
  return (server.address() as { port: number }).port;
}

const failure = (p: Promise<unknown>): Promise<PveClientError | undefined> => p.then(() => undefined, (e: unknown) => e as PveClientError);

/** whether this machine has an IPv6 loopback to listen on */
async function hasIpv6(): Promise<boolean> {
  const s = createServer();
  return new Promise((r) => {
    s.once('error', () => r(false));
    s.listen(0, '::1', () => s.close(() => r(true)));
  });
}

describe('PVE client: the request on the wire', () => {
  it('POST to the operation, Host with the port, Content-Type, Accept, Content-Length and keep-alive, the JSON input', async () => {
    const port = await pve();
    client = createPveClient({ url: `https://127.0.0.1:${port}`, ca: pki.ca.cert, timeoutMs: 5_000 });
    await expect(client.integrityRequest(req, new AbortController().signal)).resolves.toEqual({ token: 'tok.1.jws', earStatus: 'affirming' });
    await client.provideReferenceValues('a.b.c', new AbortController().signal).catch(() => undefined);
    const body = JSON.stringify({ 'henb-sw-verify-pve:input': { 'henb-id': 'h1', 'nonce-value': Buffer.from(req.nonce, 'base64url').toString('base64'), 'job-id': 'job-1' } });
    expect(seen[0]).toEqual({
      method: 'POST', url: INTEGRITY_REQUEST_PATH, body,
      rawHeaders: ['Content-Type', 'application/yang-data+json', 'Accept', 'application/yang-data+json', 'Content-Length', String(Buffer.byteLength(body)),
        'Host', `127.0.0.1:${port}`, 'Connection', 'keep-alive'],
    });
    expect(seen[1]!.url).toBe(PROVIDE_REFERENCE_VALUES_PATH);
    expect(seen[1]!.body).toBe(JSON.stringify({ 'henb-sw-verify-pve:input': { 'reference-values': 'a.b.c' } }));
  });

  it('an IPv6 PVE: the address without brackets to connect, with them in Host', async (ctx) => {
    if (!(await hasIpv6())) ctx.skip();
    const port = await pve('::1');
    client = createPveClient({ url: `https://[::1]:${port}`, ca: pki.ca.cert, timeoutMs: 5_000 });
    await expect(client.integrityRequest(req, new AbortController().signal)).resolves.toMatchObject({ token: 'tok.1.jws' });
    expect(seen[0]!.rawHeaders).toContain(`[::1]:${port}`);
    expect(seen[0]!.url).toBe(INTEGRITY_REQUEST_PATH);
  });

  it('requests in sequence share one keep-alive connection: one TLS handshake', async () => {
    const port = await pve();
    client = createPveClient({ url: `https://127.0.0.1:${port}`, ca: pki.ca.cert, timeoutMs: 5_000 });
    for (let i = 0; i < 5; i++) await client.integrityRequest(req, new AbortController().signal);
    expect(seen).toHaveLength(5);
    expect(handshakes).toBe(1);
  });

  it('an answer in pieces, a character cut between two: decoded whole', async () => {
    const reason = 'TIM mismatch (réf)';
    const body = Buffer.from(JSON.stringify({ [OUTPUT_MEMBER]: { 'attestation-result': 't.o.k', 'ear-status': 'contraindicated', reason } }), 'utf8');
    const cut = body.indexOf(Buffer.from('é')) + 1; // inside the two bytes of é
    const port = await pve('127.0.0.1', (res) => {
      res.writeHead(200, { 'Content-Type': 'application/yang-data+json', 'Content-Length': body.length });
      res.write(body.subarray(0, cut));
      setTimeout(() => res.end(body.subarray(cut)), 20);
    });
    client = createPveClient({ url: `https://127.0.0.1:${port}`, ca: pki.ca.cert, timeoutMs: 5_000 });
    await expect(client.integrityRequest(req, new AbortController().signal)).resolves.toEqual({ token: 't.o.k', earStatus: 'contraindicated', reason });
  });
});

describe('PVE client: only the pinned CA is trusted, and the server name is checked', () => {
  it('a certificate from another CA: ERR_PVE_TLS, nothing answered', async () => {
    const port = await pve();
    client = createPveClient({ url: `https://127.0.0.1:${port}`, ca: pki.otherCa.cert, timeoutMs: 5_000 });
    expect(await failure(client.integrityRequest(req, new AbortController().signal))).toMatchObject({ code: 'ERR_PVE_TLS' });
    expect(seen).toHaveLength(0);
  });

  it('a certificate of the pinned CA for another name: ERR_PVE_TLS (ERR_TLS_CERT_ALTNAME_INVALID)', async () => {
    const port = await pve();
    client = createPveClient({ url: `https://127.0.0.1:${port}`, ca: pki.ca.cert, servername: 'pve.example', timeoutMs: 5_000 });
    const e = await failure(client.integrityRequest(req, new AbortController().signal));
    expect(e).toMatchObject({ code: 'ERR_PVE_TLS' });
    expect((e!.cause as { code?: string }).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(seen).toHaveLength(0);
  });
});
