/**
 * Nothing lost to load (issue 15), towards the PVE: a connection that failed before the integrity request was sent,
 * or after it was sent and before its answer (a reset, a session closed), is retried with the same request, with
 * full-jitter exponential backoff within the deadline (clock, sleep and RNG injected: no real sleeping); rpc-error
 * and RESTCONF error answers (PVE verdicts and refusals), timeouts and auth failures are never retried. Loopback
 * tests reset real TCP connections for both transports, and a real HTTPS server resets after reading the request.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreatePveTls } from '../../src/pve/tls.js';
import type { PveTlsMaterial } from '../../src/pve/tls.js';
import { createNetconfPveClient } from '../../src/pve/netconf-client.js';
import { createPveClient } from '../../src/pve/client.js';
import { PVE_NS } from '../../src/pve/restconf.js';
import { DeviceConnectError } from '../../src/device/connect.js';
import type { DeviceConnector, DeviceSession } from '../../src/device/connect.js';
import { NetconfError } from '../../src/netconf/rpc-error.js';
import { el, leaf } from '../../src/netconf/xml/build.js';
import { serializeXml as serialize } from '../../src/netconf/xml/index.js';
import { NETCONF_BASE_NS } from '../../src/netconf/xml/types.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';

const req = { henbId: 'h1', nonce: 'a1'.repeat(32), jobId: 'job-1' };
const target = { host: '127.0.0.1', port: 1, username: 'u', password: 'p', hostKeySha256: 'SHA256:' + 'A'.repeat(43) };

function session(answer: (op: XmlElement) => XmlElement, sent: XmlElement[]): DeviceSession {
  let closed = false;
  return {
    async rpc(op) {
      sent.push(op);
      return answer(op);
    },
    notifications: () => ({ [Symbol.asyncIterator]: () => ({ next: async () => ({ value: undefined, done: true as const }) }) }),
    get closed() { return closed; },
    whenClosed: async () => undefined,
    async close() { closed = true; },
  };
}
const verdict = (): XmlElement => el(NETCONF_BASE_NS, 'rpc-reply', leaf(PVE_NS, 'attestation-result', 'tok.en.jws'), leaf(PVE_NS, 'ear-status', 'affirming'));

function fakeClock(start = 5_000_000): { now: () => number; sleep: (ms: number, s: AbortSignal) => Promise<void>; delays: number[] } {
  let t = start;
  const delays: number[] = [];
  return { now: () => t, delays, sleep: async (ms) => { delays.push(ms); t += ms; } };
}

describe('PVE integrity request retry (NETCONF client, injected transport, clock and RNG)', () => {
  it('a PVE that resets N connections then answers: N+1 attempts, one request sent, delays jittered and bounded', async () => {
    const N = 4;
    let tries = 0;
    const sent: XmlElement[] = [];
    const connector: DeviceConnector = async () => {
      tries++;
      if (tries <= N) throw new DeviceConnectError('ERR_DEVICE_UNREACHABLE', 'cannot reach 127.0.0.1:1 (ECONNRESET)');
      return session(verdict, sent);
    };
    const clock = fakeClock();
    const rolls = [0.3, 0.9, 0.0, 0.6];
    let r = 0;
    const pve = createNetconfPveClient({ ...target, connector, retry: { initialMs: 50, maxMs: 300, random: () => rolls[r++]!, now: clock.now, sleep: clock.sleep } });
    const out = await pve.integrityRequest(req, new AbortController().signal, clock.now() + 30_000);
    expect(out).toEqual({ token: 'tok.en.jws', earStatus: 'affirming' });
    expect(tries).toBe(N + 1);
    expect(sent).toHaveLength(1);
    const caps = [50, 100, 200, 300];
    expect(clock.delays).toEqual(caps.map((c, i) => Math.floor(rolls[i]! * c)));
    clock.delays.forEach((d, i) => expect(d).toBeLessThan(caps[i]!));
  });

  it('keeps failing past the deadline: ERR_PVE_UNREACHABLE naming the attempts and the last error', async () => {
    let tries = 0;
    const connector: DeviceConnector = async () => {
      tries++;
      throw new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `cannot reach 127.0.0.1:1 (ECONNREFUSED)`);
    };
    const clock = fakeClock();
    const pve = createNetconfPveClient({ ...target, connector, retry: { initialMs: 100, maxMs: 400, random: () => 0.5, now: clock.now, sleep: clock.sleep } });
    const deadline = clock.now() + 1_000;
    const e = await pve.integrityRequest(req, new AbortController().signal, deadline).then(() => undefined, (x: unknown) => x as Error);
    // waits 50, 100, 200, 200, 200, 200 (= 950 ms), the next 200 would reach the deadline: 7 attempts
    expect(tries).toBe(7);
    expect(clock.delays).toEqual([50, 100, 200, 200, 200, 200]);
    expect(clock.now()).toBeLessThan(deadline);
    expect(e).toMatchObject({ code: 'ERR_PVE_UNREACHABLE' });
    expect(e?.message).toBe("the integrity request: no connection to the PVE after 7 attempts within the step's deadline; last error: cannot reach the PVE at 127.0.0.1:1 (ERR_DEVICE_UNREACHABLE)");
  });

  it('never retries a verdict or refusal (rpc-error) nor an auth failure', async () => {
    const sent: XmlElement[] = [];
    let tries = 0;
    const refusing: DeviceConnector = async () => {
      tries++;
      return session(() => { throw new NetconfError([{ type: 'application', tag: 'operation-failed', severity: 'error', appTag: 'henb-unreachable', message: 'no' }]); }, sent);
    };
    const clock = fakeClock();
    const pve = createNetconfPveClient({ ...target, connector: refusing, retry: { now: clock.now, sleep: clock.sleep } });
    await expect(pve.integrityRequest(req, new AbortController().signal, clock.now() + 30_000)).rejects.toMatchObject({ code: 'ERR_PVE_REJECTED' });
    expect(tries).toBe(1);
    expect(sent).toHaveLength(1);

    let authTries = 0;
    const auth: DeviceConnector = async () => {
      authTries++;
      throw new DeviceConnectError('ERR_DEVICE_AUTH', 'refused the credentials');
    };
    const pve2 = createNetconfPveClient({ ...target, connector: auth, retry: { now: clock.now, sleep: clock.sleep } });
    await expect(pve2.integrityRequest(req, new AbortController().signal, clock.now() + 30_000)).rejects.toMatchObject({ code: 'ERR_PVE_AUTH' });
    expect(authTries).toBe(1);
    expect(clock.delays).toEqual([]);
  });

  it('a session lost after the request was sent (before its reply) is sent again, the same request: the PVE answers a repeat with the first outcome', async () => {
    let tries = 0;
    const sent: XmlElement[] = [];
    const connector: DeviceConnector = async () => {
      tries++;
      const lost = tries === 1;
      return session(() => {
        if (lost) throw Object.assign(new Error('transport closed before the reply to message-id 1'), { code: 'ERR_SESSION_CLOSED' });
        return verdict();
      }, sent);
    };
    const clock = fakeClock();
    const pve = createNetconfPveClient({ ...target, connector, retry: { initialMs: 100, random: () => 0.5, now: clock.now, sleep: clock.sleep } });
    await expect(pve.integrityRequest(req, new AbortController().signal, clock.now() + 30_000)).resolves.toEqual({ token: 'tok.en.jws', earStatus: 'affirming' });
    expect(tries).toBe(2);
    expect(clock.delays).toEqual([50]);
    expect(sent).toHaveLength(2);
    expect(serialize(sent[1]!)).toBe(serialize(sent[0]!));
  });

  it('a session lost before every reply: bounded by the deadline, then "no answer from the PVE" with the attempts', async () => {
    let tries = 0;
    const connector: DeviceConnector = async () => {
      tries++;
      return session(() => { throw Object.assign(new Error('session closed'), { code: 'ERR_SESSION_CLOSED' }); }, []);
    };
    const clock = fakeClock();
    const pve = createNetconfPveClient({ ...target, connector, retry: { initialMs: 100, maxMs: 400, random: () => 0.5, now: clock.now, sleep: clock.sleep } });
    const e = await pve.integrityRequest(req, new AbortController().signal, clock.now() + 1_000).then(() => undefined, (x: unknown) => x as Error);
    expect(tries).toBe(7);
    expect(e).toMatchObject({ code: 'ERR_PVE_UNREACHABLE' });
    expect(e?.message).toMatch(/^the integrity request: no answer from the PVE after 7 attempts within the step's deadline; /);
  });

  it('a timeout is not retried (the PVE may still be working on it)', async () => {
    let tries = 0;
    const connector: DeviceConnector = async () => {
      tries++;
      return { ...session(verdict, []), rpc: (_op, o) => new Promise<XmlElement>((_r, reject) => o?.signal?.addEventListener('abort', () => reject(o.signal!.reason as Error))) };
    };
    const clock = fakeClock();
    const pve = createNetconfPveClient({ ...target, connector, timeoutMs: 50, retry: { now: clock.now, sleep: clock.sleep } });
    await expect(pve.integrityRequest(req, new AbortController().signal, clock.now() + 30_000)).rejects.toMatchObject({ code: 'ERR_PVE_TIMEOUT' });
    expect(tries).toBe(1);
  });
});

describe('PVE retry over loopback TCP (real sockets)', () => {
  let server: Server | undefined;
  let accepted = 0;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });
  async function resetting(): Promise<number> {
    accepted = 0;
    server = createServer((sock: Socket) => {
      accepted++;
      sock.resetAndDestroy();
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    return (server.address() as { port: number }).port;
  }

  it('RESTCONF: every TLS handshake reset, bounded attempts, then the attempts and ECONNRESET in the reason', async () => {
    const port = await resetting();
    const clock = fakeClock();
    const pve = createPveClient({ url: `https://127.0.0.1:${port}`, ca: '', timeoutMs: 5_000, retry: { initialMs: 10, maxMs: 40, attempts: 3, random: () => 0.5, now: clock.now, sleep: clock.sleep } });
    try {
      const e = await pve.integrityRequest(req, new AbortController().signal).then(() => undefined, (x: unknown) => x as Error);
      expect(e).toMatchObject({ code: 'ERR_PVE_UNREACHABLE' });
      expect(e?.message).toMatch(/^the integrity request: no connection to the PVE after 3 attempts; last error: cannot reach the PVE at 127\.0\.0\.1:\d+ \(ECONNRESET\)$/);
      expect(accepted).toBe(3);
      expect(clock.delays).toEqual([5, 10]);
    } finally {
      pve.close();
    }
  }, 20_000);

  it('NETCONF: every SSH connection reset, bounded attempts, then the attempts in the reason', async () => {
    const port = await resetting();
    const clock = fakeClock();
    const pve = createNetconfPveClient({ ...target, port, timeoutMs: 5_000, retry: { initialMs: 10, maxMs: 40, attempts: 4, random: () => 0.5, now: clock.now, sleep: clock.sleep } });
    const e = await pve.integrityRequest(req, new AbortController().signal).then(() => undefined, (x: unknown) => x as Error);
    expect(e).toMatchObject({ code: 'ERR_PVE_UNREACHABLE' });
    expect(e?.message).toMatch(/^the integrity request: no connection to the PVE after 4 attempts; last error: cannot reach the PVE at 127\.0\.0\.1:\d+ \(ERR_DEVICE_UNREACHABLE\)$/);
    expect(accepted).toBe(4);
  }, 20_000);
});

describe('PVE RESTCONF: a connection closed after the request was read (real HTTPS on loopback)', () => {
  let dir: string;
  let tls: PveTlsMaterial;
  let https: HttpsServer | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hsv-pve-retry-tls-'));
    tls = await loadOrCreatePveTls(dir, ['127.0.0.1']);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await new Promise<void>((r) => (https ? https.close(() => r()) : r()));
    https = undefined;
  });

  /** an HTTPS server that reads each request's body, closes the first `lose` connections unanswered, then answers a verdict */
  async function losing(lose: number, bodies: string[]): Promise<number> {
    https = createHttpsServer({ key: tls.key, cert: tls.cert }, (rq, rs) => {
      const chunks: Buffer[] = [];
      rq.on('data', (c: Buffer) => chunks.push(c));
      rq.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        if (bodies.length <= lose) {
          // closed before the answer: the client sees 'socket hang up' (ECONNRESET)
          rq.socket.destroy();
          return;
        }
        rs.writeHead(200, { 'Content-Type': 'application/yang-data+json' });
        rs.end(JSON.stringify({ 'henb-sw-verify-pve:output': { 'ear-status': 'affirming', 'attestation-result': 'tok.en.jws' } }));
      });
    });
    await new Promise<void>((r) => https!.listen(0, '127.0.0.1', () => r()));
    return (https.address() as { port: number }).port;
  }

  it('the request is sent again, the same body, after jittered waits; a PVE that keeps losing answers: "no answer" with the attempts', async () => {
    const bodies: string[] = [];
    const port = await losing(2, bodies);
    const clock = fakeClock();
    const pve = createPveClient({ url: `https://127.0.0.1:${port}`, ca: tls.ca, timeoutMs: 5_000, retry: { initialMs: 10, maxMs: 40, random: () => 0.5, now: clock.now, sleep: clock.sleep } });
    try {
      await expect(pve.integrityRequest(req, new AbortController().signal, clock.now() + 30_000)).resolves.toEqual({ token: 'tok.en.jws', earStatus: 'affirming' });
      expect(bodies).toHaveLength(3);
      expect(new Set(bodies).size).toBe(1);
      expect(clock.delays).toEqual([5, 10]);
    } finally {
      pve.close();
    }
    const lost: string[] = [];
    const port2 = await (async () => {
      await new Promise<void>((r) => https!.close(() => r()));
      return losing(99, lost);
    })();
    const pve2 = createPveClient({ url: `https://127.0.0.1:${port2}`, ca: tls.ca, timeoutMs: 5_000, retry: { initialMs: 10, maxMs: 40, attempts: 3, random: () => 0.5, now: clock.now, sleep: clock.sleep } });
    try {
      const e = await pve2.integrityRequest(req, new AbortController().signal).then(() => undefined, (x: unknown) => x as Error);
      expect(e).toMatchObject({ code: 'ERR_PVE_UNREACHABLE' });
      expect(e?.message).toMatch(/^the integrity request: no answer from the PVE after 3 attempts; last error: cannot reach the PVE at 127\.0\.0\.1:\d+ \(ECONNRESET\)$/);
      expect(lost).toHaveLength(3);
    } finally {
      pve2.close();
    }
  }, 20_000);

  it('a RESTCONF error answer is not retried', async () => {
    let n = 0;
    https = createHttpsServer({ key: tls.key, cert: tls.cert }, (rq, rs) => {
      n++;
      rq.resume();
      rq.on('end', () => {
        rs.writeHead(400, { 'Content-Type': 'application/yang-data+json' });
        rs.end(JSON.stringify({ 'ietf-restconf:errors': { error: [{ 'error-type': 'application', 'error-tag': 'invalid-value', 'error-app-tag': 'nonce-reused' }] } }));
      });
    });
    await new Promise<void>((r) => https!.listen(0, '127.0.0.1', () => r()));
    const clock = fakeClock();
    const pve = createPveClient({ url: `https://127.0.0.1:${(https.address() as { port: number }).port}`, ca: tls.ca, retry: { now: clock.now, sleep: clock.sleep } });
    try {
      await expect(pve.integrityRequest(req, new AbortController().signal, clock.now() + 30_000)).rejects.toMatchObject({ code: 'ERR_PVE_REJECTED', appTag: 'nonce-reused' });
      expect(n).toBe(1);
      expect(clock.delays).toEqual([]);
    } finally {
      pve.close();
    }
  }, 20_000);
});
