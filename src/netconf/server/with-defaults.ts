/**
 * with-defaults (RFC 6243) on get, get-config and copy-config.
 *
 * Basic mode `explicit` (section 3.3): running keeps what clients set, a leaf set to its default value
 * included, and nothing else; state is reported as the providers give it. Also supported:
 * - report-all (3.1): every leaf with a YANG default that is not in the data is reported with it, and every
 *   leaf-list with YANG 1.1 defaults (RFC 7950 7.7.4) that has no entry is reported with its default entries, in
 *   every container and list entry present, and in non-presence containers that hold such leaves (at the
 *   top level, configuration containers of implemented modules); get-config adds configuration leaves only;
 * - trim (3.2): a leaf whose value equals its YANG default is left out (leaf-list entries are kept: a set
 *   entry is data the client wrote, even when it equals a default value);
 * - report-all-tagged (3.4): report-all, and every leaf that has its default value carries
 *   wd:default="true" (namespace urn:ietf:params:xml:ns:netconf:default:1.0), as does every leaf-list entry
 *   reported from the defaults.
 * Choices: only the case in effect counts (the case with data, else the default case; RFC 7950 7.9.3).
 * The defaults come from the compiled YANG modules (the validator's schema). Applied before NACM pruning
 * and before the filter, so a filter can select a default and a session never reads one it may not.
 *
 * The parameter: <with-defaults xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults">MODE
 * </with-defaults>; another value is invalid-value (bad-element with-defaults). In copy-config it has
 * no effect here: it governs the copy written to a <url> target (4.5.3), and this server has no :url.
 */
import { NetconfError, info } from '../rpc-error.js';
import { child, textOf } from '../xml/index.js';
import type { XmlElement, XmlNode } from '../xml/index.js';
import type { SchemaNode } from '../../yang/index.js';

export const WITH_DEFAULTS_NS = 'urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults';
/** the namespace of the wd:default attribute (RFC 6243 section 6) */
export const DEFAULT_ATTR_NS = 'urn:ietf:params:xml:ns:netconf:default:1.0';
export const BASIC_MODE = 'explicit';
export const ALSO_SUPPORTED = ['report-all', 'report-all-tagged', 'trim'] as const;
export const WITH_DEFAULTS_CAPABILITY =
  `urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=${BASIC_MODE}&also-supported=${ALSO_SUPPORTED.join(',')}`;

export type WithDefaultsMode = 'explicit' | 'report-all' | 'report-all-tagged' | 'trim';
const MODES: ReadonlySet<string> = new Set([BASIC_MODE, ...ALSO_SUPPORTED]);

/** The schema a with-defaults retrieval needs: the tops of the implemented modules and the node at a path. */
export interface DefaultsSchema {
  tops(): SchemaNode[];
  nodeAt(path: Array<{ ns: string; name: string }>): SchemaNode | undefined;
}

/** The validator's schema, when it offers one (the YANG SchemaValidator does), else undefined. */
export function defaultsSchemaOf(validator: unknown): DefaultsSchema | undefined {
  const v = validator as { nodeAt?: unknown; modules?: unknown } | undefined;
  if (!v || typeof v.nodeAt !== 'function' || !(v.modules instanceof Map)) return undefined;
  const modules = v.modules as Map<string, { implemented: boolean; top: SchemaNode[] }>;
  const nodeAt = v.nodeAt as DefaultsSchema['nodeAt'];
  return {
    tops: () => [...modules.values()].filter((m) => m.implemented).flatMap((m) => m.top),
    nodeAt: (path) => nodeAt.call(v, path),
  };
}

/** The <with-defaults> parameter of an operation, or undefined when absent. */
export function parseWithDefaults(op: XmlElement): WithDefaultsMode | undefined {
  const p = child(op, WITH_DEFAULTS_NS, 'with-defaults');
  if (!p) return undefined;
  const mode = textOf(p).trim();
  if (!MODES.has(mode)) {
    throw new NetconfError({
      type: 'application', tag: 'invalid-value',
      message: `with-defaults "${mode}" is not one of ${[BASIC_MODE, ...ALSO_SUPPORTED].join(', ')}`,
      info: [info.badElement('with-defaults')],
    });
  }
  return mode as WithDefaultsMode;
}

type Leaf = Extract<SchemaNode, { kind: 'leaf' }>;
type LeafList = Extract<SchemaNode, { kind: 'leaf-list' }>;
type Container = Extract<SchemaNode, { kind: 'container' }>;

/** schema children with choices resolved to the case in effect for the element's children */
function effective(children: readonly SchemaNode[], present: (ns: string, name: string) => boolean): SchemaNode[] {
  const out: SchemaNode[] = [];
  for (const c of children) {
    if (c.kind !== 'choice') {
      out.push(c);
      continue;
    }
    const has = (n: SchemaNode): boolean => (n.kind === 'choice' ? n.cases.some((k) => k.children.some(has)) : present(n.module.namespace, n.name));
    const active = c.cases.find((k) => k.children.some(has)) ?? c.cases.find((k) => k.name === c.defaultCase);
    if (active) out.push(...effective(active.children, present));
  }
  return out;
}

function childrenOf(n: SchemaNode): readonly SchemaNode[] {
  return n.kind === 'container' || n.kind === 'list' ? n.children : [];
}

/** the same value, allowing for the lexical forms of numbers (e.g. "300" and "+300", "1.0" and "1") */
function sameValue(value: string, def: string): boolean {
  const a = value.trim();
  const b = def.trim();
  if (a === b) return true;
  const num = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;
  return num.test(a) && num.test(b) && Number(a) === Number(b);
}

function isLeafEl(e: XmlElement): boolean {
  return !e.children.some((c) => typeof c !== 'string');
}

function tagged(e: XmlElement): XmlElement {
  return { ...e, attrs: [...e.attrs, { ns: DEFAULT_ATTR_NS, name: 'default', value: 'true' }], nsContext: { ...(e.nsContext ?? {}), wd: DEFAULT_ATTR_NS } };
}

function defaultLeaf(s: Leaf | LeafList, value: string, tag: boolean): XmlElement {
  const e: XmlElement = { ns: s.module.namespace, name: s.name, attrs: [], children: [value] };
  return tag ? tagged(e) : e;
}

/**
 * The data as `mode` reports it. `configOnly`: get-config (configuration leaves only); get adds state
 * leaves' defaults too. Elements the schema does not know are left as they are. `onDefault` is told of each
 * node report-all adds (get-data on operational: their origin is or:default).
 */
export function applyWithDefaults(top: XmlElement[], mode: WithDefaultsMode | undefined, schema: DefaultsSchema | undefined, configOnly: boolean,
  onDefault?: (e: XmlElement) => void): XmlElement[] {
  if (!mode || mode === 'explicit' || !schema) return top;
  const report = mode === 'report-all' || mode === 'report-all-tagged';
  const tag = mode === 'report-all-tagged';
  const wanted = (s: SchemaNode): boolean => s.config || !configOnly;

  const visit = (e: XmlElement, s: SchemaNode): XmlElement | undefined => {
    if (s.kind === 'leaf') {
      if (s.default === undefined || !isLeafEl(e) || !sameValue(textOf(e), s.default)) return e;
      if (mode === 'trim') return undefined;
      return tag ? tagged(e) : e;
    }
    if (s.kind !== 'container' && s.kind !== 'list') return e;
    const present = (ns: string, name: string): boolean => e.children.some((c) => typeof c !== 'string' && c.ns === ns && c.name === name);
    const kids = effective(childrenOf(s), present);
    const children: XmlNode[] = [];
    for (const c of e.children) {
      if (typeof c === 'string') {
        children.push(c);
        continue;
      }
      const cs = kids.find((k) => k.name === c.name && k.module.namespace === c.ns);
      const out = cs ? visit(c, cs) : c;
      if (out) children.push(out);
    }
    if (report) {
      for (const k of kids) {
        if (!wanted(k) || present(k.module.namespace, k.name)) continue;
        for (const m of missing(k)) {
          onDefault?.(m);
          children.push(m);
        }
      }
    }
    return { ...e, children };
  };

  /**
   * a node that is not in the data, as report-all shows it: a default leaf, the default entries of a
   * leaf-list, or a container of defaults; nothing when it has no default
   */
  const missing = (k: SchemaNode): XmlElement[] => {
    if (k.kind === 'leaf') return k.default !== undefined ? [defaultLeaf(k, k.default, tag)] : [];
    if (k.kind === 'leaf-list') return (k.defaults ?? []).map((v) => defaultLeaf(k, v, tag));
    if (k.kind !== 'container' || (k as Container).presence) return [];
    const filled = visit({ ns: k.module.namespace, name: k.name, attrs: [], children: [] }, k);
    return filled && filled.children.length > 0 ? [filled] : [];
  };

  const tops = schema.tops();
  const out: XmlElement[] = [];
  for (const e of top) {
    const s = tops.find((t) => t.name === e.name && t.module.namespace === e.ns);
    const v = s ? visit(e, s) : e;
    if (v) out.push(v);
  }
  if (report) {
    for (const t of tops) {
      if (!t.config || t.kind !== 'container' || out.some((e) => e.name === t.name && e.ns === t.module.namespace)) continue;
      for (const m of missing(t)) {
        onDefault?.(m);
        out.push(m);
      }
    }
  }
  return out;
}
