/**
 * Regression (half-closed sockets, 6 December 2026): the client's socket to a server that never closes its side
 * after we end the connection stayed open (FIN-WAIT-2) for good over SSH, and until the session's own bound
 * (5 s) over TLS. Now it is destroyed `peerCloseMs` after we end it (src/netconf/peer-close.ts). Over SSH the
 * server sits behind a proxy that withholds every FIN (test/helpers/never-close-proxy.ts); over TLS it is a server
 * that answers close-session and never ends its side. The bound is 100 ms and each wait below allows 25 times that.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { connectNetconf, connectNetconfTls } from '../../../src/netconf/client/index.js';
import type { NetconfClient } from '../../../src/netconf/client/index.js';
import { startServer } from '../server/helpers.js';
import type { Started } from '../server/helpers.js';
import { startNeverCloseProxy } from '../../helpers/never-close-proxy.js';
import type { NeverCloseProxy } from '../../helpers/never-close-proxy.js';
import { captureConnects } from '../../helpers/socket-capture.js';
import type { ConnectCapture } from '../../helpers/socket-capture.js';
import { useAdminPki } from '../../helpers/admin-pki.js';
import { until } from '../../helpers/until.js';

const PEER_CLOSE_MS = 100;
const BASE = 'urn:ietf:params:xml:ns:netconf:base:1.0';

let s: Started | undefined;
let proxy: NeverCloseProxy | undefined;
let capture: ConnectCapture;
const clients: NetconfClient[] = [];
const servers: TlsServer[] = [];
const hungSockets: TLSSocket[] = [];
beforeEach(() => {
  capture = captureConnects();
});
afterEach(async () => {
  capture.stop();
  for (const c of clients.splice(0)) c.destroy();
  for (const t of hungSockets.splice(0)) t.destroy();
  for (const h of servers.splice(0)) await new Promise<void>((r) => h.close(() => r()));
  await proxy?.close();
  proxy = undefined;
  await s?.stop();
  s = undefined;
});

const tls = useAdminPki();

/** our one socket to the proxy */
function ourSocket(): ReturnType<ConnectCapture['to']>[number] {
  const mine = capture.to(proxy!.port);
  expect(mine).toHaveLength(1);
  return mine[0]!;
}

async function sshClient(over: { idleTimeoutMs?: number } = {}): Promise<NetconfClient> {
  s = await startServer({ limits: { ...over } });
  proxy = await startNeverCloseProxy(s.port);
  const c = await connectNetconf({ host: '127.0.0.1', port: proxy.port, username: 'admin', password: 'secret-pw', hostKeySha256: s.fingerprint, peerCloseMs: PEER_CLOSE_MS });
  clients.push(c);
  return c;
}

describe('the client ends the connection; the server never closes its side', () => {
  it('SSH close(): the socket is destroyed', async () => {
    const c = await sshClient();
    const sock = ourSocket();
    await c.close();
    await until(() => proxy!.frozen === 1, 'an end of the connection', 5_000);
    await until(() => sock.closed, 'our socket to close', 2_500);
  });

  it('SSH, the server ended the session but its FIN never arrives: the socket is destroyed', async () => {
    const c = await sshClient({ idleTimeoutMs: 300 });
    const sock = ourSocket();
    expect(await c.done).toBeInstanceOf(Error); // the session ended (the server's idle timeout)
    await until(() => sock.closed, 'our socket to close', 2_500);
  });

  it('TLS close(): the socket is destroyed', async () => {
    // a NETCONF over TLS server that answers close-session and never ends its side (allowHalfOpen: our close_notify
    // and FIN do not make it end its own); a proxy would not do here: the server's own close_notify is data it passes
    const hung = createTlsServer({ cert: tls.pki.server.cert, key: tls.pki.server.key, ca: tls.pki.ca.cert, requestCert: true, allowHalfOpen: true }, (t) => {
      t.on('error', () => undefined);
      hungSockets.push(t);
      t.write(`<hello xmlns="${BASE}"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities><session-id>7</session-id></hello>]]>]]>`);
      let got = '';
      t.on('data', (b: Buffer) => {
        got += b.toString('utf8');
        const m = /<rpc [^>]*message-id="([^"]+)"[^>]*>\s*<close-session/.exec(got);
        if (!m) return;
        t.write(`<rpc-reply xmlns="${BASE}" message-id="${m[1]}"><ok/></rpc-reply>]]>]]>`);
      });
    });
    servers.push(hung);
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', () => r()));
    const port = (hung.address() as AddressInfo).port;
    const c = await connectNetconfTls({ host: '127.0.0.1', port, cert: tls.admin.cert, key: tls.admin.key, ca: tls.pki.ca.cert, peerCloseMs: PEER_CLOSE_MS });
    clients.push(c);
    const [sock] = capture.to(port);
    const closing = c.close();
    // the client session's own end is bounded at 5 s (ClientSession.close); the wait here is shorter than that
    await until(() => sock!.closed, 'our socket to close', 2_500);
    await closing;
  });
});
