/**
 * The software-update reply names every H(e)NB of the request with a `job` entry: its namespace is declared once, on
 * the rpc-reply (server-session hoistedNamespaces + the serializer's in-scope prefixes), not once per entry. Before,
 * a reply naming 10,000 H(e)NBs carried 10,000 declarations and our own client refused it ("more than 10000
 * namespace declarations in one message"; bench/fleet.ts had to send batches). Here: 10,001 H(e)NBs in one RPC
 * over NETCONF/SSH on loopback, the reply parsed by our client with its default limits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NETCONF_BASE_NS, childText, childrenNamed, el, leaf, parseXml, serializeXml } from '../../src/netconf/xml/index.js';
import { hoistedNamespaces } from '../../src/netconf/session/server-session.js';
import { HSV_NS, OamService } from '../../src/oam-plugin/northbound.js';
import type { PveClient } from '../../src/oam/ports.js';
import { startServer } from '../netconf/server/helpers.js';
import type { Started } from '../netconf/server/helpers.js';
import { FakeDevices, FakeFetcher, FakeTokens, MemoryStore } from '../oam/fakes.js';

let s: Started | undefined;
let svc: OamService | undefined;
afterEach(async () => {
  await svc?.close();
  await s?.stop();
  s = undefined;
  svc = undefined;
});

/** a PVE that answers nothing before the step ends (the jobs stay in their PVE step; the reply is what is tested) */
const pve: PveClient = {
  integrityRequest: (_req, signal) => new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })),
};

describe('software-update reply: one namespace declaration for the whole job list', () => {
  it('a reply of 10,001 job entries is parsed by our own client (default limit: 10,000 declarations per message)', async () => {
    // the server path of a software-update reply: a handler's list of entries, hoisted and serialised by the server
    // session, over NETCONF/SSH on loopback (the OamService handler itself is checked below with 3 H(e)NBs: 10,001
    // jobs through the runner's in-memory test store take minutes)
    s = await startServer();
    const ids = Array.from({ length: 10_001 }, (_, i) => `henb-${i + 1}`);
    for (const [name, ctx] of [['with-prefix', { hsv: HSV_NS }], ['without-prefix', undefined]] as const) {
      s.server.registry.addRpc(HSV_NS, name, async () => ids.map((id) => ({
        ...el(HSV_NS, 'job', leaf(HSV_NS, 'henb-id', id), leaf(HSV_NS, 'job-id', `job-${id}`), leaf(HSV_NS, 'status', 'started')),
        ...(ctx !== undefined ? { nsContext: ctx } : {}),
      })));
    }
    const c = await s.connect({ rpcTimeoutMs: 60_000 });
    for (const name of ['with-prefix', 'without-prefix']) {
      const reply = await c.rpc(el(HSV_NS, name));
      const jobs = childrenNamed(reply, HSV_NS, 'job');
      expect(jobs).toHaveLength(10_001);
      expect(jobs.map((j) => childText(j, HSV_NS, 'henb-id'))).toEqual(ids);
    }
  }, 120_000);

  it('the reply text declares the namespace once, on the rpc-reply, with the module prefix', async () => {
    let seq = 0;
    svc = new OamService({
      store: new MemoryStore(), pve, devices: new FakeDevices(), fetcher: new FakeFetcher(), tokens: new FakeTokens(),
      newNonce: () => (++seq).toString(16).padStart(64, '0'), inventory: () => ['a', 'b', 'c'], jwks: () => ({ keys: [] }),
    });
    const out = await svc.softwareUpdate(el(HSV_NS, 'software-update', ['a', 'b', 'c'].map((id) => leaf(HSV_NS, 'henb-id', id)),
      el(HSV_NS, 'software', leaf(HSV_NS, 'uri', 'https://images.example/2.0.0.img'))));
    // the rpc-reply as the server session builds it (echoing an <rpc> with only the base namespace)
    const text = serializeXml({ ns: NETCONF_BASE_NS, name: 'rpc-reply', attrs: [], children: out, nsContext: hoistedNamespaces({ '': NETCONF_BASE_NS }, out) });
    expect(text.split(HSV_NS).length - 1).toBe(1);
    expect(text).toMatch(new RegExp(`^<rpc-reply xmlns="${NETCONF_BASE_NS}" xmlns:hsv="${HSV_NS}"><hsv:job><hsv:henb-id>a</hsv:henb-id>`));
    const parsed = parseXml(text);
    expect(childrenNamed(parsed, HSV_NS, 'job').map((j) => childText(j, HSV_NS, 'henb-id'))).toEqual(['a', 'b', 'c']);
  });

  it('a few output leaves without a prefix hint keep their own declarations; a long list without one is hoisted', () => {
    const base = { '': NETCONF_BASE_NS };
    const leaves = [leaf(HSV_NS, 'ear-status', 'affirming'), leaf(HSV_NS, 'attestation-result', 'a.b.c'), leaf(HSV_NS, 'reason', 'r')];
    expect(hoistedNamespaces(base, leaves)).toBe(base);
    const text = serializeXml({ ns: NETCONF_BASE_NS, name: 'rpc-reply', attrs: [], children: leaves, nsContext: base });
    expect(text).toContain(`<ear-status xmlns="${HSV_NS}">affirming</ear-status>`);
    const hinted = [leaves[0]!, leaves[1]!].map((l) => ({ ...l, nsContext: { hsv: HSV_NS } }));
    expect(hoistedNamespaces(base, hinted)).toEqual({ '': NETCONF_BASE_NS, hsv: HSV_NS });
    const list = (k: number): ReturnType<typeof leaf>[] => Array.from({ length: k }, (_, i) => leaf(HSV_NS, 'henb-id', `h${i}`));
    expect(hoistedNamespaces(base, list(64))).toBe(base);
    expect(hoistedNamespaces(base, list(65))).toEqual({ '': NETCONF_BASE_NS, n1: HSV_NS });
  });
});
