/**
 * NACM read pruning (src/netconf/server/nacm.ts): the cost of pruning a get reply of 10,000 H(e)NBs
 * (about 60,000 data nodes) for a user whose reads are decided node by node (the NOC role: rules, no
 * read rule, /nacm and default-deny-all nodes to find), against the baseline of copying the same tree
 * (what pruning cannot avoid doing). The administrator's permit-all is decided without a walk. Rounds
 * are interleaved; the best of each is reported.
 *
 * Run: node --import tsx bench/nacm.ts
 */
import { join } from 'node:path';
import { Nacm, initialNacm } from '../src/netconf/server/index.js';
import type { NacmSchema, ServerSessionHandle } from '../src/netconf/server/index.js';
import { el, isElement, leaf, parseXml } from '../src/netconf/xml/index.js';
import type { XmlElement, XmlNode } from '../src/netconf/xml/index.js';
import { loadYang } from '../src/yang/index.js';

const H = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
const ROUNDS = 5;
const N = 10_000;

const { validator, modules } = await loadYang(join(import.meta.dirname, '..', 'yang'));
const top = [el(H, 'henbs', Array.from({ length: N }, (_, i) => el(H, 'henb',
  leaf(H, 'henb-id', `henb-${i}`), leaf(H, 'rim', 'a'.repeat(64)), leaf(H, 'state', 'trusted'),
  leaf(H, 'software-version', '1.0.0'), leaf(H, 'last-change', '2026-12-03T00:00:00Z'))))];
const noc = parseXml(`<nacm xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-acm"><rule-list><name>noc</name><group>noc</group>
  <rule><name>deny-lock</name><module-name>ietf-netconf</module-name><rpc-name>lock</rpc-name><access-operations>exec</access-operations><action>deny</action></rule>
  <rule><name>deny-writes</name><module-name>*</module-name><access-operations>create update delete</access-operations><action>deny</action></rule>
  </rule-list></nacm>`);
const admin = initialNacm();
const nacm = new Nacm([{ ...admin, children: [...admin.children, ...noc.children] }], () => modules, validator as unknown as NacmSchema,
  { externalGroups: (u) => [u] });
const session = (username: string): ServerSessionHandle => ({ id: 1, username, attachments: new Map() }) as unknown as ServerSessionHandle;

const copy = (nodes: XmlNode[]): XmlNode[] => nodes.map((n) => (isElement(n) && n.children.some(isElement) ? { ...n, children: copy(n.children) } : n));

function best(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

const times = { copy: Infinity, noc: Infinity, admin: Infinity };
let kept = 0;
for (let r = 0; r < ROUNDS; r++) {
  times.copy = Math.min(times.copy, best(() => copy(top)));
  times.noc = Math.min(times.noc, best(() => { kept = (nacm.pruneRead(top, session('noc'))[0] as XmlElement).children.length; }));
  times.admin = Math.min(times.admin, best(() => nacm.pruneRead(top, session('admin'))));
}
if (kept !== N) throw new Error(`the NOC should read every H(e)NB, kept ${kept}`);
console.log(`get of ${N} H(e)NBs (~${N * 6} nodes), best of ${ROUNDS}:`);
console.log(`  copy of the tree (baseline)   ${times.copy.toFixed(1)} ms`);
console.log(`  pruned for the NOC role       ${times.noc.toFixed(1)} ms  (${(times.noc / times.copy).toFixed(2)} x the copy)`);
console.log(`  administrator (permit-all)    ${times.admin.toFixed(3)} ms`);
