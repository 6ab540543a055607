/**
 * edit-config (RFC 6241 section 7.2) on the running datastore (section 8.2 :writable-running).
 *
 * Operations merge, replace, create, delete, remove (the `operation` attribute in the base namespace),
 * default-operation merge | replace | none, error-option stop-on-error | continue-on-error |
 * rollback-on-error, test-option test-then-set | set | test-only (section 8.6 :validate).
 *
 * Every edit is atomic: it is computed on a copy, validated against the YANG modules, and committed
 * only when no error occurred. So a failed edit never changes running (rollback-on-error semantics for
 * every error-option; continue-on-error reports every error instead of the first: ietf-netconf says
 * "the server may continue on errors"). test-option set still validates: RFC 7950 8.3.3 enforces the
 * constraints of running at the end of every edit-config. default-operation replace replaces the whole
 * datastore: top-level nodes the config does not name are gone, explicit operations still apply.
 *
 * The operation attribute is the one in the NETCONF base namespace (7.2). Any other attribute on the
 * data (an unqualified or foreign "operation" included) is refused with unknown-attribute rather than
 * ignored or stored: a client that wrote operation="delete" without the namespace gets an error, not a
 * silent merge. (YANG's insert/key/value attributes, RFC 7950 7.8.6, are accepted and not stored.)
 *
 * Parameters this server does not know (with-defaults without :with-defaults, ...) are unknown-element
 * in the base namespace, unknown-namespace in another (appendix A); only <running/> is a datastore:
 * <candidate/>, <startup/>, <url> are if-feature cases of ietf-netconf whose features we do not
 * advertise, so unknown-element (RFC 7950 8.3.1), and two datastores in one choice are bad-element.
 * error-path names a list entry by its keys and a leaf-list entry by its value (section 4.3).
 *
 * List entries are matched by their keys. Keys come from the schema when the validator exposes
 * `listKeys` (see SchemaHints); otherwise an element whose children include a `name`, `id` or `*-id`
 * leaf is taken as a list entry keyed by those leaves, and leaves are matched by name (by name and
 * value when several siblings share the name, i.e. a leaf-list).
 */
import type { RpcErrorInfo } from '../rpc-error.js';
import { NetconfError, info } from '../rpc-error.js';
import { attr, child, childText, elements, isElement, textOf } from '../xml/index.js';
import { NETCONF_BASE_NS } from '../xml/index.js';
import type { XmlAttr, XmlElement, XmlNode } from '../xml/index.js';
import type { RunningDatastore } from './datastore.js';
import type { LockManager } from './locks.js';
import type { OperationContext, OperationHandler } from './operations.js';
import type { YangValidator } from '../../yang/index.js';
import { parseWithDefaults } from './with-defaults.js';
import { checkParameters, requireRunning } from './params.js';

const YANG_XML_NS = 'urn:ietf:params:xml:ns:yang:1';

export type EditOperation = 'merge' | 'replace' | 'create' | 'delete' | 'remove' | 'none';
export type DefaultOperation = 'merge' | 'replace' | 'none';
export type ErrorOption = 'stop-on-error' | 'continue-on-error' | 'rollback-on-error';
export type TestOption = 'test-then-set' | 'set' | 'test-only';

export interface PathStep {
  ns: string;
  name: string;
}

/** A step of an error-path: the node, and the predicate naming its instance (list keys or leaf-list value). */
interface ErrorStep extends PathStep {
  keys?: Array<{ name: string; value: string }>;
  value?: string;
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

/**
 * Apply the children of <config> to `current` (not modified). Pure: no I/O. Copy on write: the nodes on the path
 * to a change are copied, every other subtree of the result is the one in `current` (the datastore's are frozen,
 * so neither side can change the other).
 */
export function applyEdit(current: readonly XmlElement[], config: XmlElement[], options: EditOptions = {}): EditResult {
  const root: XmlElement = { ns: '', name: '', attrs: [], children: [...current] };
  const edit = new Edit(options);
  const defaultOperation = options.defaultOperation ?? 'merge';
  const touched = defaultOperation === 'replace' ? new Set<XmlElement>() : undefined;
  try {
    edit.editChildren(root, config, defaultOperation, [], [], touched);
  } catch (e) {
    if (!(e instanceof StopEdit)) throw e;
  }
  // a failed edit answers `current` itself: the success path shares its untouched subtrees too (copy on write)
  if (edit.errors.length > 0) return { top: [...current], errors: edit.errors };
  // default-operation replace: "the configuration data in the <config> parameter completely replaces
  // the configuration in the target datastore" (7.2): what the config does not name is gone
  const top = elements(root);
  return { top: touched ? top.filter((t) => touched.has(t)) : top, errors: edit.errors };
}

/** Where one edit element applies: the node it addresses under `target` (if any) and how to put a new one. */
interface Site {
  e: XmlElement;
  target: XmlElement;
  /** index of the existing node in target.children, -1 when none */
  idx: number;
  existing: XmlElement | undefined;
  isLeaf: boolean;
  path: PathStep[];
  errPath: ErrorStep[];
  /** the nodes of the top the edits address (default-operation replace) */
  touched: Set<XmlElement> | undefined;
}

/** One edit's walk over the data: the errors found (error-path with the known modules' prefixes). */
class Edit {
  readonly errors: RpcErrorInfo[] = [];
  private readonly errorOption: ErrorOption;
  private readonly prefixes: Map<string, string>;
  private readonly pathNs: Record<string, string> = {};
  private readonly schema: SchemaHints;

  constructor(options: EditOptions) {
    this.errorOption = options.errorOption ?? 'stop-on-error';
    this.prefixes = new Map(options.prefixes ?? []);
    this.schema = options.schema ?? {};
  }

  /** `touched` collects the nodes of `target` the edits address (for default-operation replace at the top) */
  editChildren(target: XmlElement, edits: XmlElement[], inherited: EditOperation, parentPath: PathStep[], parentErrPath: ErrorStep[], touched?: Set<XmlElement>): void {
    for (const e of edits) {
      const path = [...parentPath, { ns: e.ns, name: e.name }];
      const { idx, step } = this.findExisting(target, e, path, parentErrPath, edits);
      if (idx === -2) continue;
      const errPath = [...parentErrPath, step];
      const op = this.opOf(e, inherited, errPath);
      if (op === undefined) continue;
      const existing = idx >= 0 ? (target.children[idx] as XmlElement) : undefined;
      this.apply(op, { e, target, idx, existing, isLeaf: !e.children.some(isElement), path, errPath, touched });
    }
  }

  private apply(op: EditOperation, s: Site): void {
    switch (op) {
      case 'create':
        if (s.existing) this.fail({ type: 'application', tag: 'data-exists', message: `${s.e.name} already exists` }, s.errPath);
        else this.put(s, this.build(s.e, 'create', s.path, s.errPath));
        return;
      case 'merge':
        return this.merge(s);
      case 'replace':
        return this.put(s, this.build(s.e, 'replace', s.path, s.errPath));
      case 'delete':
        if (!s.existing) this.fail({ type: 'application', tag: 'data-missing', message: `${s.e.name} does not exist` }, s.errPath);
        else s.target.children.splice(s.idx, 1);
        return;
      case 'remove':
        if (s.existing) s.target.children.splice(s.idx, 1);
        return;
      case 'none':
        return this.none(s);
    }
  }

  private merge(s: Site): void {
    const { e, existing } = s;
    if (!existing) this.put(s, this.build(e, 'merge', s.path, s.errPath));
    else if (s.isLeaf) {
      if (!existing.children.some(isElement) || e.children.length > 0) this.put(s, this.build(e, 'merge', s.path, s.errPath));
      else s.touched?.add(existing);
    } else {
      const own = ownCopy(s);
      this.editChildren(own, elements(e), 'merge', s.path, s.errPath);
      s.touched?.add(own);
    }
  }

  /** operation none: descend into what exists; a missing node is created only for a creating operation below */
  private none(s: Site): void {
    const { e, existing } = s;
    if (existing) {
      if (s.isLeaf) s.touched?.add(existing);
      else {
        const own = ownCopy(s);
        this.editChildren(own, elements(e), 'none', s.path, s.errPath);
        s.touched?.add(own);
      }
    } else if (hasCreatingOp(e)) {
      this.put(s, this.build(e, 'none', s.path, s.errPath));
    } else {
      this.fail({ type: 'application', tag: 'data-missing', message: `${e.name} does not exist` }, s.errPath);
    }
  }

  /** the node in place of the existing one, or added */
  private put(s: Site, node: XmlElement): void {
    if (s.existing) s.target.children.splice(s.idx, 1, node);
    else s.target.children.push(node);
    s.touched?.add(node);
  }

  /** a copy of `e` without protocol attributes, its subtree built by editing into an empty node */
  private build(e: XmlElement, op: EditOperation, path: PathStep[], errPath: ErrorStep[]): XmlElement {
    const node: XmlElement = { ns: e.ns, name: e.name, attrs: dataAttrs(e.attrs), children: [] };
    if (!e.children.some(isElement)) return leafCopy(e, node);
    this.editChildren(node, elements(e), op === 'none' ? 'merge' : op, path, errPath);
    return node;
  }

  /**
   * The index of the data node `e` addresses under `parent` (-1: none; -2: a key is missing, reported),
   * and the error-path step naming it.
   */
  private findExisting(parent: XmlElement, e: XmlElement, path: PathStep[], errPath: ErrorStep[], siblings: XmlElement[]): { idx: number; step: ErrorStep } {
    const step: ErrorStep = { ns: e.ns, name: e.name };
    const same = (c: XmlNode): c is XmlElement => isElement(c) && c.ns === e.ns && c.name === e.name;
    const isLeaf = !e.children.some(isElement);
    const keys = isLeaf ? [] : this.keysOf(e, path);
    if (keys.length > 0) {
      const want = keys.map((k) => childText(e, e.ns, k)?.trim());
      if (want.some((v) => v === undefined)) {
        const missing = keys[want.findIndex((v) => v === undefined)]!;
        this.fail({ type: 'protocol', tag: 'missing-element', message: `list entry without key ${missing}`, info: [info.badElement(missing)] }, [...errPath, step]);
        return { idx: -2, step };
      }
      step.keys = keys.map((k, i) => ({ name: k, value: want[i]! }));
      return { idx: parent.children.findIndex((c) => same(c) && keys.every((k, i) => childText(c, c.ns, k)?.trim() === want[i])), step };
    }
    if (isLeaf && this.isLeafList(parent, e, path, siblings)) {
      step.value = textOf(e).trim();
      return { idx: parent.children.findIndex((c) => same(c) && textOf(c).trim() === step.value), step };
    }
    return { idx: parent.children.findIndex(same), step };
  }

  private keysOf(e: XmlElement, path: PathStep[]): string[] {
    if (this.schema.listKeys) return this.schema.listKeys(path) ?? [];
    const kids = elements(e);
    if (kids.length === 0) return [];
    return kids.filter((c) => !c.children.some(isElement) && (c.name === 'name' || c.name === 'id' || c.name.endsWith('-id')))
      .map((c) => c.name);
  }

  /** the schema's answer, else: several siblings (in the edit or the data) share the leaf's name */
  private isLeafList(parent: XmlElement, e: XmlElement, path: PathStep[], siblings: XmlElement[]): boolean {
    if (this.schema.isLeafList) return this.schema.isLeafList(path);
    const same = (c: XmlNode): boolean => isElement(c) && c.ns === e.ns && c.name === e.name;
    return siblings.filter(same).length > 1 || parent.children.filter(same).length > 1;
  }

  /** the operation of `e` (its own or inherited); undefined after reporting a bad or foreign attribute */
  private opOf(e: XmlElement, inherited: EditOperation, errPath: ErrorStep[]): EditOperation | undefined {
    const foreign = e.attrs.find((a) => !isProtocolAttr(a));
    if (foreign) {
      this.fail(unknownAttribute(foreign, e), errPath);
      return undefined;
    }
    const v = attr(e, 'operation', NETCONF_BASE_NS);
    if (v === undefined) return inherited;
    if (!OPS.has(v)) {
      this.fail({ type: 'protocol', tag: 'bad-attribute', message: `invalid operation "${v}"`, info: [info.badAttribute('operation'), info.badElement(e.name)] }, errPath);
      return undefined;
    }
    return v as EditOperation;
  }

  /** report an error at `path`; the edit stops unless continue-on-error */
  private fail(e: RpcErrorInfo, path: ErrorStep[]): void {
    const withPath: RpcErrorInfo = { ...e };
    if (path.length > 0) {
      withPath.path = '/' + path.map((s) => this.stepText(s)).join('/');
      withPath.pathNs = { ...this.pathNs };
    }
    this.errors.push(withPath);
    if (this.errorOption !== 'continue-on-error') throw new StopEdit();
  }

  /** an error-path step: prefix:name and the predicate naming its instance */
  private stepText(s: ErrorStep): string {
    const p = this.prefixOf(s.ns);
    const keys = (s.keys ?? []).map((k) => `[${p}:${k.name}=${quoteXPath(k.value)}]`).join('');
    return `${p}:${s.name}${keys}${s.value !== undefined ? `[.=${quoteXPath(s.value)}]` : ''}`;
  }

  /** the module's prefix of a namespace (a generated one for others), bound in the error's pathNs */
  private prefixOf(ns: string): string {
    let p = this.prefixes.get(ns);
    if (p === undefined) {
      p = `n${this.prefixes.size}`;
      this.prefixes.set(ns, p);
    }
    this.pathNs[p] = ns;
    return p;
  }
}

/**
 * The existing node of `s` replaced, in its parent, by a shallow copy the edit may change (copy on write: its
 * children are still the old ones until replaced in turn). The parent is always the edit's own (the root's copy of
 * the top, a copy made here, or a node the edit built).
 */
function ownCopy(s: Site): XmlElement {
  const e = s.existing!;
  const own: XmlElement = e.nsContext !== undefined
    ? { ns: e.ns, name: e.name, attrs: [...e.attrs], children: [...e.children], nsContext: e.nsContext }
    : { ns: e.ns, name: e.name, attrs: [...e.attrs], children: [...e.children] };
  s.target.children[s.idx] = own;
  return own;
}

/** an XPath string literal for a predicate value (XPath 1.0 has no escapes: pick the other quote) */
function quoteXPath(v: string): string {
  return v.includes("'") ? `"${v}"` : `'${v}'`;
}

/** the attributes edit-config and copy-config accept on data: nc:operation, YANG's insert/key/value */
function isProtocolAttr(a: XmlAttr): boolean {
  return (a.ns === NETCONF_BASE_NS && a.name === 'operation') || a.ns === YANG_XML_NS;
}

function unknownAttribute(a: XmlAttr, e: XmlElement): RpcErrorInfo {
  const message = a.name === 'operation'
    ? `the operation attribute on ${e.name} is not in the NETCONF base namespace (${NETCONF_BASE_NS}): ` +
      'write nc:operation with xmlns:nc bound to it (RFC 6241 7.2)'
    : `unexpected attribute ${a.name}${a.ns ? ` (${a.ns})` : ''} on ${e.name}`;
  return { type: 'protocol', tag: 'unknown-attribute', message, info: [info.badAttribute(a.name), info.badElement(e.name)] };
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
  /** access control (RFC 8341 3.4.5): throws access-denied when the session may not make this change */
  checkWrite?: (before: readonly XmlElement[], after: XmlElement[], ctx: OperationContext) => void;
  /** told after a change is committed to running (an audit trail); must not throw. `before` is frozen, `after` shares its unchanged subtrees */
  onCommitted?: (operation: string, before: readonly XmlElement[], after: XmlElement[], ctx: OperationContext) => void;
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
    checkParameters(op, ['target', 'default-operation', 'test-option', 'error-option', 'config', 'url']);
    requireRunning(op, 'target');
    const defaultOperation = enumParam(op, 'default-operation', ['merge', 'replace', 'none'] as const, 'merge');
    const testOption = enumParam(op, 'test-option', ['test-then-set', 'set', 'test-only'] as const, 'test-then-set');
    const errorOption = enumParam(op, 'error-option', ['stop-on-error', 'continue-on-error', 'rollback-on-error'] as const, 'stop-on-error');
    if (child(op, NETCONF_BASE_NS, 'url')) {
      throw new NetconfError({ type: 'protocol', tag: 'unknown-element', message: ':url is not supported', info: [info.badElement('url')] });
    }
    const config = child(op, NETCONF_BASE_NS, 'config');
    if (!config) throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: '<config> is required', info: [info.badElement('config')] });
    return editRunning(deps, ctx, { operation: 'edit-config', defaultOperation, errorOption, testOption, config: elements(config) });
  };
}

/** What an edit of running asks for (edit-config, RFC 8526 edit-data). */
export interface RunningEdit {
  /** the operation's name (audit trail) */
  operation: string;
  defaultOperation: 'merge' | 'replace' | 'none';
  errorOption: 'stop-on-error' | 'continue-on-error' | 'rollback-on-error';
  testOption: 'test-then-set' | 'set' | 'test-only';
  /** the nodes of <config> */
  config: XmlElement[];
}

/**
 * Edit running (RFC 6241 7.2): under the datastore's exclusive access, refused while another session
 * holds the lock; the edit applied, access control (checkWrite), YANG validation, then the commit.
 */
export function editRunning(deps: EditConfigDeps, ctx: OperationContext, edit: RunningEdit): Promise<'ok'> {
  return deps.datastore.exclusive(async (): Promise<'ok'> => {
    deps.locks.checkWrite(ctx.session.id);
    const before = deps.datastore.snapshot();
    const result = applyEdit(before, edit.config,
      { defaultOperation: edit.defaultOperation, errorOption: edit.errorOption, schema: schemaHintsOf(deps.validator), prefixes: deps.prefixes() });
    if (result.errors.length > 0) throw new NetconfError(result.errors);
    deps.checkWrite?.(before, result.top, ctx);
    const invalid = deps.validator?.validateConfig(result.top) ?? [];
    const fatal = invalid.filter((e) => (e.severity ?? 'error') === 'error');
    if (fatal.length > 0) throw new NetconfError(fatal);
    if (edit.testOption === 'test-only') return 'ok';
    await deps.datastore.commit(result.top);
    ctx.log.info('running configuration changed', { session: ctx.session.id, operation: edit.operation });
    deps.onCommitted?.(edit.operation, before, result.top, ctx);
    return 'ok';
  });
}

/** validate (RFC 6241 section 8.6) of <source><running/></source> or <source><config>..</config></source>. */
export function createValidate(deps: Pick<EditConfigDeps, 'datastore' | 'validator'>): OperationHandler {
  return async (op: XmlElement) => {
    checkParameters(op, ['source']);
    const source = child(op, NETCONF_BASE_NS, 'source');
    if (!source) throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: '<source> is required', info: [info.badElement('source')] });
    const inline = child(source, NETCONF_BASE_NS, 'config');
    let top: XmlElement[];
    if (inline) top = elements(inline).map((e) => stripped(e)); // judged as copy-config would take it
    else {
      requireRunning(op, 'source', true);
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
    checkParameters(op, ['target', 'source'], true);
    // with-defaults (RFC 6243 4.5.3) governs the copy written to a <url> target; there is none here
    parseWithDefaults(op);
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
      const before = deps.datastore.snapshot();
      deps.checkWrite?.(before, top, ctx);
      const invalid = (deps.validator?.validateConfig(top) ?? []).filter((e) => (e.severity ?? 'error') === 'error');
      if (invalid.length > 0) throw new NetconfError(invalid);
      await deps.datastore.commit(top);
      ctx.log.info('running configuration replaced by copy-config', { session: ctx.session.id });
      deps.onCommitted?.('copy-config', before, top, ctx);
      return 'ok';
    });
  };
}

/** a copy of data without protocol attributes (operation, YANG insert/key/value); others are refused */
function stripped(e: XmlElement): XmlElement {
  const foreign = e.attrs.find((a) => !isProtocolAttr(a));
  if (foreign) throw new NetconfError(unknownAttribute(foreign, e));
  const node: XmlElement = { ns: e.ns, name: e.name, attrs: dataAttrs(e.attrs), children: [] };
  if (!e.children.some(isElement)) return leafCopy(e, node);
  for (const c of elements(e)) node.children.push(stripped(c));
  return node;
}

/**
 * delete-config (RFC 6241 section 7.4): "The <running> configuration datastore cannot be deleted." Its
 * target is startup or a URL (the only cases of the ietf-netconf choice), neither of which this server
 * supports, so every target is an unknown element (RFC 7950 8.3.1); <running/> says why.
 */
export function createDeleteConfig(): OperationHandler {
  return async (op: XmlElement) => {
    checkParameters(op, ['target']);
    const t = child(op, NETCONF_BASE_NS, 'target');
    const d = t ? elements(t)[0] : undefined;
    if (!d) throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: '<target> must name the datastore to delete', info: [info.badElement('target')] });
    const running = d.ns === NETCONF_BASE_NS && d.name === 'running';
    throw new NetconfError({
      type: 'protocol', tag: 'unknown-element',
      message: running
        ? 'the running configuration datastore cannot be deleted (RFC 6241 7.4)'
        : `datastore ${d.name} is not supported; delete-config needs :startup or :url, which this server does not have`,
      info: [info.badElement(d.name)],
    });
  };
}
