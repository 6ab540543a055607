/**
 * Regression (6 December 2026): limits.closeGraceMs bounded only the server's close(); close-session and a session the
 * client ends used ServerSession.close()'s fixed 5 s. Now every orderly end of a server session uses the configured
 * grace. Over in-memory streams (server.acceptStream) with fake setTimeout: the grace is measured on the fake clock,
 * never on the wall clock.
 */
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { NetconfServer } from '../../../src/netconf/server/index.js';
import { generateEd25519KeyPair } from '../../../src/netconf/server/index.js';
import { duplexPair } from '../../../src/netconf/session/index.js';
import { encodeEom } from '../../../src/netconf/framing/index.js';
import { CLIENT_HELLO_10, NS } from '../session/helpers.js';
import { useTestServers } from '../../helpers/netconf-server.js';

const T = 'urn:test:close-grace';
const KEY = generateEd25519KeyPair().private;
const GRACE_MS = 100;

const servers = useTestServers('hsv-close-grace-');
const peers: Duplex[] = [];
// before the servers close (hooks run in reverse): a session still waiting on a fake timer ends with its peer
afterEach(() => {
  vi.useRealTimers();
  for (const p of peers.splice(0)) p.destroy();
});

function start(): NetconfServer {
  const { server } = servers.start({ hostKeys: [KEY], auth: { users: [] }, limits: { closeGraceMs: GRACE_MS } });
  server.registry.addModule({ name: 'close-grace', revision: '2026-12-06', namespace: T, prefix: 'g', text: 'module close-grace {}' });
  server.registry.addRpc(T, 'hang', () => new Promise(() => undefined)); // a request that never finishes
  return server;
}

/** let the streams and the server run (real I/O turns, not timers), at most `turns` times, until `cond` holds */
async function settle(cond: () => boolean, what: string, turns = 200): Promise<void> {
  for (let i = 0; i < turns && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error(`not reached: ${what}`);
}

/** a client on an in-memory stream: sends its hello and `then`, reads nothing, never closes its side unless told */
function client(server: NetconfServer, ...then: string[]): { server: Duplex; peer: Duplex } {
  const [a, b] = duplexPair();
  server.acceptStream(a, { username: 'tester' });
  peers.push(b);
  b.on('error', () => undefined);
  b.write(encodeEom(CLIENT_HELLO_10));
  for (const m of then) b.write(encodeEom(m));
  return { server: a, peer: b };
}

describe('limits.closeGraceMs bounds every orderly end of a session', () => {
  it('close-session from a client that does not read the reply and never closes: torn down closeGraceMs after the end', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const server = start();
    const c = client(server, `<rpc xmlns="${NS}" message-id="1"><close-session/></rpc>`);
    // the reply is written and our side ended; the client's side stays open
    await settle(() => c.server.writableEnded, 'the server to end its side after the reply');
    expect(server.sessions()).toHaveLength(1);
    vi.advanceTimersByTime(GRACE_MS - 1);
    expect(server.sessions()).toHaveLength(1);
    expect(c.peer.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(server.sessions()).toHaveLength(0);
    expect(c.server.destroyed).toBe(true);
  });

  it('a client that ends its side during a request that never finishes: the server waits closeGraceMs for it, then ends its own', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const server = start();
    const c = client(server, `<rpc xmlns="${NS}" message-id="1"><hang xmlns="${T}"/></rpc>`);
    c.peer.end();
    await settle(() => c.server.readableEnded, 'the client\'s end to reach the server');
    await vi.advanceTimersByTimeAsync(GRACE_MS - 1);
    expect(c.server.writableEnded).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(c.server.writableEnded).toBe(true);
    // both sides ended: the stream closes and the session with it
    await settle(() => server.sessions().length === 0, 'the session to close');
  });
});
