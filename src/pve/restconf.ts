/**
 * The RESTCONF (RFC 8040) pieces shared by the PVE service and client: the operation's path and JSON member
 * names (RFC 7951: module-name:member), the errors document of RFC 8040 section 7.1, and the mapping of
 * error-tag to HTTP status (RFC 8040 section 7, table).
 */
import { HsvError } from '../errors.js';

export const PVE_MODULE = 'henb-sw-verify-pve';
export const PVE_NS = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify-pve';
export const INTEGRITY_REQUEST_PATH = `/restconf/operations/${PVE_MODULE}:integrity-request`;
export const INPUT_MEMBER = `${PVE_MODULE}:input`;
/** several integrity requests in one operation (revision 2026-12-07) */
export const INTEGRITY_REQUESTS_PATH = `/restconf/operations/${PVE_MODULE}:integrity-requests`;
export const OUTPUT_MEMBER = `${PVE_MODULE}:output`;
export const YANG_JSON = 'application/yang-data+json';
/** the OAM's reference values after a verified update (issue 10 item 4) */
export const PROVIDE_REFERENCE_VALUES_PATH = `/restconf/operations/${PVE_MODULE}:provide-reference-values`;
export const PROVIDE_INPUT_MEMBER = `${PVE_MODULE}:input`;
/** several statements in one operation (revision 2026-12-07) */
export const PROVIDE_LIST_PATH = `/restconf/operations/${PVE_MODULE}:provide-reference-values-list`;
/** the JWKS of the PVE's result-signing keys */
export const JWKS_PATH = '/jwks.json';

/** One error of an ietf-restconf:errors document (RFC 8040 section 7.1, yang-data "yang-errors"). */
export interface RestconfErrorEntry {
  'error-type': 'transport' | 'rpc' | 'protocol' | 'application';
  'error-tag': string;
  'error-app-tag'?: string;
  'error-path'?: string;
  'error-message'?: string;
  'error-info'?: Record<string, unknown>;
}

export interface RestconfErrors {
  'ietf-restconf:errors': { error: RestconfErrorEntry[] };
}

/** RFC 8040 section 7: error-tag -> status-code (the first of the table's choices). */
const STATUS: Record<string, number> = {
  'in-use': 409,
  'invalid-value': 400,
  'too-big': 413,
  'missing-attribute': 400,
  'bad-attribute': 400,
  'unknown-attribute': 400,
  // a request without a mandatory leaf is the client's error (was 500)
  'missing-element': 400,
  'bad-element': 400,
  'unknown-element': 400,
  'unknown-namespace': 400,
  'access-denied': 403,
  'lock-denied': 409,
  'resource-denied': 409,
  'rollback-failed': 500,
  'data-exists': 409,
  'data-missing': 409,
  'operation-not-supported': 405,
  'operation-failed': 500,
  'partial-operation': 500,
  'malformed-message': 400,
};

export function statusForTag(tag: string): number {
  return STATUS[tag] ?? 500;
}

/** A RESTCONF error raised by the service's request handling; becomes one errors document. */
/** ERR_RESTCONF_<TAG>: the entry's error-tag, upper case */
export type RestconfErrorCode = `ERR_RESTCONF_${string}`;

export class RestconfError extends HsvError<RestconfErrorCode> {
  readonly entry: RestconfErrorEntry;
  readonly status: number;
  /** the Allow header of a 405 */
  allow?: string;
  constructor(entry: RestconfErrorEntry, status = statusForTag(entry['error-tag'])) {
    super(`ERR_RESTCONF_${entry['error-tag'].toUpperCase().replace(/-/g, '_')}`, entry['error-message'] ?? entry['error-tag']);
    this.entry = entry;
    this.status = status;
  }
}

export function errorsDocument(entries: RestconfErrorEntry[]): RestconfErrors {
  return { 'ietf-restconf:errors': { error: entries } };
}

/** Base64url (RFC 4648 section 5, unpadded) <-> base64 (section 4, padded), as text. */
export function base64urlToBase64(s: string): string {
  const b = s.replace(/-/g, '+').replace(/_/g, '/');
  return b + '='.repeat((4 - (b.length % 4)) % 4);
}

export function base64ToBase64url(s: string): string {
  return s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decode canonical base64 (RFC 4648 section 4); undefined when the text is not canonical base64. */
export function decodeBase64Strict(s: string): Buffer | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) return undefined;
  const b = Buffer.from(s, 'base64');
  return b.toString('base64') === s ? b : undefined;
}
