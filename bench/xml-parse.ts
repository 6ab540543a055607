/**
 * CPU cost of parsing small rpcs, the way the server takes them (issue 13, NETCONF over TLS): each framed
 * message is a Buffer; the session checks it is UTF-8, parses it with the session's limits, then looks at the
 * envelope (namespace, name, message-id) and its one operation (src/netconf/session/server-session.ts onMessage).
 * Reported per corpus item: microseconds of CPU per rpc (best of several rounds of many iterations) and the
 * ratio to a baseline measured in the same run, JSON.parse of an equivalent object from a Buffer of the same
 * kind (what to compare across machines and runs).
 *
 * Run: node --expose-gc --import tsx bench/xml-parse.ts        (BENCH_ROUNDS, BENCH_ROUND_MS to change the rounds)
 */
import { isUtf8 } from 'node:buffer';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attr, elements, NETCONF_BASE_NS, parseXml, resolveParseLimits } from '../src/netconf/xml/index.js';
import type { XmlElement } from '../src/netconf/xml/index.js';

const N = NETCONF_BASE_NS;
const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';

/** the corpus: small rpcs as NETCONF clients send them */
export const CORPUS: ReadonlyArray<{ name: string; xml: string }> = [
  { name: 'get-config', xml: `<rpc message-id="1" xmlns="${N}"><get-config><source><running/></source></get-config></rpc>` },
  {
    name: 'get-config (ncclient: decl, nc:)',
    xml: `<?xml version="1.0" encoding="UTF-8"?><nc:rpc xmlns:nc="${N}" message-id="urn:uuid:2b7d1c0e-8f3a-4c9e-9d5b-1a2b3c4d5e6f">`
      + '<nc:get-config><nc:source><nc:running/></nc:source></nc:get-config></nc:rpc>',
  },
  {
    name: 'get, subtree filter',
    xml: `<rpc message-id="2" xmlns="${N}"><get><filter type="subtree"><henbs xmlns="${HSV}"><henb><henb-id>henb-0001</henb-id>`
      + '<software-version/></henb></henbs></filter></get></rpc>',
  },
  {
    name: 'edit-config, small',
    xml: `<rpc message-id="3" xmlns="${N}"><edit-config><target><running/></target><default-operation>merge</default-operation>`
      + `<config><policies xmlns="${HSV}"><name>femto &amp; cell</name></policies></config></edit-config></rpc>`,
  },
  {
    name: 'plugin rpc, own xmlns',
    xml: `<rpc message-id="4" xmlns="${N}"><software-update xmlns="${HSV}"><henb-id>henb-0001</henb-id>`
      + '<software><uri>https://images.example/henb-4.2.1.bin</uri><version>4.2.1</version></software></software-update></rpc>',
  },
  { name: 'close-session', xml: `<rpc message-id="5" xmlns="${N}"><close-session/></rpc>` },
];

/** what the session does with one framed message before dispatch; returns the operation */
export function takeRpc(m: Buffer, limits: ReturnType<typeof resolveParseLimits>): XmlElement {
  if (!isUtf8(m)) throw new Error('not UTF-8');
  const root = parseXml(m, limits);
  if (root.ns !== N || root.name !== 'rpc' || attr(root, 'message-id') === undefined) throw new Error('not an rpc');
  const ops = elements(root);
  if (ops.length !== 1) throw new Error('not one operation');
  return ops[0]!;
}

/** an object of about the same shape and text as the rpc, as JSON: the same-run baseline */
function equivalentJson(xml: string): Buffer {
  const root = parseXml(xml);
  const strip = (e: XmlElement): unknown => ({
    ns: e.ns, name: e.name, attrs: e.attrs.map((a) => ({ ns: a.ns, name: a.name, value: a.value })),
    children: e.children.map((c) => (typeof c === 'string' ? c : strip(c))),
  });
  return Buffer.from(JSON.stringify(strip(root)));
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** best (least) CPU microseconds per call of `f` over `rounds` rounds of about `roundMs` each */
export function bestUs(f: () => unknown, rounds: number, roundMs: number): number {
  let iters = 1;
  for (let t0 = performance.now(); performance.now() - t0 < 20; iters *= 2) for (let i = 0; i < iters; i++) f();
  const per = Math.max(1, Math.round(iters * (roundMs / 20)));
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const c0 = cpuUs();
    for (let i = 0; i < per; i++) f();
    best = Math.min(best, (cpuUs() - c0) / per);
  }
  return best;
}

function main(): void {
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 10);
  const roundMs = Number(process.env['BENCH_ROUND_MS'] ?? 100);
  const limits = resolveParseLimits();
  const items = CORPUS.map((c) => ({ name: c.name, buf: Buffer.from(c.xml), json: equivalentJson(c.xml) }));
  const gc = (globalThis as { gc?: () => void }).gc;
  const rows = items.map((it) => ({ name: it.name, bytes: it.buf.length, rpc: Infinity, base: Infinity }));
  // interleaved: every round of every item and its baseline, then again, so load hits both alike
  for (let pass = 0; pass < 2; pass++) {
    items.forEach((it, i) => {
      gc?.();
      rows[i]!.rpc = Math.min(rows[i]!.rpc, bestUs(() => takeRpc(it.buf, limits), rounds, roundMs));
      rows[i]!.base = Math.min(rows[i]!.base, bestUs(() => JSON.parse(it.json.toString('utf8')) as unknown, rounds, roundMs));
    });
  }
  let sumRpc = 0;
  let sumBase = 0;
  for (const r of rows) {
    sumRpc += r.rpc;
    sumBase += r.base;
    console.log(`${r.name.padEnd(34)} ${String(r.bytes).padStart(4)} B  ${r.rpc.toFixed(2).padStart(6)} us/rpc  JSON baseline ${r.base.toFixed(2).padStart(5)} us  ratio ${(r.rpc / r.base).toFixed(2)}`);
  }
  console.log(`${'corpus (sum)'.padEnd(34)}         ${sumRpc.toFixed(2).padStart(6)} us       JSON baseline ${sumBase.toFixed(2).padStart(5)} us  ratio ${(sumRpc / sumBase).toFixed(2)}`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) main();
