/**
 * SSH hardening of the NETCONF server (issue 11, items 4-6 and the SSH half of 9), over real loopback
 * sockets: login grace time from TCP accept, the cap on unauthenticated connections, per-source penalties
 * after failed logins, session caps per connection and per user, the idle timeout, the algorithms offered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import ssh2 from 'ssh2';
import { DEFAULT_IDLE_TIMEOUT_MS } from '../../../src/netconf/server/server.js';
import { SERVER_ALGORITHMS } from '../../../src/netconf/server/ssh-transport.js';
import { startServer } from './helpers.js';
import type { Started } from './helpers.js';
import { until } from '../../helpers/until.js';

let s: Started | undefined;
const opened: Array<Socket | ssh2.Client> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) o.destroy();
  await s?.stop();
  s = undefined;
});

/** a raw TCP connection; resolves when connected, records what it received and when it closed */
async function raw(port: number): Promise<{ sock: Socket; data: () => string; closed: Promise<void> }> {
  const sock = tcpConnect({ host: '127.0.0.1', port });
  opened.push(sock);
  let got = '';
  sock.on('data', (b: Buffer) => { got += b.toString('latin1'); });
  sock.on('error', () => undefined);
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  return { sock, data: () => got, closed };
}

/** whether a new TCP connection is closed by the server before it sends its identification line */
async function refusedAtAccept(port: number): Promise<boolean> {
  const r = await raw(port);
  const first = await Promise.race([r.closed.then(() => 'closed'), until(() => r.data().length > 0, 'server data', 5_000).then(() => 'data')]);
  r.sock.destroy();
  return first === 'closed' && r.data() === '';
}

/** an ssh2 client logged in (or the error) */
async function sshLogin(port: number, over: Partial<ssh2.ConnectConfig> = {}): Promise<ssh2.Client> {
  const conn = new ssh2.Client();
  opened.push(conn);
  await new Promise<void>((resolve, reject) => {
    conn.on('ready', resolve).on('error', reject).on('close', () => reject(new Error('closed')));
    conn.connect({ host: '127.0.0.1', port, username: 'admin', password: 'secret-pw', hostVerifier: () => true, readyTimeout: 10_000, ...over });
  });
  return conn;
}

const warnLines = (st: Started, msg: string): Array<Record<string, unknown>> =>
  st.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 'warn' && l.msg === msg);

describe('login grace time, counted from TCP accept', () => {
  it('closes a socket that never sends its identification line, and one that never authenticates', async () => {
    s = await startServer({ limits: { authTimeoutMs: 400 } });
    const silent = await raw(s.port);
    const identOnly = await raw(s.port);
    identOnly.sock.write('SSH-2.0-test_client\r\n');
    await Promise.race([Promise.all([silent.closed, identOnly.closed]), new Promise((_, rej) => setTimeout(() => rej(new Error('not closed')), 10_000))]);
    // the server sent its own identification line first (RFC 4253 section 4.2), then closed both
    expect(silent.data()).toMatch(/^SSH-2\.0-henb-sw-verify\r\n/);
    const lines = warnLines(s, 'login grace time exceeded; closing');
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => l.identified).sort()).toEqual([false, true]);
    expect(lines[0]).toMatchObject({ remoteAddress: '127.0.0.1', remotePort: expect.any(Number) });
    // two grace-time closes = 20 s of penalty (default 10 s each, refused from 15 s): the source is refused now
    await until(() => refusedAtAccept(s!.port), 'the source to be refused');
  });

  it('a login within the grace time is not cut off', async () => {
    s = await startServer({ limits: { authTimeoutMs: 1_500 } });
    const c = await s.connect();
    await new Promise((r) => setTimeout(r, 2_000));
    expect(s.server.sessions()).toHaveLength(1);
    await c.close(); // answered: the session outlived the grace time
    expect(await c.done).toBeUndefined();
  });
});

describe('cap on unauthenticated connections (MaxStartups)', () => {
  it('refuses a connection at accept while the cap is held, and admits again once a slot frees', async () => {
    s = await startServer({ limits: { maxUnauthenticated: 3, authTimeoutMs: 15_000 } });
    const held = [await raw(s.port), await raw(s.port), await raw(s.port)];
    // each held one got the server's identification line: all three count as accepted and unauthenticated
    await until(() => held.every((h) => h.data().startsWith('SSH-2.0-')), 'identification lines');
    const extra = await raw(s.port);
    await extra.closed;
    expect(extra.data()).toBe('');
    await expect(sshLogin(s.port)).rejects.toBeInstanceOf(Error);
    expect(warnLines(s, 'connection refused')[0]).toMatchObject({ reason: 'unauthenticated connection limit reached', remoteAddress: '127.0.0.1' });
    held[0]!.sock.destroy();
    await held[0]!.closed;
    // the server sees that close a moment later: bounded retries
    let conn: ssh2.Client | undefined;
    for (let i = 0; i < 50 && !conn; i++) conn = await sshLogin(s.port).catch(() => new Promise<undefined>((r) => setTimeout(() => r(undefined), 50)));
    expect(conn).toBeDefined();
    // an authenticated connection no longer counts: a slot is free again
    const another = await raw(s.port);
    await until(() => another.data().startsWith('SSH-2.0-'), 'identification line after a slot freed');
    conn!.end();
  });
});

describe('per-source penalties after failed logins', () => {
  it('delays failed attempts, logs them at warn with address and port, then refuses the source', async () => {
    s = await startServer({ ssh: { penalties: { authFailMs: 5_000, minMs: 8_000, failureDelayMs: 50, maxFailureDelayMs: 400 } } });
    for (let i = 0; i < 2; i++) await expect(s.connect({ password: `wrong-${i}` })).rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_CONNECT' });
    const failed = warnLines(s, 'authentication failed');
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({ method: 'password', username: 'admin', remoteAddress: '127.0.0.1', remotePort: expect.any(Number) });
    // two failed connections = 10 s of penalty (less the time between them) >= minMs (counted when the server sees each close): even the
    // right password is refused at accept now
    await until(() => refusedAtAccept(s!.port), 'the source to be refused');
    await expect(s.connect({ connectTimeoutMs: 5_000 })).rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_CONNECT' });
    expect(warnLines(s, 'connection refused')[0]).toMatchObject({ reason: 'source penalised after failed logins', remoteAddress: '127.0.0.1' });
  });

  it('an exempt source is never refused', async () => {
    s = await startServer({ ssh: { penalties: { authFailMs: 5_000, minMs: 5_000, failureDelayMs: 10, exempt: ['127.0.0.0/8'] } } });
    for (let i = 0; i < 3; i++) await expect(s.connect({ password: `wrong-${i}` })).rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_CONNECT' });
    const c = await s.connect();
    expect(c.sessionId).toBeGreaterThan(0);
  });

  it('closes the connection after maxAttempts failures, answering each failure only after the delay', async () => {
    s = await startServer({ auth: { users: [{ username: 'admin', password: 'secret-pw' }], maxAttempts: 3 }, ssh: { penalties: { failureDelayMs: 200, maxFailureDelayMs: 200 } } });
    const answeredAt: number[] = [];
    const conn = new ssh2.Client();
    opened.push(conn);
    let attempts = 0;
    const start = Date.now();
    await new Promise<void>((resolve) => {
      conn.on('ready', () => resolve()).on('error', () => resolve()).on('close', () => resolve());
      conn.connect({
        host: '127.0.0.1', port: s!.port, username: 'admin', hostVerifier: () => true,
        authHandler: (_m, _p, next) => {
          if (attempts > 0) answeredAt.push(Date.now() - start);
          attempts++;
          if (attempts > 10) return false;
          next({ type: 'password', username: 'admin', password: `wrong-${attempts}` });
          return undefined;
        },
      } as ssh2.ConnectConfig);
    });
    expect(attempts).toBe(3);
    // the second and third attempts were made only after the first and second failures were answered
    expect(answeredAt).toHaveLength(2);
    expect(answeredAt[1]! - answeredAt[0]!).toBeGreaterThanOrEqual(190);
    expect(warnLines(s, 'too many failed authentication attempts; closing')).toHaveLength(1);
  });
});

describe('session caps', () => {
  it('per SSH connection: a further session channel is refused', async () => {
    s = await startServer({ limits: { maxSessionsPerConnection: 2 } });
    const conn = await sshLogin(s.port);
    const sub = (): Promise<ssh2.ClientChannel> => new Promise((resolve, reject) => conn.subsys('netconf', (e, ch) => (e ? reject(e) : resolve(ch))));
    const a = await sub();
    await sub();
    await expect(sub()).rejects.toBeInstanceOf(Error);
    // sessions without a subsystem count too (2,000 idle channels must not be possible)
    expect(warnLines(s, 'session channel refused: per-connection limit')).toHaveLength(1);
    a.close();
    await until(() => s!.server.sessions().length === 1, 'one session left');
    const c = await sub();
    expect(c).toBeDefined();
  });

  it('per user: a further NETCONF session of the same user is refused, other users are not affected', async () => {
    s = await startServer({ limits: { maxSessionsPerUser: 2 } });
    const a = await s.connect();
    await s.connect();
    await expect(s.connect({ connectTimeoutMs: 5_000 })).rejects.toBeInstanceOf(Error);
    expect(warnLines(s, 'netconf session refused: per-user limit')[0]).toMatchObject({ username: 'admin', limit: 2 });
    const { clientKey } = await import('./helpers.js');
    const k = await s.connect({ username: 'keyuser', password: undefined, privateKey: clientKey.private });
    expect(k.sessionId).toBeGreaterThan(0);
    await a.close();
    await until(() => s!.server.sessions().filter((h) => h.username === 'admin').length === 1, 'admin session closed');
    const again = await s.connect();
    expect(again.sessionId).toBeGreaterThan(0);
  });
});

describe('idle timeout', () => {
  it('is on by default, and closes a session without traffic', async () => {
    expect(DEFAULT_IDLE_TIMEOUT_MS).toBe(3_600_000);
    s = await startServer({ limits: { idleTimeoutMs: 300 } });
    const c = await s.connect();
    const reason = await Promise.race([c.done, new Promise((_, rej) => setTimeout(() => rej(new Error('not closed')), 10_000))]);
    expect(reason).toBeInstanceOf(Error);
    await until(() => s!.logLines.some((l) => l.includes('ERR_SESSION_IDLE_TIMEOUT')), 'idle close logged');
  });
});

describe('algorithms offered', () => {
  it('curve25519 first, ETM MACs only, compression none or zlib@openssh.com', () => {
    expect(SERVER_ALGORITHMS.kex[0]).toBe('curve25519-sha256');
    expect(SERVER_ALGORITHMS.kex.some((k) => /sha1|nistp/.test(k))).toBe(false);
    expect(SERVER_ALGORITHMS.hmac.every((m) => m.endsWith('-etm@openssh.com') && !m.includes('sha1'))).toBe(true);
    expect(SERVER_ALGORITHMS.compress).toEqual(['none', 'zlib@openssh.com']);
  });

  it.each([
    ['hmac-sha1 only', { hmac: ['hmac-sha1'], cipher: ['aes128-ctr'] }],
    ['hmac-sha1-etm only', { hmac: ['hmac-sha1-etm@openssh.com'], cipher: ['aes128-ctr'] }],
    ['encrypt-and-MAC hmac-sha2-256 only', { hmac: ['hmac-sha2-256'], cipher: ['aes128-ctr'] }],
    ['plain zlib only', { compress: ['zlib'] }],
    ['NIST-curve key exchange only', { kex: ['ecdh-sha2-nistp256'] }],
    ['SHA-1 key exchange only', { kex: ['diffie-hellman-group14-sha1'] }],
  ])('a client that offers %s cannot connect', async (_what, algorithms) => {
    s ??= await startServer();
    await expect(sshLogin(s.port, { algorithms: algorithms as ssh2.Algorithms })).rejects.toBeInstanceOf(Error);
  });

  it('negotiates curve25519, an ETM MAC and zlib@openssh.com with a client that offers them', async () => {
    s = await startServer();
    const conn = new ssh2.Client();
    opened.push(conn);
    const negotiated = await new Promise<Record<string, unknown>>((resolve, reject) => {
      conn.on('handshake', (n) => resolve(n as unknown as Record<string, unknown>)).on('error', reject);
      conn.connect({
        host: '127.0.0.1', port: s!.port, username: 'admin', password: 'secret-pw', hostVerifier: () => true,
        algorithms: { cipher: ['aes128-ctr'], hmac: ['hmac-sha2-256-etm@openssh.com'], compress: ['zlib@openssh.com'] },
      });
    });
    expect(negotiated).toMatchObject({ kex: expect.stringMatching(/^curve25519-sha256/), cs: { mac: 'hmac-sha2-256-etm@openssh.com', compress: 'zlib@openssh.com' } });
  });

  it('offers encrypt-and-MAC hmac-sha2-256 only when configured (old libssh2 clients)', async () => {
    s = await startServer({ ssh: { macs: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-256'] } });
    const conn = await sshLogin(s.port, { algorithms: { cipher: ['aes128-ctr'], hmac: ['hmac-sha2-256'] } });
    conn.end();
    await expect(startServer({ ssh: { macs: ['hmac-sha1' as 'hmac-sha2-256'] } })).rejects.toThrow(/MAC not offered/);
  });
});
