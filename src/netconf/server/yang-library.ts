/**
 * How the server announces its YANG modules (RFC 8525, RFC 8526 section 2, RFC 7950 sections 1.1 and
 * 5.6.4, RFC 7895, RFC 6020 5.6.4). The server implements ietf-yang-library 2019-01-04 (NMDA):
 *
 * - `/yang-library` (RFC 8525 section 3): one module-set `complete` (implemented modules with their
 *   features, imported ones as import-only-module), one schema `complete`, the datastores running,
 *   intended and operational (all with that schema), and a `content-id` that changes whenever anything
 *   else in the tree changes; the hello carries `urn:ietf:params:netconf:capability:yang-library:1.1?
 *   revision=2019-01-04&content-id=<id>` (RFC 8526 section 2);
 * - for clients of RFC 7895 (yangcli, ncclient): every module, implemented or only imported, is also
 *   listed in the deprecated `/modules-state` of the same module revision with a `module-set-id`, and the
 *   hello also carries `urn:ietf:params:netconf:capability:yang-library:1.0?revision=2019-01-04&
 *   module-set-id=<id>` (RFC 7950 section 5.6.4: both parameters MUST be present);
 * - YANG 1.0 modules the server implements are also listed as `<namespace>?module=..&revision=..`
 *   capabilities (RFC 6020 section 5.6.4, kept by RFC 7950 for 1.0 modules); YANG 1.1 modules are not
 *   ("a server advertises support for YANG 1.1 modules by using ietf-yang-library instead of listing them
 *   as capabilities in the <hello> message", RFC 7950 section 1.1). Clients such as yangcli read
 *   /modules-state and fetch the modules with get-schema.
 */
import { createHash } from 'node:crypto';
import { el, leaf } from '../xml/index.js';
import type { XmlElement } from '../xml/index.js';
import type { YangModuleInfo } from './registry.js';

export const YANG_LIBRARY_NS = 'urn:ietf:params:xml:ns:yang:ietf-yang-library';
/** the revision of ietf-yang-library we implement (RFC 8525; yang-library/ietf-yang-library@2019-01-04.yang) */
export const YANG_LIBRARY_REVISION = '2019-01-04';
export const YANG_LIBRARY_CAPABILITY = 'urn:ietf:params:netconf:capability:yang-library:1.0';
/** RFC 8526 section 2: the NMDA server's YANG library capability */
export const YANG_LIBRARY_11_CAPABILITY = 'urn:ietf:params:netconf:capability:yang-library:1.1';
export const DATASTORES_NS = 'urn:ietf:params:xml:ns:yang:ietf-datastores';
/** the datastores this server has (RFC 8342): no candidate, no startup; intended is running (nothing inactive) */
export const DATASTORES = ['running', 'intended', 'operational'] as const;
export type DatastoreName = (typeof DATASTORES)[number];
/** the one module set and schema of /yang-library: every datastore has the same modules */
export const MODULE_SET = 'complete';

/** every hello asks for the version of every module: scan each module text once, not per session */
const versionByText = new Map<string, '1' | '1.1'>();

/** '1.1' when the module text says `yang-version 1.1;`, else '1' (RFC 7950 section 7.1.2: the default). */
export function yangVersionOf(m: Pick<YangModuleInfo, 'text'>): '1' | '1.1' {
  let v = versionByText.get(m.text);
  if (v === undefined) {
    v = /^\s*yang-version\s+(["']?)1\.1\1\s*;/m.test(m.text) ? '1.1' : '1';
    versionByText.set(m.text, v);
  }
  return v;
}

/** The hello capability of a module (RFC 6020 section 5.6.4). */
export function moduleCapability(m: YangModuleInfo): string {
  let uri = `${m.namespace}?module=${m.name}&revision=${m.revision}`;
  if (m.features && m.features.length > 0) uri += `&features=${m.features.join(',')}`;
  return uri;
}

/** true for a module that gets its own hello capability: implemented and YANG 1.0 */
export function advertisedInHello(m: YangModuleInfo): boolean {
  return m.implemented !== false && yangVersionOf(m) === '1';
}

/**
 * One entry per name@revision, in a stable order (name, then revision), with the conformance RFC 7895
 * section 2.2 allows: "For YANG version 1.1 modules, there is at most one module entry with
 * conformance type 'implement' for a particular module name" (RFC 7950 section 5.6.5: a server
 * implements at most one revision). When several revisions of a YANG 1.1 module are registered as
 * implemented, the newest is the implemented one and the others are listed as imports. YANG 1 modules
 * ("SHOULD NOT be more than one") are listed as registered.
 */
export function libraryModules(modules: YangModuleInfo[]): YangModuleInfo[] {
  const byKey = new Map<string, YangModuleInfo>();
  for (const m of modules) {
    const k = `${m.name}@${m.revision}`;
    const seen = byKey.get(k);
    // the same module registered twice (served by one owner, implemented by another): implemented wins
    if (!seen || (seen.implemented === false && m.implemented !== false)) byKey.set(k, m);
  }
  const list = [...byKey.values()].sort((a, b) => (a.name === b.name ? (a.revision < b.revision ? -1 : 1) : a.name < b.name ? -1 : 1));
  // sorted by revision within a name, so the last implemented YANG 1.1 entry of a name is the newest
  const newest = new Map<string, YangModuleInfo>();
  for (const m of list) if (m.implemented !== false && yangVersionOf(m) === '1.1') newest.set(m.name, m);
  return list.map((m) => (m.implemented !== false && yangVersionOf(m) === '1.1' && newest.get(m.name) !== m ? { ...m, implemented: false } : m));
}

/**
 * The module-set-id: a digest of everything /modules-state/module says (name, revision, namespace,
 * conformance, features), so it changes exactly when that list changes (RFC 7895 section 2.2).
 */
export function moduleSetId(modules: YangModuleInfo[]): string {
  const h = createHash('sha256');
  for (const m of libraryModules(modules)) {
    h.update(`${m.name}\u0000${m.revision}\u0000${m.namespace}\u0000${m.implemented === false ? 'import' : 'implement'}\u0000${[...(m.features ?? [])].sort().join(',')}\n`);
  }
  return h.digest('hex').slice(0, 32);
}

/** The yang-library capability for the hello (RFC 7950 section 5.6.4). */
export function yangLibraryCapability(modules: YangModuleInfo[]): string {
  return `${YANG_LIBRARY_CAPABILITY}?revision=${YANG_LIBRARY_REVISION}&module-set-id=${moduleSetId(modules)}`;
}

/**
 * The content-id of /yang-library (RFC 8525): a digest of the module list (as the module-set-id) and of
 * the module sets, schemas and datastores, so it changes exactly when something else in the tree does.
 */
export function contentId(modules: YangModuleInfo[]): string {
  const h = createHash('sha256');
  h.update(`${moduleSetId(modules)}\n${MODULE_SET}\n${DATASTORES.join(',')}\n`);
  return h.digest('hex').slice(0, 32);
}

/** The RFC 8526 section 2 capability for the hello. */
export function yangLibrary11Capability(modules: YangModuleInfo[]): string {
  return `${YANG_LIBRARY_11_CAPABILITY}?revision=${YANG_LIBRARY_REVISION}&content-id=${contentId(modules)}`;
}

/** The `/yang-library` container (RFC 8525 section 3). */
export function yangLibrary(modules: YangModuleInfo[]): XmlElement {
  const L = YANG_LIBRARY_NS;
  // the module list is keyed by name: a second implemented revision of a YANG 1 module is listed as import-only
  const seen = new Set<string>();
  const list = libraryModules(modules).reverse().map((m) => {
    if (m.implemented === false) return m;
    if (seen.has(m.name)) return { ...m, implemented: false };
    seen.add(m.name);
    return m;
  }).reverse();
  const lib = el(L, 'yang-library',
    el(L, 'module-set',
      leaf(L, 'name', MODULE_SET),
      list.filter((m) => m.implemented !== false).map((m) => el(L, 'module',
        leaf(L, 'name', m.name),
        leaf(L, 'revision', m.revision),
        leaf(L, 'namespace', m.namespace),
        (m.features ?? []).map((f) => leaf(L, 'feature', f)))),
      list.filter((m) => m.implemented === false).map((m) => el(L, 'import-only-module',
        leaf(L, 'name', m.name),
        leaf(L, 'revision', m.revision),
        leaf(L, 'namespace', m.namespace)))),
    el(L, 'schema', leaf(L, 'name', MODULE_SET), leaf(L, 'module-set', MODULE_SET)),
    DATASTORES.map((d) => el(L, 'datastore', leaf(L, 'name', `ds:${d}`), leaf(L, 'schema', MODULE_SET))),
    leaf(L, 'content-id', contentId(modules)));
  // the datastore names are identities of ietf-datastores: the prefix is declared where they are
  return { ...lib, nsContext: { ds: DATASTORES_NS } };
}

/** The `yang-library-update` notification (RFC 8525): the new content-id. */
export function yangLibraryUpdate(modules: YangModuleInfo[]): XmlElement {
  return el(YANG_LIBRARY_NS, 'yang-library-update', leaf(YANG_LIBRARY_NS, 'content-id', contentId(modules)));
}

/** The `/modules-state` container (RFC 7895 section 2.2; deprecated in RFC 8525, served for RFC 7895 clients). No submodules or deviations are used. */
export function modulesState(modules: YangModuleInfo[]): XmlElement {
  const L = YANG_LIBRARY_NS;
  return el(L, 'modules-state',
    leaf(L, 'module-set-id', moduleSetId(modules)),
    libraryModules(modules).map((m) => el(L, 'module',
      leaf(L, 'name', m.name),
      leaf(L, 'revision', m.revision),
      leaf(L, 'namespace', m.namespace),
      (m.features ?? []).map((f) => leaf(L, 'feature', f)),
      leaf(L, 'conformance-type', m.implemented === false ? 'import' : 'implement'))));
}

/** The `yang-library-change` notification (RFC 7895 section 2.2): the new module-set-id. */
export function yangLibraryChange(modules: YangModuleInfo[]): XmlElement {
  return el(YANG_LIBRARY_NS, 'yang-library-change', leaf(YANG_LIBRARY_NS, 'module-set-id', moduleSetId(modules)));
}
