/**
 * Diff of two V8 heap snapshots of one process (issue 15, memory that does not grow with the fleet): what the
 * later one holds that the earlier did not. Node ids are stable within a process, so "new" means a node id of
 * the later snapshot that the earlier lacks.
 *
 * Prints: (1) per node type and name (constructor for objects), counts and self sizes in A and B and the
 * difference, largest growth first; (2) for the nodes new in B, grouped by type:name, their most common retainer
 * (the retaining node's type:name and the edge's name), so that a growing group points at its holder; (3) for the
 * largest new groups, one sample retainer path up to a GC root or a few steps up.
 *
 * Run: node --max-old-space-size=8192 --import tsx bench/_heap-diff.ts A.heapsnapshot B.heapsnapshot [topN]
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] }; node_count: number };
  nodes: number[];
  edges: number[];
  strings: string[];
}

interface Parsed {
  s: Snapshot;
  nf: number;
  ef: number;
  typeOf(i: number): string;
  nameOf(i: number): string;
  id(i: number): number;
  self(i: number): number;
  /** first edge index of node i (in s.edges, by field) */
  firstEdge: Int32Array;
  /** retainers: for node ordinal k, list of [fromOrdinal, edgeIndex] */
  retainers?: Array<number[]>;
}

function parse(path: string): Parsed {
  const s = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const m = s.snapshot.meta;
  const nf = m.node_fields.length;
  const ef = m.edge_fields.length;
  const tI = m.node_fields.indexOf('type');
  const nI = m.node_fields.indexOf('name');
  const idI = m.node_fields.indexOf('id');
  const sI = m.node_fields.indexOf('self_size');
  const ecI = m.node_fields.indexOf('edge_count');
  const types = m.node_types[0];
  const n = s.nodes.length / nf;
  const firstEdge = new Int32Array(n + 1);
  for (let k = 0, e = 0; k < n; k++) {
    firstEdge[k] = e;
    e += s.nodes[k * nf + ecI]! * ef;
    firstEdge[k + 1] = e;
  }
  return {
    s, nf, ef, firstEdge,
    typeOf: (k) => types[s.nodes[k * nf + tI]!]!,
    nameOf: (k) => s.strings[s.nodes[k * nf + nI]!]!,
    id: (k) => s.nodes[k * nf + idI]!,
    self: (k) => s.nodes[k * nf + sI]!,
  };
}

const keyOf = (p: Parsed, k: number): string => {
  const t = p.typeOf(k);
  const name = p.nameOf(k);
  if (t === 'string' || t === 'concatenated string' || t === 'sliced string') return `${t}`;
  return `${t}:${name.length > 60 ? `${name.slice(0, 60)}...` : name}`;
};

function edgeName(p: Parsed, e: number): string {
  const m = p.s.snapshot.meta;
  const et = m.edge_types[0][p.s.edges[e]!]!;
  const nameOrIndex = p.s.edges[e + 1]!;
  return et === 'element' || et === 'hidden' ? `[${nameOrIndex}]` : `${et}:${p.s.strings[nameOrIndex]}`;
}

function buildRetainers(p: Parsed): Array<number[]> {
  const n = p.s.nodes.length / p.nf;
  const toI = p.s.snapshot.meta.edge_fields.indexOf('to_node');
  const ret: Array<number[]> = Array.from({ length: n }, () => []);
  for (let k = 0; k < n; k++) {
    for (let e = p.firstEdge[k]!; e < p.firstEdge[k + 1]!; e += p.ef) {
      const to = p.s.edges[e + toI]! / p.nf;
      const et = p.s.snapshot.meta.edge_types[0][p.s.edges[e]!];
      if (et === 'weak') continue;
      ret[to]!.push(k, e);
    }
  }
  return ret;
}

function aggregate(p: Parsed): Map<string, { count: number; size: number }> {
  const out = new Map<string, { count: number; size: number }>();
  const n = p.s.nodes.length / p.nf;
  for (let k = 0; k < n; k++) {
    const key = keyOf(p, k);
    const a = out.get(key) ?? { count: 0, size: 0 };
    a.count++;
    a.size += p.self(k);
    out.set(key, a);
  }
  return out;
}

const [aPath, bPath, topArg] = process.argv.slice(2);
if (aPath === undefined || bPath === undefined) throw new Error('usage: _heap-diff.ts A.heapsnapshot B.heapsnapshot [topN]');
const top = Number(topArg ?? 40);
const a = parse(aPath);
const aggA = aggregate(a);
const idsA = new Set<number>();
for (let k = 0; k < a.s.nodes.length / a.nf; k++) idsA.add(a.id(k));
a.s.nodes = [];
a.s.edges = [];
a.s.strings = [];
const b = parse(bPath);
const aggB = aggregate(b);

const rows = [...new Set([...aggA.keys(), ...aggB.keys()])].map((k) => {
  const x = aggA.get(k) ?? { count: 0, size: 0 };
  const y = aggB.get(k) ?? { count: 0, size: 0 };
  return { k, ca: x.count, cb: y.count, sa: x.size, sb: y.size, dc: y.count - x.count, ds: y.size - x.size };
}).sort((r, s) => s.ds - r.ds);
const totA = [...aggA.values()].reduce((t, v) => t + v.size, 0);
const totB = [...aggB.values()].reduce((t, v) => t + v.size, 0);
console.log(`self sizes: A ${(totA / 1048576).toFixed(1)} MiB, B ${(totB / 1048576).toFixed(1)} MiB, +${((totB - totA) / 1048576).toFixed(1)} MiB`);
console.log('\n(1) growth by type:name (self size), largest first: d-size  d-count  A-count -> B-count  key');
for (const r of rows.slice(0, top)) console.log(`${(r.ds / 1024).toFixed(0).padStart(9)} KiB ${String(r.dc).padStart(8)} ${String(r.ca).padStart(8)} -> ${String(r.cb).padEnd(8)} ${r.k}`);

// (2) the nodes new in B, grouped, with their commonest retainer
b.retainers = buildRetainers(b);
const nB = b.s.nodes.length / b.nf;
const groups = new Map<string, { count: number; size: number; sample: number; by: Map<string, number> }>();
for (let k = 0; k < nB; k++) {
  if (idsA.has(b.id(k))) continue;
  const key = keyOf(b, k);
  const g = groups.get(key) ?? { count: 0, size: 0, sample: k, by: new Map<string, number>() };
  g.count++;
  g.size += b.self(k);
  const r = b.retainers[k]!;
  const holder = r.length >= 2 ? `${keyOf(b, r[0]!)} --${edgeName(b, r[1]!)}-->` : '(no retainer)';
  g.by.set(holder, (g.by.get(holder) ?? 0) + 1);
  groups.set(key, g);
}
const gs = [...groups].sort((x, y) => y[1].size - x[1].size);
console.log(`\n(2) nodes new in B (ids absent from A): ${gs.reduce((t, [, g]) => t + g.count, 0)} nodes, ${(gs.reduce((t, [, g]) => t + g.size, 0) / 1048576).toFixed(1)} MiB self; groups largest first, with their commonest retainers`);
for (const [key, g] of gs.slice(0, top)) {
  const by = [...g.by].sort((x, y) => y[1] - x[1]).slice(0, 3).map(([h, c]) => `${c}x ${h}`).join(' | ');
  console.log(`${(g.size / 1024).toFixed(0).padStart(9)} KiB ${String(g.count).padStart(8)}  ${key}   <- ${by}`);
}

// (3) a sample retainer path for the largest new groups
console.log('\n(3) sample retainer paths (node <- holder <- ...; first non-weak retainer at each step, up to 12)');
for (const [key, g] of gs.slice(0, Math.min(12, top))) {
  const path: string[] = [];
  const seen = new Set<number>();
  let k = g.sample;
  for (let i = 0; i < 12; i++) {
    seen.add(k);
    const r = b.retainers[k]!;
    let next = -1;
    for (let j = 0; j < r.length; j += 2) if (!seen.has(r[j]!)) { next = j; break; }
    if (next < 0) break;
    path.push(`${keyOf(b, r[next]!)}.${edgeName(b, r[next + 1]!)}${idsA.has(b.id(r[next]!)) ? ' (old)' : ''}`);
    k = r[next]!;
    if (b.typeOf(k) === 'synthetic') break;
  }
  console.log(`${key}: <- ${path.join(' <- ')}`);
}

// (4) HEAP_DIFF_FOCUS=key[,key]: for new nodes of these type:name keys, a sample path per distinct first retainer
// (with the node's self size), to tell apart groups that share a type (e.g. strings held by different objects)
const focus = (process.env.HEAP_DIFF_FOCUS ?? '').split(',').filter((x) => x !== '');
for (const f of focus) {
  console.log(`\n(4) ${f}: new nodes by first retainer, with one sample path each`);
  const byHolder = new Map<string, { count: number; size: number; sample: number }>();
  for (let k = 0; k < nB; k++) {
    if (idsA.has(b.id(k)) || keyOf(b, k) !== f) continue;
    const r = b.retainers[k]!;
    const holder = r.length >= 2 ? `${keyOf(b, r[0]!)} --${edgeName(b, r[1]!)}-->` : '(no retainer)';
    const h = byHolder.get(holder) ?? { count: 0, size: 0, sample: k };
    h.count++;
    h.size += b.self(k);
    byHolder.set(holder, h);
  }
  for (const [holder, h] of [...byHolder].sort((x, y) => y[1].size - x[1].size).slice(0, 12)) {
    const path: string[] = [];
    const seen = new Set<number>();
    let k = h.sample;
    for (let i = 0; i < 14; i++) {
      seen.add(k);
      const r = b.retainers[k]!;
      let next = -1;
      for (let j = 0; j < r.length; j += 2) if (!seen.has(r[j]!)) { next = j; break; }
      if (next < 0) break;
      path.push(`${keyOf(b, r[next]!)}.${edgeName(b, r[next + 1]!)}`);
      k = r[next]!;
      if (b.typeOf(k) === 'synthetic') break;
    }
    const t = b.typeOf(h.sample);
    const text = t === 'string' || t === 'sliced string' || t === 'concatenated string' ? ` "${b.nameOf(h.sample).slice(0, 80).replace(/\s+/g, ' ')}"` : '';
    console.log(`${(h.size / 1024).toFixed(0).padStart(8)} KiB ${String(h.count).padStart(7)}  ${holder}${text}\n      <- ${path.join(' <- ')}`);
  }
}
