/**
 * Golden transcript: a scripted session against the server core over an in-memory stream
 * (server.acceptStream), compared with test/netconf/server/golden/basic-session.json by an
 * order-insensitive XML comparison after masking the session-id. Regenerate with UPDATE_GOLDEN=1 and
 * review the diff.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNetconfServer, generateEd25519KeyPair } from '../../../src/netconf/server/index.js';
import type { NetconfServer } from '../../../src/netconf/server/index.js';
import { duplexPair } from '../../../src/netconf/session/index.js';
import { leaf, parseXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { RawPeer } from '../session/helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const GOLDEN = join(here, 'golden', 'basic-session.json');
const NS = 'urn:ietf:params:xml:ns:netconf:base:1.0';
const T = 'urn:test:golden';

/** canonical form: attributes sorted, children sorted, whitespace-only text dropped, ids masked */
function canon(x: XmlElement): unknown {
  const mask = (name: string, v: string): string => (name === 'session-id' ? '<masked>' : v);
  return {
    el: `{${x.ns}}${x.name}`,
    attrs: [...x.attrs].map((a) => `{${a.ns}}${a.name}=${a.value}`).sort(),
    children: x.children
      .filter((c) => typeof c !== 'string' || c.trim() !== '')
      .map((c) => (typeof c === 'string' ? mask(x.name, c.trim()) : canon(c)))
      .map((c) => JSON.stringify(c))
      .sort(),
  };
}

let server: NetconfServer | undefined;
let dataDir: string | undefined;
afterEach(async () => {
  await server?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('golden transcript', () => {
  it('hello, rpc-errors, a plugin rpc and close-session match the recorded transcript', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hsv-golden-'));
    server = createNetconfServer({ hostKeys: [generateEd25519KeyPair().private], auth: { users: [] }, dataDir });
    server.registry.addModule({ name: 'golden', revision: '2026-11-28', namespace: T, prefix: 'g', text: 'module golden {}' });
    server.registry.addRpc(T, 'hi', async () => [leaf(T, 'greeting', 'hello')]);
    const [a, b] = duplexPair();
    server.acceptStream(a, { username: 'tester' });
    const peer = new RawPeer(b, { chunked: true });
    // close our side when the server closes its own after close-session, as an SSH client does
    // (otherwise the server waits closeGraceMs, 5 s, before it tears the stream down)
    b.on('end', () => b.end());
    const sent = [
      `<hello xmlns="${NS}"><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>`,
      `<rpc xmlns="${NS}" message-id="1"><hi xmlns="${T}"/></rpc>`,
      `<rpc xmlns="${NS}" message-id="2"><frobnicate/></rpc>`,
      `<rpc xmlns="${NS}"><get/></rpc>`,
      `<rpc xmlns="${NS}" message-id="4"><x xmlns="urn:unknown"/></rpc>`,
      `<rpc xmlns="${NS}" message-id="5"><kill-session><session-id>1</session-id></kill-session></rpc>`,
      `<rpc xmlns="${NS}" message-id="6"><close-session/></rpc>`,
    ];
    peer.sendEom(sent[0]!);
    const transcript: Array<{ dir: 'client' | 'server'; xml: string }> = [];
    transcript.push({ dir: 'server', xml: await peer.message(1) });
    transcript.push({ dir: 'client', xml: sent[0]! });
    for (let i = 1; i < sent.length; i++) {
      peer.sendChunked(sent[i]!);
      transcript.push({ dir: 'client', xml: sent[i]! });
      transcript.push({ dir: 'server', xml: await peer.message(i + 1) });
    }
    await peer.waitFor(() => peer.closed);
    if (process.env.UPDATE_GOLDEN === '1') {
      writeFileSync(GOLDEN, JSON.stringify(transcript, null, 1) + '\n');
    }
    expect(existsSync(GOLDEN)).toBe(true);
    const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as typeof transcript;
    expect(transcript.map((m) => m.dir)).toEqual(golden.map((m) => m.dir));
    transcript.forEach((m, i) => expect(canon(parseXml(m.xml))).toEqual(canon(parseXml(golden[i]!.xml))));
  });
});
