/**
 * edit-config (RFC 6241 section 7.2) on the running datastore (section 8.2 :writable-running).
 *
 * Operations merge, replace, create, delete, remove (the `operation` attribute in the base namespace),
 * default-operation merge | replace | none, error-option stop-on-error | continue-on-error |
 * rollback-on-error, test-option test-then-set | set | test-only (section 8.6 :validate).
 *
 * Every edit is atomic: it is computed on a copy, validated against the YANG modules, and committed
 * only when no error occurred. So a failed edit never changes running (rollback-on-error semantics for
 * every error-option; continue-on-error reports every error instead of the first).
 *
 * List entries are matched by their keys. Keys come from the schema when the validator exposes
 * `listKeys` (see SchemaHints); otherwise an element whose children include a `name`, `id` or `*-id`
 * leaf is taken as a list entry keyed by those leaves, and leaves are matched by name (by name and
 * value when several siblings share the name, i.e. a leaf-list).
 */
import type { RpcErrorInfo } from '../rpc-error.js';
import { NetconfError, info } from '../rpc-error.js';
import { attr, child, childText, elements, isElement, textOf } from '../xml/build.js';
import { NETCONF_BASE_NS } from '../xml/types.js';
import type { XmlAttr, XmlElement, XmlNode } from '../xml/types.js';
import type { RunningDatastore } from './datastore.js';
import type { LockManager } from './locks.js';
import type { OperationContext, OperationHandler } from './operations.js';
import type { YangValidator } from '../../yang/types.js';
import { clone } from './subtree-filter.js';

const YANG_XML_NS = 'urn:ietf:params:xml:ns:yang:1';

export type EditOperation = 'merge' | 'replace' | 'create' | 'delete' | 'remove' | 'none';
export type DefaultOperation = 'merge' | 'replace' | 'none';
export type ErrorOption = 'stop-on-error' | 'continue-on-error' | 'rollback-on-error';
export type TestOption = 'test-then-set' | 'set' | 'test-only';

export interface PathStep {
  ns: string;
  name: string;
}

/**
 * Optional schema knowledge. The YANG validator may implement these (duck-typed); without them the
 * heuristics described above apply.
 */
export interface SchemaHints {
  /** key leaf names when the node at `path` (from the top) is a list, else undefined */
  listKeys?(path: PathStep[]): string[] | undefined;
  /** true when the node at `path` is a leaf-list */
  isLeafList?(path: PathStep[]): boolean;
}

export interface EditOptions {
  defaultOperation?: DefaultOperation;
  errorOption?: ErrorOption;
  schema?: SchemaHints;
  /** namespace -> prefix for error-path (module prefixes); others get generated prefixes */
  prefixes?: Map<string, string>;
}

export interface EditResult {
  /** the new top-level nodes (unchanged copy of the input when errors is not empty) */
  top: XmlElement[];
  errors: RpcErrorInfo[];
}

const OPS: ReadonlySet<string> = new Set(['merge', 'replace', 'create', 'delete', 'remove', 'none']);

class StopEdit extends Error {}

/** Apply the children of <config> to `current` (not modified). Pure: no I/O. */
export function applyEdit(current: XmlElement[], config: XmlElement[], options: EditOptions = {}): EditResult {
  const root: XmlElement = { ns: '', name: '', attrs: [], children: current.map(clone) };
  const errors: RpcErrorInfo[] = [];
  const errorOption = options.errorOption ?? 'stop-on-error';
  const prefixes = new Map(options.prefixes ?? []);
  const pathNs: Record<string, string> = {};
  const prefixOf = (ns: string): string => {
    let p = prefixes.get(ns);
    if (p === undefined) {
      p = `n${prefixes.size}`;
      prefixes.set(ns, p);
    }
    pathNs[p] = ns;
    return p;
  };
  const fail = (e: RpcErrorInfo, path: PathStep[]): void => {
    const withPath: RpcErrorInfo = { ...e };
    if (path.length > 0) {
      withPath.path = '/' + path.map((s) => `${prefixOf(s.ns)}:${s.name}`).join('/');
      withPath.pathNs = { ...pathNs };
    }
    errors.push(withPath);
    if (errorOption !== 'continue-on-error') throw new StopEdit();
  };
  const schema = options.schema ?? {};

  const keysOf = (e: XmlElement, path: PathStep[]): string[] => {
    if (schema.listKeys) return schema.listKeys(path) ?? [];
    const kids = elements(e);
    if (kids.length === 0) return [];
    return kids.filter((c) => !c.children.some(isElement) && (c.name === 'name' || c.name === 'id' || c.name.endsWith('-id')))
      .map((c) => c.name);
  };

  const findExisting = (parent: XmlElement, e: XmlElement, path: PathStep[], siblings: XmlElement[]): number => {
    const same = (c: XmlNode): c is XmlElement => isElement(c) && c.ns === e.ns && c.name === e.name;
    const isLeaf = !e.children.some(isElement);
    const keys = isLeaf ? [] : keysOf(e, path);
    if (keys.length > 0) {
      const want = keys.map((k) => childText(e, e.ns, k)?.trim());
      if (want.some((v) => v === undefined)) {
        const missing = keys[want.findIndex((v) => v === undefined)]!;
        fail({ type: 'protocol', tag: 'missing-element', message: `list entry without key ${missing}`, info: [info.badElement(missing)] }, path);
        return -2;
      }
      return parent.children.findIndex((c) => same(c) && keys.every((k, i) => childText(c, c.ns, k)?.trim() === want[i]));
    }
    if (isLeaf) {
      const leafList = schema.isLeafList
        ? schema.isLeafList(path)
        : siblings.filter((s) => s.ns === e.ns && s.name === e.name).length > 1 ||
          parent.children.filter(same).length > 1;
      if (leafList) return parent.children.findIndex((c) => same(c) && textOf(c).trim() === textOf(e).trim());
    }
    return parent.children.findIndex(same);
  };

  const opOf = (e: XmlElement, inherited: EditOperation, path: PathStep[]): EditOperation | undefined => {
    const v = attr(e, 'operation', NETCONF_BASE_NS);
    if (v === undefined) return inherited;
    if (!OPS.has(v)) {
      fail({ type: 'protocol', tag: 'bad-attribute', message: `invalid operation "${v}"`, info: [info.badAttribute('operation'), info.badElement(e.name)] }, path);
      return undefined;
    }
    return v as EditOperation;
  };

  /** a copy of `e` without protocol attributes, its subtree built by editing into an empty node */
  const build = (e: XmlElement, op: EditOperation, path: PathStep[]): XmlElement => {
    const node: XmlElement = { ns: e.ns, name: e.name, attrs: dataAttrs(e.attrs), children: [] };
    if (!e.children.some(isElement)) return leafCopy(e, node);
    editChildren(node, elements(e), op === 'none' ? 'merge' : op, path);
    return node;
  };

  const editChildren = (target: XmlElement, edits: XmlElement[], inherited: EditOperation, parentPath: PathStep[]): void => {
    for (const e of edits) {
      const path = [...parentPath, { ns: e.ns, name: e.name }];
      const op = opOf(e, inherited, path);
      if (op === undefined) continue;
      const idx = findExisting(target, e, path, edits);
      if (idx === -2) continue;
      const existing = idx >= 0 ? (target.children[idx] as XmlElement) : undefined;
      const isLeaf = !e.children.some(isElement);
      switch (op) {
        case 'create':
          if (existing) {
            fail({ type: 'application', tag: 'data-exists', message: `${e.name} already exists` }, path);
            break;
          }
          target.children.push(build(e, 'create', path));
          break;
        case 'merge':
          if (!existing) target.children.push(build(e, 'merge', path));
          else if (isLeaf) {
            if (!existing.children.some(isElement) || e.children.length > 0) target.children.splice(idx, 1, build(e, 'merge', path));
          } else editChildren(existing, elements(e), 'merge', path);
          break;
        case 'replace': {
          const node = build(e, 'replace', path);
          if (existing) target.children.splice(idx, 1, node);
          else target.children.push(node);
          break;
        }
        case 'delete':
          if (!existing) {
            fail({ type: 'application', tag: 'data-missing', message: `${e.name} does not exist` }, path);
            break;
          }
          target.children.splice(idx, 1);
          break;
        case 'remove':
          if (existing) target.children.splice(idx, 1);
          break;
        case 'none':
          if (existing) {
            if (!isLeaf) editChildren(existing, elements(e), 'none', path);
          } else if (hasCreatingOp(e)) {
            target.children.push(build(e, 'none', path));
          } else {
            fail({ type: 'application', tag: 'data-missing', message: `${e.name} does not exist` }, path);
          }
          break;
      }
    }
  };

  try {
    editChildren(root, config, options.defaultOperation ?? 'merge', []);
  } catch (e) {
    if (!(e instanceof StopEdit)) throw e;
  }
  if (errors.length > 0) return { top: current.map(clone), errors };
  return { top: elements(root), errors };
}

/**
 * A leaf's value with only the namespace binding its text needs (an identityref or
 * instance-identifier prefix), so stored data does not carry the request's declarations.
 */
function leafCopy(e: XmlElement, node: XmlElement): XmlElement {
  node.children.push(...e.children.filter((c) => typeof c === 'string'));
  const m = /^\s*([A-Za-z_][\w.-]*):/.exec(textOf(e));
  const uri = m ? e.nsContext?.[m[1]!] : undefined;
  return uri !== undefined ? { ...node, nsContext: { [m![1]!]: uri } } : node;
}

function hasCreatingOp(e: XmlElement): boolean {
  for (const c of elements(e)) {
    const op = attr(c, 'operation', NETCONF_BASE_NS);
    if (op === 'merge' || op === 'replace' || op === 'create') return true;
    if (hasCreatingOp(c)) return true;
  }
  return false;
}

function dataAttrs(attrs: XmlAttr[]): XmlAttr[] {
  return attrs.filter((a) => !(a.ns === NETCONF_BASE_NS && a.name === 'operation') && a.ns !== YANG_XML_NS);
}

export interface EditConfigDeps {
  datastore: RunningDatastore;
  locks: LockManager;
  validator: YangValidator | undefined;
  /** namespace -> prefix of the known modules, for error-path */
  prefixes: () => Map<string, string>;
}

/** Schema hints from the validator, when it offers them. */
export function schemaHintsOf(validator: YangValidator | undefined): SchemaHints | undefined {
  const v = validator as (YangValidator & SchemaHints) | undefined;
  if (!v || (typeof v.listKeys !== 'function' && typeof v.isLeafList !== 'function')) return undefined;
  const hints: SchemaHints = {};
  if (typeof v.listKeys === 'function') hints.listKeys = (p) => v.listKeys!(p);
  if (typeof v.isLeafList === 'function') hints.isLeafList = (p) => v.isLeafList!(p);
  return hints;
}

/** Parse <target>: only <running/> exists here (no :candidate, no :url, no :startup). */
export function requireRunning(op: XmlElement, param: 'target' | 'source'): void {
  const t = child(op, NETCONF_BASE_NS, param);
  if (!t) throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: `<${param}> is required`, info: [info.badElement(param)] });
  const ds = elements(t);
  if (ds.length !== 1) throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: `<${param}> must name one datastore`, info: [info.badElement(param)] });
  const d = ds[0]!;
  if (d.ns === NETCONF_BASE_NS && d.name === 'running') return;
  // candidate/startup/url are if-feature nodes of ietf-netconf whose features we do not advertise:
  // for this server they do not exist (RFC 6241 appendix A unknown-element).
  throw new NetconfError({
    type: 'protocol', tag: 'unknown-element',
    message: `datastore ${d.name} is not supported; this server has :writable-running only`,
    info: [info.badElement(d.name)],
  });
}

function enumParam<T extends string>(op: XmlElement, name: string, allowed: readonly T[], dflt: T): T {
  const v = childText(op, NETCONF_BASE_NS, name);
  if (v === undefined) return dflt;
  const t = v.trim();
  if (!(allowed as readonly string[]).includes(t)) {
    throw new NetconfError({ type: 'protocol', tag: 'invalid-value', message: `invalid ${name} "${t}"`, info: [info.badElement(name)] });
  }
  return t as T;
}

export function createEditConfig(deps: EditConfigDeps): OperationHandler {
  return async (op: XmlElement, ctx: OperationContext) => {
    requireRunning(op, 'target');
    const defaultOperation = enumParam(op, 'default-operation', ['merge', 'replace', 'none'] as const, 'merge');
    const testOption = enumParam(op, 'test-option', ['test-then-set', 'set', 'test-only'] as const, 'test-then-set');
    const errorOption = enumParam(op, 'error-option', ['stop-on-error', 'continue-on-error', 'rollback-on-error'] as const, 'stop-on-error');
    if (child(op, NETCONF_BASE_NS, 'url')) {
      throw new NetconfError({ type: 'protocol', tag: 'unknown-element', message: ':url is not supported', info: [info.badElement('url')] });
    }
    const config = child(op, NETCONF_BASE_NS, 'config');
    if (!config) throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: '<config> is required', info: [info.badElement('config')] });
    return deps.datastore.exclusive(async (): Promise<'ok'> => {
      deps.locks.checkWrite(ctx.session.id);
      const current = deps.datastore.getTop();
      const edits = elements(config);
      const result = defaultOperation === 'replace' && !edits.some((e) => attr(e, 'operation', NETCONF_BASE_NS) !== undefined)
        ? applyEdit([], edits, { defaultOperation: 'replace', errorOption, schema: schemaHintsOf(deps.validator), prefixes: deps.prefixes() })
        : applyEdit(current, edits, { defaultOperation, errorOption, schema: schemaHintsOf(deps.validator), prefixes: deps.prefixes() });
      if (result.errors.length > 0) throw new NetconfError(result.errors);
      const invalid = deps.validator?.validateConfig(result.top) ?? [];
      const fatal = invalid.filter((e) => (e.severity ?? 'error') === 'error');
      if (fatal.length > 0) throw new NetconfError(fatal);
      if (testOption === 'test-only') return 'ok';
      await deps.datastore.commit(result.top);
      ctx.log.info('running configuration changed', { session: ctx.session.id });
      return 'ok';
    });
  };
}

/** validate (RFC 6241 section 8.6) of <source><running/></source> or <source><config>..</config></source>. */
export function createValidate(deps: Pick<EditConfigDeps, 'datastore' | 'validator'>): OperationHandler {
  return async (op: XmlElement) => {
    const source = child(op, NETCONF_BASE_NS, 'source');
    if (!source) throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: '<source> is required', info: [info.badElement('source')] });
    const inline = child(source, NETCONF_BASE_NS, 'config');
    let top: XmlElement[];
    if (inline) top = elements(inline);
    else {
      requireRunning(op, 'source');
      top = deps.datastore.getTop();
    }
    const invalid = (deps.validator?.validateConfig(top) ?? []).filter((e) => (e.severity ?? 'error') === 'error');
    if (invalid.length > 0) throw new NetconfError(invalid);
    return 'ok';
  };
}

/**
 * copy-config (RFC 6241 section 7.3) into running: the source is <running/> (nothing to do) or an inline
 * <config> that replaces the whole configuration, validated first. :url is not supported.
 */
export function createCopyConfig(deps: EditConfigDeps): OperationHandler {
  return async (op: XmlElement, ctx: OperationContext) => {
    requireRunning(op, 'target');
    const source = child(op, NETCONF_BASE_NS, 'source');
    if (!source) throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: '<source> is required', info: [info.badElement('source')] });
    const inline = child(source, NETCONF_BASE_NS, 'config');
    if (!inline) {
      requireRunning(op, 'source');
      return 'ok';
    }
    const top = elements(inline).map((e) => stripped(e));
    return deps.datastore.exclusive(async (): Promise<'ok'> => {
      deps.locks.checkWrite(ctx.session.id);
      const invalid = (deps.validator?.validateConfig(top) ?? []).filter((e) => (e.severity ?? 'error') === 'error');
      if (invalid.length > 0) throw new NetconfError(invalid);
      await deps.datastore.commit(top);
      ctx.log.info('running configuration replaced by copy-config', { session: ctx.session.id });
      return 'ok';
    });
  };
}

/** a copy of data without protocol attributes (operation, YANG insert/key/value) */
function stripped(e: XmlElement): XmlElement {
  const node: XmlElement = { ns: e.ns, name: e.name, attrs: dataAttrs(e.attrs), children: [] };
  if (!e.children.some(isElement)) return leafCopy(e, node);
  for (const c of elements(e)) node.children.push(stripped(c));
  return node;
}

/**
 * delete-config (RFC 6241 section 7.4): its target is startup or a URL; "the running configuration
 * datastore cannot be deleted", and neither :startup nor :url is supported here, so every target is
 * an unknown element.
 */
export function createDeleteConfig(): OperationHandler {
  return async (op: XmlElement) => {
    const t = child(op, NETCONF_BASE_NS, 'target');
    if (!t) throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: '<target> is required', info: [info.badElement('target')] });
    const d = elements(t)[0];
    throw new NetconfError({
      type: 'protocol', tag: 'unknown-element',
      message: d?.name === 'running' ? 'the running datastore cannot be deleted' : `datastore ${d?.name ?? ''} is not supported`,
      info: [info.badElement(d?.name ?? 'target')],
    });
  };
}
