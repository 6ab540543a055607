import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { connectNetconf, NetconfClientError } from '../../../src/netconf/client/index.js';
import { generateEd25519KeyPair, parseSshKey } from '../../../src/netconf/server/index.js';
import ssh2 from '../../../src/netconf/ssh/ssh2.js';
import { childText, el, leaf, NETCONF_NOTIFICATION_NS } from '../../../src/netconf/xml/index.js';
import { startServer } from '../server/helpers.js';
import type { Started } from '../server/helpers.js';

const T = 'urn:test:client';
let s: Started | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

describe('connectNetconf', () => {
  it('pins the host key as SHA256:, bare base64 or hex, or through a verifier', async () => {
    s = await startServer();
    const fp = s.fingerprint;
    const raw = Buffer.from(fp.slice('SHA256:'.length), 'base64');
    for (const pin of [fp, fp.slice(7), raw.toString('hex')]) {
      const c = await s.connect({ hostKeySha256: pin });
      expect(c.sessionId).toBeGreaterThan(0);
      await c.close();
    }
    const blobs: Buffer[] = [];
    const c = await s.connect({ hostKeySha256: undefined, hostVerifier: (k) => (blobs.push(k), true) });
    await c.close();
    expect('SHA256:' + createHash('sha256').update(blobs[0]!).digest('base64').replace(/=+$/, '')).toBe(fp);
    await expect(s.connect({ hostKeySha256: undefined, hostVerifier: () => false })).rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_HOST_KEY' });
  });

  it('fails closed on missing options', async () => {
    await expect(connectNetconf({ host: '127.0.0.1', port: 1, username: 'u', password: 'p' })).rejects.toBeInstanceOf(NetconfClientError);
    await expect(connectNetconf({ host: '127.0.0.1', port: 1, username: 'u', insecureAcceptAnyHostKey: true })).rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_OPTIONS' });
    await expect(connectNetconf({ host: '127.0.0.1', port: 1, username: 'u', password: 'p', hostKeySha256: 'nope' })).rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_OPTIONS' });
  });

  it('reports a refused connection as ERR_NETCONF_CLIENT_CONNECT', async () => {
    s = await startServer();
    const port = s.port;
    await s.stop();
    s = undefined;
    await expect(connectNetconf({ host: '127.0.0.1', port, username: 'u', password: 'p', insecureAcceptAnyHostKey: true })).rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_CONNECT' });
  });

  it('receives notifications over SSH and destroy() fails pending requests', async () => {
    s = await startServer();
    let hold: (() => void) | undefined;
    s.server.registry.addRpc(T, 'hold', () => new Promise((r) => { hold = () => r('ok'); }));
    s.server.registry.addRpc(T, 'noop', async () => 'ok');
    const c = await s.connect();
    await c.rpc(`<noop xmlns="${T}"/>`); // the server has the client hello: the session is established
    const [h] = s.server.sessions();
    h!.sendNotification(el(NETCONF_NOTIFICATION_NS, 'notification', leaf(NETCONF_NOTIFICATION_NS, 'eventTime', '2026-11-28T00:00:00Z'), leaf(T, 'e', 'one')));
    const it = c.notifications()[Symbol.asyncIterator]();
    const n = (await it.next()).value!;
    expect(childText(n, T, 'e')).toBe('one');
    expect(h!.counters.outNotifications).toBe(1);
    const pending = c.rpc(`<hold xmlns="${T}"/>`);
    const boom = new Error('stop now');
    c.destroy(boom);
    await expect(pending).rejects.toBe(boom);
    expect(await c.done).toBe(boom);
    expect((await it.next()).done).toBe(true);
    hold?.();
  });

  it('parseSshKey gives the same public key for the private and public forms', async () => {
    s = await startServer();
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const priv = parseSshKey(readFileSync(join(s.dataDir, 'ssh_host_ed25519_key'), 'utf8'));
    const pub = parseSshKey(readFileSync(join(s.dataDir, 'ssh_host_ed25519_key.pub'), 'utf8'));
    expect(priv.getPublicSSH().equals(pub.getPublicSSH())).toBe(true);
  });
});

describe('connectNetconf against a peer that never speaks SSH (regression: late ssh2 error after a timeout)', () => {
  it('rejects with ERR_NETCONF_CLIENT_CONNECT and survives the errors ssh2 emits afterwards', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((sock) => sockets.push(sock)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    try {
      const started = Date.now();
      await expect(connectNetconf({ host: '127.0.0.1', port, username: 'u', password: 'p', insecureAcceptAnyHostKey: true, connectTimeoutMs: 300 }))
        .rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_CONNECT' });
      expect(Date.now() - started).toBeLessThan(15_000);
      // the peer now goes away: ssh2 emits "Connection lost before handshake" on the old connection,
      // which used to have no listener left and crashed the process (vitest fails on uncaught errors)
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('rejects when the peer closes the connection before the handshake', async () => {
    const rude = createServer((sock) => sock.destroy());
    await new Promise<void>((r) => rude.listen(0, '127.0.0.1', r));
    const port = (rude.address() as AddressInfo).port;
    try {
      await expect(connectNetconf({ host: '127.0.0.1', port, username: 'u', password: 'p', insecureAcceptAnyHostKey: true, connectTimeoutMs: 5_000 }))
        .rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_CONNECT' });
    } finally {
      await new Promise<void>((r) => rude.close(() => r()));
    }
  });
});

describe('connectNetconf against an SSH server that never answers the netconf subsystem request', () => {
  // ssh2's readyTimeout ends at authentication: the subsystem request had no bound, and a connect could wait forever
  it('rejects with ERR_NETCONF_CLIENT_CONNECT within connectTimeoutMs and closes the connection', async () => {
    let closed = 0;
    let asked = 0;
    const clients: Array<{ end(): unknown }> = [];
    const mute = new ssh2.Server({ hostKeys: [generateEd25519KeyPair().private] }, (client) => {
      clients.push(client);
      client.on('error', () => undefined);
      client.on('close', () => closed++);
      client.on('authentication', (ctx) => ctx.accept());
      client.on('ready', () => client.on('session', (accept) => {
        accept().on('subsystem', () => {
          asked++; // neither accepted nor rejected
        });
      }));
    });
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const port = (mute.address() as AddressInfo).port;
    try {
      const started = Date.now();
      const settled = await Promise.race([
        connectNetconf({ host: '127.0.0.1', port, username: 'u', password: 'p', insecureAcceptAnyHostKey: true, connectTimeoutMs: 1_000 })
          .then(() => 'connected', (e: unknown) => e),
        new Promise((r) => setTimeout(() => r('still waiting after 8 s'), 8_000)),
      ]);
      expect(settled).toMatchObject({ code: 'ERR_NETCONF_CLIENT_CONNECT', message: expect.stringContaining('netconf subsystem did not open within 1000 ms') });
      expect(asked).toBe(1);
      expect(Date.now() - started).toBeLessThan(5_000);
      // our side tore the connection down: the server sees it close
      for (let i = 0; i < 100 && closed === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(closed).toBe(1);
    } finally {
      for (const c of clients) c.end(); // without the bound, the client would still be waiting here
      await new Promise<void>((r) => mute.close(() => r()));
    }
  }, 15_000);
});
