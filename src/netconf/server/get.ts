/**
 * get (RFC 6241 section 7.7) and get-config (section 7.1) with subtree filters (section 6).
 *
 * get-config reads the running datastore only (:writable-running, no :candidate / :startup): another
 * source is unknown-element with bad-element naming it (see requireRunning).
 * get adds the operational state of every state provider whose top node the filter can reach (the
 * others are not called). No filter selects everything (6.4.1), an empty one nothing (6.4.2).
 * Filters are subtree (section 6) or xpath (:xpath, 8.9): see filter.ts. RFC 6243's <with-defaults>:
 * see with-defaults.ts (applied before NACM pruning and filtering). Other parameters are refused
 * (checkParameters).
 */
import { NetconfError } from '../rpc-error.js';
import { childText, el, isElement, textOf } from '../xml/index.js';
import { NETCONF_BASE_NS, NETMOD_NOTIFICATION_NS } from '../xml/index.js';
import type { XmlElement, XmlNode } from '../xml/index.js';
import type { Logger } from '../../log/logger.js';
import type { RunningDatastore } from './datastore.js';
import type { ImmediateOperationHandler, OperationContext, OperationHandler } from './operations.js';
import type { StateProvider } from './registry.js';
import { checkParameters, requireRunning } from './params.js';
import type { PathStep, SchemaHints } from './edit-config.js';
import { parseFilter } from './filter.js';
import type { DataFilter } from './filter.js';
import type { DataStep, ListKeys } from './subtree-filter.js';
import { NCM_NS } from './monitoring.js';
import { YANG_LIBRARY_NS } from './yang-library.js';
import { applyWithDefaults, parseWithDefaults } from './with-defaults.js';
import type { DefaultsSchema } from './with-defaults.js';

export interface StateSource {
  ns: string;
  name: string;
  provider: StateProvider;
}

export interface GetDeps {
  datastore: RunningDatastore;
  /** plugin state plus the server's own (monitoring, notification streams) */
  stateSources: (ctx: OperationContext) => StateSource[];
  /** list keys / leaf-lists from the YANG validator: merging state into config, keys kept by filters */
  schema?: SchemaHints | undefined;
  /** access control (RFC 8341 3.4.5): the top-level nodes without what the session may not read */
  pruneRead?: (top: XmlElement[], ctx: OperationContext) => XmlElement[];
  /** the YANG defaults for with-defaults report-all / trim (RFC 6243) */
  defaults?: DefaultsSchema | undefined;
}

export { parseFilter } from './filter.js';

/**
 * The lists of the IETF state this server serves (their modules are served, not compiled by the
 * validator): ietf-netconf-monitoring, nc-notifications, ietf-yang-library.
 */
const IETF_LIST_KEYS = new Map<string, string[]>([
  [[`${NCM_NS}|netconf-state`, 'datastores', 'datastore'].join('/'), ['name']],
  [[`${NCM_NS}|netconf-state`, 'schemas', 'schema'].join('/'), ['identifier', 'version', 'format']],
  [[`${NCM_NS}|netconf-state`, 'sessions', 'session'].join('/'), ['session-id']],
  [[`${NETMOD_NOTIFICATION_NS}|netconf`, 'streams', 'stream'].join('/'), ['name']],
  [[`${YANG_LIBRARY_NS}|yang-library`, 'module-set'].join('/'), ['name']],
  [[`${YANG_LIBRARY_NS}|yang-library`, 'module-set', 'module'].join('/'), ['name']],
  [[`${YANG_LIBRARY_NS}|yang-library`, 'module-set', 'import-only-module'].join('/'), ['name', 'revision']],
  [[`${YANG_LIBRARY_NS}|yang-library`, 'schema'].join('/'), ['name']],
  [[`${YANG_LIBRARY_NS}|yang-library`, 'datastore'].join('/'), ['name']],
  [[`${YANG_LIBRARY_NS}|modules-state`, 'module'].join('/'), ['name', 'revision']],
  [[`${YANG_LIBRARY_NS}|modules-state`, 'module', 'deviation'].join('/'), ['name', 'revision']],
  [[`${YANG_LIBRARY_NS}|modules-state`, 'module', 'submodule'].join('/'), ['name', 'revision']],
]);

/** List keys for the subtree filter: the YANG schema's, else the IETF state lists above. */
export function listKeysOf(schema: SchemaHints | undefined): ListKeys {
  return (path: DataStep[]) => {
    const fromSchema = schema?.listKeys?.(path);
    if (fromSchema) return fromSchema;
    const top = path[0];
    if (!top || path.some((p) => p.ns !== top.ns)) return undefined;
    return IETF_LIST_KEYS.get([`${top.ns}|${top.name}`, ...path.slice(1).map((p) => p.name)].join('/'));
  };
}

function filtered(top: XmlElement[], filter: DataFilter | undefined, schema: SchemaHints | undefined): XmlElement[] {
  return filter ? filter.select(top, listKeysOf(schema)) : top;
}

/** answered at once, without a promise (ImmediateOperationHandler): get-config is the lockstep benchmark's request */
export function createGetConfig(deps: GetDeps): ImmediateOperationHandler {
  return (op, ctx) => {
    // <source><running/></source> and nothing else (what a client asks most): no parameter left to check or parse
    const plain = isPlainRunning(op);
    if (!plain) {
      checkParameters(op, ['source', 'filter'], true);
      requireRunning(op, 'source');
    }
    const filter = plain ? undefined : parseFilter(op);
    const top = applyWithDefaults(deps.datastore.getTop(), plain ? undefined : parseWithDefaults(op), deps.defaults, true);
    // pruned before filtering: a content match cannot probe a value the session may not read
    return [el(NETCONF_BASE_NS, 'data', filtered(deps.pruneRead ? deps.pruneRead(top, ctx) : top, filter, deps.schema))];
  };
}

/**
 * The operation holds one element, <source> (base namespace), which holds one element, <running> (base namespace):
 * what checkParameters, requireRunning, parseFilter and parseWithDefaults would accept without a filter or a
 * with-defaults mode (whitespace between them is gone after the parse).
 */
export function isPlainRunning(op: XmlElement): boolean {
  const params = op.children;
  if (params.length !== 1) return false;
  const source = params[0]!;
  if (typeof source === 'string' || source.ns !== NETCONF_BASE_NS || source.name !== 'source' || source.children.length !== 1) return false;
  const ds = source.children[0]!;
  return typeof ds !== 'string' && ds.ns === NETCONF_BASE_NS && ds.name === 'running';
}

/** Collect config + state top nodes (state merged into a config node of the same name). */
export async function collectAll(deps: GetDeps, filter: DataFilter | undefined, ctx: OperationContext): Promise<XmlElement[]> {
  const log: Logger = ctx.log;
  const top = deps.datastore.getTop();
  for (const s of deps.stateSources(ctx)) {
    if (filter && !filter.mayMatchTop(s.ns, s.name)) continue;
    let node: XmlElement | undefined;
    try {
      node = await s.provider();
    } catch (e) {
      log.error('state provider failed', { ns: s.ns, name: s.name, err: e as Error });
      throw new NetconfError({ type: 'application', tag: 'operation-failed', message: `state of ${s.name} is unavailable` });
    }
    if (!node) continue;
    const same = top.findIndex((t) => t.ns === node.ns && t.name === node.name);
    if (same >= 0) top[same] = mergeNodes(top[same]!, node, [{ ns: node.ns, name: node.name }], deps.schema);
    else top.push(node);
  }
  return top;
}

/**
 * Merge operational state `b` into the config node `a` of the same name (a config container that also
 * has config false descendants). Containers merge by name, list entries by key (schema keys when the
 * validator offers them, else `name`/`id`/`*-id` leaves), leaves already in config are kept.
 */
function mergeNodes(a: XmlElement, b: XmlElement, path: PathStep[], hints: SchemaHints | undefined): XmlElement {
  const children: XmlNode[] = [...a.children];
  for (const c of b.children) {
    if (!isElement(c)) continue;
    const cPath = [...path, { ns: c.ns, name: c.name }];
    const isLeaf = !c.children.some(isElement);
    if (isLeaf) {
      const leafList = hints?.isLeafList?.(cPath) ?? false;
      const dup = children.some((x) => isElement(x) && x.ns === c.ns && x.name === c.name && (!leafList || textOf(x) === textOf(c)));
      if (!dup) children.push(c);
      continue;
    }
    const keys = hints?.listKeys ? hints.listKeys(cPath) ?? [] : keyishNames(c);
    const keyOf = (e: XmlElement): string[] => keys.map((k) => childText(e, e.ns, k)?.trim() ?? '\u0000');
    const want = keyOf(c);
    const idx = children.findIndex((x) => isElement(x) && x.ns === c.ns && x.name === c.name && x.children.some(isElement) &&
      keyOf(x).every((v, i) => v === want[i]));
    if (idx >= 0) children[idx] = mergeNodes(children[idx] as XmlElement, c, cPath, hints);
    else children.push(c);
  }
  return { ...a, children };
}

/** without a schema: leaves that look like list keys */
function keyishNames(e: XmlElement): string[] {
  return e.children.filter((c): c is XmlElement => isElement(c) && !c.children.some(isElement) &&
    (c.name === 'name' || c.name === 'id' || c.name.endsWith('-id'))).map((c) => c.name);
}

export function createGet(deps: GetDeps): OperationHandler {
  return async (op, ctx) => {
    checkParameters(op, ['filter'], true);
    const filter = parseFilter(op);
    const mode = parseWithDefaults(op);
    if (filter?.selectsNothing) return [el(NETCONF_BASE_NS, 'data')];
    const all = applyWithDefaults(await collectAll(deps, filter, ctx), mode, deps.defaults, false);
    return [el(NETCONF_BASE_NS, 'data', filtered(deps.pruneRead ? deps.pruneRead(all, ctx) : all, filter, deps.schema))];
  };
}
