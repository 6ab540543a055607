/**
 * NMDA operations (RFC 8526 section 3, RFC 8342): ietf-netconf-nmda's <get-data> and <edit-data>.
 *
 * Datastores (ietf-datastores identities, RFC 8342 section 5): `ds:running`, `ds:intended` (this server
 * has no inactive configuration and no templates, so intended is running) and `ds:operational` (the
 * configuration in use, with the defaults in use, merged with every state provider's config false data:
 * /hsv:henbs, jobs, netconf-state, yang-library, ...). No candidate, no startup: such a datastore, or an
 * identity that is not a datastore, is invalid-value (bad-element datastore), as the module says.
 *
 * get-data (3.1.1), applied in this order:
 * 1. the datastore's nodes (operational: report-all of the defaults in use, RFC 8342 5.3.3, unless
 *    with-defaults asks otherwise: the :with-operational-defaults capability, 3.1.1.2);
 * 2. config-filter (config true or config false nodes only; ancestors and list keys kept) and
 *    origin-filter / negated-origin-filter (operational only; configuration nodes by their origin,
 *    derived-from-or-self; state nodes are not filtered); the `origin` of each configuration node is
 *    or:intended (from running), or:default (a default in use) or or:unknown (a configuration node a
 *    state provider reports);
 * 3. with-origin (operational only): the or:origin annotation (RFC 7952 metadata, an attribute in the
 *    ietf-origin namespace) on every top-level configuration node and on each node whose origin differs
 *    from its parent's (ietf-origin: "If not specified ..., the origin is the same as the origin of its
 *    parent node");
 * 4. access control (RFC 8341: the nodes the session may not read are removed, as for get);
 * 5. subtree-filter or xpath-filter (the RFC 6241 rules; the XPath context node is the datastore's root);
 * 6. max-depth: for each node a filter selects (every top-level node without a filter), its subtree is
 *    cut `max-depth` levels down (1 = the node alone; a list entry keeps its keys).
 * with-origin or an origin filter on another datastore is invalid-value (the module's `when`).
 *
 * edit-data (3.1.2): `ds:running` only (the others are not writable: invalid-value), default-operation,
 * <config> with the RFC 6241 `operation` attributes; an error restores running as it was (no partial
 * edit). It is edit-config's edit (edit-config.ts editRunning): the same lock check, NACM write check,
 * YANG validation and audit trail. :url is not supported.
 */
import { NetconfError, info } from '../rpc-error.js';
import { el, elements, isElement, textOf, inScopeNamespaces } from '../xml/index.js';
import type { XmlElement, XmlNode } from '../xml/index.js';
import type { CompiledModule, SchemaNode, YType } from '../../yang/index.js';
import { compileTexts, schemaNodeAt, xsdToJsSource } from '../../yang/index.js';
import type { DataName, YangFunctions, YangReference } from '../xpath/index.js';
import type { OperationContext, OperationHandler } from './operations.js';
import { collectAll, listKeysOf } from './get.js';
import type { GetDeps } from './get.js';
import { editRunning } from './edit-config.js';
import type { EditConfigDeps } from './edit-config.js';
import { subtreeFilterOf, xpathFilterOf } from './filter.js';
import type { DataFilter } from './filter.js';
import { applyWithDefaults, WITH_DEFAULTS_NS, ALSO_SUPPORTED, BASIC_MODE } from './with-defaults.js';
import type { WithDefaultsMode } from './with-defaults.js';
import { DATASTORES, DATASTORES_NS } from './yang-library.js';
import type { DatastoreName } from './yang-library.js';
import type { DataStep, ListKeys } from './subtree-filter.js';

export const NMDA_NS = 'urn:ietf:params:xml:ns:yang:ietf-netconf-nmda';
export const ORIGIN_NS = 'urn:ietf:params:xml:ns:yang:ietf-origin';
/** the features of ietf-netconf-nmda this server supports */
export const NMDA_FEATURES = ['origin', 'with-defaults'];
/** with-defaults on the operational datastore (RFC 8526 3.1.1.2): the defaults in use are part of it */
export const OPERATIONAL_BASIC_MODE = 'report-all';
export const WITH_OPERATIONAL_DEFAULTS_CAPABILITY =
  `urn:ietf:params:netconf:capability:with-operational-defaults:1.0?basic-mode=${OPERATIONAL_BASIC_MODE}&also-supported=explicit,trim,report-all-tagged`;

/** ietf-origin's identities: `origin` is the base of all the others */
const ORIGINS = ['origin', 'intended', 'dynamic', 'system', 'learned', 'default', 'unknown'] as const;
type Origin = (typeof ORIGINS)[number];

export interface NmdaDeps extends GetDeps {
  edit: EditConfigDeps;
  /** the RFC 7950 section 10 functions of xpath-filter (yangFunctionsOf) */
  yang?: YangFunctions;
}

const GET_DATA_PARAMS = ['datastore', 'subtree-filter', 'xpath-filter', 'config-filter', 'origin-filter', 'negated-origin-filter', 'max-depth', 'with-origin'];
const EDIT_DATA_PARAMS = ['datastore', 'default-operation', 'config', 'url'];
const MODES: ReadonlySet<string> = new Set([BASIC_MODE, ...ALSO_SUPPORTED]);

function bad(tag: 'invalid-value' | 'bad-element' | 'missing-element', message: string, element: string, type: 'protocol' | 'application' = 'protocol'): NetconfError {
  return new NetconfError({ type, tag, message, info: [info.badElement(element)] });
}

/** the parameters, each at most once; another element is unknown-element (our namespace) or unknown-namespace */
function params(op: XmlElement, allowed: readonly string[], repeatable: readonly string[] = []): Map<string, XmlElement[]> {
  const out = new Map<string, XmlElement[]>();
  for (const p of elements(op)) {
    const withDefaults = p.ns === WITH_DEFAULTS_NS && p.name === 'with-defaults' && op.name === 'get-data';
    if (!withDefaults && !(p.ns === NMDA_NS && allowed.includes(p.name))) {
      if (p.ns === NMDA_NS) throw new NetconfError({ type: 'protocol', tag: 'unknown-element', message: `${op.name} has no parameter ${p.name}`, info: [info.badElement(p.name)] });
      throw new NetconfError({
        type: 'protocol', tag: 'unknown-namespace', message: `${op.name} has no parameter ${p.name} in namespace ${p.ns || '(none)'}`,
        info: [info.badElement(p.name), info.badNamespace(p.ns)],
      });
    }
    const list = out.get(p.name) ?? [];
    if (list.length > 0 && !repeatable.includes(p.name)) throw bad('bad-element', `${p.name} is given more than once`, p.name);
    list.push(p);
    out.set(p.name, list);
  }
  return out;
}

/** an identityref's value: [namespace, local name], the prefix resolved on the element (RFC 7950 9.10.3) */
function identity(e: XmlElement): [string | undefined, string] {
  const v = textOf(e).trim();
  const i = v.indexOf(':');
  const scope = inScopeNamespaces(e.nsContext);
  if (i < 0) return [scope[''] ?? e.ns, v];
  return [scope[v.slice(0, i)], v.slice(i + 1)];
}

function parseDatastore(p: Map<string, XmlElement[]>, op: string, writable: boolean): DatastoreName {
  const d = p.get('datastore')?.[0];
  if (!d) throw bad('missing-element', `${op} needs a datastore (e.g. <datastore xmlns:ds="${DATASTORES_NS}">ds:operational</datastore>)`, 'datastore');
  const [ns, name] = identity(d);
  const text = textOf(d).trim();
  if (ns !== DATASTORES_NS || !(DATASTORES as readonly string[]).includes(name)) {
    const why = ns === DATASTORES_NS && (name === 'candidate' || name === 'startup')
      ? `this server has no ${name} datastore`
      : ns === undefined ? `the prefix of "${text}" is not declared` : `"${text}" is not a datastore of ietf-datastores`;
    throw bad('invalid-value', `${why}; the datastores are ${DATASTORES.map((x) => `ds:${x}`).join(', ')} (ds = ${DATASTORES_NS})`, 'datastore');
  }
  if (writable && name !== 'running') throw bad('invalid-value', `datastore ds:${name} is not writable; edit-data writes ds:running`, 'datastore');
  return name as DatastoreName;
}

function parseOrigins(list: XmlElement[], param: string): Set<Origin> {
  const out = new Set<Origin>();
  for (const e of list) {
    const [ns, name] = identity(e);
    if (ns !== ORIGIN_NS || !(ORIGINS as readonly string[]).includes(name)) {
      throw bad('invalid-value', `${param} "${textOf(e).trim()}" is not an identity of ietf-origin (${ORIGIN_NS})`, param);
    }
    out.add(name as Origin);
  }
  return out;
}

interface GetDataRequest {
  datastore: DatastoreName;
  filter: DataFilter | undefined;
  configFilter: boolean | undefined;
  origins: { ids: Set<Origin>; negated: boolean } | undefined;
  maxDepth: number | undefined;
  withOrigin: boolean;
  withDefaults: WithDefaultsMode | undefined;
}

function parseGetData(op: XmlElement, yang: YangFunctions | undefined): GetDataRequest {
  const p = params(op, GET_DATA_PARAMS, ['origin-filter', 'negated-origin-filter']);
  const datastore = parseDatastore(p, 'get-data', false);
  const subtree = p.get('subtree-filter')?.[0];
  const xpath = p.get('xpath-filter')?.[0];
  if (subtree && xpath) throw bad('bad-element', 'give subtree-filter or xpath-filter, not both (one choice)', 'xpath-filter');
  const filter = subtree ? subtreeFilterOf(subtree) : xpath ? xpathFilterOf(xpath, yang ? { yang } : {}) : undefined;

  let configFilter: boolean | undefined;
  const cf = p.get('config-filter')?.[0];
  if (cf) {
    const v = textOf(cf).trim();
    if (v !== 'true' && v !== 'false') throw bad('invalid-value', `config-filter "${v}" is not true or false`, 'config-filter');
    configFilter = v === 'true';
  }

  const of = p.get('origin-filter');
  const nof = p.get('negated-origin-filter');
  if (of && nof) throw bad('bad-element', 'give origin-filter or negated-origin-filter, not both (one choice)', 'negated-origin-filter');
  const originParam = of ? 'origin-filter' : 'negated-origin-filter';
  const originList = of ?? nof;
  if (originList && datastore !== 'operational') throw bad('invalid-value', `${originParam} applies to ds:operational only`, originParam);
  const origins = originList ? { ids: parseOrigins(originList, originParam), negated: !of } : undefined;

  let maxDepth: number | undefined;
  const md = p.get('max-depth')?.[0];
  if (md) {
    const v = textOf(md).trim();
    if (v !== 'unbounded') {
      if (!/^\+?\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw bad('invalid-value', `max-depth "${v}" is not 1..65535 or unbounded`, 'max-depth');
      maxDepth = Number(v);
    }
  }

  const wo = p.get('with-origin')?.[0];
  if (wo) {
    if (datastore !== 'operational') throw bad('invalid-value', 'with-origin applies to ds:operational only (RFC 8526 3.1.1)', 'with-origin');
    if (wo.children.some((c) => isElement(c) || c.trim() !== '')) throw bad('invalid-value', 'with-origin is empty (type empty)', 'with-origin');
  }

  let withDefaults: WithDefaultsMode | undefined;
  const wd = elements(op).find((e) => e.ns === WITH_DEFAULTS_NS && e.name === 'with-defaults');
  if (wd) {
    const mode = textOf(wd).trim();
    if (!MODES.has(mode)) throw bad('invalid-value', `with-defaults "${mode}" is not one of ${[...MODES].join(', ')}`, 'with-defaults', 'application');
    withDefaults = mode as WithDefaultsMode;
  }
  return { datastore, filter, configFilter, origins, maxDepth, withOrigin: wo !== undefined, withDefaults };
}

/** the schema node of a child, looking through choices and cases */
function childSchema(children: readonly SchemaNode[] | undefined, ns: string, name: string): SchemaNode | undefined {
  if (!children) return undefined;
  for (const c of children) {
    if (c.kind === 'choice') {
      for (const k of c.cases) {
        const f = childSchema(k.children, ns, name);
        if (f) return f;
      }
    } else if (c.name === name && c.module.namespace === ns) return c;
  }
  return undefined;
}

function schemaChildren(n: SchemaNode | undefined): readonly SchemaNode[] | undefined {
  return n && (n.kind === 'container' || n.kind === 'list') ? n.children : undefined;
}

interface Shaping {
  configFilter: boolean | undefined;
  origins: { ids: Set<Origin>; negated: boolean } | undefined;
  withOrigin: boolean;
  /** elements a state provider gave (config false unless the schema says otherwise) */
  fromState: WeakSet<XmlElement>;
  /** elements report-all added (origin default) */
  defaults: WeakSet<XmlElement>;
  keysOf: ListKeys;
}

function originMatches(o: Origin, f: { ids: Set<Origin>; negated: boolean }): boolean {
  // every identity of ietf-origin is derived from `origin` and from nothing else
  const hit = f.ids.has(o) || f.ids.has('origin');
  return f.negated ? !hit : hit;
}

function withOriginAttr(e: XmlElement, o: Origin): XmlElement {
  return {
    ...e, attrs: [...e.attrs, { ns: ORIGIN_NS, name: 'origin', value: `or:${o}` }],
    nsContext: { ...inScopeNamespaces(e.nsContext), or: ORIGIN_NS },
  };
}

/**
 * config-filter, origin filters and with-origin in one walk. Returns undefined when nothing of `e` is
 * kept. A node a filter does not keep stays as the ancestor of a kept one, with its list keys.
 */
function shape(e: XmlElement, s: SchemaNode | undefined, path: DataStep[], parentState: boolean, parentOrigin: Origin | undefined, sh: Shaping): XmlElement | undefined {
  const state = parentState || (s !== undefined ? !s.config : sh.fromState.has(e));
  const origin: Origin | undefined = state ? undefined : sh.defaults.has(e) ? 'default' : sh.fromState.has(e) ? 'unknown' : parentOrigin ?? 'intended';
  const selfKept = (sh.configFilter === undefined || sh.configFilter === !state) && (state || !sh.origins || originMatches(origin!, sh.origins));
  if (state && sh.configFilter === true) return undefined; // config false has no config true descendants
  const annotate = (x: XmlElement): XmlElement => (sh.withOrigin && origin !== undefined && origin !== parentOrigin ? withOriginAttr(x, origin) : x);
  const isLeaf = !e.children.some(isElement);
  if (isLeaf) return selfKept ? annotate(e) : undefined;
  if (state && sh.configFilter === undefined) return e; // state is not filtered by origin: the whole subtree
  const kids = schemaChildren(s);
  const children: XmlNode[] = [];
  let keptChild = false;
  for (const c of e.children) {
    if (!isElement(c)) continue;
    const out = shape(c, childSchema(kids, c.ns, c.name), [...path, { ns: c.ns, name: c.name }], state, origin, sh);
    if (out) {
      children.push(out);
      keptChild = true;
    }
  }
  if (!selfKept && !keptChild) return undefined;
  // a list entry keeps its keys (RFC 7950 7.8.5), whatever the filters said about them
  const keys = sh.keysOf(path);
  if (keys) {
    const missing = keys.filter((k) => !children.some((c) => isElement(c) && c.ns === e.ns && c.name === k));
    const add = e.children.filter((c): c is XmlElement => isElement(c) && c.ns === e.ns && missing.includes(c.name));
    children.unshift(...add);
  }
  return annotate({ ...e, children });
}

/** keep `depth` levels of each selected node (1 = the node alone; list entries keep their keys) */
function cutDepth(top: XmlElement[], selected: Set<XmlElement> | undefined, depth: number, keysOf: ListKeys): XmlElement[] {
  const cut = (e: XmlElement, left: number, path: DataStep[]): XmlElement => {
    const kids = e.children.filter(isElement);
    if (kids.length === 0) return e;
    if (left <= 1) {
      const keys = keysOf(path) ?? [];
      return { ...e, children: kids.filter((c) => c.ns === e.ns && keys.includes(c.name)) };
    }
    return { ...e, children: kids.map((c) => cut(c, left - 1, [...path, { ns: c.ns, name: c.name }])) };
  };
  const walk = (e: XmlElement, path: DataStep[]): XmlElement => {
    if (!selected || selected.has(e)) return cut(e, depth, path);
    return { ...e, children: e.children.map((c) => (isElement(c) ? walk(c, [...path, { ns: c.ns, name: c.name }]) : c)) };
  };
  return top.map((t) => walk(t, [{ ns: t.ns, name: t.name }]));
}

/** mark every element of a subtree */
function markAll(e: XmlElement, set: WeakSet<XmlElement>): void {
  set.add(e);
  for (const c of e.children) if (isElement(c)) markAll(c, set);
}

export function createGetData(deps: NmdaDeps): OperationHandler {
  return async (op: XmlElement, ctx: OperationContext) => {
    const req = parseGetData(op, deps.yang);
    const keysOf = listKeysOf(deps.schema);
    const fromState = new WeakSet<XmlElement>();
    const defaults = new WeakSet<XmlElement>();
    let top: XmlElement[];
    if (req.datastore === 'operational') {
      const sources = (c: OperationContext): ReturnType<GetDeps['stateSources']> => deps.stateSources(c).map((s) => ({
        ...s,
        provider: async () => {
          const node = await s.provider();
          if (node) markAll(node, fromState);
          return node;
        },
      }));
      const all = await collectAll({ ...deps, stateSources: sources }, req.filter, ctx);
      // the defaults in use are part of operational (RFC 8342 5.3.3): report-all unless asked otherwise
      const mode = req.withDefaults ?? OPERATIONAL_BASIC_MODE;
      top = applyWithDefaults(all, mode, deps.defaults, false, (e) => markAll(e, defaults));
    } else {
      // running and intended: the configuration (get-config's view, with-defaults as there)
      top = applyWithDefaults(deps.datastore.getTop(), req.withDefaults, deps.defaults, true);
    }
    if (req.configFilter !== undefined || req.origins || req.withOrigin) {
      const sh: Shaping = { configFilter: req.configFilter, origins: req.origins, withOrigin: req.withOrigin, fromState, defaults, keysOf };
      const tops = deps.defaults?.tops() ?? [];
      top = top.flatMap((t) => {
        const s = tops.find((x) => x.name === t.name && x.module.namespace === t.ns);
        const out = shape(t, s, [{ ns: t.ns, name: t.name }], false, undefined, sh);
        return out ? [out] : [];
      });
    }
    if (deps.pruneRead) top = deps.pruneRead(top, ctx);
    let selected: Set<XmlElement> | undefined;
    if (req.filter) {
      if (req.filter.selectsNothing) top = [];
      else {
        selected = new Set();
        const chosen = selected;
        top = req.filter.select(top, keysOf, (e) => chosen.add(e));
      }
    }
    if (req.maxDepth !== undefined) top = cutDepth(top, selected, req.maxDepth, keysOf);
    return [el(NMDA_NS, 'data', top)];
  };
}

export function createEditData(deps: NmdaDeps): OperationHandler {
  return async (op: XmlElement, ctx: OperationContext) => {
    const p = params(op, EDIT_DATA_PARAMS);
    parseDatastore(p, 'edit-data', true);
    let defaultOperation: 'merge' | 'replace' | 'none' = 'merge';
    const d = p.get('default-operation')?.[0];
    if (d) {
      const v = textOf(d).trim();
      if (v !== 'merge' && v !== 'replace' && v !== 'none') throw bad('invalid-value', `default-operation "${v}" is not merge, replace or none`, 'default-operation');
      defaultOperation = v;
    }
    const url = p.get('url')?.[0];
    const config = p.get('config')?.[0];
    if (url) throw new NetconfError({ type: 'protocol', tag: 'unknown-element', message: ':url is not supported; give <config>', info: [info.badElement('url')] });
    if (!config) throw bad('missing-element', 'edit-data needs <config> (the edit-content choice is mandatory)', 'config');
    // RFC 8526 3.1.2: on an error the datastore is restored to its state at the start (rollback-on-error)
    return editRunning(deps.edit, ctx, { operation: 'edit-data', defaultOperation, errorOption: 'rollback-on-error', testOption: 'test-then-set', config: elements(config) });
  };
}

/** ietf-datastores and ietf-origin identities (not compiled by the validator): identity -> its base */
const BUILTIN_BASES = new Map<string, Map<string, string>>([
  [DATASTORES_NS, new Map([['conventional', 'datastore'], ['dynamic', 'datastore'], ['operational', 'datastore'],
    ['running', 'conventional'], ['candidate', 'conventional'], ['startup', 'conventional'], ['intended', 'conventional']])],
  [ORIGIN_NS, new Map(ORIGINS.filter((o) => o !== 'origin').map((o) => [o, 'origin']))],
]);

/** longest pattern re-match accepts */
const MAX_PATTERN = 256;

/**
 * A pattern whose matching can backtrack exponentially: a quantified group that holds a quantifier or an
 * alternation (`(a+)+`, `(a|aa)*`, `(x{1,9})+`). JavaScript regular expressions have no time limit, and the
 * server is single-threaded: such a pattern in a filter is refused rather than run.
 */
function catastrophic(pattern: string): boolean {
  const open: Array<{ inner: boolean }> = [];
  let escaped = false;
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (escaped) { escaped = false; continue; }
    if (c === '\\') { escaped = true; continue; }
    if (inClass) { if (c === ']') inClass = false; continue; }
    if (c === '[') { inClass = true; continue; }
    if (c === '(') { open.push({ inner: false }); continue; }
    if ((c === '*' || c === '+' || c === '{' || c === '|' || c === '?') && open.length > 0) open[open.length - 1]!.inner = true;
    if (c === ')') {
      const g = open.pop();
      const next = pattern[i + 1];
      const quantified = next === '*' || next === '+' || next === '{' || next === '?';
      if (g?.inner && quantified) return true;
      if (g?.inner && open.length > 0) open[open.length - 1]!.inner = true;
    }
  }
  return false;
}

/**
 * The RFC 7950 section 10 functions for get-data's xpath-filter (RFC 8526 3.1.1: "the XPath functions are
 * defined in Section 10 of RFC 7950"): XSD patterns through the YANG layer's translation (not cached: a
 * filter's pattern is the client's), the identity hierarchy of the compiled modules plus ietf-datastores and
 * ietf-origin, and the types of data nodes for deref() and enum-value() (the schema node by the element names;
 * its declared type, as libyang does: a union or a leafref to an enumeration is not "of type enumeration", a
 * union holding a leafref is not followed). `moreSchema` are module texts for data the validator has no schema
 * for (the server's own ietf-yang-library 2019-01-04 /yang-library, whose datastore/schema and schema/module-set
 * are leafrefs); compiled on first use, left out (with no error) if they do not compile.
 */
export function yangFunctionsOf(validator: unknown, moreSchema?: () => Array<{ file: string; text: string }>): YangFunctions {
  const modules = (validator as { modules?: unknown } | undefined)?.modules;
  return new SchemaFunctions(modules instanceof Map ? (modules as Map<string, CompiledModule>) : new Map<string, CompiledModule>(), moreSchema);
}

/** yangFunctionsOf's functions over the compiled modules (and `moreSchema`, compiled when first needed) */
class SchemaFunctions implements YangFunctions {
  private readonly byNs: Map<string, CompiledModule>;
  private readonly nsOfModule: Map<string, string>;
  private more: Map<string, CompiledModule> | undefined;

  constructor(private readonly modules: Map<string, CompiledModule>, private readonly moreSchema: (() => Array<{ file: string; text: string }>) | undefined) {
    const compiled = [...modules.values()];
    this.byNs = new Map(compiled.map((m) => [m.ref.namespace, m]));
    this.nsOfModule = new Map(compiled.map((m) => [m.ref.name, m.ref.namespace]));
  }

  enumValue(path: readonly DataName[], value: string): number | undefined {
    const t = this.typeAt(path);
    return t?.base === 'enumeration' ? t.enumValues?.get(value) : undefined;
  }

  reference(path: readonly DataName[]): YangReference | undefined {
    const t = this.typeAt(path);
    if (t?.base === 'instance-identifier') return { kind: 'instance-identifier' };
    const lr = t?.base === 'leafref' ? t.leafref : undefined;
    if (!lr?.xpathNamespaces) return undefined;
    return { kind: 'leafref', path: lr.path, ...lr.xpathNamespaces() };
  }

  regex(pattern: string): RegExp {
    if (pattern.length > MAX_PATTERN) throw new Error(`longer than ${MAX_PATTERN} characters`);
    if (catastrophic(pattern)) throw new Error('a quantified group holds a quantifier or an alternation (it could backtrack without end)');
    return new RegExp(xsdToJsSource(pattern), 'u');
  }

  derivedFrom(id: DataName, base: DataName): boolean {
    const seen = new Set<string>();
    const todo = this.basesOf(id);
    while (todo.length > 0) {
      const b = todo.pop()!;
      if (b.ns === base.ns && b.name === base.name) return true;
      const k = `${b.ns} ${b.name}`;
      if (seen.has(k)) continue;
      seen.add(k);
      todo.push(...this.basesOf(b));
    }
    return false;
  }

  /** an identity's direct bases: ietf-datastores' and ietf-origin's built in, else the compiled module's */
  private basesOf(id: DataName): DataName[] {
    const builtin = BUILTIN_BASES.get(id.ns);
    if (builtin) {
      const b = builtin.get(id.name);
      return b === undefined ? [] : [{ ns: id.ns, name: b }];
    }
    return (this.byNs.get(id.ns)?.identities.get(id.name) ?? []).flatMap((r) => {
      const ns = this.nsOfModule.get(r.module);
      return ns === undefined ? [] : [{ ns, name: r.name }];
    });
  }

  /** the declared type of the leaf or leaf-list at `path`, in the validator's modules or else in moreSchema's */
  private typeAt(path: ReadonlyArray<DataName>): YType | undefined {
    const n = schemaNodeAt(this.modules, path) ?? (this.moreSchema ? schemaNodeAt(this.moreModules(), path) : undefined);
    return n && (n.kind === 'leaf' || n.kind === 'leaf-list') ? n.type : undefined;
  }

  private moreModules(): Map<string, CompiledModule> {
    if (this.more === undefined) {
      try {
        const m = (compileTexts(this.moreSchema?.() ?? []).validator as { modules?: unknown }).modules;
        this.more = m instanceof Map ? (m as Map<string, CompiledModule>) : new Map();
      } catch {
        this.more = new Map();
      }
    }
    return this.more;
  }
}
