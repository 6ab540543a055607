/**
 * Fuzz corpus for the XML limits (issue 11, items 2 and 3), over a real loopback SSH server: each payload of
 * the issue (fuzz-corpus/payloads.ts) and generated ones (fast-check, a bounded number of runs) is sent on its
 * own session while another, healthy session keeps asking `get`. Asserted: the answer (malformed-message for
 * an <rpc> over a limit, an ordinary reply within the limits, the session closed for a <hello> over a limit),
 * that the healthy session is answered every time, and that the process's RSS stays within a generous bound.
 * No wall-clock assertion: bench/xml-limits.ts and bench/_xml-attack-server.ts print the times.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import ssh2 from 'ssh2';
import { encodeChunked, encodeEom } from '../../../src/netconf/framing/index.js';
import { DEFAULT_PARSE_LIMITS, el, NETCONF_BASE_NS } from '../../../src/netconf/xml/index.js';
import { connectNetconf } from '../../../src/netconf/client/index.js';
import type { NetconfClient } from '../../../src/netconf/client/index.js';
import { PASSWORD, USER, useTestServers } from '../../helpers/netconf-server.js';
import type { TestServer } from '../../helpers/netconf-server.js';
import { ISSUE_PAYLOADS } from './fuzz-corpus/payloads.js';

const N = NETCONF_BASE_NS;
/** sent after a hello under test: a reply to it shows the hello was accepted */
const GET = `<rpc message-id="8" xmlns="${N}"><get/></rpc>`;
const HELLO_11 = `<hello xmlns="${N}"><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>`;
/**
 * Generous, for the whole file in one vitest worker (SSH server, clients, fast-check, payload strings): measured
 * 339-347 MiB on main with the limits in place. Before the limits a single 325 KB <rpc> of the issue took 2.5 GB
 * and the 400 KB <hello> ran the process out of heap, so this bound still catches the regression it is for.
 */
const RSS_GROWTH_BOUND = 640 * 1024 * 1024;

const servers = useTestServers('hsv-xml-fuzz-');

let ts: TestServer;
let port: number;
let healthy: NetconfClient;
let rssBefore: number;

/** a server and a healthy client per test (useTestServers closes the server after each test) */
async function setup(): Promise<void> {
  ts = servers.start({ standard: true });
  port = (await ts.server.listen('127.0.0.1', 0)).port;
  healthy = await connectNetconf({ host: '127.0.0.1', port, username: USER, password: PASSWORD, hostKeySha256: ts.server.hostKeyFingerprints[0]!, rpcTimeoutMs: 15_000 });
}

beforeAll(() => {
  rssBefore = process.memoryUsage().rss;
});
afterAll(() => {
  // every payload and generated case done: the RSS grew by less than the bound
  expect(process.memoryUsage().rss - rssBefore).toBeLessThan(RSS_GROWTH_BOUND);
});

interface Outcome { closed: boolean; text: string }

/** one raw session: sends `hello` then `rpc`; resolves at the first reply or the close */
async function attack(hello: string, rpc: string): Promise<Outcome> {
  const conn = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    conn.on('ready', resolve).on('error', reject);
    conn.connect({ host: '127.0.0.1', port, username: USER, password: PASSWORD, hostVerifier: () => true });
  });
  conn.on('error', () => undefined);
  try {
    const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) => conn.subsys('netconf', (e, c) => (e ? reject(e) : resolve(c))));
    let text = '';
    let serverHello = true;
    return await new Promise<Outcome>((resolve) => {
      ch.on('data', (d: Buffer) => {
        text += d.toString('utf8');
        if (serverHello) {
          const i = text.indexOf(']]>]]>');
          if (i < 0) return;
          serverHello = false;
          text = text.slice(i + 6);
        }
        if (text.includes('</rpc-reply>')) resolve({ closed: false, text });
      });
      ch.on('error', () => undefined);
      ch.on('close', () => resolve({ closed: true, text }));
      ch.write(encodeEom(hello));
      ch.write(encodeChunked(rpc));
    });
  } finally {
    conn.end();
  }
}

/** the attack and a healthy get at the same time; the get must be answered */
async function withHealthyGet(p: Promise<Outcome>): Promise<Outcome> {
  const [out, reply] = await Promise.all([p, healthy.rpc(el(N, 'get'))]);
  expect(reply.name).toBe('rpc-reply');
  // and once more after the attack is over
  expect((await healthy.rpc(el(N, 'get'))).name).toBe('rpc-reply');
  return out;
}

describe('xml fuzz corpus: the payloads of issue 11', () => {
  for (const p of ISSUE_PAYLOADS) {
    it(`${p.name}: ${p.hello ? 'the session is closed' : 'malformed-message'}, another session's get is answered`, async () => {
      await setup();
      const out = await withHealthyGet(p.hello ? attack(p.build(), GET) : attack(HELLO_11, p.build()));
      if (p.hello) {
        expect(out.closed).toBe(true);
        expect(out.text).not.toContain('rpc-reply');
        expect(ts.server.info.counters.inBadHellos).toBe(1);
      } else {
        expect(out.text).toContain('<error-tag>malformed-message</error-tag>');
        expect(ts.server.info.counters.inBadRpcs).toBeGreaterThan(0);
      }
      await healthy.close();
    });
  }
});

/** a generated message: a tower of `depth` elements, each with `decls` namespace declarations and `attrs` attributes */
interface Shape { depth: number; decls: number; attrs: number; distinct: boolean; hello: boolean }

function build(s: Shape): string {
  let open = '';
  let close = '';
  for (let i = 0; i < s.depth; i++) {
    let a = '';
    for (let j = 0; j < s.decls; j++) a += ` xmlns:p${s.distinct ? i : 0}x${j}="u:${i}:${j}"`;
    for (let j = 0; j < s.attrs; j++) a += ` a${j}="${j}"`;
    open += `<e${a}>`;
    close = '</e>' + close;
  }
  return s.hello
    ? `<hello xmlns="${N}"><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities>${open}${close}</hello>`
    : `<rpc message-id="7" xmlns="${N}"><get><filter type="subtree">${open}${close}</filter></get></rpc>`;
}

/** the oracle: does the shape exceed a default limit? (the envelope adds 3 levels, 1 declaration, 1 prefix) */
function exceeds(s: Shape): boolean {
  const L = DEFAULT_PARSE_LIMITS;
  const envelope = s.hello ? 1 : 3;
  if (s.depth === 0) return false;
  return envelope + s.depth > L.maxDepth
    || s.decls > L.maxNsDeclarationsPerElement
    || s.decls + s.attrs > L.maxAttributes
    || 1 + s.decls * s.depth > L.maxNsDeclarations
    || 1 + (s.distinct ? s.decls * s.depth : s.decls) > L.maxPrefixesInScope;
}

describe('xml fuzz: generated shapes around every limit', () => {
  it('over a limit: malformed-message (or the hello ends the session); within: an ordinary reply; another session is answered', async () => {
    await setup();
    const shape = fc.record({
      depth: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 240, max: 270 }), fc.integer({ min: 1000, max: 20_000 })),
      decls: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 28, max: 40 })),
      attrs: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 28, max: 70 })),
      distinct: fc.boolean(),
      hello: fc.boolean(),
    });
    let over = 0;
    let within = 0;
    await fc.assert(fc.asyncProperty(shape, async (s) => {
      const xml = build(s);
      const out = await withHealthyGet(s.hello ? attack(xml, GET) : attack(HELLO_11, xml));
      if (exceeds(s)) {
        over++;
        if (s.hello) expect(out.closed).toBe(true);
        else expect(out.text).toContain('<error-tag>malformed-message</error-tag>');
      } else {
        within++;
        if (s.hello) expect(out.text).toContain('</rpc-reply>');
        else {
          expect(out.text).toContain('</rpc-reply>');
          expect(out.text).not.toContain('malformed-message');
        }
      }
    }), { numRuns: 30, seed: 11 });
    // the runs covered both sides of the limits
    expect(over).toBeGreaterThan(0);
    expect(within).toBeGreaterThan(0);
    await healthy.close();
  });
});
