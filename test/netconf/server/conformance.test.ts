/**
 * Conformance of the server core (dispatch, base operations) to RFC 6241 sections 7.8, 7.9 and
 * appendix A, over in-memory streams (server.acceptStream) driven by RawPeer: close-session,
 * kill-session (with and without the locking module), and no malformed-message to a base:1.0 session.
 */
import { describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../../src/netconf/server/index.js';
import type { NetconfServer } from '../../../src/netconf/server/index.js';
import { NetconfError } from '../../../src/netconf/rpc-error.js';
import { duplexPair } from '../../../src/netconf/session/index.js';
import { attr, child, childText, elements, parseXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { CLIENT_HELLO_10, CLIENT_HELLO_11, NS, RawPeer } from '../session/helpers.js';
import { useTestServers } from '../../helpers/netconf-server.js';

const T = 'urn:test:conformance';
const KEY = generateEd25519KeyPair().private;

const servers = useTestServers('hsv-conf-');

function start(standard: boolean): NetconfServer {
  const { server } = servers.start({ hostKeys: [KEY], auth: { users: [] }, limits: { closeGraceMs: 200 }, standard });
  server.registry.addModule({ name: 'conformance', revision: '2026-11-28', namespace: T, prefix: 'c', text: 'module conformance {}' });
  server.registry.addRpc(T, 'parse', async () => {
    throw new NetconfError({ type: 'rpc', tag: 'malformed-message', message: 'embedded document could not be parsed' });
  });
  return server;
}

interface Client { peer: RawPeer; id: number; rpc(xml: string): Promise<XmlElement>; }

async function open(srv: NetconfServer, base11 = true): Promise<Client> {
  const [a, b] = duplexPair();
  const h = srv.acceptStream(a, { username: 'tester' })!;
  const peer = new RawPeer(b, { chunked: base11 });
  peer.sendEom(base11 ? CLIENT_HELLO_11 : CLIENT_HELLO_10);
  await peer.message(1);
  // the peer closes its side when the server closes its own (as an SSH client does)
  b.on('end', () => b.end());
  let next = 1;
  return {
    peer, id: h.id,
    async rpc(xml) {
      const id = String(next++);
      const n = peer.messages.length;
      const msg = `<rpc xmlns="${NS}" message-id="${id}">${xml}</rpc>`;
      if (base11) peer.sendChunked(msg); else peer.sendEom(msg);
      await peer.waitFor(() => peer.messages.length > n || peer.closed);
      const r = parseXml(peer.messages[n] ?? '<closed/>');
      expect(attr(r, 'message-id')).toBe(id);
      return r;
    },
  };
}

function errorOf(r: XmlElement): { tag?: string; type?: string; info: string[] } {
  const e = child(r, NS, 'rpc-error');
  if (!e) return { info: [] };
  const info = child(e, NS, 'error-info');
  return {
    tag: childText(e, NS, 'error-tag'),
    type: childText(e, NS, 'error-type'),
    info: info ? elements(info).map((i) => `${i.name}=${childText({ ns: '', name: 'w', attrs: [], children: [i] }, NS, i.name)}`) : [],
  };
}

for (const standard of [false, true]) {
  const which = standard ? 'kill-session of the locking module' : 'kill-session of the core (base-ops.ts)';
  describe(`RFC 6241 section 7.9: ${which}`, () => {
    const cases: Array<[string, (self: number) => string, { tag: string; info: string[] }]> = [
      ['its own session-id -> invalid-value', (self) => `${self}`, { tag: 'invalid-value', info: ['bad-element=session-id'] }],
      ['an unknown session-id -> invalid-value', () => '4242', { tag: 'invalid-value', info: ['bad-element=session-id'] }],
      ['session-id 0 -> invalid-value', () => '0', { tag: 'invalid-value', info: ['bad-element=session-id'] }],
      ['a non-numeric session-id -> invalid-value', () => 'two', { tag: 'invalid-value', info: ['bad-element=session-id'] }],
      // both registrations are one handler (base-ops createKillSession): the same answers
      ['a session-id with leading zeros -> invalid-value', (self) => `00${self + 1}`, { tag: 'invalid-value', info: ['bad-element=session-id'] }],
    ];
    for (const [name, arg, want] of cases) {
      it(name, async () => {
        const srv = start(standard);
        const a = await open(srv);
        const r = await a.rpc(`<kill-session><session-id>${arg(a.id)}</session-id></kill-session>`);
        expect(errorOf(r)).toEqual({ ...want, type: 'protocol' });
        expect(errorOf(await a.rpc('<frobnicate/>')).tag).toBe('operation-not-supported'); // the session goes on
      });
    }

    it('an undefined parameter -> unknown-element', async () => {
      const srv = start(standard);
      const a = await open(srv);
      const r = await a.rpc(`<kill-session><session-id>${a.id + 1}</session-id><force/></kill-session>`);
      expect(errorOf(r)).toMatchObject({ tag: 'unknown-element', type: 'protocol' });
    });

    it('without <session-id> -> missing-element', async () => {
      const srv = start(standard);
      const a = await open(srv);
      expect(errorOf(await a.rpc('<kill-session/>'))).toEqual({ tag: 'missing-element', type: 'protocol', info: ['bad-element=session-id'] });
    });

    it('of another session: <ok/>, and that session is gone', async () => {
      const srv = start(standard);
      const a = await open(srv);
      const b = await open(srv);
      expect(child(await a.rpc(`<kill-session><session-id>${b.id}</session-id></kill-session>`), NS, 'ok')).toBeDefined();
      await b.peer.waitFor(() => b.peer.closed);
      expect(srv.sessions().map((s) => s.id)).toEqual([a.id]);
      expect(srv.info.counters.droppedSessions).toBe(0); // killed, not dropped (RFC 6022)
    });
  });
}

describe('RFC 6241 sections 7.5 and 7.9: kill-session releases the locks of the killed session', () => {
  it('a lock held by the killed session is free afterwards', async () => {
    const srv = start(true);
    const a = await open(srv);
    const b = await open(srv);
    const lock = '<lock><target><running/></target></lock>';
    expect(child(await b.rpc(lock), NS, 'ok')).toBeDefined();
    expect(errorOf(await a.rpc(lock))).toMatchObject({ tag: 'lock-denied', info: [`session-id=${b.id}`] });
    expect(child(await a.rpc(`<kill-session><session-id>${b.id}</session-id></kill-session>`), NS, 'ok')).toBeDefined();
    expect(child(await a.rpc(lock), NS, 'ok')).toBeDefined();
  });
});

describe('RFC 6241 section 7.8: close-session', () => {
  it('replies <ok/>, then ends the session and its transport', async () => {
    const srv = start(false);
    const a = await open(srv);
    expect(child(await a.rpc('<close-session/>'), NS, 'ok')).toBeDefined();
    await a.peer.waitFor(() => a.peer.closed);
    expect(srv.sessions()).toHaveLength(0);
    expect(srv.info.counters.droppedSessions).toBe(0);
  });
});

describe('RFC 6241 appendix A: malformed-message "MUST NOT be sent to old clients"', () => {
  it('an operation that reports malformed-message reaches a base:1.1 client as it is', async () => {
    const srv = start(false);
    const a = await open(srv, true);
    expect(errorOf(await a.rpc(`<parse xmlns="${T}"/>`))).toEqual({ tag: 'malformed-message', type: 'rpc', info: [] });
  });

  it('reaches a base:1.0 client as operation-failed, with the same message', async () => {
    const srv = start(false);
    const a = await open(srv, false);
    const r = await a.rpc(`<parse xmlns="${T}"/>`);
    expect(errorOf(r)).toEqual({ tag: 'operation-failed', type: 'rpc', info: [] });
    expect(childText(child(r, NS, 'rpc-error')!, NS, 'error-message')).toBe('embedded document could not be parsed');
    expect(a.peer.messages.join('')).not.toContain('malformed-message');
  });
});
