/**
 * Regression (half-closed sockets, 6 December 2026): a connection the server ends stayed half-closed, FIN-WAIT-2
 * here and CLOSE-WAIT at the client, for as long as the client did not close its side, and counted against
 * maxConnections all that time. Now the server destroys it `peerCloseMs` after ending it (src/netconf/peer-close.ts).
 * The client here sits behind a proxy that withholds every FIN (test/helpers/never-close-proxy.ts); the bound is
 * 100 ms and each wait below allows 25 times that or more. That the bound is not cut short is shown with a client
 * that goes on sending after the server's end (the fake-timer tests of the helper: test/netconf/peer-close.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { connectNetconf, connectNetconfTls } from '../../../src/netconf/client/index.js';
import type { NetconfClient } from '../../../src/netconf/client/index.js';
import { startServer } from './helpers.js';
import type { Started } from './helpers.js';
import { startNeverCloseProxy } from '../../helpers/never-close-proxy.js';
import type { NeverCloseProxy } from '../../helpers/never-close-proxy.js';
import { useAdminPki } from '../../helpers/admin-pki.js';
import { until } from '../../helpers/until.js';

const PEER_CLOSE_MS = 100;
const BASE = 'urn:ietf:params:xml:ns:netconf:base:1.0';

let s: Started | undefined;
let proxy: NeverCloseProxy | undefined;
const clients: NetconfClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await proxy?.close();
  proxy = undefined;
  await s?.stop();
  s = undefined;
});

const tls = useAdminPki();

const tlsOptions = () => ({ cert: tls.pki.server.cert, key: tls.pki.server.key, ca: tls.pki.ca.cert, certToName: [{ fingerprint: tls.admin.sha256, 'map-type': 'specified' as const, name: 'admin' }] });

/** whether a new SSH connection is served (the server sends its identification line) rather than closed at accept */
function sshServed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tcpConnect({ host: '127.0.0.1', port });
    sock.on('error', () => undefined);
    sock.once('data', (b: Buffer) => {
      sock.destroy();
      resolve(b.toString('latin1').startsWith('SSH-2.0-'));
    });
    sock.once('close', () => resolve(false));
  });
}

/** whether a new TLS connection gets through the handshake rather than being closed at accept */
function tlsServed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = tlsConnect({ host: '127.0.0.1', port, cert: tls.admin.cert, key: tls.admin.key, ca: tls.pki.ca.cert });
    t.on('error', () => undefined);
    t.once('secureConnect', () => {
      t.destroy();
      resolve(true);
    });
    t.once('close', () => resolve(false));
  });
}

async function sshClientViaProxy(st: Started): Promise<NetconfClient> {
  proxy = await startNeverCloseProxy(st.port);
  const c = await connectNetconf({ host: '127.0.0.1', port: proxy.port, username: 'admin', password: 'secret-pw', hostKeySha256: st.fingerprint, peerCloseMs: PEER_CLOSE_MS });
  clients.push(c);
  return c;
}

async function tlsClientViaProxy(tlsPort: number): Promise<NetconfClient> {
  proxy = await startNeverCloseProxy(tlsPort);
  const c = await connectNetconfTls({ host: '127.0.0.1', port: proxy.port, cert: tls.admin.cert, key: tls.admin.key, ca: tls.pki.ca.cert, peerCloseMs: PEER_CLOSE_MS });
  clients.push(c);
  return c;
}

/** rejects after `ms` (the bound on a wait that must end much sooner) */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); })]).finally(() => clearTimeout(t));
}

describe('a connection the server ends, to a client that never closes its side', () => {
  it('SSH: the idle session\'s connection is destroyed and no longer counts against maxConnections', async () => {
    s = await startServer({ limits: { maxConnections: 1, idleTimeoutMs: 300, peerCloseMs: PEER_CLOSE_MS } });
    await sshClientViaProxy(s);
    expect(await sshServed(s.port)).toBe(false); // the one place is taken
    // the idle timeout ends the session, then the connection (SSH_MSG_DISCONNECT and FIN); the proxy withholds the
    // client's FIN: the server's socket must go on its own
    await until(() => proxy!.frozen === 1, 'the server to end the connection', 5_000);
    await until(() => sshServed(s!.port), 'the ended connection to stop counting against maxConnections', 3_000);
  });

  it('SSH: close() with a long grace does not wait for a client that never closes', async () => {
    s = await startServer({ limits: { closeGraceMs: 30_000, peerCloseMs: PEER_CLOSE_MS } });
    await sshClientViaProxy(s);
    await within(s.server.close(), 3_000, 'server close');
    expect(proxy!.frozen).toBe(1);
  });

  it('TLS: after close-session the connection is destroyed and no longer counts against maxConnections', async () => {
    s = await startServer({ tls: tlsOptions(), limits: { maxConnections: 1, peerCloseMs: PEER_CLOSE_MS } });
    const { port } = await s.server.listenTls('127.0.0.1', 0);
    const c = await tlsClientViaProxy(port);
    expect(await tlsServed(port)).toBe(false);
    await c.close(); // close-session: the server ends the TLS connection after its reply
    // the session's own end is bounded by limits.closeGraceMs (5 s by default); the wait here is shorter than that
    await until(() => tlsServed(port), 'the ended connection to stop counting against maxConnections', 2_500);
  });

  it('TLS: close() with a long grace does not wait for a client that never closes', async () => {
    s = await startServer({ tls: tlsOptions(), limits: { closeGraceMs: 30_000, peerCloseMs: PEER_CLOSE_MS } });
    const { port } = await s.server.listenTls('127.0.0.1', 0);
    await tlsClientViaProxy(port);
    await within(s.server.close(), 3_000, 'server close');
    expect(proxy!.frozen).toBe(1);
  });
});

describe('a client that closes normally', () => {
  it('TLS: a client still sending after our end is not cut off within the bound, and is past it', async () => {
    // after the server's end (close_notify and FIN) the client goes on sending for 400 ms, then closes: a socket the
    // server destroyed meanwhile answers with a reset, which the client's next write sees (EPIPE / ECONNRESET)
    const errorsWith = async (peerCloseMs: number): Promise<string[]> => {
      s = await startServer({ tls: tlsOptions(), limits: { peerCloseMs } });
      const { port } = await s.server.listenTls('127.0.0.1', 0);
      const errors: string[] = [];
      // allowHalfOpen: the server's end does not end ours (node honours it; @types/node's ConnectionOptions lacks it)
      const t = tlsConnect({ host: '127.0.0.1', port, cert: tls.admin.cert, key: tls.admin.key, ca: tls.pki.ca.cert, allowHalfOpen: true } as ConnectionOptions);
      t.on('error', (e: NodeJS.ErrnoException) => errors.push(String(e.code)));
      await new Promise((r) => t.once('secureConnect', r));
      t.write(`<hello xmlns="${BASE}"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>`);
      t.write(`<rpc xmlns="${BASE}" message-id="1"><close-session/></rpc>]]>]]>`);
      t.resume();
      await new Promise((r) => t.once('end', r));
      const tClosed = new Promise((r) => t.once('close', r));
      for (let i = 0; i < 8 && !t.destroyed; i++) {
        await new Promise((r) => setTimeout(r, 50));
        t.write('\n'); // whitespace between messages; the closing session drops its input anyway
      }
      t.end();
      await tClosed;
      await s.stop();
      s = undefined;
      return errors;
    };
    expect(await errorsWith(2_000)).toEqual([]);
    expect(await errorsWith(PEER_CLOSE_MS)).not.toEqual([]);
  });
});
