/**
 * NETCONF monitoring (RFC 6022, ietf-netconf-monitoring 2010-10-04).
 *
 * - `netconf-state` (section 2): capabilities, datastores (with the global lock), schemas, sessions and
 *   statistics, built from ServerInfo and the registered modules.
 * - get-schema (section 3.1): identifier, optional version and format (only yang is served). Unknown
 *   schema -> invalid-value; several revisions and no version -> operation-failed with error-app-tag
 *   data-not-unique. The text served is byte-identical to YangModuleInfo.text.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { HsvError } from '../../errors.js';
import { NetconfError, info } from '../rpc-error.js';
import { childText, child, el, leaf, textOf } from '../xml/index.js';
import type { XmlElement } from '../xml/index.js';
import type { OperationHandler, ServerInfo } from './operations.js';
import type { YangModuleInfo } from './registry.js';
import type { LockManager } from './locks.js';

export const NCM_NS = 'urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring';

export class ModuleFileError extends HsvError<'ERR_YANG_MODULE_FILE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_YANG_MODULE_FILE', message, options);
  }
}

/**
 * Module texts read so far, by path (checked against the file's size and mtime on every load): every server in a
 * process (a simulated fleet runs one per device) shares one copy of each standard module's text instead of
 * ~125 KiB of its own.
 */
const moduleTexts = new Map<string, { size: number; mtimeMs: number; text: string }>();

function readModuleText(file: string): string {
  const st = statSync(file);
  const hit = moduleTexts.get(file);
  if (hit !== undefined && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.text;
  const text = readFileSync(file, 'utf8');
  moduleTexts.set(file, { size: st.size, mtimeMs: st.mtimeMs, text });
  return text;
}

/**
 * Read a module file `name@revision.yang` (or `name.yang`): name, revision, namespace and prefix from
 * its header; text byte-for-byte.
 */
export function loadModuleFile(file: string, extra: Partial<YangModuleInfo> = {}): YangModuleInfo {
  let text: string;
  try {
    text = readModuleText(file);
  } catch (e) {
    throw new ModuleFileError(`cannot read ${file}`, { cause: e });
  }
  const name = /^\s*module\s+([A-Za-z_][\w.-]*)/m.exec(text)?.[1];
  const ns = /^\s*namespace\s+"?([^";\s]+)"?\s*;/m.exec(text)?.[1];
  const prefix = /^\s*prefix\s+"?([^";\s]+)"?\s*;/m.exec(text)?.[1];
  const revision = /^\s*revision\s+"?(\d{4}-\d{2}-\d{2})"?/m.exec(text)?.[1];
  const fromName = /@(\d{4}-\d{2}-\d{2})\.yang$/.exec(basename(file))?.[1];
  if (!name || !ns || !prefix || !(revision ?? fromName)) throw new ModuleFileError(`${file} is not a YANG module with namespace, prefix and revision`);
  return { name, namespace: ns, prefix, revision: fromName ?? revision!, text, ...extra };
}

export interface MonitoringDeps {
  modules: () => YangModuleInfo[];
  locks: LockManager;
}

/** The `netconf-state` container. */
export function netconfState(server: ServerInfo, deps: MonitoringDeps): XmlElement {
  const M = NCM_NS;
  const holder = deps.locks.running;
  const stats = server.counters;
  return el(M, 'netconf-state',
    el(M, 'capabilities', server.capabilities().map((c) => leaf(M, 'capability', c))),
    el(M, 'datastores', el(M, 'datastore', leaf(M, 'name', 'running'),
      holder ? el(M, 'locks', el(M, 'global-lock',
        leaf(M, 'locked-by-session', holder.sessionId),
        leaf(M, 'locked-time', holder.since.toISOString()))) : undefined)),
    el(M, 'schemas', uniqueModules(deps.modules()).map((m) => el(M, 'schema',
      leaf(M, 'identifier', m.name),
      leaf(M, 'version', m.revision),
      leaf(M, 'format', 'yang'),
      leaf(M, 'namespace', m.namespace),
      leaf(M, 'location', 'NETCONF')))),
    el(M, 'sessions', server.sessions().map((s) => el(M, 'session',
      leaf(M, 'session-id', s.id),
      leaf(M, 'transport', s.transport),
      leaf(M, 'username', s.username),
      leaf(M, 'source-host', s.sourceHost),
      leaf(M, 'login-time', s.loginTime.toISOString()),
      leaf(M, 'in-rpcs', s.counters.inRpcs),
      leaf(M, 'in-bad-rpcs', s.counters.inBadRpcs),
      leaf(M, 'out-rpc-errors', s.counters.outRpcErrors),
      leaf(M, 'out-notifications', s.counters.outNotifications)))),
    el(M, 'statistics',
      leaf(M, 'netconf-start-time', server.startTime.toISOString()),
      leaf(M, 'in-bad-hellos', stats.inBadHellos),
      leaf(M, 'in-sessions', stats.inSessions),
      leaf(M, 'dropped-sessions', stats.droppedSessions),
      leaf(M, 'in-rpcs', stats.inRpcs),
      leaf(M, 'in-bad-rpcs', stats.inBadRpcs),
      leaf(M, 'out-rpc-errors', stats.outRpcErrors),
      leaf(M, 'out-notifications', stats.outNotifications)));
}

function uniqueModules(mods: YangModuleInfo[]): YangModuleInfo[] {
  const seen = new Set<string>();
  return mods.filter((m) => {
    const k = `${m.name}@${m.revision}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** true when a schema-format identityref value names ncm:yang */
function isYangFormat(format: XmlElement): boolean {
  const v = textOf(format).trim();
  const i = v.indexOf(':');
  if (i < 0) return v === 'yang';
  const prefix = v.slice(0, i);
  const local = v.slice(i + 1);
  const ns = format.nsContext?.[prefix];
  return local === 'yang' && (ns === undefined || ns === NCM_NS);
}

export function createGetSchema(deps: MonitoringDeps): OperationHandler {
  return async (op) => {
    const M = NCM_NS;
    const identifier = childText(op, M, 'identifier')?.trim();
    if (!identifier) {
      throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: 'identifier is required', info: [info.badElement('identifier')] });
    }
    const version = childText(op, M, 'version')?.trim();
    const format = child(op, M, 'format');
    if (format && !isYangFormat(format)) {
      throw new NetconfError({ type: 'application', tag: 'invalid-value', message: 'only format yang is served', info: [info.badElement('format')] });
    }
    const candidates = uniqueModules(deps.modules()).filter((m) => m.name === identifier && (!version || m.revision === version));
    if (candidates.length === 0) {
      throw new NetconfError({ type: 'application', tag: 'invalid-value', message: `no schema ${identifier}${version ? `@${version}` : ''}`, info: [info.badElement('identifier')] });
    }
    if (candidates.length > 1) {
      throw new NetconfError({
        type: 'application', tag: 'operation-failed', appTag: 'data-not-unique',
        message: `several revisions of ${identifier}; give a version`, info: [info.badElement('version')],
      });
    }
    return [{ ...leaf(M, 'data', candidates[0]!.text) }];
  };
}
