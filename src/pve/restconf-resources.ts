/**
 * The RESTCONF resources of the reference PVE besides its operation (RFC 8040 section 3): the API root,
 * {+restconf}/data (the YANG library as operational state: RFC 8525 `yang-library`, and the RFC 7895
 * `modules-state` that older clients read), {+restconf}/operations, {+restconf}/yang-library-version, the
 * module texts the library's `location` leaves point at (section 3.7), and both encodings: RFC 7951 JSON
 * (application/yang-data+json) and XML (application/yang-data+xml), chosen by the Accept header (section 5.2),
 * errors included (section 7.1).
 *
 * The modules: henb-sw-verify-pve (its operation), ietf-yang-library 2019-01-04 (this library) and
 * ietf-datastores (its identities) implemented; ietf-yang-types and ietf-inet-types import-only. Files:
 * yang/ for ours and the RFC 6991 types, yang-library/ for the RFC 8525 pair (kept apart: yang/ is loaded as a
 * whole by the OAM, which serves the 2016 revision of ietf-yang-library).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../package-root.js';
import { PVE_MODULE, PVE_NS } from './restconf.js';
import type { RestconfErrorEntry } from './restconf.js';

export const YANG_XML = 'application/yang-data+xml';
/** the revision of yang/henb-sw-verify-pve.yang (test/pve/restconf-optional.test.ts checks it against the file) */
export const PVE_REVISION = '2026-12-07';
export const RESTCONF_NS = 'urn:ietf:params:xml:ns:yang:ietf-restconf';
export const YANG_LIBRARY_NS = 'urn:ietf:params:xml:ns:yang:ietf-yang-library';
export const YANG_LIBRARY_REVISION = '2019-01-04';
/** where module texts are served (section 3.7): /restconf/yang/NAME@REVISION */
export const MODULE_PATH_PREFIX = '/restconf/yang/';

export interface LibraryModule {
  name: string;
  revision: string;
  namespace: string;
  /** path of the text, relative to the package root */
  file: string;
  implemented: boolean;
}

export const PVE_LIBRARY: readonly LibraryModule[] = [
  { name: PVE_MODULE, revision: PVE_REVISION, namespace: PVE_NS, file: `yang/${PVE_MODULE}.yang`, implemented: true },
  { name: 'ietf-yang-library', revision: YANG_LIBRARY_REVISION, namespace: YANG_LIBRARY_NS, file: 'yang-library/ietf-yang-library@2019-01-04.yang', implemented: true },
  { name: 'ietf-datastores', revision: '2018-02-14', namespace: 'urn:ietf:params:xml:ns:yang:ietf-datastores', file: 'yang-library/ietf-datastores@2018-02-14.yang', implemented: true },
  { name: 'ietf-yang-types', revision: '2013-07-15', namespace: 'urn:ietf:params:xml:ns:yang:ietf-yang-types', file: 'yang/ietf/ietf-yang-types@2013-07-15.yang', implemented: false },
  { name: 'ietf-inet-types', revision: '2013-07-15', namespace: 'urn:ietf:params:xml:ns:yang:ietf-inet-types', file: 'yang/ietf/ietf-inet-types@2013-07-15.yang', implemented: false },
];

/** namespaces of the modules whose names appear in our JSON member names */
const NAMESPACES: Record<string, string> = {
  'ietf-restconf': RESTCONF_NS,
  ...Object.fromEntries(PVE_LIBRARY.map((m) => [m.name, m.namespace])),
};

const texts = new Map<string, string>();

/** The text of a module of the library, or undefined (unknown name or revision). */
export function moduleText(name: string, revision: string): string | undefined {
  const m = PVE_LIBRARY.find((x) => x.name === name && x.revision === revision);
  if (!m) return undefined;
  let t = texts.get(m.file);
  if (t === undefined) {
    const root = packageRoot();
    if (root === undefined) return undefined;
    t = readFileSync(join(root, m.file), 'utf8');
    texts.set(m.file, t);
  }
  return t;
}

/** the content-id / module-set-id: changes when the set of modules changes (not with the server's address) */
const CONTENT_ID = createHash('sha256').update(PVE_LIBRARY.map((m) => `${m.name}@${m.revision}:${m.implemented}`).join('\n')).digest('hex').slice(0, 32);

/**
 * The RFC 8525 yang-library container (RFC 7951 JSON, without the member name), with `location` URLs
 * under `base` (https://HOST:PORT as the client reached us).
 */
export function yangLibrary(base: string): Record<string, unknown> {
  const loc = (m: LibraryModule): string[] => [`${base}${MODULE_PATH_PREFIX}${m.name}@${m.revision}`];
  return {
    'module-set': [{
      name: 'pve',
      module: PVE_LIBRARY.filter((m) => m.implemented).map((m) => ({ name: m.name, revision: m.revision, namespace: m.namespace, location: loc(m) })),
      'import-only-module': PVE_LIBRARY.filter((m) => !m.implemented).map((m) => ({ name: m.name, revision: m.revision, namespace: m.namespace, location: loc(m) })),
    }],
    schema: [{ name: 'pve', 'module-set': ['pve'] }],
    // no configuration: running is empty; operational holds this library
    datastore: [
      { name: 'ietf-datastores:running', schema: 'pve' },
      { name: 'ietf-datastores:operational', schema: 'pve' },
    ],
    'content-id': CONTENT_ID,
  };
}

/** The RFC 7895 modules-state (deprecated in 2019-01-04, kept for clients that read only it). */
export function modulesState(base: string): Record<string, unknown> {
  return {
    'module-set-id': CONTENT_ID,
    module: PVE_LIBRARY.map((m) => ({
      name: m.name, revision: m.revision, schema: `${base}${MODULE_PATH_PREFIX}${m.name}@${m.revision}`, namespace: m.namespace,
      'conformance-type': m.implemented ? 'implement' : 'import',
    })),
  };
}

/** identityref leaves (JSON value `module:identity`), by member name under their parent: XML needs a prefix */
const IDENTITY_LEAVES = new Set(['datastore/name']);

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * RFC 7951 JSON -> XML (RFC 7950 encoding) for the trees this file builds: a member `module:name` opens
 * that module's namespace; arrays are repeated elements; `[null]` is an empty element.
 */
export function jsonToXml(member: string, value: unknown, parentNs?: string, parent = ''): string {
  const colon = member.indexOf(':');
  const mod = colon > 0 ? member.slice(0, colon) : undefined;
  const name = colon > 0 ? member.slice(colon + 1) : member;
  const ns = mod !== undefined ? NAMESPACES[mod] : parentNs;
  const xmlns = ns !== undefined && ns !== parentNs ? ` xmlns="${esc(ns)}"` : '';
  if (Array.isArray(value)) {
    if (value.length === 1 && value[0] === null) return `<${name}${xmlns}/>`;
    return value.map((v) => jsonToXml(member, v, parentNs, parent)).join('');
  }
  if (value !== null && typeof value === 'object') {
    const inner = Object.entries(value as Record<string, unknown>).map(([k, v]) => jsonToXml(k, v, ns, name)).join('');
    return inner === '' ? `<${name}${xmlns}/>` : `<${name}${xmlns}>${inner}</${name}>`;
  }
  const text = String(value);
  if (IDENTITY_LEAVES.has(`${parent}/${name}`)) {
    const i = text.indexOf(':');
    const idNs = NAMESPACES[text.slice(0, i)];
    if (i > 0 && idNs !== undefined) return `<${name}${xmlns} xmlns:id="${esc(idNs)}">id:${esc(text.slice(i + 1))}</${name}>`;
  }
  return `<${name}${xmlns}>${esc(text)}</${name}>`;
}

/** An errors document (RFC 8040 section 7.1) in XML; error-path module names become declared prefixes. */
export function errorsXml(entries: readonly RestconfErrorEntry[]): string {
  const one = (e: RestconfErrorEntry): string => {
    let path = '';
    if (e['error-path'] !== undefined) {
      const prefixes = new Map<string, string>();
      let current = '';
      const segs = e['error-path'].split('/').filter((x) => x !== '').map((seg) => {
        const c = seg.indexOf(':');
        if (c > 0) current = seg.slice(0, c);
        const local = c > 0 ? seg.slice(c + 1) : seg;
        if (NAMESPACES[current] === undefined) return local;
        let p = prefixes.get(current);
        if (p === undefined) prefixes.set(current, (p = `m${prefixes.size + 1}`));
        return `${p}:${local}`;
      });
      const xmlns = [...prefixes].map(([m, p]) => ` xmlns:${p}="${esc(NAMESPACES[m]!)}"`).join('');
      path = `<error-path${xmlns}>/${esc(segs.join('/'))}</error-path>`;
    }
    return '<error>' +
      `<error-type>${esc(e['error-type'])}</error-type><error-tag>${esc(e['error-tag'])}</error-tag>` +
      (e['error-app-tag'] !== undefined ? `<error-app-tag>${esc(e['error-app-tag'])}</error-app-tag>` : '') +
      path +
      (e['error-message'] !== undefined ? `<error-message>${esc(e['error-message'])}</error-message>` : '') +
      '</error>';
  };
  return `<errors xmlns="${RESTCONF_NS}">${entries.map(one).join('')}</errors>`;
}

/**
 * RFC 8040 section 4.8.2 depth: nest levels kept below the target (the target itself is level 1; a leaf
 * child of a level-n node is level n+1). Lists count as their entries' level.
 */
export function pruneDepth(value: unknown, depth: number): unknown {
  if (Array.isArray(value)) return value.map((v) => pruneDepth(v, depth));
  if (value === null || typeof value !== 'object') return value;
  if (depth <= 1) return {};
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, pruneDepth(v, depth - 1)]));
}

export type Encoding = 'json' | 'xml';

/**
 * The reply encoding for an Accept header (RFC 8040 section 5.2; RFC 9110 q-values): JSON unless XML is
 * preferred; undefined when the client accepts neither (406).
 */
export function negotiate(accept: string | undefined): Encoding | undefined {
  if (accept === undefined || accept.trim() === '') return 'json';
  let best: { enc: Encoding; q: number } | undefined;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qp = params.find((p) => p.startsWith('q='));
    const q = qp !== undefined ? Number(qp.slice(2)) : 1;
    if (!(q > 0)) continue;
    let enc: Encoding | undefined;
    if (type === 'application/yang-data+xml' || type === 'application/xml' || type === 'text/xml') enc = 'xml';
    else if (type === 'application/yang-data+json' || type === 'application/json' || type === '*/*' || type === 'application/*') enc = 'json';
    if (enc !== undefined && (best === undefined || q > best.q)) best = { enc, q };
  }
  return best?.enc;
}
