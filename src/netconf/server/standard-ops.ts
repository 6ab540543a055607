/**
 * The standard NETCONF operations, registered with the server core through OperationRegistrar:
 *
 * | operation | RFC | module |
 * |---|---|---|
 * | get, get-config | RFC 6241 7.7, 7.1 (+ section 6 subtree and 8.9 XPath filters) | get.ts, filter.ts |
 * | edit-config, copy-config, delete-config, validate | RFC 6241 7.2, 7.3, 7.4, 8.6 | edit-config.ts |
 * | lock, unlock | RFC 6241 7.5, 7.6 | locks.ts |
 * | kill-session (releasing the victim's locks) | RFC 6241 7.9 | base-ops.ts |
 * | create-subscription | RFC 5277 2.1.1 | notifications.ts |
 * | get-schema, netconf-state | RFC 6022 3.1, 2 | monitoring.ts |
 * | modules-state, yang-library capability | RFC 7895 2.2, RFC 7950 5.6.4 | yang-library.ts |
 * | yang-library (NMDA), yang-library:1.1 capability | RFC 8525, RFC 8526 2 | yang-library.ts |
 * | get-data, edit-data (ietf-netconf-nmda) | RFC 8526 3.1 | nmda.ts |
 *
 * close-session belongs to the server core. Capabilities added: :writable-running, :validate:1.1,
 * :rollback-on-error, :xpath, :with-defaults (basic-mode explicit), :with-operational-defaults (basic-mode
 * report-all, RFC 8526 3.1.1.2), :notification, :interleave, yang-library:1.1 (content-id, RFC 8526) and
 * yang-library:1.0 (module-set-id, for RFC 7895 clients), and the module capabilities of the YANG 1.0 modules
 * ietf-netconf (with its features), ietf-netconf-monitoring, ietf-netconf-with-defaults, notifications and
 * nc-notifications. The YANG 1.1 modules (ietf-yang-library 2019-01-04, ietf-netconf-nmda, ietf-datastores,
 * ietf-origin) are announced through the library only.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { errorCode } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { silentLogger } from '../../log/logger.js';
import { EVENT_LOG_FILE, importLegacyEventLog, openEventLog } from '../../store/index.js';
import type { EventLog } from '../../store/index.js';
import { NETCONF_BASE_NS, NETMOD_NOTIFICATION_NS } from '../xml/index.js';
import { RunningDatastore } from './datastore.js';
import { createCopyConfig, createDeleteConfig, createEditConfig, createValidate, schemaHintsOf } from './edit-config.js';
import type { EditConfigDeps, SchemaHints } from './edit-config.js';
import { XPATH_CAPABILITY } from './filter.js';
import { WITH_DEFAULTS_CAPABILITY, defaultsSchemaOf } from './with-defaults.js';
import { createGet, createGetConfig } from './get.js';
import type { StateSource } from './get.js';
import { createKillSession } from './base-ops.js';
import { LockManager, createLock, createUnlock } from './locks.js';
import { NCM_NS, createGetSchema, loadModuleFile, netconfState } from './monitoring.js';
import { YANG_LIBRARY_NS, advertisedInHello, moduleCapability, modulesState, yangLibrary, yangLibrary11Capability, yangLibraryCapability, yangLibraryChange, yangLibraryUpdate } from './yang-library.js';
import { NMDA_FEATURES, NMDA_NS, WITH_OPERATIONAL_DEFAULTS_CAPABILITY, createEditData, createGetData, yangFunctionsOf } from './nmda.js';
import { NotificationService } from './notifications.js';
import type { OperationContext, OperationRegistrar, ServerSessionHandle } from './operations.js';
import { NACM_NS, Nacm, initialNacm } from './nacm.js';
import type { NacmOptions, NacmSchema } from './nacm.js';
import { elements } from '../xml/index.js';
import { sameTrees } from '../xml/index.js';
import type { XmlElement } from '../xml/index.js';
import type { ReplayLog, ServerAuditEvent, YangModuleInfo } from './registry.js';
import { packageRoot } from '../../package-root.js';

export const WRITABLE_RUNNING_CAPABILITY = 'urn:ietf:params:netconf:capability:writable-running:1.0';
export const VALIDATE_CAPABILITY = 'urn:ietf:params:netconf:capability:validate:1.1';
export const ROLLBACK_ON_ERROR_CAPABILITY = 'urn:ietf:params:netconf:capability:rollback-on-error:1.0';

export interface StandardOperationsOptions {
  log?: Logger;
  /**
   * directory holding the pinned IETF modules (ietf-netconf@2011-06-01.yang, ...); default the
   * package's yang/ietf. Missing files are skipped (with a warning).
   */
  ietfYangDir?: string;
  /**
   * directory holding ietf-yang-library@2019-01-04, ietf-datastores, ietf-netconf-nmda, ietf-origin and
   * ietf-yang-metadata (NMDA, RFC 8525/8526/8342/7952); default the package's yang-library/
   */
  nmdaYangDir?: string;
  /**
   * the server's own event log (`<dataDir>/event-log.sqlite`, opened when first needed) and its retention;
   * false = none (then replay only when a plugin provides a log through NetconfRegistry.setReplayLog)
   */
  eventLog?: { maxEvents?: number; maxAgeMs?: number } | false;
  /** subscription tuning: live events queued per session during a replay, events sent per replay page */
  notifications?: { maxQueued?: number; replayPageSize?: number };
  /**
   * NETCONF access control (RFC 8341, nacm.ts): serve ietf-netconf-acm, enforce /nacm on every
   * operation, data node and notification. When running has no /nacm at start, the rule-list `admin`
   * (group admin may do everything) is created. Default off (devices, the PVE endpoint, unit tests).
   */
  nacm?: NacmOptions | boolean;
  /** register kill-session here (default true; set false if the server core handles it) */
  killSession?: boolean;
  /** clock (tests) */
  now?: () => Date;
}

/** What registerStandardOperations returns: the parts other code may use, and close(). */
export interface StandardOperations {
  readonly datastore: RunningDatastore;
  readonly locks: LockManager;
  readonly notifications: NotificationService;
  /** the server's own event log (opened by this call when not yet), undefined when it has none or a plugin provided one */
  eventLog(): Promise<EventLog | undefined>;
  /** access control, when enabled */
  readonly nacm: Nacm | undefined;
  /** the IETF modules this module serves (also listed in netconf-state/schemas and get-schema) */
  readonly ietfModules: YangModuleInfo[];
  /** end subscriptions, stop timers, close the server's own event log (idempotent) */
  close(): Promise<void>;
}

/** The IETF modules we advertise (implemented) or only serve (imports); `nmda`: in the NMDA directory. */
const IETF_FILES: Array<{ file: string; implemented: boolean; features?: string[]; nmda?: boolean }> = [
  { file: 'ietf-netconf@2011-06-01.yang', implemented: true, features: ['writable-running', 'rollback-on-error', 'validate', 'xpath'] },
  { file: 'ietf-netconf-monitoring@2010-10-04.yang', implemented: true },
  { file: 'ietf-netconf-with-defaults@2011-06-01.yang', implemented: true },
  { file: 'ietf-yang-library@2019-01-04.yang', implemented: true, nmda: true },
  { file: 'ietf-datastores@2018-02-14.yang', implemented: true, nmda: true },
  { file: 'ietf-netconf-nmda@2019-01-07.yang', implemented: true, features: NMDA_FEATURES, nmda: true },
  { file: 'ietf-origin@2018-02-14.yang', implemented: true, nmda: true },
  { file: 'ietf-yang-metadata@2016-08-05.yang', implemented: false, nmda: true },
  { file: 'notifications@2008-07-14.yang', implemented: true },
  { file: 'nc-notifications@2008-07-14.yang', implemented: true },
  { file: 'ietf-yang-types@2013-07-15.yang', implemented: false },
  { file: 'ietf-inet-types@2013-07-15.yang', implemented: false },
  { file: 'yuma-ncx@2012-01-13.yang', implemented: false },
];
const NACM_FILE = 'ietf-netconf-acm@2018-02-14.yang';


export function loadIetfModules(dir: string | undefined, log: Logger, nacm = false, nmdaDir?: string): YangModuleInfo[] {
  const base = dir ?? (packageRoot() ? join(packageRoot()!, 'yang', 'ietf') : undefined);
  const nmdaBase = nmdaDir ?? (packageRoot() ? join(packageRoot()!, 'yang-library') : undefined);
  const out: YangModuleInfo[] = [];
  if (!base) return out;
  for (const f of [...IETF_FILES, { file: NACM_FILE, implemented: nacm, nmda: false }]) {
    const dirOf = f.nmda === true ? nmdaBase : base;
    if (!dirOf) continue;
    const path = join(dirOf, f.file);
    if (!existsSync(path)) {
      log.warn('IETF module file missing; not served', { file: path });
      continue;
    }
    out.push(loadModuleFile(path, { implemented: f.implemented, ...(f.features ? { features: f.features } : {}) }));
  }
  return out;
}

export function registerStandardOperations(reg: OperationRegistrar, options: StandardOperationsOptions = {}): StandardOperations {
  const log = options.log ?? silentLogger;
  const datastore = RunningDatastore.open(reg.dataDir, log);
  const ietfModules = loadIetfModules(options.ietfYangDir, log, options.nacm !== undefined && options.nacm !== false, options.nmdaYangDir);
  const modules = modulesOf(reg, ietfModules);
  const nacm = setUpNacm(reg, datastore, modules, options, log);
  reg.setDatastore(datastoreAccess(datastore));
  const locks = new LockManager();
  const ownLog = new OwnEventLog(reg.dataDir, options, log);
  const notifications = createNotificationService(reg, ownLog, nacm, options, log);
  const parts: Parts = { reg, datastore, locks, notifications, nacm, ietfModules, modules };
  addCapabilities(reg, ietfModules, modules);
  addOperations(parts, options);
  notifications.register();
  const handle = standardOperationsHandle(parts, ownLog);
  followRegistry(parts, handle, options, log);
  return handle;
}

/** what the operations share: the registry, running, its locks, notifications, access control, the modules served */
interface Parts {
  reg: OperationRegistrar;
  datastore: RunningDatastore;
  locks: LockManager;
  notifications: NotificationService;
  nacm: Nacm | undefined;
  /** the IETF modules this module serves */
  ietfModules: YangModuleInfo[];
  /** those and the registry's modules (an IETF module the registry also has is listed once) */
  modules: () => YangModuleInfo[];
}

/** the IETF modules, then the registry's modules but those of the same name and revision */
function modulesOf(reg: OperationRegistrar, ietfModules: YangModuleInfo[]): () => YangModuleInfo[] {
  const ownNames = new Set(ietfModules.map((m) => `${m.name}@${m.revision}`));
  return () => [...ietfModules, ...reg.modules().filter((m) => !ownNames.has(`${m.name}@${m.revision}`))];
}

/** running as the registry offers it to plugins */
function datastoreAccess(datastore: RunningDatastore): Parameters<OperationRegistrar['setDatastore']>[0] {
  return {
    getRunning: () => datastore.getRunning(),
    onConfigChange: (l) => datastore.onConfigChange(l),
    // a plugin's first-start configuration (NetconfRegistry.seedRunning): added only when absent
    seed: (node) => datastore.exclusive(async () => {
      const top = datastore.snapshot();
      if (top.some((e) => e.ns === node.ns && e.name === node.name)) return false;
      await datastore.commit([...top, node]);
      return true;
    }),
  };
}

/** the server's own event log (`<dataDir>/event-log.sqlite`), opened when first needed; none when options.eventLog is false */
class OwnEventLog {
  /** the log once opening began */
  opened: Promise<EventLog> | undefined;
  /** opens the log (once); undefined when the server has none */
  readonly open: (() => Promise<EventLog>) | undefined;

  constructor(private readonly dir: string, private readonly options: StandardOperationsOptions, private readonly log: Logger) {
    const retention = options.eventLog;
    this.open = retention === false ? undefined : (): Promise<EventLog> => (this.opened ??= this.openFile(retention));
  }

  private openFile(retention: { maxEvents?: number; maxAgeMs?: number } | undefined): Promise<EventLog> {
    const { dir, log, options } = this;
    return openEventLog({
      dir, ...(retention ?? {}), ...(options.now ? { now: options.now } : {}),
      // the same file of a version before the replay log moved into a store: its events are imported in place
      onEarlierEvents: (outcome) => {
        if ('error' in outcome) log.warn('the earlier events in the event log were not imported: they are not replayed until they are', { dir, code: errorCode(outcome.error), err: outcome.error });
        else log.info('notifications of the earlier event log imported into the replay log', { dir, ...outcome });
      },
    });
  }
}

function createNotificationService(reg: OperationRegistrar, ownLog: OwnEventLog, nacm: Nacm | undefined, options: StandardOperationsOptions, log: Logger): NotificationService {
  return new NotificationService(reg, {
    openLog: ownLog.open, log, ...options.notifications, ...(options.now ? { now: options.now } : {}),
    // the server's own log of a version before the replay log moved into a store goes into the provided one
    onProvidedLog: (provided) => importEarlierEventLog(provided, join(reg.dataDir, EVENT_LOG_FILE), log),
    ...(nacm ? { permits: (event: XmlElement, session: ServerSessionHandle) => nacm.permitsNotification(event, session) } : {}),
  });
}

function addCapabilities(reg: OperationRegistrar, ietfModules: YangModuleInfo[], modules: () => YangModuleInfo[]): void {
  reg.addCapability(WRITABLE_RUNNING_CAPABILITY);
  reg.addCapability(VALIDATE_CAPABILITY);
  reg.addCapability(ROLLBACK_ON_ERROR_CAPABILITY);
  reg.addCapability(XPATH_CAPABILITY);
  reg.addCapability(WITH_DEFAULTS_CAPABILITY);
  reg.addCapability(WITH_OPERATIONAL_DEFAULTS_CAPABILITY);
  for (const m of ietfModules) if (advertisedInHello(m)) reg.addCapability(moduleCapability(m));
  const libraryCap = libraryCapabilities(modules);
  reg.addCapability(() => libraryCap('v11'));
  reg.addCapability(() => libraryCap('v10'));
}

/**
 * RFC 8526 section 2 (NMDA), and RFC 7950 5.6.4 for clients that read the deprecated /modules-state
 * digests of the module list, asked for in every hello: computed again only when a module was added (modules
 * are only ever added, so the count names the list)
 */
function libraryCapabilities(modules: () => YangModuleInfo[]): (which: 'v11' | 'v10') => string {
  let libraryCaps: { count: number; v11: string; v10: string } | undefined;
  return (which) => {
    const list = modules();
    if (libraryCaps?.count !== list.length) libraryCaps = { count: list.length, v11: yangLibrary11Capability(list), v10: yangLibraryCapability(list) };
    return libraryCaps[which];
  };
}

/** get, get-config, the edits, get-data/edit-data, validate, lock/unlock, kill-session, get-schema */
function addOperations(parts: Parts, options: StandardOperationsOptions): void {
  const { reg, datastore, locks, nacm, modules } = parts;
  const N = NETCONF_BASE_NS;
  const stateSources = stateSourcesOf(parts);
  const prefixes = (): Map<string, string> => new Map(modules().map((m) => [m.namespace, m.prefix]));
  const schema = schemaHintsOf(reg.validator);
  const defaults = defaultsSchemaOf(reg.validator);
  const pruneRead = nacm ? { pruneRead: (top: XmlElement[], ctx: OperationContext) => nacm.pruneRead(top, ctx.session) } : {};
  const checkWrite = writeHooks(parts, schema, prefixes);
  reg.addOperation(N, 'get', createGet({ datastore, stateSources, schema, defaults, ...pruneRead }));
  reg.addOperation(N, 'get-config', createGetConfig({ datastore, stateSources, schema, defaults, ...pruneRead }));
  reg.addOperation(N, 'edit-config', createEditConfig({ datastore, locks, validator: reg.validator, prefixes, ...checkWrite }));
  reg.addOperation(N, 'copy-config', createCopyConfig({ datastore, locks, validator: reg.validator, prefixes, ...checkWrite }));
  reg.addOperation(N, 'delete-config', createDeleteConfig());
  const editDeps = { datastore, locks, validator: reg.validator, prefixes, ...checkWrite };
  const yang = libraryYangFunctions(reg, parts.ietfModules);
  reg.addOperation(NMDA_NS, 'get-data', createGetData({ datastore, stateSources, schema, defaults, ...pruneRead, edit: editDeps, yang }));
  reg.addOperation(NMDA_NS, 'edit-data', createEditData({ datastore, stateSources, schema, defaults, ...pruneRead, edit: editDeps }));
  reg.addOperation(N, 'validate', createValidate({ datastore, validator: reg.validator }));
  reg.addOperation(N, 'lock', createLock(locks));
  reg.addOperation(N, 'unlock', createUnlock(locks));
  if (options.killSession !== false) reg.addOperation(N, 'kill-session', createKillSession((id) => locks.releaseIfHeldBy(id)));
  reg.addOperation(NCM_NS, 'get-schema', createGetSchema({ modules, locks }));
}

/** the state get and get-data read: the plugins' providers, netconf-state, the YANG library, the streams, /nacm */
function stateSourcesOf(parts: Parts): (ctx: OperationContext) => StateSource[] {
  const { reg, locks, notifications, nacm, modules } = parts;
  return (ctx) => [
    ...reg.stateProviders(),
    { ns: NCM_NS, name: 'netconf-state', provider: () => netconfState(ctx.server, { modules, locks }) },
    { ns: YANG_LIBRARY_NS, name: 'yang-library', provider: () => yangLibrary(modules()) },
    { ns: YANG_LIBRARY_NS, name: 'modules-state', provider: () => modulesState(modules()) },
    { ns: NETMOD_NOTIFICATION_NS, name: 'netconf', provider: () => notifications.streamsState() },
    ...(nacm ? [{ ns: NACM_NS, name: 'nacm', provider: () => nacm.state() }] : []),
  ];
}

/** what the edits call: the NACM write check (when enabled), and the audit trail after a commit */
function writeHooks(parts: Parts, schema: SchemaHints | undefined, prefixes: () => Map<string, string>): Pick<EditConfigDeps, 'checkWrite' | 'onCommitted'> {
  const { reg, nacm, modules } = parts;
  return {
    ...(nacm ? { checkWrite: (before: readonly XmlElement[], after: XmlElement[], ctx: OperationContext) => nacm.checkWrite(before, after, ctx.session, schema, prefixes()) } : {}),
    // the audit trail: who changed which top-level nodes of running
    onCommitted: (operation: string, before: readonly XmlElement[], after: XmlElement[], ctx: OperationContext) => {
      const changed = changedTopNodes(before, after, (ns) => modules().find((m) => m.namespace === ns)?.name ?? ns);
      if (changed.length === 0) return;
      emitAudit(reg, {
        action: 'config-edit', actor: `netconf:${ctx.session.username}@${ctx.session.id}`, object: 'running',
        details: { operation, changed },
      });
    },
  };
}

/** /yang-library (2019-01-04) is served without being in the validator: its schema for deref()/enum-value() */
function libraryYangFunctions(reg: OperationRegistrar, ietfModules: YangModuleInfo[]): ReturnType<typeof yangFunctionsOf> {
  const librarySchema = new Set(['ietf-yang-library@2019-01-04', 'ietf-datastores@2018-02-14', 'ietf-yang-types@2013-07-15', 'ietf-inet-types@2013-07-15']);
  return yangFunctionsOf(reg.validator, () => ietfModules.filter((m) => librarySchema.has(`${m.name}@${m.revision}`)).map((m) => ({ file: `${m.name}@${m.revision}.yang`, text: m.text })));
}

function standardOperationsHandle(parts: Parts, ownLog: OwnEventLog): StandardOperations {
  const { datastore, locks, notifications, ietfModules, nacm } = parts;
  let closed: Promise<void> | undefined;
  return {
    datastore, locks, notifications, ietfModules, nacm,
    async eventLog() {
      const inUse = notifications.replayLog();
      return inUse !== undefined && ownLog.opened !== undefined ? ownLog.opened : undefined;
    },
    close() {
      closed ??= (async () => {
        notifications.close();
        const log = await ownLog.opened?.catch(() => undefined);
        await log?.close();
      })();
      return closed;
    },
  };
}

/** the registry's optional hooks (HostRegistry): a provided replay log, modules added after start, close */
function followRegistry(parts: Parts, handle: StandardOperations, options: StandardOperationsOptions, log: Logger): void {
  const { reg, notifications, modules } = parts;
  const onReplayLog = (reg as OperationRegistrar & { onReplayLog?: (fn: (l: ReplayLog) => void) => void }).onReplayLog;
  if (typeof onReplayLog === 'function') onReplayLog.call(reg, (l) => notifications.useReplayLog(l));
  // a module registered after start changes /modules-state: tell subscribers (RFC 7895 section 2.2)
  const onModuleAdded = (reg as OperationRegistrar & { onModuleAdded?: (fn: (m: YangModuleInfo) => void) => void }).onModuleAdded;
  if (typeof onModuleAdded === 'function') {
    onModuleAdded.call(reg, () => {
      const now = (options.now ?? (() => new Date()))();
      // RFC 8525 yang-library-update (the content-id), and RFC 7895's yang-library-change for older clients
      notifications.publish('NETCONF', yangLibraryUpdate(modules()), now)
        .then(() => notifications.publish('NETCONF', yangLibraryChange(modules()), now))
        .catch((e: unknown) => log.error('yang-library-update / yang-library-change not published', { err: e as Error }));
    });
  }
  const onClose = (reg as OperationRegistrar & { onClose?: (fn: () => void | Promise<void>) => void }).onClose;
  if (typeof onClose === 'function') onClose.call(reg, () => handle.close());
}

/** tells the registry's audit listeners (HostRegistry.emitAudit), when the registry has them */
function emitAudit(reg: OperationRegistrar, event: Omit<ServerAuditEvent, 'at'>): void {
  const emit = (reg as OperationRegistrar & { emitAudit?: (e: Omit<ServerAuditEvent, 'at'>) => void }).emitAudit;
  if (typeof emit === 'function') emit.call(reg, event);
}

/**
 * The top-level nodes of running that a commit created, deleted or changed, by module. Compared with sameTrees (as
 * their JSON text without nsContext was): an edit's result shares the subtrees it did not change with `before`, so
 * the comparison stops at them.
 */
export function changedTopNodes(before: readonly XmlElement[], after: readonly XmlElement[], moduleOf: (ns: string) => string): Array<{ module: string; node: string; change: 'created' | 'deleted' | 'modified' }> {
  const key = (e: XmlElement): string => `${e.ns} ${e.name}`;
  const group = (top: readonly XmlElement[]): Map<string, XmlElement[]> => {
    const m = new Map<string, XmlElement[]>();
    for (const e of top) m.set(key(e), [...(m.get(key(e)) ?? []), e]);
    return m;
  };
  const b = group(before);
  const a = group(after);
  const out: Array<{ module: string; node: string; change: 'created' | 'deleted' | 'modified' }> = [];
  for (const [k, es] of a) {
    const first = es[0]!;
    const old = b.get(k);
    if (old === undefined) out.push({ module: moduleOf(first.ns), node: first.name, change: 'created' });
    else if (!sameTrees(old, es)) out.push({ module: moduleOf(first.ns), node: first.name, change: 'modified' });
  }
  for (const [k, es] of b) if (!a.has(k)) out.push({ module: moduleOf(es[0]!.ns), node: es[0]!.name, change: 'deleted' });
  return out;
}

/**
 * RFC 8341: read /nacm from running (seeding the admin rule-list when there is none), follow its
 * changes, and give dispatch the operation check. undefined when access control is off.
 */
function setUpNacm(reg: OperationRegistrar, datastore: RunningDatastore, modules: () => YangModuleInfo[], options: StandardOperationsOptions, log: Logger): Nacm | undefined {
  if (options.nacm === undefined || options.nacm === false) return undefined;
  const given: NacmOptions = options.nacm === true ? {} : options.nacm;
  const nacmOptions: NacmOptions = {
    ...given,
    onDenial: (d) => {
      if (d.kind !== 'notification') log.info('access denied (NACM)', { kind: d.kind, username: d.username, session: d.sessionId, what: d.what });
      emitAudit(reg, { action: 'nacm-denial', actor: `netconf:${d.username}@${d.sessionId}`, object: d.what, details: { kind: d.kind } });
      given.onDenial?.(d);
    },
  };
  // running's frozen snapshot, not a copy: three deep copies of a 10,000-entry inventory at start (issue 15)
  if (!datastore.snapshot().some((t) => t.ns === NACM_NS && t.name === 'nacm')) {
    datastore.initialize([...datastore.snapshot(), initialNacm()]);
    log.info('access control: created rule-list admin (group admin may do everything)');
  }
  const nacm = new Nacm(datastore.snapshot(), modules, reg.validator as NacmSchema | undefined, nacmOptions);
  datastore.onConfigChange((running) => nacm.update(elements(running)));
  const setAuthorizer = (reg as OperationRegistrar & { setAuthorizer?: (fn: (op: XmlElement, ctx: OperationContext) => void) => void }).setAuthorizer;
  if (typeof setAuthorizer !== 'function') throw new Error('access control needs a registry with setAuthorizer (HostRegistry)');
  setAuthorizer.call(reg, (op, ctx) => nacm.checkRpc(op, ctx.session));
  return nacm;
}

/**
 * `<dataDir>/event-log.sqlite` of an earlier version (src/store/legacy-event-log.ts): imported into the replay log a
 * plugin provides, then renamed; a file that cannot be imported is logged and left for the next start.
 */
async function importEarlierEventLog(into: ReplayLog, file: string, log: Logger): Promise<void> {
  try {
    const done = await importLegacyEventLog(into, file);
    if (done !== undefined) log.info('notifications of the earlier event log imported into the replay log', { file, ...done });
  } catch (err) {
    log.warn('the earlier event log was not imported: its notifications are not replayed until it is', { file, code: errorCode(err), err });
  }
}
