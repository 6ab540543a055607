/**
 * Interop: `openssl s_client` (OpenSSL's own TLS client, not node:tls) talks NETCONF over TLS (RFC 7589)
 * to our server, the NETCONF framing written by hand: the hello with end-of-message framing, then a
 * chunked get and close-session (RFC 6242 section 4.2, as RFC 7589 section 3 requires). TLS 1.3 and 1.2;
 * refused: no client certificate, an expired one, an unknown CA, a certificate that maps to no user.
 *
 * ncclient is not used here: Debian's python3-ncclient 0.6.13 has no TLS transport (ncclient/transport has
 * ssh.py only; `manager.connect_tls` came in a later release), see docs/security.md "NETCONF over TLS".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createLogger } from '../../src/log/logger.js';
import { useTestServers } from '../helpers/netconf-server.js';
import { createTestPki } from '../helpers/tls-pki.js';
import type { Issued, TestPki } from '../helpers/tls-pki.js';

const servers = useTestServers('hsv-tls-openssl-');
let pki: TestPki;
let alice: Issued;
let expired: Issued;
let stranger: Issued;
let nobody: Issued;

beforeAll(() => {
  pki = createTestPki();
  alice = pki.issue('alice', { san: 'email:alice@example.com' });
  expired = pki.issue('expired', { san: 'email:late@example.com', days: -1 });
  stranger = pki.issue('stranger', { san: 'email:s@example.com', ca: pki.otherCa });
  nobody = pki.issue('nobody');
});
afterAll(() => pki.cleanup());

async function serve(lines?: string[]): Promise<number> {
  const { server } = servers.start({
    standard: true,
    ...(lines ? { log: createLogger({ level: 'info', write: (l) => void lines.push(l) }) } : {}),
    tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, certToName: [{ fingerprint: pki.ca.sha256, 'map-type': 'san-rfc822-name' }] },
  });
  return (await server.listenTls('127.0.0.1', 0)).port;
}

const chunk = (xml: string): string => `\n#${Buffer.byteLength(xml)}\n${xml}\n##\n`;
const HELLO = '<?xml version="1.0" encoding="UTF-8"?><hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>]]>]]>';
const GET = '<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="101"><get><filter type="subtree"><netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><sessions/></netconf-state></filter></get></rpc>';
const CLOSE = '<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="102"><close-session/></rpc>';

interface Run { stdout: string; stderr: string; code: number | null }

/**
 * s_client with our client certificate; `script` writes to its stdin as the transcript grows. Ends when
 * s_client exits (the server closed the connection) or after 15 s.
 */
function sClient(port: number, who: Issued | undefined, extra: string[], script: (out: string, write: (s: string) => void) => void): Promise<Run> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', pki.ca.certFile, '-verify_return_error', '-quiet', '-no_ign_eof', ...extra];
  if (who) args.push('-cert', who.certFile, '-key', who.keyFile);
  const p = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: 15_000 });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    script(stdout, (s) => p.stdin.write(s));
  });
  p.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  p.stdin.on('error', () => undefined);
  return new Promise((resolve) => p.on('close', (code) => resolve({ stdout, stderr, code })));
}

/** hello, a chunked get of the sessions, close-session; returns the transcript */
function conversation(port: number, who: Issued, extra: string[] = []): Promise<Run> {
  let step = 0;
  return sClient(port, who, extra, (out, write) => {
    if (step === 0 && out.includes(']]>]]>')) {
      step = 1;
      write(HELLO);
      write(chunk(GET));
    } else if (step === 1 && /message-id="101"[\s\S]*\n##\n/.test(out)) {
      step = 2;
      write(chunk(CLOSE));
    }
  });
}

describe('openssl s_client speaks NETCONF over TLS to our server', () => {
  it('TLS 1.3: hello (end-of-message), chunked get and close-session; the session runs as the mapped user', async () => {
    const port = await serve();
    const r = await conversation(port, alice);
    expect(r.stdout).toMatch(/^<\?xml[^>]*>\s*<hello[\s\S]*urn:ietf:params:netconf:base:1\.1[\s\S]*<session-id>\d+<\/session-id>[\s\S]*\]\]>\]\]>/);
    expect(r.stdout).toMatch(/\n#\d+\n<rpc-reply[^>]*message-id="101"[\s\S]*<username>alice@example\.com<\/username>/);
    expect(r.stdout).toMatch(/<transport>netconf-tls<\/transport>/);
    expect(r.stdout).toMatch(/message-id="102"[^>]*>\s*<ok\/>/);
    expect(r.code, r.stderr).toBe(0); // the server ended the connection after close-session
  });

  it('TLS 1.2 only on the client side works the same', async () => {
    const port = await serve();
    const r = await conversation(port, alice, ['-tls1_2']);
    expect(r.stdout).toMatch(/message-id="101"[\s\S]*<username>alice@example\.com<\/username>/);
    expect(r.stdout).toMatch(/message-id="102"[^>]*>\s*<ok\/>/);
  });

  for (const version of [[], ['-tls1_2']]) {
    it(`issues session tickets: s_client ${version.length ? 'TLS 1.2' : 'TLS 1.3'} resumes with -sess_in; our server maps the certificate again`, async () => {
      const lines: string[] = [];
      const port = await serve(lines);
      const file = join(pki.dir, `session${version.length}.pem`);
      const first = await conversation(port, alice, [...version, '-sess_out', file]);
      expect(first.stdout).toMatch(/message-id="102"[^>]*>\s*<ok\/>/);
      const second = await conversation(port, alice, [...version, '-sess_in', file]);
      expect(second.stdout).toMatch(/message-id="101"[\s\S]*<username>alice@example\.com<\/username>/);
      expect(second.stdout).toMatch(/message-id="102"[^>]*>\s*<ok\/>/);
      const auth = lines.map((l) => JSON.parse(l) as { msg: string; resumed?: boolean; username?: string }).filter((l) => l.msg === 'authenticated');
      expect(auth.map((l) => [l.username, l.resumed])).toEqual([['alice@example.com', false], ['alice@example.com', true]]);
    });
  }

  const refused: Array<[string, () => Issued | undefined]> = [
    ['no client certificate', () => undefined],
    ['an expired certificate', () => expired],
    ['a certificate from an unknown CA', () => stranger],
    ['a certificate that maps to no user', () => nobody],
  ];
  for (const [what, who] of refused) {
    it(`refuses ${what}: the connection ends without a hello`, async () => {
      const port = await serve();
      const r = await sClient(port, who(), [], () => undefined);
      expect(r.stdout).not.toContain('<hello');
    });
  }
});
