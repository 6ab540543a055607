/**
 * NETCONF Access Control Model (RFC 8341): the rules live in running under /nacm (ietf-netconf-acm),
 * this module decides.
 *
 * - protocol operations (3.4.4): every <rpc> is checked after dispatch has found its handler and before
 *   its input is validated or it runs; close-session is always permitted; a denial is access-denied,
 *   error-type protocol, error-path /nc:rpc/<operation>, and counts in denied-operations.
 * - data writes (3.4.5): edit-config and copy-config compare running before and after the edit; every
 *   node created needs `create`, every node deleted `delete`, every leaf whose value changes `update`.
 *   A denial is access-denied, error-type application, error-path naming the node, and counts in
 *   denied-data-writes; running is left unchanged. A merge that changes nothing needs no access.
 * - data reads (3.4.5): get and get-config replies are pruned: a node the user may not read is left
 *   out with its subtree, before the subtree filter is applied (so a filter cannot probe hidden values).
 * - notifications (3.4.6): each event is checked per subscriber (live and replayed), at delivery time;
 *   replayComplete and notificationComplete are never filtered; a dropped event counts in
 *   denied-notifications.
 * - rule order (3.4.4 steps 5-7): the user's groups are the /nacm/groups that list the user, plus the
 *   transport's groups (config `users[].groups`) when enable-external-groups is true; a user with no
 *   group matches no rule-list; the rule-lists are searched in order, their rules in order; the first
 *   rule whose module-name, rule type and access-operations match decides; otherwise the default:
 *   nacm:default-deny-all denies, nacm:default-deny-write denies writes, then read-/write-/exec-default.
 *   Without a schema that says so, kill-session and delete-config are default-deny-all (ietf-netconf,
 *   RFC 6241) and so is /nacm (ietf-netconf-acm).
 * - a protected node protects its subtree: the strongest default on the node or an ancestor applies.
 * - the recovery session (3.4.4 step 2, 3.4.5 step 2, 3.4.6 step 2) bypasses access control. It is
 *   never an SSH login: the embedding process marks a session it opened itself with
 *   markRecoverySession(handle).
 * - enable-nacm false: everything is permitted (and nothing is counted).
 *
 * A rule's path is a node-instance-identifier: /prefix:name/prefix:name[prefix:key='value']... It
 * matches the node it names and that node's descendants. A prefix is resolved through the namespace
 * declarations kept with the leaf, else as a module prefix, else as a module name.
 */
import type { RpcErrorInfo } from '../rpc-error.js';
import { NetconfError } from '../rpc-error.js';
import { childText, childrenNamed, el, elements, isElement, leaf, textOf } from '../xml/index.js';
import { NETCONF_BASE_NS, NETCONF_NOTIFICATION_NS } from '../xml/index.js';
import type { XmlElement, XmlNode } from '../xml/index.js';
import type { PathStep, SchemaHints } from './edit-config.js';
import type { ServerSessionHandle } from './operations.js';
import type { YangModuleInfo } from './registry.js';

export const NACM_NS = 'urn:ietf:params:xml:ns:yang:ietf-netconf-acm';
export const NACM_MODULE = 'ietf-netconf-acm';
/** session attachment that marks the recovery session (markRecoverySession) */
const RECOVERY = 'rfc8341.recovery-session';

export type AccessOperation = 'create' | 'read' | 'update' | 'delete' | 'exec';
export type Action = 'permit' | 'deny';
export type NacmDefault = 'write' | 'all';

/** Optional schema knowledge (the YANG validator offers it, duck-typed). */
export interface NacmSchema {
  nacmDefault?(path: PathStep[]): NacmDefault | undefined;
  rpcNacmDefault?(ns: string, name: string): NacmDefault | undefined;
  notificationNacmDefault?(ns: string, name: string): NacmDefault | undefined;
}

export interface NacmOptions {
  /** groups the transport assigns to a user (config `users[].groups`; RFC 8341 enable-external-groups) */
  externalGroups?: (username: string) => readonly string[];
  /**
   * RPCs whose input names the H(e)NB a device may act for: when a user in `group` invokes the rpc,
   * the input leaf `leaf` must equal the user name, or the user must be in group `henb:<value>`
   * (a relay). A data-node rule cannot constrain RPC input; this binding does (docs/security.md).
   */
  boundRpcs?: Array<{ ns: string; rpc: string; leaf: string; group: string }>;
  /** told of every denial, after it is counted (the log; an audit trail) */
  onDenial?: (denial: NacmDenial) => void;
}

/** One access-control decision that refused something. */
export interface NacmDenial {
  kind: 'operation' | 'data-write' | 'notification';
  username: string;
  sessionId: number;
  /** the operation (namespace, name), the notification, or the data node (error-path form) */
  what: string;
}

interface DefaultsNode {
  children: Map<string, Map<string, DefaultsNode>>;
  value: NacmDefault | undefined;
  known: boolean;
}

interface PathPattern {
  ns: string | undefined;
  name: string;
  keys: Array<{ ns: string | undefined; name: string; value: string }>;
}

type RuleType =
  | { kind: 'any' }
  | { kind: 'rpc'; name: string }
  | { kind: 'notification'; name: string }
  | { kind: 'path'; steps: PathPattern[] | undefined };

interface Rule {
  name: string;
  module: string;
  type: RuleType;
  ops: ReadonlySet<AccessOperation> | '*';
  action: Action;
}

interface RuleList {
  name: string;
  groups: string[];
  rules: Rule[];
}

export interface NacmConfig {
  enabled: boolean;
  readDefault: Action;
  writeDefault: Action;
  execDefault: Action;
  externalGroups: boolean;
  /** group -> user names (/nacm/groups) */
  groups: Map<string, Set<string>>;
  ruleLists: RuleList[];
}

export interface NacmCounters {
  deniedOperations: number;
  deniedDataWrites: number;
  deniedNotifications: number;
}

const ALL_OPS: ReadonlySet<AccessOperation> = new Set(['create', 'read', 'update', 'delete', 'exec']);

/** RFC 6241's ietf-netconf marks these default-deny-all (our pinned yuma123 copy lacks the statements) */
const BASE_DENY_ALL = new Set(['kill-session', 'delete-config']);

export function markRecoverySession(session: ServerSessionHandle): void {
  session.attachments.set(RECOVERY, true);
}

export function isRecoverySession(session: ServerSessionHandle): boolean {
  return session.attachments.get(RECOVERY) === true;
}

/** The configuration a fresh server starts with: group `admin` may do everything (RFC 8341 A.2 style). */
export function initialNacm(): XmlElement {
  const N = NACM_NS;
  return el(N, 'nacm',
    el(N, 'rule-list',
      leaf(N, 'name', 'admin'),
      leaf(N, 'group', 'admin'),
      el(N, 'rule',
        leaf(N, 'name', 'permit-all'),
        leaf(N, 'module-name', '*'),
        leaf(N, 'access-operations', '*'),
        leaf(N, 'action', 'permit'),
        leaf(N, 'comment', 'created on first start: the administrators may do everything'))));
}

/** Parse /nacm from the running configuration's top-level nodes. */
export function parseNacm(top: readonly XmlElement[], modules: readonly YangModuleInfo[]): NacmConfig {
  const N = NACM_NS;
  const cfg: NacmConfig = {
    enabled: true, readDefault: 'permit', writeDefault: 'deny', execDefault: 'permit', externalGroups: true,
    groups: new Map(), ruleLists: [],
  };
  const nacm = top.find((t) => t.ns === N && t.name === 'nacm');
  if (!nacm) return cfg;
  cfg.enabled = flagOf(nacm, 'enable-nacm', true);
  cfg.readDefault = actionOf(nacm, 'read-default', 'permit');
  cfg.writeDefault = actionOf(nacm, 'write-default', 'deny');
  cfg.execDefault = actionOf(nacm, 'exec-default', 'permit');
  cfg.externalGroups = flagOf(nacm, 'enable-external-groups', true);
  for (const groups of childrenNamed(nacm, N, 'groups')) addGroups(groups, cfg.groups);
  for (const rl of childrenNamed(nacm, N, 'rule-list')) cfg.ruleLists.push(ruleListOf(rl, modules));
  return cfg;
}

/** a boolean leaf of /nacm ('true', anything else false), `dflt` when absent */
function flagOf(nacm: XmlElement, name: string, dflt: boolean): boolean {
  const v = childText(nacm, NACM_NS, name)?.trim();
  return v === undefined ? dflt : v === 'true';
}

/** a default action leaf of /nacm, `dflt` when absent or neither permit nor deny */
function actionOf(nacm: XmlElement, name: string, dflt: Action): Action {
  const v = childText(nacm, NACM_NS, name)?.trim();
  return v === 'permit' || v === 'deny' ? v : dflt;
}

/** /nacm/groups/group: its user names by group name (a group without a name is skipped) */
function addGroups(groups: XmlElement, into: Map<string, Set<string>>): void {
  const N = NACM_NS;
  for (const g of childrenNamed(groups, N, 'group')) {
    const name = childText(g, N, 'name')?.trim();
    if (!name) continue;
    into.set(name, new Set(childrenNamed(g, N, 'user-name').map((u) => textOf(u).trim())));
  }
}

function ruleListOf(rl: XmlElement, modules: readonly YangModuleInfo[]): RuleList {
  const N = NACM_NS;
  const list: RuleList = {
    name: childText(rl, N, 'name')?.trim() ?? '',
    groups: childrenNamed(rl, N, 'group').map((g) => textOf(g).trim()),
    rules: [],
  };
  for (const r of childrenNamed(rl, N, 'rule')) {
    const rule = ruleOf(r, modules);
    if (rule !== undefined) list.rules.push(rule);
  }
  return list;
}

/** a rule; undefined without a valid action (mandatory in the schema; validation refuses it) */
function ruleOf(r: XmlElement, modules: readonly YangModuleInfo[]): Rule | undefined {
  const N = NACM_NS;
  const act = childText(r, N, 'action')?.trim();
  if (act !== 'permit' && act !== 'deny') return undefined;
  const rpc = childText(r, N, 'rpc-name')?.trim();
  const notif = childText(r, N, 'notification-name')?.trim();
  const pathEl = childrenNamed(r, N, 'path')[0];
  const type: RuleType = rpc !== undefined ? { kind: 'rpc', name: rpc }
    : notif !== undefined ? { kind: 'notification', name: notif }
      : pathEl ? { kind: 'path', steps: parsePath(textOf(pathEl).trim(), pathEl.nsContext ?? {}, modules) }
        : { kind: 'any' };
  const opsText = childText(r, N, 'access-operations')?.trim() ?? '*';
  return {
    name: childText(r, N, 'name')?.trim() ?? '',
    module: childText(r, N, 'module-name')?.trim() ?? '*',
    type,
    ops: opsText === '*' ? '*' : new Set(opsText.split(/\s+/).filter((o): o is AccessOperation => ALL_OPS.has(o as AccessOperation))),
    action: act,
  };
}

/**
 * A node-instance-identifier as steps; undefined when it cannot be read (such a rule matches no node:
 * failing closed for permits and open for denies would both surprise; the path is validated as
 * yang:xpath1.0 text only). "/" alone names every top-level node.
 */
export function parsePath(text: string, nsContext: Record<string, string>, modules: readonly YangModuleInfo[]): PathPattern[] | undefined {
  if (!text.startsWith('/')) return undefined;
  const resolve = (prefix: string | undefined): string | undefined | null => {
    if (prefix === undefined) return undefined;
    const ns = nsContext[prefix] ?? modules.find((m) => m.prefix === prefix)?.namespace ?? modules.find((m) => m.name === prefix)?.namespace;
    return ns ?? null;
  };
  const steps: PathPattern[] = [];
  let i = 1;
  const qname = /^(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*|\*)/;
  while (i < text.length) {
    const m = qname.exec(text.slice(i));
    if (!m) return undefined;
    const ns = resolve(m[1]);
    if (ns === null) return undefined;
    const step: PathPattern = { ns, name: m[2]!, keys: [] };
    i += m[0].length;
    while (text[i] === '[') {
      const p = /^\[\s*(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*)\s*=\s*(?:'([^']*)'|"([^"]*)")\s*\]/.exec(text.slice(i));
      if (!p) return undefined;
      const kns = resolve(p[1]);
      if (kns === null) return undefined;
      step.keys.push({ ns: kns, name: p[2]!, value: p[3] ?? p[4] ?? '' });
      i += p[0].length;
    }
    steps.push(step);
    if (i < text.length) {
      if (text[i] !== '/') return undefined;
      i++;
    }
  }
  return steps;
}

/** whether `pattern` names `nodes` (a path of instances from the top) or one of its ancestors */
function pathMatches(pattern: readonly PathPattern[], nodes: readonly XmlElement[]): boolean {
  if (pattern.length > nodes.length) return false;
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const n = nodes[i]!;
    if (p.name !== '*' && p.name !== n.name) return false;
    if (p.ns !== undefined && p.ns !== n.ns) return false;
    for (const k of p.keys) {
      const v = childText(n, k.ns ?? n.ns, k.name);
      if (v === undefined || v.trim() !== k.value) return false;
    }
  }
  return true;
}

/** What the standard operations ask. */
export class Nacm {
  readonly counters: NacmCounters = { deniedOperations: 0, deniedDataWrites: 0, deniedNotifications: 0 };
  private config: NacmConfig;
  /** nacm defaults by schema path: a trie keyed by namespace then name (no string built per node) */
  private readonly defaults: DefaultsNode = { children: new Map(), value: undefined, known: true };
  private readonly moduleNames = new Map<string, string>();
  /**
   * notification decisions (RFC 8341 3.4.6) by session, then event namespace and name: the same for every event of
   * one name while /nacm is unchanged (the groups a transport gives a user are those of the session's login); a new
   * map at every update()
   */
  private notificationActions = new WeakMap<ServerSessionHandle, Map<string, Map<string, Action>>>();

  constructor(
    top: readonly XmlElement[],
    private readonly modules: () => readonly YangModuleInfo[],
    private readonly schema: NacmSchema | undefined,
    private readonly options: NacmOptions = {},
  ) {
    this.config = parseNacm(top, modules());
  }

  /** running changed: re-read /nacm (decisions always use the committed configuration) */
  update(top: readonly XmlElement[]): void {
    this.config = parseNacm(top, this.modules());
    this.notificationActions = new WeakMap();
  }

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** RFC 8341 3.4.4 step 5: the groups of a user */
  groupsOf(username: string): string[] {
    const out = new Set<string>();
    if (this.config.externalGroups) for (const g of this.options.externalGroups?.(username) ?? []) out.add(g);
    for (const [g, users] of this.config.groups) if (users.has(username)) out.add(g);
    return [...out];
  }

  private bypass(session: ServerSessionHandle): boolean {
    return !this.config.enabled || isRecoverySession(session);
  }

  private moduleOf(ns: string): string | undefined {
    if (ns === NETCONF_BASE_NS) return 'ietf-netconf';
    if (ns === NETCONF_NOTIFICATION_NS) return 'notifications';
    const known = this.moduleNames.get(ns);
    if (known !== undefined) return known;
    const name = this.modules().find((m) => m.namespace === ns)?.name;
    if (name !== undefined) this.moduleNames.set(ns, name); // modules are only ever added
    return name;
  }

  /** the rules that apply to a user with these groups, in order (RFC 8341 3.4.4 steps 6-7) */
  private rulesFor(groups: readonly string[]): Rule[] {
    if (groups.length === 0) return [];
    const out: Rule[] = [];
    for (const list of this.config.ruleLists) {
      if (list.groups.some((g) => g === '*' || groups.includes(g))) out.push(...list.rules);
    }
    return out;
  }

  /**
   * When the first rule a user meets matches every module and every request for `ops` (the
   * administrator's permit-all), it decides every data node: its action; else undefined.
   */
  private wholesale(rules: readonly Rule[], ops: readonly AccessOperation[]): Action | undefined {
    const r = rules[0];
    if (!r || r.module !== '*' || r.type.kind !== 'any') return undefined;
    return r.ops === '*' || ops.every((o) => (r.ops as ReadonlySet<AccessOperation>).has(o)) ? r.action : undefined;
  }

  /** the first matching rule's action (rule-lists in order, rules in order), or undefined */
  private decide(rules: readonly Rule[], module: string | undefined, op: AccessOperation, matches: (t: RuleType) => boolean): Action | undefined {
    for (const r of rules) {
      if (r.module !== '*' && r.module !== module) continue;
      if (r.ops !== '*' && !r.ops.has(op)) continue;
      if (r.type.kind !== 'any' && !matches(r.type)) continue;
      return r.action;
    }
    return undefined;
  }

  private rulesOfUser(username: string): Rule[] {
    return this.rulesFor(this.groupsOf(username));
  }

  /** RFC 8341 3.4.4: may this session invoke `op`? Throws access-denied (protocol) when not. */
  checkRpc(op: XmlElement, session: ServerSessionHandle): void {
    if (op.ns === NETCONF_BASE_NS && op.name === 'close-session') return;
    if (this.bypass(session)) return;
    const module = this.moduleOf(op.ns);
    let action = this.decide(this.rulesOfUser(session.username), module, 'exec', (t) => t.kind === 'rpc' && (t.name === '*' || t.name === op.name));
    if (action === undefined) {
      const denyAll = this.schema?.rpcNacmDefault?.(op.ns, op.name) === 'all' || (op.ns === NETCONF_BASE_NS && BASE_DENY_ALL.has(op.name));
      action = denyAll ? 'deny' : this.config.execDefault;
    }
    if (action === 'permit') action = this.checkBinding(op, session);
    if (action === 'deny') {
      this.counters.deniedOperations++;
      this.tell({ kind: 'operation', username: session.username, sessionId: session.id, what: `${op.ns} ${op.name}` });
      throw new NetconfError({
        type: 'protocol', tag: 'access-denied',
        message: `access denied: user ${session.username} may not invoke ${op.name}`,
        path: `/nc:rpc/x:${op.name}`, pathNs: { nc: NETCONF_BASE_NS, x: op.ns },
      });
    }
  }

  /** a device identity may act only for its own H(e)NB (NacmOptions.boundRpcs) */
  private checkBinding(op: XmlElement, session: ServerSessionHandle): Action {
    for (const b of this.options.boundRpcs ?? []) {
      if (b.ns !== op.ns || b.rpc !== op.name) continue;
      const groups = this.groupsOf(session.username);
      if (!groups.includes(b.group)) continue;
      const value = childText(op, op.ns, b.leaf)?.trim();
      if (value === undefined || (value !== session.username && !groups.includes(`henb:${value}`))) {
        this.counters.deniedOperations++;
        this.tell({ kind: 'operation', username: session.username, sessionId: session.id, what: `${op.ns} ${op.name} ${b.leaf}=${value ?? ''}` });
        throw new NetconfError({
          type: 'application', tag: 'access-denied', appTag: 'nacm-bound-identity',
          message: `access denied: user ${session.username} may invoke ${op.name} only for its own ${b.leaf}`,
          path: `/nc:rpc/x:${op.name}/x:${b.leaf}`, pathNs: { nc: NETCONF_BASE_NS, x: op.ns },
        });
      }
    }
    return 'permit';
  }

  /** the default-deny extension that applies at `path` (schema, else the built-in /nacm) */
  private nodeDefault(path: readonly XmlElement[], at?: DefaultsNode): NacmDefault | undefined {
    const node = at ?? path.reduce<DefaultsNode>((t, p) => this.defaultsChild(t, p), this.defaults);
    if (!node.known) {
      let d = this.schema?.nacmDefault?.(path.map((p) => ({ ns: p.ns, name: p.name })));
      if (d === undefined && path[0]?.ns === NACM_NS && path[0].name === 'nacm') d = 'all';
      node.value = d;
      node.known = true;
    }
    return node.value;
  }

  /** the trie node of `p` below `t` (created unknown); data the schema lacks adds at most its own paths */
  private defaultsChild(t: DefaultsNode, p: XmlElement): DefaultsNode {
    let byName = t.children.get(p.ns);
    if (!byName) t.children.set(p.ns, (byName = new Map()));
    let c = byName.get(p.name);
    if (!c) byName.set(p.name, (c = { children: new Map(), value: undefined, known: false }));
    return c;
  }

  /** RFC 8341 3.4.5: the action for `op` on the data node at `path` (instances from the top) */
  private dataAction(rules: readonly Rule[], path: readonly XmlElement[], op: AccessOperation, at?: DefaultsNode): Action {
    const node = path[path.length - 1]!;
    const action = rules.length === 0 ? undefined
      : this.decide(rules, this.moduleOf(node.ns), op, (t) => t.kind === 'path' && t.steps !== undefined && pathMatches(t.steps, path));
    if (action !== undefined) return action;
    const d = this.nodeDefault(path, at);
    if (d === 'all') return 'deny';
    if (op === 'read') return this.config.readDefault;
    if (d === 'write') return 'deny';
    return this.config.writeDefault;
  }

  /** get / get-config: the reply's top-level nodes without what this session may not read */
  pruneRead(top: XmlElement[], session: ServerSessionHandle): XmlElement[] {
    if (this.bypass(session)) return top;
    const all = this.wholesale(this.rulesOfUser(session.username), ['read']);
    if (all !== undefined) return all === 'permit' ? top : [];
    // only the rules that can decide a read of a data node
    const rules = this.rulesOfUser(session.username).filter((r) => (r.ops === '*' || r.ops.has('read')) && (r.type.kind === 'any' || r.type.kind === 'path'));
    const path: XmlElement[] = [];
    const prune = (nodes: XmlNode[], parent: DefaultsNode): XmlNode[] => {
      const out: XmlNode[] = [];
      for (const n of nodes) {
        if (!isElement(n)) {
          out.push(n);
          continue;
        }
        const at = this.defaultsChild(parent, n);
        path.push(n);
        if (this.dataAction(rules, path, 'read', at) !== 'deny') out.push(n.children.some(isElement) ? { ...n, children: prune(n.children, at) } : n);
        path.pop();
      }
      return out;
    };
    return prune(top, this.defaults) as XmlElement[];
  }

  /**
   * edit-config / copy-config: may this session turn `before` into `after`? Throws access-denied
   * (application) naming the first node it may not write.
   */
  checkWrite(before: readonly XmlElement[], after: readonly XmlElement[], session: ServerSessionHandle, schema: SchemaHints | undefined, prefixes: Map<string, string>): void {
    if (this.bypass(session)) return;
    const rules = this.rulesOfUser(session.username);
    if (this.wholesale(rules, ['create', 'update', 'delete']) === 'permit') return;
    const denied = (path: XmlElement[], op: AccessOperation): void => {
      if (this.dataAction(rules, path, op) === 'permit') return;
      this.counters.deniedDataWrites++;
      const where = errorPath(path, prefixes, schema);
      this.tell({ kind: 'data-write', username: session.username, sessionId: session.id, what: `${op} ${where.path ?? ''}` });
      throw new NetconfError({ type: 'application', tag: 'access-denied', message: `access denied: user ${session.username} may not ${op} ${path.map((p) => p.name).join('/')}`, ...where });
    };
    const whole = (n: XmlElement, path: XmlElement[], op: AccessOperation): void => {
      const p = [...path, n];
      denied(p, op);
      for (const c of elements(n)) whole(c, p, op);
    };
    const walk = (a: readonly XmlElement[], b: readonly XmlElement[], path: XmlElement[]): void => {
      const steps = path.map((p) => ({ ns: p.ns, name: p.name }));
      const id = (e: XmlElement): string => identity(e, [...steps, { ns: e.ns, name: e.name }], schema);
      const left = new Map<string, XmlElement>();
      for (const x of a) left.set(id(x), x);
      const seen = new Set<string>();
      for (const y of b) {
        const k = id(y);
        seen.add(k);
        const x = left.get(k);
        if (!x) {
          whole(y, path, 'create');
          continue;
        }
        if (x === y) continue; // a subtree the edit did not touch (edit-config shares them with running): no write in it
        const xLeaf = !x.children.some(isElement);
        const yLeaf = !y.children.some(isElement);
        if (xLeaf && yLeaf) {
          if (textOf(x).trim() !== textOf(y).trim()) denied([...path, y], 'update');
        } else walk(elements(x), elements(y), [...path, y]);
      }
      for (const [k, x] of left) if (!seen.has(k)) whole(x, path, 'delete');
    };
    walk(before, after, []);
  }

  /** RFC 8341 3.4.6: may this session receive `event`? Counts a denial. */
  permitsNotification(event: XmlElement, session: ServerSessionHandle): boolean {
    if (this.bypass(session)) return true;
    if (this.notificationAction(event, session) === 'permit') return true;
    this.counters.deniedNotifications++;
    this.tell({ kind: 'notification', username: session.username, sessionId: session.id, what: `${event.ns} ${event.name}` });
    return false;
  }

  /** the decision for `event` to `session`, kept per session and event name (see notificationActions) */
  private notificationAction(event: XmlElement, session: ServerSessionHandle): Action {
    let byNs = this.notificationActions.get(session);
    if (byNs === undefined) this.notificationActions.set(session, (byNs = new Map()));
    let byName = byNs.get(event.ns);
    const known = byName?.get(event.name);
    if (known !== undefined) return known;
    const module = this.moduleOf(event.ns);
    let action = this.decide(this.rulesOfUser(session.username), module, 'read', (t) => t.kind === 'notification' && (t.name === '*' || t.name === event.name));
    if (action === undefined) action = this.schema?.notificationNacmDefault?.(event.ns, event.name) === 'all' ? 'deny' : this.config.readDefault;
    // a namespace of no module yet may be one of a module added later (a rule naming it would then apply): not kept
    if (module !== undefined) {
      if (byName === undefined) byNs.set(event.ns, (byName = new Map()));
      byName.set(event.name, action);
    }
    return action;
  }

  private tell(d: NacmDenial): void {
    try {
      this.options.onDenial?.(d);
    } catch {
      // a failing observer does not change the decision
    }
  }

  /** /nacm operational state: the three counters (merged into the configured container by get) */
  state(): XmlElement {
    const N = NACM_NS;
    return el(N, 'nacm',
      leaf(N, 'denied-operations', this.counters.deniedOperations % 2 ** 32),
      leaf(N, 'denied-data-writes', this.counters.deniedDataWrites % 2 ** 32),
      leaf(N, 'denied-notifications', this.counters.deniedNotifications % 2 ** 32));
  }
}

/** the identity of a sibling: name, plus list keys (schema, else key-like leaves) or a leaf-list value */
function identity(e: XmlElement, path: PathStep[], schema: SchemaHints | undefined): string {
  const base = `${e.ns}\u0000${e.name}`;
  if (!e.children.some(isElement)) {
    return schema?.isLeafList?.(path) ? `${base}\u0000=${textOf(e).trim()}` : base;
  }
  const keys = schema?.listKeys?.(path) ?? elements(e).filter((c) => !c.children.some(isElement) && (c.name === 'name' || c.name === 'id' || c.name.endsWith('-id'))).map((c) => c.name);
  return keys.length === 0 ? base : `${base}\u0000${keys.map((k) => childText(e, e.ns, k)?.trim() ?? '').join('\u0000')}`;
}

/** an error-path for a data node: list entries by their keys (RFC 6241 4.3) */
function errorPath(path: readonly XmlElement[], prefixes: Map<string, string>, schema: SchemaHints | undefined): Pick<RpcErrorInfo, 'path' | 'pathNs'> {
  const pathNs: Record<string, string> = {};
  const prefixOf = (ns: string): string => {
    let p = prefixes.get(ns);
    if (p === undefined || (pathNs[p] !== undefined && pathNs[p] !== ns)) p = `n${Object.keys(pathNs).length}`;
    pathNs[p] = ns;
    return p;
  };
  const steps: PathStep[] = [];
  const text = path.map((n) => {
    steps.push({ ns: n.ns, name: n.name });
    const p = prefixOf(n.ns);
    const keys = n.children.some(isElement) ? schema?.listKeys?.(steps) ?? [] : [];
    const preds = keys.map((k) => `[${p}:${k}='${(childText(n, n.ns, k) ?? '').trim().replace(/'/g, '')}']`).join('');
    return `${p}:${n.name}${preds}`;
  });
  return { path: '/' + text.join('/'), pathNs };
}
