/**
 * Hello and capability exchange (RFC 6241 section 8.1; RFC 6242 section 4.1 for the framing switch).
 * - Each peer sends <hello> with its capabilities; the server's carries a <session-id>, a client's
 *   must not.
 * - A hello with no capability, or with no base capability in common with ours, ends the session
 *   (8.1: "If no protocol version capability in common is found, the NETCONF peer MUST NOT continue
 *   the session").
 * - Capability URIs are trimmed: the 8.1 example (and ncclient) put line breaks and indentation
 *   around them.
 * - Chunked framing is used after the hellos when both list base:1.1.
 */
import { NETCONF_BASE_NS } from '../xml/index.js';
import type { XmlElement } from '../xml/index.js';
import { child, childrenNamed, textOf } from '../xml/index.js';
import { escapeText } from '../xml/index.js';
import { SessionError } from './errors.js';

export const BASE_10 = 'urn:ietf:params:netconf:base:1.0';
export const BASE_11 = 'urn:ietf:params:netconf:base:1.1';

const BASES = [BASE_10, BASE_11] as const;

export interface Hello {
  capabilities: string[];
  sessionId?: number;
}

export function buildHello(capabilities: string[], sessionId?: number): string {
  const caps = capabilities.map((c) => `<capability>${escapeText(c)}</capability>`).join('');
  const sid = sessionId !== undefined ? `<session-id>${sessionId}</session-id>` : '';
  return `<?xml version="1.0" encoding="UTF-8"?><hello xmlns="${NETCONF_BASE_NS}"><capabilities>${caps}</capabilities>${sid}</hello>`;
}

/**
 * Parse a received hello. `role` is the role of the SENDER; `ours` are the capabilities of our own
 * hello (a base version must be in both). Throws SessionError.
 */
export function parseHello(root: XmlElement, role: 'server' | 'client', ours: readonly string[] = [BASE_10, BASE_11]): Hello {
  if (root.ns !== NETCONF_BASE_NS || root.name !== 'hello') {
    throw new SessionError('ERR_SESSION_BAD_HELLO', `expected <hello>, got <${root.name}> in ${root.ns || 'no namespace'}`);
  }
  const capsEl = child(root, NETCONF_BASE_NS, 'capabilities');
  const capabilities = capsEl ? childrenNamed(capsEl, NETCONF_BASE_NS, 'capability').map((c) => textOf(c).trim()) : [];
  if (capabilities.length === 0 || capabilities.some((c) => c === '')) {
    throw new SessionError('ERR_SESSION_BAD_HELLO', 'hello without capabilities (RFC 6241 section 8.1)');
  }
  const sidEl = child(root, NETCONF_BASE_NS, 'session-id');
  let sessionId: number | undefined;
  if (role === 'client') {
    if (sidEl) throw new SessionError('ERR_SESSION_BAD_HELLO', 'client hello contains a session-id (RFC 6241 section 8.1)');
  } else {
    const t = sidEl ? textOf(sidEl).trim() : '';
    if (!/^[1-9][0-9]{0,9}$/.test(t) || Number(t) > 4294967295) {
      throw new SessionError('ERR_SESSION_BAD_HELLO', 'server hello without a valid session-id');
    }
    sessionId = Number(t);
  }
  if (!capabilities.includes(BASE_10) && !capabilities.includes(BASE_11)) {
    throw new SessionError('ERR_SESSION_NO_COMMON_BASE', 'peer supports neither base:1.0 nor base:1.1');
  }
  if (!BASES.some((b) => ours.includes(b) && capabilities.includes(b))) {
    throw new SessionError('ERR_SESSION_NO_COMMON_BASE', `no base version in common: we support ${BASES.filter((b) => ours.includes(b)).join(', ') || 'none'}`);
  }
  return sessionId !== undefined ? { capabilities, sessionId } : { capabilities };
}

/** RFC 6242 section 4.1: chunked framing iff both hellos list base:1.1. */
export function negotiatesBase11(ours: string[], theirs: string[]): boolean {
  return ours.includes(BASE_11) && theirs.includes(BASE_11);
}
