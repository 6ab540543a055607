/**
 * HSV-NC-01, HSV-NC-02: NETCONF over SSH (RFC 6242) or TLS (RFC 7589) with base:1.1 (RFC 6241 section 8.1, RFC 6242
 * section 4.1; RFC 7589 uses the same framing).
 */
import type { Kit } from './context.js';

const BASE10 = 'urn:ietf:params:netconf:base:1.0';
const BASE11 = 'urn:ietf:params:netconf:base:1.1';

export function checkTransport(kit: Kit): void {
  const caps = kit.session.capabilities;
  const tls = kit.options.target.transport === 'tls';
  const hello = {
    sent: tls ? 'TLS connect (client certificate), <hello> (base:1.0, base:1.1)' : 'SSH connect, subsystem "netconf", <hello> (base:1.0, base:1.1)',
    received: `<hello> with ${caps.length} capabilities: ${caps.slice(0, 6).join(' ')}${caps.length > 6 ? ' ...' : ''}`,
  };
  if (caps.includes(BASE10) || caps.includes(BASE11)) {
    kit.pass('HSV-NC-01', `hello exchanged ${tls ? 'over TLS (RFC 7589)' : 'over the netconf subsystem'} (${caps.length} capabilities)`, [hello]);
  } else {
    kit.fail('HSV-NC-01', 'the hello announces neither base:1.0 nor base:1.1', 'a <hello> announcing urn:ietf:params:netconf:base:1.1', [hello]);
  }
  if (caps.includes(BASE11) && kit.session.session.base11 === true) {
    kit.pass('HSV-NC-02', 'base:1.1 announced; chunked framing in use', [hello]);
  } else {
    kit.fail('HSV-NC-02', caps.includes(BASE11) ? 'base:1.1 announced but chunked framing was not negotiated' : 'base:1.1 is not announced',
      'urn:ietf:params:netconf:base:1.1 in the hello and chunked framing (RFC 6242 4.2) after both hellos', [hello]);
  }
}
