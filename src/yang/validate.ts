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
 */
import type { RpcErrorInfo } from '../netconf/rpc-error.js';
import { info } from '../netconf/rpc-error.js';
import { leaf } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import type { ChoiceNode, CompiledModule, LeafNode, ListNode, SchemaNode } from './schema.js';
import { canonical, checkValue } from './value.js';

const YANG_NS = 'urn:ietf:params:xml:ns:yang:1';

export interface Mode {
  /** only config true nodes are allowed (validateConfig) */
  configOnly: boolean;
}

/** where we are: the path so far and its prefix bindings */
class PathCtx {
  constructor(readonly path: string, readonly ns: Record<string, string>) {}
  step(node: { name: string; module: { prefix: string; namespace: string } }, predicate = ''): PathCtx {
    const ns = this.ns[node.module.prefix] === undefined || this.ns[node.module.prefix] === node.module.namespace
      ? { ...this.ns, [node.module.prefix]: node.module.namespace } : this.ns;
    return new PathCtx(`${this.path}/${node.module.prefix}:${node.name}${predicate}`, ns);
  }
}

function quoteXPath(v: string): string {
  return v.includes("'") ? `"${v}"` : `'${v}'`;
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

interface Slot {
  node: SchemaNode;
  /** the choices/cases the node sits in, outermost first */
  within: Array<{ choice: ChoiceNode; caseName: string }>;
}

function slotsOf(nodes: SchemaNode[], within: Slot['within'] = [], out = new Map<string, Slot>()): Map<string, Slot> {
  for (const n of nodes) {
    if (n.kind === 'choice') {
      for (const c of n.cases) slotsOf(c.children, [...within, { choice: n, caseName: c.name }], out);
    } else {
      out.set(`${n.module.namespace}\u0000${n.name}`, { node: n, within });
    }
  }
  return out;
}

const slotCache = new WeakMap<SchemaNode[], Map<string, Slot>>();
function slots(nodes: SchemaNode[]): Map<string, Slot> {
  let s = slotCache.get(nodes);
  if (!s) { s = slotsOf(nodes); slotCache.set(nodes, s); }
  return s;
}

export class InstanceValidator {
  private readonly errors: RpcErrorInfo[] = [];
  private readonly parentOf = new Map<XmlElement, XmlElement>();
  private readonly leafrefs: Array<{ el: XmlElement; type: LeafNode['type']; value: string; p: PathCtx; name: string }> = [];
  private readonly knownNs: Set<string>;

  constructor(private readonly modules: Map<string, CompiledModule>, private readonly mode: Mode) {
    this.knownNs = new Set([...modules.values()].map((m) => m.ref.namespace));
  }

  result(): RpcErrorInfo[] {
    return this.errors;
  }

  private err(e: RpcErrorInfo): void {
    this.errors.push(e);
  }

  private at(p: PathCtx): { path: string; pathNs: Record<string, string> } {
    return { path: p.path === '' ? '/' : p.path, pathNs: { ...p.ns } };
  }

  /** validate the children of an inner node; `parentPath` is the inner node's path */
  children(elems: XmlElement[], schema: SchemaNode[], parentPath: PathCtx, allowText: { text: string } | undefined = undefined,
    parentEl?: XmlElement): void {
    if (parentEl) for (const e of elems) this.parentOf.set(e, parentEl);
    if (allowText && allowText.text.trim() !== '') {
      this.err({
        type: 'application', tag: 'bad-element', ...this.at(parentPath),
        message: `text "${allowText.text.trim().slice(0, 40)}" inside an inner node`,
      });
    }
    const map = slots(schema);
    const groups = new Map<Slot, XmlElement[]>();
    for (const e of elems) {
      const slot = map.get(`${e.ns}\u0000${e.name}`);
      if (!slot || (this.mode.configOnly && !slot.node.config)) {
        this.unknown(e, parentPath, slot !== undefined);
        continue;
      }
      const g = groups.get(slot);
      if (g) g.push(e);
      else groups.set(slot, [e]);
    }
    // choices: at most one case present
    const chosen = new Map<ChoiceNode, string>();
    for (const [slot, es] of groups) {
      for (const w of slot.within) {
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
      this.instances(slot.node, es, parentPath);
    }
    this.mandatory(schema, groups, chosen, parentPath);
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
        if (step === '..') set = set.map((x) => this.parentOf.get(x)).filter((x): x is XmlElement => x !== undefined);
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
    if (!this.knownNs.has(e.ns)) {
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

  private instances(node: SchemaNode, es: XmlElement[], parentPath: PathCtx): void {
    switch (node.kind) {
      case 'leaf':
      case 'container':
      case 'anyxml':
      case 'anydata': {
        if (es.length > 1) {
          this.err({
            type: 'application', tag: 'bad-element', ...this.at(parentPath.step(node)),
            message: `"${node.name}" appears ${es.length} times; it may appear once`, info: [info.badElement(node.name)],
          });
        }
        const e = es[0]!;
        if (node.kind === 'leaf') this.leafValue(node, e, parentPath.step(node));
        else if (node.kind === 'container') {
          const t = textOnly(e);
          this.children(e.children.filter((c): c is XmlElement => typeof c !== 'string'), node.children, parentPath.step(node), t, e);
        }
        return;
      }
      case 'leaf-list': {
        const seen = new Set<string>();
        for (const e of es) {
          const { text } = textOnly(e);
          const p = parentPath.step(node, `[.=${quoteXPath(text)}]`);
          this.leafValue(node, e, p);
          const c = canonical(node.type, text);
          if (node.config && seen.has(c)) {
            this.err({
              type: 'application', tag: 'operation-failed', appTag: 'data-not-unique', ...this.at(p),
              message: `value "${text}" appears twice in leaf-list "${node.name}"`,
            });
          }
          seen.add(c);
        }
        this.counts(node, es.length, parentPath);
        return;
      }
      case 'list':
        this.listEntries(node, es, parentPath);
        return;
      case 'choice':
        return;
    }
  }

  private leafValue(node: LeafNode | { kind: 'leaf-list'; name: string; type: LeafNode['type']; module: LeafNode['module'] }, e: XmlElement, p: PathCtx): void {
    const { text, hasElements } = textOnly(e);
    if (hasElements) {
      this.err({
        type: 'application', tag: 'bad-element', ...this.at(p),
        message: `"${node.name}" is a leaf; it cannot contain elements`, info: [info.badElement(node.name)],
      });
      return;
    }
    const problem = checkValue(node.type, text, { modules: this.modules, ...(e.nsContext ? { nsContext: e.nsContext } : {}) });
    const lr = node.type.leafref;
    if (!problem && this.mode.configOnly && lr?.steps && lr.requireInstance) {
      this.leafrefs.push({ el: e, type: node.type, value: text, p, name: node.name });
    }
    if (problem) {
      this.err({
        type: 'application', tag: 'invalid-value', ...this.at(p),
        ...(problem.appTag ? { appTag: problem.appTag } : {}),
        message: `${node.name}: ${problem.message}`, info: [info.badElement(node.name)],
      });
    }
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
    const keyNodes = node.keys.map((k) => node.children.find((c): c is LeafNode => c.kind === 'leaf' && c.name === k)!);
    const seenKeys = new Map<string, number>();
    const uniqueSeen = node.unique.map(() => new Map<string, number>());
    es.forEach((e, idx) => {
      const elems = e.children.filter((c): c is XmlElement => typeof c !== 'string');
      // the entry's path: key predicates when all keys are present, else its position
      const keyVals: string[] = [];
      let allKeys = keyNodes.length > 0;
      for (const kn of keyNodes) {
        const ke = elems.find((c) => c.name === kn.name && c.ns === kn.module.namespace);
        if (ke === undefined) { allKeys = false; keyVals.push(''); } else keyVals.push(textOnly(ke).text);
      }
      const pred = allKeys
        ? keyNodes.map((kn, i) => `[${kn.module.prefix}:${kn.name}=${quoteXPath(keyVals[i]!)}]`).join('')
        : `[${idx + 1}]`;
      const p = parentPath.step(node, pred);
      this.entryKeys(node, keyNodes, elems, allKeys ? keyVals : undefined, pred, p, idx, seenKeys);
      const t = textOnly(e);
      this.children(elems, node.children, p, t, e);
      this.uniqueValues(node, e, p, idx, uniqueSeen);
    });
    this.counts(node, es.length, parentPath);
  }

  /** every key of a list entry present; the whole key (`keyVals`, when all are present) not seen before */
  private entryKeys(node: ListNode, keyNodes: LeafNode[], elems: XmlElement[], keyVals: string[] | undefined, pred: string, p: PathCtx,
    idx: number, seenKeys: Map<string, number>): void {
    for (const [i, kn] of keyNodes.entries()) {
      if (!elems.some((c) => c.name === kn.name && c.ns === kn.module.namespace)) {
        this.err({
          type: 'application', tag: 'missing-element', ...this.at(p.step(kn)),
          message: `list entry "${node.name}" lacks its key "${kn.name}"`, info: [info.badElement(kn.name)],
        });
      } else if (i === 0 && keyVals !== undefined) {
        // duplicates are judged on the whole key
        const id = keyNodes.map((k, j) => canonical(k.type, keyVals[j]!)).join('\u0000');
        const first = seenKeys.get(id);
        if (first !== undefined) {
          this.err({
            type: 'application', tag: 'operation-failed', appTag: 'data-not-unique', ...this.at(p),
            message: `list "${node.name}" has two entries with the key ${pred}`,
          });
        } else seenKeys.set(id, idx);
      }
    }
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

  /** mandatory nodes that are absent (RFC 7950 section 3, "mandatory node") */
  private mandatory(schema: SchemaNode[], groups: Map<Slot, XmlElement[]>, chosen: Map<ChoiceNode, string>, parentPath: PathCtx): void {
    const present = new Set<SchemaNode>([...groups.keys()].map((s) => s.node));
    const visit = (nodes: SchemaNode[]): void => {
      for (const n of nodes) {
        if (this.mode.configOnly && !n.config) continue;
        if (n.kind === 'choice') {
          const c = chosen.get(n);
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
          const cs = n.cases.find((x) => x.name === c);
          if (cs) visit(cs.children);
          continue;
        }
        if (present.has(n)) continue;
        if ((n.kind === 'leaf' || n.kind === 'anyxml' || n.kind === 'anydata') && n.mandatory) {
          this.err({
            type: 'application', tag: 'missing-element', ...this.at(parentPath.step(n)),
            message: `mandatory "${n.name}" is missing`, info: [info.badElement(n.name)],
          });
        } else if ((n.kind === 'list' || n.kind === 'leaf-list') && n.min > 0) {
          this.counts(n, 0, parentPath);
        } else if (n.kind === 'container' && !n.presence) {
          // an absent non-presence container still needs its mandatory descendants
          this.mandatory(n.children, new Map(), new Map(), parentPath.step(n));
        }
      }
    };
    visit(schema);
  }
}

export function emptyPath(): PathCtx {
  return new PathCtx('', {});
}

export { PathCtx };
