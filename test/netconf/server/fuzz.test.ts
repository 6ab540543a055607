/**
 * Fuzz: random and mutated frames thrown at a real loopback server (fast-check, bounded). The server
 * must never crash, must answer or close each bad session, and a healthy session opened beforehand must
 * keep working throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import ssh2 from 'ssh2';
import { encodeChunked, encodeEom } from '../../../src/netconf/framing/index.js';
import { childText, el, leaf, NETCONF_BASE_NS } from '../../../src/netconf/xml/index.js';
import type { NetconfClient } from '../../../src/netconf/client/index.js';
import { startServer } from './helpers.js';
import type { Started } from './helpers.js';

const N = NETCONF_BASE_NS;
const T = 'urn:test:fuzz';
let s: Started;
let healthy: NetconfClient;

beforeAll(async () => {
  s = await startServer({ limits: { maxMessageBytes: 64 * 1024, helloTimeoutMs: 2000, maxSessions: 20 } });
  s.server.registry.addRpc(T, 'echo', async (op) => [leaf(T, 'out', childText(op, T, 'in') ?? '')]);
  healthy = await s.connect();
});
afterAll(async () => {
  await s.stop();
});

const HELLO_10 = `<hello xmlns="${N}"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>`;
const HELLO_11 = `<hello xmlns="${N}"><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>`;
const validRpc = (i: number): string => `<rpc xmlns="${N}" message-id="${i}"><echo xmlns="${T}"><in>${i}</in></echo></rpc>`;

const mutate = (buf: Buffer, flips: Array<[number, number]>): Buffer => {
  const b = Buffer.from(buf);
  for (const [pos, v] of flips) if (b.length > 0) b[pos % b.length] = v;
  return b;
};

const piece = fc.oneof(
  fc.nat(1000).map((i) => ({ kind: 'valid' as const, i })),
  fc.tuple(fc.nat(1000), fc.array(fc.tuple(fc.nat(500), fc.nat(255)), { minLength: 1, maxLength: 6 })).map(([i, flips]) => ({ kind: 'mutated' as const, i, flips })),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ kind: 'random' as const, bytes })),
  fc.constantFrom('\n#0\n', '\n#99999999999\n', '\n#4294967296\n', '\n##\n', ']]>]]>', '\n#5\nab', '<!DOCTYPE x>', `<rpc xmlns="${N}"><get/></rpc>`, HELLO_10)
    .map((text) => ({ kind: 'text' as const, text })),
);

async function rawSession(): Promise<{ ch: ssh2.ClientChannel; conn: ssh2.Client; closed: Promise<void> }> {
  const conn = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    conn.on('ready', resolve).on('error', reject);
    conn.connect({ host: '127.0.0.1', port: s.port, username: 'admin', password: 'secret-pw', hostVerifier: () => true });
  });
  conn.on('error', () => undefined);
  const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) => conn.subsys('netconf', (e, c) => (e ? reject(e) : resolve(c))));
  ch.on('data', () => undefined);
  ch.on('error', () => undefined);
  const closed = new Promise<void>((r) => ch.on('close', () => r()));
  return { ch, conn, closed };
}

describe('fuzz: malformed input never crashes the server', () => {
  it('random and mutated frames, split at arbitrary points', async () => {
    let i = 0;
    await fc.assert(fc.asyncProperty(
      fc.boolean(), fc.boolean(), fc.array(piece, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(3000), { maxLength: 6 }),
      async (base11, helloMutated, pieces, cuts) => {
        const chunked = base11;
        const frame = (x: string | Buffer): Buffer => (chunked ? encodeChunked(x) : encodeEom(x));
        const parts: Buffer[] = [encodeEom(helloMutated ? mutate(Buffer.from(base11 ? HELLO_11 : HELLO_10), [[40, 0x3c]]) : (base11 ? HELLO_11 : HELLO_10))];
        for (const p of pieces) {
          if (p.kind === 'valid') parts.push(frame(validRpc(p.i)));
          else if (p.kind === 'mutated') parts.push(mutate(frame(validRpc(p.i)), p.flips));
          else if (p.kind === 'random') parts.push(Buffer.from(p.bytes));
          else parts.push(Buffer.from(p.text));
        }
        const all = Buffer.concat(parts);
        const { ch, conn, closed } = await rawSession();
        let prev = 0;
        for (const c of [...cuts.map((x) => x % (all.length + 1)).sort((a, b) => a - b), all.length]) {
          if (c > prev) ch.write(all.subarray(prev, c));
          prev = Math.max(prev, c);
        }
        await Promise.race([closed, new Promise((r) => setTimeout(r, 30))]);
        conn.end();
        await closed;
        // the healthy session is unaffected
        i++;
        const r = await healthy.rpc(el(T, 'echo', leaf(T, 'in', `h${i}`)));
        expect(childText(r, T, 'out')).toBe(`h${i}`);
      }), { numRuns: 40 });
    // and the server keeps accepting sessions
    const c = await s.connect();
    expect(childText(await c.rpc(el(T, 'echo', leaf(T, 'in', 'end'))), T, 'out')).toBe('end');
    await c.close();
    for (let k = 0; k < 100 && s.server.sessions().length > 1; k++) await new Promise((r) => setTimeout(r, 10));
    expect(s.server.sessions().map((x) => x.id)).toEqual([healthy.sessionId]);
    const k = s.server.info.counters;
    expect(k.inBadRpcs + k.inBadHellos).toBeGreaterThan(0);
  });
});
