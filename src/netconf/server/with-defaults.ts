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
  return new DefaultsReport(mode, configOnly, onDefault).apply(top, schema.tops());
}

/** One retrieval in a mode other than explicit: trim drops the leaves at their default, report-all(-tagged) adds the missing ones. */
class DefaultsReport {
  private readonly report: boolean;
  private readonly tag: boolean;

  constructor(private readonly mode: WithDefaultsMode, private readonly configOnly: boolean, private readonly onDefault: ((e: XmlElement) => void) | undefined) {
    this.report = mode === 'report-all' || mode === 'report-all-tagged';
    this.tag = mode === 'report-all-tagged';
  }

  /** the top-level elements, and with report-all the configuration containers of defaults that are not in them */
  apply(top: XmlElement[], tops: SchemaNode[]): XmlElement[] {
    const out: XmlElement[] = [];
    for (const e of top) {
      const s = tops.find((t) => t.name === e.name && t.module.namespace === e.ns);
      const v = s ? this.visit(e, s) : e;
      if (v) out.push(v);
    }
    if (this.report) {
      for (const t of tops) {
        if (!t.config || t.kind !== 'container' || out.some((e) => e.name === t.name && e.ns === t.module.namespace)) continue;
        this.addMissing(t, out);
      }
    }
    return out;
  }

  private wanted(s: SchemaNode): boolean {
    return s.config || !this.configOnly;
  }

  private visit(e: XmlElement, s: SchemaNode): XmlElement | undefined {
    if (s.kind === 'leaf') return this.leaf(e, s);
    if (s.kind !== 'container' && s.kind !== 'list') return e;
    const present = (ns: string, name: string): boolean => e.children.some((c) => typeof c !== 'string' && c.ns === ns && c.name === name);
    const kids = effective(childrenOf(s), present);
    const children = this.visitChildren(e, kids);
    if (this.report) {
      for (const k of kids) {
        if (!this.wanted(k) || present(k.module.namespace, k.name)) continue;
        this.addMissing(k, children);
      }
    }
    return { ...e, children };
  }

  /** a leaf at its default: left out (trim), tagged (report-all-tagged) or kept */
  private leaf(e: XmlElement, s: Leaf): XmlElement | undefined {
    if (s.default === undefined || !isLeafEl(e) || !sameValue(textOf(e), s.default)) return e;
    if (this.mode === 'trim') return undefined;
    return this.tag ? tagged(e) : e;
  }

  /** the element's children, each known to the schema (`kids`) visited */
  private visitChildren(e: XmlElement, kids: SchemaNode[]): XmlNode[] {
    const children: XmlNode[] = [];
    for (const c of e.children) {
      if (typeof c === 'string') {
        children.push(c);
        continue;
      }
      const cs = kids.find((k) => k.name === c.name && k.module.namespace === c.ns);
      const out = cs ? this.visit(c, cs) : c;
      if (out) children.push(out);
    }
    return children;
  }

  /** adds what missing(k) reports to `into`, telling onDefault of each */
  private addMissing(k: SchemaNode, into: XmlNode[]): void {
    for (const m of this.missing(k)) {
      this.onDefault?.(m);
      into.push(m);
    }
  }

  /**
   * a node that is not in the data, as report-all shows it: a default leaf, the default entries of a
   * leaf-list, or a container of defaults; nothing when it has no default
   */
  private missing(k: SchemaNode): XmlElement[] {
    if (k.kind === 'leaf') return k.default !== undefined ? [defaultLeaf(k, k.default, this.tag)] : [];
    if (k.kind === 'leaf-list') return (k.defaults ?? []).map((v) => defaultLeaf(k, v, this.tag));
    if (k.kind !== 'container' || (k as Container).presence) return [];
    const filled = this.visit({ ns: k.module.namespace, name: k.name, attrs: [], children: [] }, k);
    return filled && filled.children.length > 0 ? [filled] : [];
  }
}
