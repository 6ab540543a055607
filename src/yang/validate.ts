/**
 * Instance data (XmlElement trees) checked against the compiled schema, producing RFC 6241 rpc-errors:
 *   unknown-element / unknown-namespace  an element no schema node defines (error-info bad-element,
 *                                        bad-namespace)
 *   invalid-value                        a leaf value violating its type (RFC 7950 section 8.3.1), with
 *                                        the constraint's error-app-tag
 *   missing-element                      a mandatory leaf or a list key is absent (bad-element)
 *   bad-element                          a node given twice, two cases of one choice, text in an inner
 *                                        node, elements inside a leaf
 *   operation-failed                     too-few-elements / too-many-elements (RFC 7950 sections 15.2,
 *                                        15.3); data-not-unique for duplicate keys, unique and config
 *                                        leaf-list values (section 15.1)
 *   data-missing                         missing-choice (section 15.6)
 * error-path is an absolute instance-identifier with module prefixes bound in pathNs.
 *
 * The cost is paid per schema node list once (a lookup by element name, each node's slot, the mandatory nodes
 * to look for: SchemaIndex) and per error: a path is a chain of steps whose string and prefix bindings are
 * written only when an error names it (bench/_validate.ts measures it, docs/performance.md).
 */
import type { RpcErrorInfo } from '../netconf/rpc-error.js';
import { info } from '../netconf/rpc-error.js';
import { child, leaf } from '../netconf/xml/index.js';
import type { XmlElement, XmlNode } from '../netconf/xml/index.js';
import type { ChoiceNode, CompiledModule, LeafListNode, LeafNode, ListNode, SchemaNode } from './schema.js';
import { canonical, checkValue } from './value.js';
import type { ValueContext } from './value.js';

const YANG_NS = 'urn:ietf:params:xml:ns:yang:1';

export interface Mode {
  /** only config true nodes are allowed (validateConfig) */
  configOnly: boolean;
}

type StepNode = { name: string; module: { prefix: string; namespace: string } };

/** a predicate written only when a path is: a list entry's keys, or a leaf-list entry's value */
interface LazyPredicate {
  text(): string;
}

/**
 * Where we are: a step below `parent` (none at the root). `path` and `ns` (the prefix bindings) are written from the
 * chain when asked, which is when an error names the place.
 */
class PathCtx {
  constructor(private readonly parent: PathCtx | undefined, private readonly node: StepNode | undefined,
    private readonly predicate: string | number | LazyPredicate = '') {}

  step(node: StepNode, predicate: string | number | LazyPredicate = ''): PathCtx {
    return new PathCtx(this, node, predicate);
  }

  get path(): string {
    return this.written().path;
  }

  get ns(): Record<string, string> {
    return this.written().ns;
  }

  /** the path and its bindings, from the root down (a prefix keeps its first namespace) */
  private written(): { path: string; ns: Record<string, string> } {
    const chain: PathCtx[] = this.node !== undefined ? [this] : [];
    for (let p = this.parent; p?.node !== undefined; p = p.parent) chain.push(p);
    let path = '';
    let ns: Record<string, string> = {};
    for (let i = chain.length - 1; i >= 0; i--) {
      const { node, predicate } = chain[i]!;
      const m = node!.module;
      ns = ns[m.prefix] === undefined || ns[m.prefix] === m.namespace ? { ...ns, [m.prefix]: m.namespace } : ns;
      const pred = typeof predicate === 'string' ? predicate : typeof predicate === 'number' ? `[${predicate}]` : predicate.text();
      path = `${path}/${m.prefix}:${node!.name}${pred}`;
    }
    return { path, ns };
  }
}

function quoteXPath(v: string): string {
  return v.includes("'") ? `"${v}"` : `'${v}'`;
}

/** a leaf-list entry's predicate [.='v'] */
class ValuePredicate implements LazyPredicate {
  constructor(private readonly value: string) {}
  text(): string {
    return `[.=${quoteXPath(this.value)}]`;
  }
}

/** a list entry's key predicates [p:k='v'][p:k2='w'] */
class KeyPredicate implements LazyPredicate {
  constructor(private readonly keyNodes: LeafNode[], private readonly keyVals: string[]) {}
  text(): string {
    let s = '';
    for (let i = 0; i < this.keyNodes.length; i++) {
      const kn = this.keyNodes[i]!;
      s += `[${kn.module.prefix}:${kn.name}=${quoteXPath(this.keyVals[i]!)}]`;
    }
    return s;
  }
}

/** a leaf's path (`predicate` ''), or a leaf-list entry's (`predicate` undefined: [.='text']) */
function leafPath(parentPath: PathCtx, node: StepNode, predicate: string | undefined, text: string): PathCtx {
  return parentPath.step(node, predicate ?? new ValuePredicate(text));
}

function textOnly(e: XmlElement): { text: string; hasElements: boolean } {
  let text = '';
  let hasElements = false;
  for (const c of e.children) {
    if (typeof c === 'string') text += c;
    else hasElements = true;
  }
  return { text, hasElements };
}

/** the text of a node list (its string children, concatenated) */
function textOf(nodes: ReadonlyArray<XmlNode>): string {
  let text = '';
  for (const c of nodes) if (typeof c === 'string') text += c;
  return text;
}

interface Slot {
  node: SchemaNode;
  /** the choices/cases the node sits in, outermost first */
  within: Array<{ choice: ChoiceNode; caseName: string }>;
  /** its position in SchemaIndex.slots (a node's own, also when another node shadows its name) */
  index: number;
}

/** a node the mandatory check looks at: a choice (with its cases' items) or a node that is required when absent */
interface MandatoryItem {
  node: SchemaNode;
  /** the node's slot (-1 for a choice) */
  index: number;
  /** a choice: each case's items */
  cases?: Map<string, MandatoryItem[]>;
}

/** what validating the children of one schema node list needs, built once per list */
interface SchemaIndex {
  /** element name -> the slots of that name (one per namespace; a later node of the same name and namespace wins) */
  byName: Map<string, Slot[]>;
  slots: Slot[];
  /** the nodes the mandatory check visits, in schema order: [all nodes, config true nodes only] */
  mandatory: [MandatoryItem[], MandatoryItem[]];
}

function slotsOf(nodes: SchemaNode[], ix: SchemaIndex, within: Slot['within'] = []): void {
  for (const n of nodes) {
    if (n.kind === 'choice') {
      for (const c of n.cases) slotsOf(c.children, ix, [...within, { choice: n, caseName: c.name }]);
      continue;
    }
    const slot: Slot = { node: n, within, index: ix.slots.length };
    ix.slots.push(slot);
    const named = ix.byName.get(n.name);
    if (!named) ix.byName.set(n.name, [slot]);
    else {
      const same = named.findIndex((s) => s.node.module.namespace === n.module.namespace);
      if (same >= 0) named[same] = slot;
      else named.push(slot);
    }
  }
}

/** the nodes of `nodes` (through choices) that the mandatory check may report, in schema order */
function mandatoryItems(nodes: SchemaNode[], slotOf: Map<SchemaNode, number>, configOnly: boolean): MandatoryItem[] {
  const out: MandatoryItem[] = [];
  for (const n of nodes) {
    if (configOnly && !n.config) continue;
    if (n.kind === 'choice') {
      const cases = new Map<string, MandatoryItem[]>();
      // the first case of a name is the one a chosen case name finds
      for (const c of n.cases) if (!cases.has(c.name)) cases.set(c.name, mandatoryItems(c.children, slotOf, configOnly));
      out.push({ node: n, index: -1, cases });
    } else if (((n.kind === 'leaf' || n.kind === 'anyxml' || n.kind === 'anydata') && n.mandatory)
      || ((n.kind === 'list' || n.kind === 'leaf-list') && n.min > 0) || (n.kind === 'container' && !n.presence)) {
      out.push({ node: n, index: slotOf.get(n)! });
    }
  }
  return out;
}

const indexCache = new WeakMap<SchemaNode[], SchemaIndex>();
function indexOf(nodes: SchemaNode[]): SchemaIndex {
  let ix = indexCache.get(nodes);
  if (!ix) {
    ix = { byName: new Map(), slots: [], mandatory: [[], []] };
    slotsOf(nodes, ix);
    const slotOf = new Map(ix.slots.map((s) => [s.node, s.index]));
    ix.mandatory = [mandatoryItems(nodes, slotOf, false), mandatoryItems(nodes, slotOf, true)];
    indexCache.set(nodes, ix);
  }
  return ix;
}

function slotFor(ix: SchemaIndex, e: XmlElement): Slot | undefined {
  const named = ix.byName.get(e.name);
  if (named) for (const s of named) if (s.node.module.namespace === e.ns) return s;
  return undefined;
}

const keyCache = new WeakMap<ListNode, LeafNode[]>();
function keyNodesOf(node: ListNode): LeafNode[] {
  let k = keyCache.get(node);
  if (!k) {
    k = node.keys.map((name) => node.children.find((c): c is LeafNode => c.kind === 'leaf' && c.name === name)!);
    keyCache.set(node, k);
  }
  return k;
}

/** the elements found for each slot of a SchemaIndex: one element, or several */
type Found = Array<XmlElement | XmlElement[] | undefined>;

const NOTHING_FOUND: Found = [];

function instancesOf(g: XmlElement | XmlElement[]): XmlElement[] {
  return Array.isArray(g) ? g : [g];
}

export class InstanceValidator {
  private readonly errors: RpcErrorInfo[] = [];
  /** each element's parent, for leafref paths (configuration only: no other mode checks leafrefs) */
  private readonly parentOf: Map<XmlElement, XmlElement> | undefined;
  private readonly leafrefs: Array<{ el: XmlElement; type: LeafNode['type']; value: string; p: PathCtx; name: string }> = [];
  /** one context for every leaf, its nsContext set per leaf (checkValue keeps nothing) */
  private readonly valueCtx: ValueContext;

  constructor(private readonly modules: Map<string, CompiledModule>, private readonly mode: Mode) {
    this.valueCtx = { modules, nsContext: undefined };
    this.parentOf = mode.configOnly ? new Map() : undefined;
  }

  result(): RpcErrorInfo[] {
    return this.errors;
  }

  private err(e: RpcErrorInfo): void {
    this.errors.push(e);
  }

  private at(p: PathCtx): { path: string; pathNs: Record<string, string> } {
    const path = p.path;
    return { path: path === '' ? '/' : path, pathNs: { ...p.ns } };
  }

  /** validate the children of an inner node (text in `elems` is skipped); `parentPath` is the inner node's path */
  children(elems: ReadonlyArray<XmlNode>, schema: SchemaNode[], parentPath: PathCtx, parentEl?: XmlElement): void {
    this.elements(elems, schema, parentPath, parentEl);
  }

  /**
   * validate an inner node's content: `nodes` its children, text and elements (text in it is an error when it is
   * more than whitespace). Equivalent to children(its elements, ..., { text: its text }, parentEl).
   */
  content(nodes: ReadonlyArray<XmlNode>, schema: SchemaNode[], parentPath: PathCtx, parentEl?: XmlElement): void {
    for (const c of nodes) {
      if (typeof c === 'string' && c.trim() !== '') {
        this.textInside(textOf(nodes), parentPath);
        break;
      }
    }
    this.elements(nodes, schema, parentPath, parentEl);
  }

  private textInside(text: string, parentPath: PathCtx): void {
    if (text.trim() !== '') {
      this.err({
        type: 'application', tag: 'bad-element', ...this.at(parentPath),
        message: `text "${text.trim().slice(0, 40)}" inside an inner node`,
      });
    }
  }

  /** the elements of `nodes` (text skipped) against `schema` */
  private elements(nodes: ReadonlyArray<XmlNode>, schema: SchemaNode[], parentPath: PathCtx, parentEl: XmlElement | undefined): void {
    const ix = indexOf(schema);
    const found: Found = new Array<XmlElement | XmlElement[] | undefined>(ix.slots.length);
    const order = new Array<Slot>(ix.slots.length); // the slots in the order first met (sized once: no growing)
    let met = 0;
    const parentOf = parentEl !== undefined ? this.parentOf : undefined;
    for (const e of nodes) {
      if (typeof e === 'string') continue;
      parentOf?.set(e, parentEl!);
      const slot = slotFor(ix, e);
      if (!slot || (this.mode.configOnly && !slot.node.config)) {
        this.unknown(e, parentPath, slot !== undefined);
        continue;
      }
      const g = found[slot.index];
      if (g === undefined) { found[slot.index] = e; order[met++] = slot; } else if (Array.isArray(g)) g.push(e);
      else found[slot.index] = [g, e];
    }
    // choices: at most one case present
    let chosen: Map<ChoiceNode, string> | undefined;
    for (let i = 0; i < met; i++) {
      const slot = order[i]!;
      for (const w of slot.within) {
        chosen ??= new Map();
        const have = chosen.get(w.choice);
        if (have === undefined) chosen.set(w.choice, w.caseName);
        else if (have !== w.caseName) {
          this.err({
            type: 'application', tag: 'bad-element', ...this.at(parentPath.step(slot.node)),
            message: `"${slot.node.name}" belongs to case "${w.caseName}" but case "${have}" of choice "${w.choice.name}" is present`,
            info: [info.badElement(slot.node.name)],
          });
        }
      }
      this.instances(slot.node, found[slot.index]!, parentPath);
    }
    this.mandatory(ix.mandatory[this.mode.configOnly ? 1 : 0], found, chosen, parentPath);
  }

  /**
   * leafref require-instance (RFC 7950 sections 9.9.3 and 15.5) over the whole tree; `root` holds the
   * top-level elements. Paths with predicates are not evaluated.
   */
  checkLeafrefs(root: XmlElement): void {
    for (const r of this.leafrefs) {
      const lr = r.type.leafref!;
      let set: XmlElement[] = lr.absolute ? [root] : [r.el];
      for (const step of lr.steps!) {
        if (step === '..') set = set.map((x) => this.parentOf?.get(x)).filter((x): x is XmlElement => x !== undefined);
        else set = set.flatMap((x) => x.children.filter((c): c is XmlElement => typeof c !== 'string' && c.ns === step.ns && c.name === step.name));
      }
      const target = lr.resolve();
      const want = target ? canonical(target, r.value) : r.value;
      const found = set.some((x) => (target ? canonical(target, textOnly(x).text) : textOnly(x).text) === want);
      if (!found) {
        this.err({
          type: 'application', tag: 'data-missing', appTag: 'instance-required', ...this.at(r.p),
          message: `${r.name}: no instance of ${lr.path} has the value "${r.value}"`,
        });
      }
    }
  }

  private unknown(e: XmlElement, parentPath: PathCtx, configFalse: boolean): void {
    let known = false;
    for (const m of this.modules.values()) if (m.ref.namespace === e.ns) { known = true; break; }
    if (!known) {
      this.err({
        type: 'application', tag: 'unknown-namespace', ...this.at(parentPath),
        message: `element "${e.name}" is in namespace "${e.ns}", which no loaded module defines`,
        info: [info.badElement(e.name), info.badNamespace(e.ns)],
      });
      return;
    }
    this.err({
      type: 'application', tag: 'unknown-element', ...this.at(parentPath),
      message: configFalse ? `"${e.name}" is state data (config false), not configuration`
        : `"${e.name}" is not defined here by any loaded module`,
      info: [info.badElement(e.name)],
    });
  }

  /** the instances of one node (`g`: one element, or several) */
  private instances(node: SchemaNode, g: XmlElement | XmlElement[], parentPath: PathCtx): void {
    switch (node.kind) {
      case 'leaf':
      case 'container':
      case 'anyxml':
      case 'anydata': {
        if (Array.isArray(g)) {
          this.err({
            type: 'application', tag: 'bad-element', ...this.at(parentPath.step(node)),
            message: `"${node.name}" appears ${g.length} times; it may appear once`, info: [info.badElement(node.name)],
          });
        }
        const e = Array.isArray(g) ? g[0]! : g;
        if (node.kind === 'leaf') this.leafValue(node, e, parentPath, '');
        else if (node.kind === 'container') this.content(e.children, node.children, parentPath.step(node), e);
        return;
      }
      case 'leaf-list':
        this.leafListEntries(node, instancesOf(g), parentPath);
        return;
      case 'list':
        this.listEntries(node, instancesOf(g), parentPath);
        return;
      case 'choice':
        return;
    }
  }

  private leafListEntries(node: LeafListNode, es: XmlElement[], parentPath: PathCtx): void {
    // values need be unique in configuration only (RFC 7950 section 7.7)
    const seen = node.config ? new Set<string>() : undefined;
    for (const e of es) {
      const text = this.leafValue(node, e, parentPath, undefined);
      if (seen === undefined) continue;
      const c = canonical(node.type, text);
      if (seen.has(c)) {
        this.err({
          type: 'application', tag: 'operation-failed', appTag: 'data-not-unique', ...this.at(parentPath.step(node, new ValuePredicate(text))),
          message: `value "${text}" appears twice in leaf-list "${node.name}"`,
        });
      }
      seen.add(c);
    }
    this.counts(node, es.length, parentPath);
  }

  /**
   * A leaf's (or leaf-list entry's) value; its path is `parentPath` and the node with `predicate` (undefined: a
   * leaf-list entry's [.='value']). Returns the value's text.
   */
  private leafValue(node: LeafNode | LeafListNode, e: XmlElement, parentPath: PathCtx, predicate: string | undefined): string {
    const { text, hasElements } = textOnly(e);
    if (hasElements) {
      this.err({
        type: 'application', tag: 'bad-element', ...this.at(leafPath(parentPath, node, predicate, text)),
        message: `"${node.name}" is a leaf; it cannot contain elements`, info: [info.badElement(node.name)],
      });
      return text;
    }
    this.valueCtx.nsContext = e.nsContext;
    const problem = checkValue(node.type, text, this.valueCtx);
    const lr = node.type.leafref;
    if (!problem && this.mode.configOnly && lr?.steps && lr.requireInstance) {
      this.leafrefs.push({ el: e, type: node.type, value: text, p: leafPath(parentPath, node, predicate, text), name: node.name });
    }
    if (problem) {
      this.err({
        type: 'application', tag: 'invalid-value', ...this.at(leafPath(parentPath, node, predicate, text)),
        ...(problem.appTag ? { appTag: problem.appTag } : {}),
        message: `${node.name}: ${problem.message}`, info: [info.badElement(node.name)],
      });
    }
    return text;
  }

  private counts(node: { name: string; min: number; max: number; module: LeafNode['module'] }, n: number, parentPath: PathCtx): void {
    if (n < node.min) {
      this.err({
        type: 'application', tag: 'operation-failed', appTag: 'too-few-elements', ...this.at(parentPath.step(node)),
        message: `"${node.name}" has ${n} instances; at least ${node.min} are required`,
      });
    }
    if (n > node.max) {
      this.err({
        type: 'application', tag: 'operation-failed', appTag: 'too-many-elements', ...this.at(parentPath.step(node)),
        message: `"${node.name}" has ${n} instances; at most ${node.max} are allowed`,
      });
    }
  }

  private listEntries(node: ListNode, es: XmlElement[], parentPath: PathCtx): void {
    const keyNodes = keyNodesOf(node);
    const seenKeys = new Map<string, number>();
    const uniqueSeen = node.unique.length === 0 ? [] : node.unique.map(() => new Map<string, number>());
    for (let idx = 0; idx < es.length; idx++) {
      const e = es[idx]!;
      // the entry's path: key predicates when all keys are present, else its position
      let keyVals: string[] | undefined;
      let allKeys = keyNodes.length > 0;
      if (allKeys) {
        keyVals = [];
        for (const kn of keyNodes) {
          const ke = child(e, kn.module.namespace, kn.name);
          if (ke === undefined) { allKeys = false; keyVals.push(''); } else keyVals.push(textOnly(ke).text);
        }
      }
      const p = parentPath.step(node, allKeys ? new KeyPredicate(keyNodes, keyVals!) : idx + 1);
      if (allKeys) this.duplicateKey(node, keyNodes, keyVals!, p, idx, seenKeys);
      else this.missingKeys(node, keyNodes, e, p);
      this.content(e.children, node.children, p, e);
      if (uniqueSeen.length > 0) this.uniqueValues(node, e, p, idx, uniqueSeen);
    }
    this.counts(node, es.length, parentPath);
  }

  /** every key of a list entry present (`p`: the entry's path) */
  private missingKeys(node: ListNode, keyNodes: LeafNode[], e: XmlElement, p: PathCtx): void {
    for (const kn of keyNodes) {
      if (child(e, kn.module.namespace, kn.name) === undefined) {
        this.err({
          type: 'application', tag: 'missing-element', ...this.at(p.step(kn)),
          message: `list entry "${node.name}" lacks its key "${kn.name}"`, info: [info.badElement(kn.name)],
        });
      }
    }
  }

  /** the whole key of an entry that has all its keys (`keyVals`) not seen before; duplicates are judged on the whole key */
  private duplicateKey(node: ListNode, keyNodes: LeafNode[], keyVals: string[], p: PathCtx, idx: number, seenKeys: Map<string, number>): void {
    let id = canonical(keyNodes[0]!.type, keyVals[0]!);
    for (let j = 1; j < keyNodes.length; j++) id += `\u0000${canonical(keyNodes[j]!.type, keyVals[j]!)}`;
    const first = seenKeys.get(id);
    if (first !== undefined) {
      this.err({
        type: 'application', tag: 'operation-failed', appTag: 'data-not-unique', ...this.at(p),
        message: `list "${node.name}" has two entries with the key ${new KeyPredicate(keyNodes, keyVals).text()}`,
      });
    } else seenKeys.set(id, idx);
  }

  /** the list's unique statements: an entry whose leaves are all present has values no earlier entry has */
  private uniqueValues(node: ListNode, e: XmlElement, p: PathCtx, idx: number, uniqueSeen: Array<Map<string, number>>): void {
    node.unique.forEach((u, ui) => {
      const vals: string[] = [];
      for (const path of u) {
        let cur: XmlElement | undefined = e;
        for (const step of path) cur = cur ? cur.children.find((c): c is XmlElement => typeof c !== 'string' && c.name === step) : undefined;
        if (!cur) return; // unique applies only when every leaf is present
        vals.push(textOnly(cur).text);
      }
      const id = vals.join('\u0000');
      if (uniqueSeen[ui]!.has(id)) {
        this.err({
          type: 'application', tag: 'operation-failed', appTag: 'data-not-unique', ...this.at(p),
          message: `list "${node.name}": values of (${u.map((x) => x.join('/')).join(' ')}) are not unique`,
        });
      } else uniqueSeen[ui]!.set(id, idx);
    });
  }

  /** mandatory nodes that are absent (RFC 7950 section 3, "mandatory node"); `items` from the schema's index */
  private mandatory(items: MandatoryItem[], found: Found, chosen: Map<ChoiceNode, string> | undefined, parentPath: PathCtx): void {
    for (const { node: n, index, cases } of items) {
      if (n.kind === 'choice') {
        const c = chosen?.get(n);
        if (c === undefined) {
          if (n.mandatory) {
            this.err({
              type: 'application', tag: 'data-missing', appTag: 'missing-choice', ...this.at(parentPath),
              message: `one case of choice "${n.name}" is required`,
              info: [leaf(YANG_NS, 'missing-choice', n.name)],
            });
          }
          continue;
        }
        const cs = cases!.get(c);
        if (cs) this.mandatory(cs, found, chosen, parentPath);
        continue;
      }
      if (found[index] !== undefined) continue;
      if (n.kind === 'list' || n.kind === 'leaf-list') this.counts(n, 0, parentPath);
      else if (n.kind === 'container') {
        // an absent non-presence container still needs its mandatory descendants
        this.mandatory(indexOf(n.children).mandatory[this.mode.configOnly ? 1 : 0], NOTHING_FOUND, undefined, parentPath.step(n));
      } else {
        this.err({
          type: 'application', tag: 'missing-element', ...this.at(parentPath.step(n)),
          message: `mandatory "${n.name}" is missing`, info: [info.badElement(n.name)],
        });
      }
    }
  }
}

export function emptyPath(): PathCtx {
  return new PathCtx(undefined, undefined);
}

export { PathCtx };
