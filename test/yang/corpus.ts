/**
 * Corpus generator for the differential test: from the compiled schema of an operation (RPC input,
 * RPC output, notification) build valid documents (every node / only mandatory nodes / each enum
 * value), then mutate them (wrong type, out of range, pattern and length violations, missing
 * mandatory node or key, unknown element or namespace, duplicate node or list entry, bad enum,
 * whitespace, text in an inner node, element inside a leaf ...). No document is hand-written.
 */
import { checkValue } from '../../src/yang/value.js';
import type { CompiledModule, LeafListNode, LeafNode, OperationPart, SchemaNode, YType } from '../../src/yang/schema.js';
import { escapeText } from '../../src/netconf/xml/index.js';

export interface DNode {
  ns: string;
  name: string;
  text?: string;
  children?: DNode[];
}

export interface CorpusDoc {
  id: string;
  kind: 'rpc' | 'reply' | 'notif' | 'config';
  module: string;
  op: string;
  mutation: string;
  root: DNode;
}

const OTHER_NS = 'urn:example:not-loaded';

export function serialize(d: DNode, parentNs?: string, prefixes: Record<string, string> = {}): string {
  const x = (d.ns !== parentNs ? ` xmlns="${d.ns}"` : '')
    + Object.entries(prefixes).map(([p, ns]) => ` xmlns:${p}="${ns}"`).join('');
  if (d.children !== undefined) {
    const inner = (d.text !== undefined ? escapeText(d.text) : '') + d.children.map((c) => serialize(c, d.ns)).join('');
    return `<${d.name}${x}>${inner}</${d.name}>`;
  }
  return d.text === undefined || d.text === '' ? `<${d.name}${x}/>` : `<${d.name}${x}>${escapeText(d.text)}</${d.name}>`;
}

function clone(d: DNode): DNode {
  return { ...d, ...(d.children ? { children: d.children.map(clone) } : {}) };
}

function flat(nodes: SchemaNode[]): SchemaNode[] {
  const out: SchemaNode[] = [];
  for (const n of nodes) {
    if (n.kind === 'choice') out.push(...flat(n.cases[0]?.children ?? []));
    else out.push(n);
  }
  return out;
}

const STRING_POOL = [
  'healthy-1', 'job-42:1', 'a'.repeat(64), '0123456789abcdef'.repeat(4),
  'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJoZWFsdGh5LTEifQ.c2lnbmF0dXJl', 'https://example.com/fw-2.0.bin',
  'SHA256:' + 'A'.repeat(43), '2026-11-28T05:00:00Z', 'x', '192.0.2.10', '2001:db8::1', 'femto-1.example.net', 'abc',
  // an OpenSSH public key line (the ssh-host-key typedef's second form)
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINot2p5dO34BKVyeXOD1jZIWtu8PK4uk2klmiPGaIgk1',
];

function ctxOf(modules: Map<string, CompiledModule>) {
  return { modules, nsContext: prefixesOf(modules) };
}

/** prefix -> namespace of every module (declared on each document's root) */
export function prefixesOf(modules: Map<string, CompiledModule>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of modules.values()) out[m.ref.prefix] = m.ref.namespace;
  return out;
}

/** valid sample values of a type (first one is the default choice) */
export function validValues(t: YType, modules: Map<string, CompiledModule>): string[] {
  const ok = (v: string): boolean => checkValue(t, v, ctxOf(modules)) === undefined;
  switch (t.base) {
    case 'enumeration': return [...(t.enums ?? [])];
    case 'boolean': return ['true', 'false'];
    case 'empty': return [''];
    case 'binary': {
      const lo = Number(t.lengths[0]?.intervals[0]?.lo ?? 16n);
      const hi = Number(t.lengths[0]?.intervals[0]?.hi ?? 64n);
      const b64 = (n: number) => Buffer.alloc(n, 0x5a).toString('base64');
      return [...new Set([b64(Math.max(lo, 1)), b64(Math.min(hi, Math.max(lo, 1) + 1)), b64(Math.min(hi, 64))])].filter(ok);
    }
    case 'int8': case 'int16': case 'int32': case 'int64':
    case 'uint8': case 'uint16': case 'uint32': case 'uint64': {
      const r = t.ranges[t.ranges.length - 1]?.intervals[0];
      const lo = r?.lo ?? (t.base.startsWith('u') ? 0n : -5n);
      const hi = r && r.hi < 1000000n ? r.hi : lo + 100n;
      return [...new Set([lo, hi, (lo + hi) / 2n].map(String))].filter(ok);
    }
    case 'string': {
      if (t.patterns.length === 0 && t.lengths.length === 0) return ['some text', ''];
      const vals = STRING_POOL.filter(ok);
      if (vals.length === 0) throw new Error(`no sample value for ${t.name}`);
      return vals.slice(0, 2);
    }
    case 'leafref': return t.leafref?.resolve() ? validValues(t.leafref.resolve()!, modules) : [];
    case 'union': return [...new Set(t.members!.flatMap((m) => validValues(m, modules).slice(0, 1)))];
    case 'decimal64': {
      const fd = t.fractionDigits ?? 1;
      const r = t.ranges[t.ranges.length - 1]?.intervals[0];
      const fmt = (v: bigint) => { const str = (v < 0n ? -v : v).toString().padStart(fd + 1, '0'); return `${v < 0n ? '-' : ''}${str.slice(0, -fd)}.${str.slice(-fd)}`; };
      return r ? [fmt(r.lo), fmt(r.hi)].filter(ok) : ['1.5'];
    }
    case 'bits': return ['', (t.bits ?? []).join(' '), t.bits?.[0] ?? ''];
    case 'identityref': {
      const out: string[] = [];
      for (const m of modules.values()) for (const id of m.identities.keys()) if (ok(`${m.ref.prefix}:${id}`)) out.push(`${m.ref.prefix}:${id}`);
      return out;
    }
    default: throw new Error(`no sample value for type ${t.base}`);
  }
}

/** invalid (or edge) values of a type, each with a label */
export function edgeValues(t: YType, valid: string): Array<[string, string]> {
  switch (t.base) {
    case 'enumeration': return [['bad-enum', 'no-such-value'], ['enum-leading-space', ` ${valid}`], ['enum-case', valid.toUpperCase() === valid ? valid.toLowerCase() : valid.toUpperCase()]];
    case 'boolean': return [['bad-boolean', 'yes'], ['boolean-case', 'TRUE']];
    case 'binary': return [['base64-bad-char', '!!!!' + valid.slice(4)], ['base64-bad-length', valid.slice(1)], ['binary-too-short', 'AAAA'], ['base64-space', `${valid.slice(0, 4)} ${valid.slice(4)}`]];
    case 'int8': case 'int16': case 'int32': case 'int64':
    case 'uint8': case 'uint16': case 'uint32': case 'uint64': {
      const r = t.ranges[t.ranges.length - 1]?.intervals[0];
      const out: Array<[string, string]> = [['not-a-number', 'abc'], ['decimal-for-int', `${valid}.5`], ['empty-int', ''],
        ['int-plus-sign', `+${valid}`], ['int-whitespace', ` ${valid}\n`], ['int-leading-zero', `0${valid}`], ['int-hex', '0x1']];
      if (r) out.push(['below-range', String(r.lo - 1n)], ['above-range', String(r.hi + 1n)]);
      out.push(['beyond-type', '99999999999999999999999']);
      return out;
    }
    case 'string': {
      const out: Array<[string, string]> = [];
      if (t.patterns.length > 0) {
        out.push(['pattern-first-char', `!${valid.slice(1)}`], ['pattern-upper', valid.toUpperCase()],
          ['pattern-trailing-space', `${valid} `]);
      }
      const len = t.lengths[t.lengths.length - 1]?.intervals[0];
      if (len) {
        if (len.lo > 0n) out.push(['length-empty', '']);
        if (len.hi < 100000n) out.push(['length-too-long', valid.padEnd(Number(len.hi) + 1, valid.slice(-1) || 'a')]);
      }
      out.push(['string-unicode', `${valid}\u00e9`]);
      return out;
    }
    case 'decimal64': {
      const r = t.ranges[t.ranges.length - 1]?.intervals[0];
      const out: Array<[string, string]> = [['not-a-number', 'abc'], ['too-many-fraction-digits', `${valid}1`],
        ['decimal-whitespace', ` ${valid} `], ['decimal-no-fraction', valid.split('.')[0]!], ['empty-decimal', '']];
      if (r) out.push(['above-range', `${valid.split('.')[0]}99.0`]);
      return out;
    }
    case 'bits': return [['bad-bit', 'no-such-bit'], ['bit-twice', `${valid.split(' ')[0] || 'a'} ${valid.split(' ')[0] || 'a'}`]];
    case 'leafref': { const target = t.leafref?.resolve(); return target ? edgeValues(target, valid) : []; }
    case 'union': return [['union-no-member', 'no-such-value!'], ['union-leading-space', ` ${valid}`]];
    case 'identityref': return [['identity-not-derived', valid.replace(/:.*/, ':no-such-identity')], ['identity-unknown-prefix', valid.replace(/^[^:]*:/, 'zz:')],
      ['identity-unprefixed', valid.replace(/^[^:]*:/, '')]];
    case 'empty': return [['empty-with-value', 'x']];
    default: return [];
  }
}

interface Ctx {
  modules: Map<string, CompiledModule>;
  /** configuration documents: state (config false) nodes are left out */
  configOnly: boolean;
}

/** build a document for `nodes`; full = every node, else mandatory nodes only */
function build(nodes: SchemaNode[], ctx: Ctx, full: boolean, pick: Map<SchemaNode, string>): DNode[] {
  const out: DNode[] = [];
  for (const n of flat(nodes)) {
    if (ctx.configOnly && !n.config) continue;
    // yanglint needs operational data (-O) for leafrefs in operations; ours have none
    if (!ctx.configOnly && (n.kind === 'leaf' || n.kind === 'leaf-list') && n.type.base === 'leafref') continue;
    const mandatoryish = n.kind === 'leaf' ? n.mandatory : n.kind === 'list' || n.kind === 'leaf-list' ? n.min > 0
      : n.kind === 'container' ? !n.presence : false;
    if (!full && !mandatoryish) continue;
    const ns = n.module.namespace;
    switch (n.kind) {
      case 'leaf':
        out.push({ ns, name: n.name, text: pick.get(n) ?? validValues(n.type, ctx.modules)[0]! });
        break;
      case 'leaf-list': {
        const vals = validValues(n.type, ctx.modules);
        const count = Math.max(n.min, full ? Math.min(2, vals.length) : 0);
        for (let i = 0; i < count; i++) out.push({ ns, name: n.name, text: pick.get(n) ?? vals[i % vals.length]! });
        break;
      }
      case 'container': {
        const kids = build(n.children, ctx, full, pick);
        if (kids.length > 0 || full || n.presence) out.push({ ns, name: n.name, children: kids });
        break;
      }
      case 'list': {
        const count = Math.max(n.min, full ? 2 : 0);
        for (let i = 0; i < count; i++) {
          const kids = build(n.children, ctx, full, pick);
          // make keys distinct per entry
          for (const k of n.keys) {
            const kn = kids.find((c) => c.name === k);
            const ks = n.children.find((c): c is LeafNode => c.kind === 'leaf' && c.name === k)!;
            const vals = validValues(ks.type, ctx.modules);
            if (kn) kn.text = vals[i % vals.length]!;
          }
          out.push({ ns, name: n.name, children: kids });
        }
        break;
      }
      default:
        break;
    }
  }
  return out;
}

/** address nodes by index path so mutations can be applied to fresh clones */
function pathsOf(root: DNode, schema: SchemaNode[]): Array<{ idx: number[]; s: SchemaNode; d: DNode }> {
  const out: Array<{ idx: number[]; s: SchemaNode; d: DNode }> = [];
  const rec = (d: DNode, sch: SchemaNode[], idx: number[]) => {
    const nodes = flat(sch);
    (d.children ?? []).forEach((c, i) => {
      const s = nodes.find((n) => n.name === c.name && n.module.namespace === c.ns);
      if (!s) return;
      out.push({ idx: [...idx, i], s, d: c });
      if ((s.kind === 'container' || s.kind === 'list') && c.children) rec(c, s.children, [...idx, i]);
    });
  };
  rec(root, schema, []);
  return out;
}

function at(root: DNode, idx: number[]): { parent: DNode; node: DNode; i: number } {
  let parent = root;
  for (let k = 0; k < idx.length - 1; k++) parent = parent.children![idx[k]!]!;
  const i = idx[idx.length - 1]!;
  return { parent, node: parent.children![i]!, i };
}

export function generateFor(part: OperationPart, kind: CorpusDoc['kind'], modules: Map<string, CompiledModule>): CorpusDoc[] {
  const ctx: Ctx = { modules, configOnly: kind === 'config' };
  const docs: CorpusDoc[] = [];
  const ns = part.module.namespace;
  const mk = (mutation: string, children: DNode[]): void => {
    docs.push({
      id: `${part.module.name}:${part.name}:${kind}:${mutation}`, kind, module: part.module.name, op: part.name, mutation,
      root: { ns, name: part.name, children },
    });
  };
  const full = build(part.children, ctx, true, new Map());
  const minimal = build(part.children, ctx, false, new Map());
  mk('valid-full', full);
  mk('valid-minimal', minimal);
  const fullRoot: DNode = { ns, name: part.name, children: full };
  const minRoot: DNode = { ns, name: part.name, children: minimal };
  const entries = pathsOf(fullRoot, part.children);

  // valid variants: each enum / boolean value, each sample value
  for (const { idx, s } of entries) {
    if (s.kind !== 'leaf' && s.kind !== 'leaf-list') continue;
    const vals = validValues((s as LeafNode | LeafListNode).type, modules);
    for (const v of vals.slice(1)) {
      const r = clone(fullRoot);
      at(r, idx).node.text = v;
      mk(`value:${idx.join('.')}:${s.name}=${v.slice(0, 12)}`, r.children!);
    }
  }
  // type mutations on every leaf and leaf-list value
  for (const { idx, s, d } of entries) {
    if (s.kind !== 'leaf' && s.kind !== 'leaf-list') continue;
    for (const [label, v] of edgeValues((s as LeafNode).type, d.text ?? '')) {
      const r = clone(fullRoot);
      at(r, idx).node.text = v;
      mk(`${label}:${idx.join('.')}:${s.name}`, r.children!);
    }
    // an element inside a leaf
    const r = clone(fullRoot);
    at(r, idx).node.children = [{ ns, name: 'inner' }];
    mk(`element-in-leaf:${idx.join('.')}:${s.name}`, r.children!);
  }
  // structure mutations
  for (const { idx, s } of entries) {
    // remove the node (mandatory -> invalid, optional -> valid)
    {
      const r = clone(fullRoot);
      const { parent, i } = at(r, idx);
      parent.children!.splice(i, 1);
      mk(`remove:${idx.join('.')}:${s.name}`, r.children!);
    }
    // duplicate it
    {
      const r = clone(fullRoot);
      const { parent, node, i } = at(r, idx);
      parent.children!.splice(i + 1, 0, clone(node));
      mk(`duplicate:${idx.join('.')}:${s.name}`, r.children!);
    }
    if (s.kind === 'container' || s.kind === 'list') {
      for (const [label, extra] of [['unknown-element', { ns, name: 'no-such-node', text: '1' }],
        ['unknown-namespace', { ns: OTHER_NS, name: 'foreign', text: '1' }]] as Array<[string, DNode]>) {
        const r = clone(fullRoot);
        at(r, idx).node.children!.push(extra);
        mk(`${label}:${idx.join('.')}:${s.name}`, r.children!);
      }
      const r = clone(fullRoot);
      at(r, idx).node.text = 'stray text';
      mk(`text-in-inner:${idx.join('.')}:${s.name}`, r.children!);
    }
    if (s.kind === 'list') {
      // change a key of the second entry so that it equals the first's (duplicate key), and
      // move the key after the other children (order is not significant in RPC data)
      const r = clone(fullRoot);
      const { node } = at(r, idx);
      const kids = node.children!;
      if (s.keys.length > 0) {
        const k = kids.findIndex((c) => c.name === s.keys[0]);
        if (k >= 0) {
          const [key] = kids.splice(k, 1);
          kids.push(key!);
          mk(`key-last:${idx.join('.')}:${s.name}`, r.children!);
        }
      }
    }
  }
  // choices: add a node of another case next to the chosen one; unique: copy unique leaves across entries
  const inner: Array<{ idx: number[]; children: SchemaNode[]; s?: SchemaNode }> = [{ idx: [], children: part.children },
    ...entries.filter((e) => e.s.kind === 'container' || e.s.kind === 'list').map((e) => ({ idx: e.idx, children: (e.s as { children: SchemaNode[] }).children, s: e.s }))];
  for (const { idx, children, s } of inner) {
    for (const ch of children) {
      if (ch.kind !== 'choice' || ch.cases.length < 2) continue;
      const other = flat(ch.cases[1]!.children).find((n): n is LeafNode => n.kind === 'leaf');
      if (!other) continue;
      const r = clone(fullRoot);
      const target = idx.length === 0 ? r : at(r, idx).node;
      target.children!.push({ ns: other.module.namespace, name: other.name, text: validValues(other.type, modules)[0]! });
      mk(`choice-two-cases:${idx.join('.')}:${ch.name}`, r.children!);
    }
    if (s?.kind === 'list' && s.unique.length > 0) {
      const r = clone(fullRoot);
      const { parent } = at(r, idx);
      const same = parent.children!.filter((c) => c.name === s.name && c.ns === s.module.namespace);
      if (same.length >= 2) {
        for (const path of s.unique[0]!) {
          const from = same[0]!.children!.find((c) => c.name === path[path.length - 1]);
          const to = same[1]!.children!.find((c) => c.name === path[path.length - 1]);
          if (from && to) to.text = from.text;
        }
        mk(`unique-violation:${idx.join('.')}:${s.name}`, r.children!);
      }
    }
  }
  // remove each node of the minimal document (every one is mandatory or holds mandatory nodes)
  for (const { idx, s } of pathsOf(minRoot, part.children)) {
    const r = clone(minRoot);
    const { parent, i } = at(r, idx);
    parent.children!.splice(i, 1);
    mk(`minimal-remove:${idx.join('.')}:${s.name}`, r.children!);
  }
  // top level: unknown element and namespace, text
  mk('top-unknown-element', [...full.map(clone), { ns, name: 'no-such-node' }]);
  mk('top-unknown-namespace', [...full.map(clone), { ns: OTHER_NS, name: 'foreign' }]);
  mk('top-reversed-order', [...full.map(clone)].reverse());
  return docs;
}

/** configuration documents: one corpus per top-level config container of the module */
export function generateConfigCorpus(modules: Map<string, CompiledModule>, name: string): CorpusDoc[] {
  const m = modules.get(name);
  if (!m) throw new Error(`module ${name} not loaded`);
  const out: CorpusDoc[] = [];
  for (const top of m.top) {
    if (top.kind !== 'container' || !top.config) continue;
    out.push(...generateFor({ kind: 'notification', name: top.name, module: m.ref, children: top.children }, 'config', modules));
  }
  return out;
}

export function generateCorpus(modules: Map<string, CompiledModule>, names: string[]): CorpusDoc[] {
  const out: CorpusDoc[] = [];
  for (const name of names) {
    const m = modules.get(name);
    if (!m) throw new Error(`module ${name} not loaded`);
    for (const rpc of m.rpcs.values()) {
      out.push(...generateFor(rpc.input, 'rpc', modules));
      if (rpc.output.children.length > 0) out.push(...generateFor(rpc.output, 'reply', modules));
    }
    for (const n of m.notifications.values()) out.push(...generateFor(n, 'notif', modules));
  }
  return out;
}

const JSON_NUMBER_TYPES = new Set(['int8', 'int16', 'int32', 'uint8', 'uint16', 'uint32']);

function jsonScalar(t: YType, text: string, prefixToModule: Map<string, string>): string {
  const intLike = /^-?(?:0|[1-9][0-9]*)$/.test(text);
  switch (t.base) {
    case 'boolean': return text === 'true' || text === 'false' ? text : JSON.stringify(text);
    case 'empty': return text === '' ? '[null]' : JSON.stringify(text);
    case 'union': {
      if (intLike && (t.members ?? []).some((m) => JSON_NUMBER_TYPES.has(m.base))) return text;
      return JSON.stringify(text);
    }
    case 'identityref': {
      const i = text.indexOf(':');
      if (i < 0) return JSON.stringify(text);
      return JSON.stringify(`${prefixToModule.get(text.slice(0, i)) ?? text.slice(0, i)}:${text.slice(i + 1)}`);
    }
    default:
      return JSON_NUMBER_TYPES.has(t.base) && intLike ? text : JSON.stringify(text);
  }
}

/**
 * The RFC 7951 JSON form of a corpus document, as text (duplicate members kept), or undefined when
 * the document cannot be written in JSON (text inside an inner node).
 */
export function toJson(doc: CorpusDoc, modules: Map<string, CompiledModule>, schema: SchemaNode[]): string | undefined {
  const prefixToModule = new Map([...modules.values()].map((m) => [m.ref.prefix, m.ref.name]));
  const nsToModule = new Map([...modules.values()].map((m) => [m.ref.namespace, m.ref.name]));
  let representable = true;
  const obj = (d: DNode, sch: SchemaNode[], parentModule: string): string => {
    if (d.text !== undefined && d.text.trim() !== '' && d.children !== undefined) representable = false;
    const nodes = flat(sch);
    const members: string[] = [];
    const done = new Set<SchemaNode>();
    for (const c of d.children ?? []) {
      const s = nodes.find((n) => n.name === c.name && n.module.namespace === c.ns);
      const mod = nsToModule.get(c.ns) ?? 'not-loaded';
      const key = JSON.stringify(mod === parentModule ? c.name : `${mod}:${c.name}`);
      if (!s) {
        members.push(`${key}:${c.children ? obj(c, [], mod) : JSON.stringify(c.text ?? '')}`);
        continue;
      }
      if (s.kind === 'list' || s.kind === 'leaf-list') {
        if (done.has(s)) continue;
        done.add(s);
        const all = (d.children ?? []).filter((x) => x.name === c.name && x.ns === c.ns);
        const items = all.map((x) => (s.kind === 'list' ? obj(x, s.children, mod)
          : x.children ? '{}' : jsonScalar(s.type, x.text ?? '', prefixToModule)));
        members.push(`${key}:[${items.join(',')}]`);
        continue;
      }
      if (s.kind === 'container') { members.push(`${key}:${obj(c, s.children, mod)}`); continue; }
      if (s.kind === 'leaf') {
        members.push(`${key}:${c.children ? '{}' : jsonScalar(s.type, c.text ?? '', prefixToModule)}`);
        continue;
      }
      members.push(`${key}:{}`);
    }
    return `{${members.join(',')}}`;
  };
  const body = obj(doc.root, schema, doc.module);
  return representable ? `{${JSON.stringify(`${doc.module}:${doc.op}`)}:${body}}` : undefined;
}
