/**
 * Conformance of the session layer to RFC 6241 (sections 3, 4.1-4.5, 7.8, 8.1, appendix A) and RFC 6242
 * (sections 4.1-4.2), driven byte by byte through RawPeer or by our ClientSession against a scripted
 * peer. Each case names the section it checks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Duplex } from 'node:stream';
import { ClientSession, ServerSession, SessionError, duplexPair, BASE_10, BASE_11 } from '../../../src/netconf/session/index.js';
import type { ServerSessionOptions } from '../../../src/netconf/session/index.js';
import { NetconfError } from '../../../src/netconf/rpc-error.js';
import { attr, child, childText, el, elements, leaf, parseXml, NETCONF_NOTIFICATION_NS } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { encodeChunked, encodeEom } from '../../../src/netconf/framing/index.js';
import { CLIENT_HELLO_10, CLIENT_HELLO_11, NS, RawPeer } from './helpers.js';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A gate a handler can wait on. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => { open = r; });
  return { wait, open };
}

function server(stream: Duplex, over: Partial<ServerSessionOptions> = {}): ServerSession {
  const s = new ServerSession(stream, {
    sessionId: 7,
    capabilities: [BASE_10, BASE_11],
    handleRpc: async (_rpc, op) => [el(NS, 'data', leaf('urn:t', 'op', op.name))],
    ...over,
  });
  cleanup.push(() => s.kill(new Error('test over')));
  return s;
}

/** A server session and a raw peer that has sent its hello (base:1.1 unless said otherwise). */
async function rawSession(over: Partial<ServerSessionOptions> = {}, base11 = true): Promise<{ srv: ServerSession; peer: RawPeer; send: (xml: string) => void }> {
  const [a, b] = duplexPair();
  const srv = server(a, over);
  const peer = new RawPeer(b, { chunked: base11 });
  peer.sendEom(base11 ? CLIENT_HELLO_11 : CLIENT_HELLO_10);
  await peer.message(1);
  return { srv, peer, send: (xml) => (base11 ? peer.sendChunked(xml) : peer.sendEom(xml)) };
}

const errorOf = (reply: XmlElement): XmlElement => child(reply, NS, 'rpc-error')!;
const tagOf = (reply: XmlElement): string | undefined => childText(errorOf(reply), NS, 'error-tag');
const infoOf = (reply: XmlElement): Record<string, string> =>
  Object.fromEntries(elements(child(errorOf(reply), NS, 'error-info') ?? el(NS, 'x')).map((e) => [e.name, childText({ ns: '', name: 'w', attrs: [], children: [e] }, NS, e.name) ?? '']));

describe('RFC 6241 section 4.5: replies in the order the requests were received', () => {
  const invalid: Array<[string, string, string]> = [
    ['an rpc without message-id (4.1)', `<rpc xmlns="${NS}"><get/></rpc>`, 'missing-attribute'],
    ['an rpc without an operation (4.1)', `<rpc xmlns="${NS}" message-id="2"/>`, 'missing-element'],
    ['an rpc with two operations (4.1)', `<rpc xmlns="${NS}" message-id="2"><get/><get/></rpc>`, 'unknown-element'],
    ['an rpc in the wrong namespace (3.1)', '<rpc xmlns="urn:not-netconf" message-id="2"><get/></rpc>', 'unknown-namespace'],
    ['a message that is not an rpc', `<notification xmlns="${NS}" message-id="2"/>`, 'unknown-element'],
    ['malformed XML under base:1.1 (appendix A)', `<rpc xmlns="${NS}" message-id="2"><get></rpc>`, 'malformed-message'],
  ];
  for (const [name, xml, tag] of invalid) {
    it(`the rejection of ${name} waits for the reply to the earlier request still in progress`, async () => {
      const g = gate();
      const { peer, send } = await rawSession({
        handleRpc: async (_rpc, op) => {
          if (op.name === 'slow') await g.wait;
          return [el(NS, 'data', leaf('urn:t', 'op', op.name))];
        },
      });
      send(`<rpc xmlns="${NS}" message-id="1"><slow/></rpc>`);
      send(xml);
      send(`<rpc xmlns="${NS}" message-id="3"><fast/></rpc>`);
      for (let i = 0; i < 20; i++) await tick();
      expect(peer.messages).toHaveLength(1); // nothing overtakes the request in progress
      g.open();
      await peer.waitFor(() => peer.messages.length >= 4);
      const [r1, r2, r3] = peer.messages.slice(1).map((m) => parseXml(m));
      expect(attr(r1!, 'message-id')).toBe('1');
      expect(childText(child(r1!, NS, 'data')!, 'urn:t', 'op')).toBe('slow');
      expect(tagOf(r2!)).toBe(tag);
      expect(attr(r3!, 'message-id')).toBe('3');
    });
  }

  it('a later request that would finish first still gets its reply second (serial processing)', async () => {
    const order: string[] = [];
    const { cli } = await clientPair({
      handleRpc: async (_rpc, op) => {
        order.push(`start ${op.name}`);
        if (op.name === 'slow') await new Promise((r) => setTimeout(r, 30));
        order.push(`end ${op.name}`);
        return [el(NS, 'data', leaf('urn:t', 'op', op.name))];
      },
    });
    const seen: string[] = [];
    await Promise.all(['slow', 'fast'].map((n) => cli.rpc(`<${n}/>`).then((r) => seen.push(childText(child(r, NS, 'data')!, 'urn:t', 'op')!))));
    expect(seen).toEqual(['slow', 'fast']);
    expect(order).toEqual(['start slow', 'end slow', 'start fast', 'end fast']);
  });
});

describe('RFC 6241 sections 4.1-4.3: the rpc envelope', () => {
  it('echoes every attribute of <rpc>, with the prefixes and namespace declarations it came with (4.2 example)', async () => {
    const { peer, send } = await rawSession();
    send(`<rpc message-id="101" xmlns="${NS}" xmlns:ex="http://example.net/content/1.0" xmlns:unused="urn:unused" ex:user-id="fred"><get/></rpc>`);
    const text = await peer.message(2);
    expect(text).toContain('xmlns:ex="http://example.net/content/1.0"');
    expect(text).toContain('ex:user-id="fred"');
    expect(text).toContain('xmlns:unused="urn:unused"');
    const r = parseXml(text);
    expect(attr(r, 'message-id')).toBe('101');
    expect(attr(r, 'user-id', 'http://example.net/content/1.0')).toBe('fred');
  });

  it('a prefixed base namespace on <rpc> still gets a well-formed reply', async () => {
    const { peer, send } = await rawSession();
    send(`<nc:rpc xmlns:nc="${NS}" message-id="5"><nc:get/></nc:rpc>`);
    const r = parseXml(await peer.message(2));
    expect(r.ns).toBe(NS);
    expect(attr(r, 'message-id')).toBe('5');
    expect(childText(child(r, NS, 'data')!, 'urn:t', 'op')).toBe('get');
  });

  // error-type per 4.3: rpc = the Messages layer; error-info per appendix A
  const rejected: Array<[string, string, { tag: string; type: string; info: Record<string, string>; messageId: string | undefined }]> = [
    ['no message-id (4.3 example)', `<rpc xmlns="${NS}"><get-config><source><running/></source></get-config></rpc>`,
      { tag: 'missing-attribute', type: 'rpc', info: { 'bad-attribute': 'message-id', 'bad-element': 'rpc' }, messageId: undefined }],
    ['no operation', `<rpc xmlns="${NS}" message-id="11"> </rpc>`,
      { tag: 'missing-element', type: 'rpc', info: { 'bad-element': 'rpc' }, messageId: '11' }],
    ['two operations', `<rpc xmlns="${NS}" message-id="12"><get/><get-config/></rpc>`,
      { tag: 'unknown-element', type: 'rpc', info: { 'bad-element': 'get-config' }, messageId: '12' }],
    ['an <rpc> in another namespace: message-id still echoed (4.3: only a missing one may be omitted)', '<rpc xmlns="urn:not-netconf" message-id="13"><get/></rpc>',
      { tag: 'unknown-namespace', type: 'rpc', info: { 'bad-element': 'rpc', 'bad-namespace': 'urn:not-netconf' }, messageId: '13' }],
    ['an <rpc> in no namespace', '<rpc message-id="14"><get/></rpc>',
      { tag: 'unknown-namespace', type: 'rpc', info: { 'bad-element': 'rpc', 'bad-namespace': '' }, messageId: '14' }],
    ['a base-namespace element that is not <rpc>', `<rpc-reply xmlns="${NS}" message-id="15"><ok/></rpc-reply>`,
      { tag: 'unknown-element', type: 'rpc', info: { 'bad-element': 'rpc-reply' }, messageId: '15' }],
  ];
  for (const [name, xml, want] of rejected) {
    it(`rejects ${name} and the session goes on`, async () => {
      const bad: Error[] = [];
      const { peer, send } = await rawSession({ onBadRpc: (e) => bad.push(e) });
      send(xml);
      send(`<rpc xmlns="${NS}" message-id="99"><get/></rpc>`);
      await peer.waitFor(() => peer.messages.length >= 3);
      const r = parseXml(peer.messages[1]!);
      expect(r.name).toBe('rpc-reply');
      expect(attr(r, 'message-id')).toBe(want.messageId);
      expect({ tag: tagOf(r), type: childText(errorOf(r), NS, 'error-type'), severity: childText(errorOf(r), NS, 'error-severity') })
        .toEqual({ tag: want.tag, type: want.type, severity: 'error' });
      expect(infoOf(r)).toEqual(want.info);
      expect(bad).toHaveLength(1);
      expect(attr(parseXml(peer.messages[2]!), 'message-id')).toBe('99');
    });
  }
});

describe('RFC 6241 section 3 and appendix A: malformed messages', () => {
  const malformed: Array<[string, Buffer]> = [
    ['not well-formed', Buffer.from(`<rpc xmlns="${NS}" message-id="1"><get></rpc>`)],
    ['a DOCTYPE (3.2)', Buffer.from(`<!DOCTYPE rpc><rpc xmlns="${NS}" message-id="1"><get/></rpc>`)],
    ['not UTF-8 (3: "encoded in UTF-8")', Buffer.concat([Buffer.from(`<rpc xmlns="${NS}" message-id="1"><get><x xmlns="urn:t">`), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('</x></get></rpc>')])],
    ['an overlong UTF-8 sequence', Buffer.concat([Buffer.from(`<rpc xmlns="${NS}" message-id="1"><get><x xmlns="urn:t">`), Buffer.from([0xc0, 0xbc]), Buffer.from('</x></get></rpc>')])],
  ];
  for (const [name, bytes] of malformed) {
    it(`${name}: malformed-message without message-id under base:1.1, and the session goes on`, async () => {
      const { peer } = await rawSession();
      peer.stream.write(encodeChunked(bytes));
      peer.sendChunked(`<rpc xmlns="${NS}" message-id="2"><get/></rpc>`);
      await peer.waitFor(() => peer.messages.length >= 3);
      const r = parseXml(peer.messages[1]!);
      expect({ tag: tagOf(r), type: childText(errorOf(r), NS, 'error-type'), id: attr(r, 'message-id') }).toEqual({ tag: 'malformed-message', type: 'rpc', id: undefined });
      expect(attr(parseXml(peer.messages[2]!), 'message-id')).toBe('2');
    });

    it(`${name}: a base:1.0 session never gets malformed-message; earlier requests are answered, then the session ends`, async () => {
      const g = gate();
      let onClose!: (e: Error | undefined) => void;
      const closed = new Promise<Error | undefined>((r) => { onClose = r; });
      const { peer } = await rawSession({
        onClose: (e) => onClose(e),
        handleRpc: async (_rpc, op) => {
          if (op.name === 'slow') await g.wait;
          return [el(NS, 'data', leaf('urn:t', 'op', op.name))];
        },
      }, false);
      peer.sendEom(`<rpc xmlns="${NS}" message-id="1"><slow/></rpc>`);
      peer.stream.write(encodeEom(bytes));
      peer.sendEom(`<rpc xmlns="${NS}" message-id="3"><get/></rpc>`);
      for (let i = 0; i < 20; i++) await tick();
      expect(peer.closed).toBe(false); // the request in progress is answered first
      g.open();
      expect((await closed as SessionError).code).toBe('ERR_SESSION_MALFORMED_MESSAGE');
      await peer.waitFor(() => peer.closed);
      expect(peer.messages.join('')).not.toContain('malformed-message');
      // the request received before the malformed one is answered; the one after it is not
      expect(peer.messages.slice(1).map((m) => attr(parseXml(m), 'message-id'))).toEqual(['1']);
    });
  }
});

describe('RFC 6242 section 4.2: a framing error terminates the session, with no reply', () => {
  const bad: Array<[string, string]> = [
    ['a zero chunk-size', '\n#0\n'],
    ['a leading zero', '\n#04\n<rpc>'],
    ['chunk-size above 4294967295', '\n#4294967296\n'],
    ['a chunk beyond our limit', '\n#100000\n'],
    ['CR LF instead of LF', '\r\n#4\r\n<rpc'],
    ['whitespace between messages', ' \n#4\n<rpc'],
    ['end-of-chunks without a chunk', '\n##\n'],
    ['a missing LF before the next chunk', '\n#4\n<rpc#1\n>\n##\n'],
  ];
  for (const [name, bytes] of bad) {
    it(name, async () => {
      const [a, b] = duplexPair();
      const closed = new Promise<Error | undefined>((r) => server(a, { maxMessageBytes: 64 * 1024, onClose: r }));
      const peer = new RawPeer(b, { chunked: true });
      peer.sendEom(CLIENT_HELLO_11);
      await peer.message(1);
      b.write(Buffer.from(bytes, 'latin1'));
      const err = await closed;
      expect((err as { code?: string }).code).toMatch(/^ERR_FRAMING_/);
      await peer.waitFor(() => peer.closed);
      expect(peer.messages).toHaveLength(1); // our hello only: no rpc-reply, no malformed-message
    });
  }
});

describe('RFC 6241 section 8.1: hello', () => {
  it('trims whitespace around capability URIs (the 8.1 example is indented; ncclient sends newlines)', async () => {
    const [a, b] = duplexPair();
    const srv = server(a);
    const peer = new RawPeer(b, { chunked: true });
    peer.sendEom(`<hello xmlns="${NS}">\n  <capabilities>\n    <capability>\n      ${BASE_10}\n    </capability>\n    <capability>\t${BASE_11} </capability>\n  </capabilities>\n</hello>`);
    peer.sendChunked(`<rpc xmlns="${NS}" message-id="1"><get/></rpc>`);
    expect(attr(parseXml(await peer.message(2)), 'message-id')).toBe('1');
    expect(srv.base11).toBe(true);
    expect(srv.clientCapabilities).toEqual([BASE_10, BASE_11]);
  });

  it('the server ends the session when it has no base version in common with the client', async () => {
    const [a, b] = duplexPair();
    const bad: Error[] = [];
    const closed = new Promise<Error | undefined>((r) => server(a, { capabilities: [BASE_11], onBadHello: (e) => bad.push(e), onClose: r }));
    const peer = new RawPeer(b);
    peer.sendEom(CLIENT_HELLO_10);
    expect((await closed as SessionError).code).toBe('ERR_SESSION_NO_COMMON_BASE');
    expect(bad).toHaveLength(1);
    await peer.waitFor(() => peer.closed);
    expect(peer.messages).toHaveLength(1);
  });

  it('the client refuses a server with no base version in common', async () => {
    const [a, b] = duplexPair();
    const peer = new RawPeer(a);
    const p = ClientSession.open(b, { capabilities: [BASE_11] });
    peer.sendEom(`<hello xmlns="${NS}"><capabilities><capability>${BASE_10}</capability></capabilities><session-id>3</session-id></hello>`);
    await expect(p).rejects.toMatchObject({ code: 'ERR_SESSION_NO_COMMON_BASE' });
    await peer.waitFor(() => peer.closed);
  });

  it('the client trims capability URIs in the server hello', async () => {
    const [a, b] = duplexPair();
    const peer = new RawPeer(a);
    const p = ClientSession.open(b);
    peer.sendEom(`<hello xmlns="${NS}"><capabilities><capability>\n ${BASE_11}\n</capability></capabilities><session-id> 9 </session-id></hello>`);
    const cli = await p;
    cleanup.push(() => cli.destroy());
    expect(cli.serverCapabilities).toEqual([BASE_11]);
    expect(cli.base11).toBe(true);
    expect(cli.sessionId).toBe(9);
  });
});

describe('RFC 6241 section 7.8: close-session with requests still pending', () => {
  it('answers the requests before it, replies <ok/>, ignores the ones after it, then closes', async () => {
    const g = gate();
    const ref: { srv?: ServerSession } = {};
    const { srv, peer, send } = await rawSession({
      handleRpc: async (_rpc, op) => {
        if (op.name === 'slow') await g.wait;
        if (op.name === 'close-session') {
          ref.srv!.closeAfterReply();
          return [el(NS, 'ok')];
        }
        return [el(NS, 'data', leaf('urn:t', 'op', op.name))];
      },
    });
    ref.srv = srv;
    send(`<rpc xmlns="${NS}" message-id="1"><slow/></rpc>`);
    send(`<rpc xmlns="${NS}" message-id="2"><get/></rpc>`);
    send(`<rpc xmlns="${NS}" message-id="3"><close-session/></rpc>`);
    send(`<rpc xmlns="${NS}" message-id="4"><get/></rpc>`);
    g.open();
    // the peer ends its side once it has seen the server's end (as an SSH client would)
    peer.stream.on('end', () => peer.stream.end());
    await srv.conn.whenClosed();
    await peer.waitFor(() => peer.closed);
    const replies = peer.messages.slice(1).map((m) => parseXml(m));
    expect(replies.map((r) => attr(r, 'message-id'))).toEqual(['1', '2', '3']);
    expect(child(replies[2]!, NS, 'ok')).toBeDefined();
    expect(srv.closeReason).toBeUndefined();
  });
});

async function clientPair(over: Partial<ServerSessionOptions> = {}, opts: Parameters<typeof ClientSession.open>[1] = {}): Promise<{ srv: ServerSession; cli: ClientSession }> {
  const [a, b] = duplexPair();
  const srv = server(a, over);
  const cli = await ClientSession.open(b, opts);
  cleanup.push(() => cli.destroy());
  return { srv, cli };
}

/** Our client against a scripted server: the test writes the server's messages. */
async function scriptedServer(opts: Parameters<typeof ClientSession.open>[1] = {}): Promise<{ cli: ClientSession; peer: RawPeer; requests: () => XmlElement[] }> {
  const [a, b] = duplexPair();
  const peer = new RawPeer(a, { chunked: true });
  const p = ClientSession.open(b, opts);
  await peer.message(1);
  peer.sendEom(`<hello xmlns="${NS}"><capabilities><capability>${BASE_11}</capability></capabilities><session-id>5</session-id></hello>`);
  const cli = await p;
  cleanup.push(() => cli.destroy());
  return { cli, peer, requests: () => peer.messages.slice(1).map((m) => parseXml(m)) };
}

describe('the client (RFC 6241 sections 4.1-4.5)', () => {
  it('ignores a reply with an unknown message-id and reports it', async () => {
    const unexpected: string[] = [];
    const { cli, peer, requests } = await scriptedServer({ onUnexpected: (w) => unexpected.push(w) });
    const p = cli.rpc('<get/>');
    await peer.waitFor(() => requests().length === 1);
    peer.sendChunked(`<rpc-reply xmlns="${NS}" message-id="999"><ok/></rpc-reply>`);
    peer.sendChunked(`<rpc-reply xmlns="${NS}" message-id="${attr(requests()[0]!, 'message-id')!}"><ok/></rpc-reply>`);
    expect(child(await p, NS, 'ok')).toBeDefined();
    expect(unexpected).toEqual(['rpc-reply for unknown message-id 999']);
    expect(cli.closed).toBe(false);
  });

  it('a reply without message-id (malformed-message, appendix A) answers the oldest outstanding request', async () => {
    const { cli, peer, requests } = await scriptedServer();
    const ps = [cli.rpc('<a/>'), cli.rpc('<b/>'), cli.rpc('<c/>')].map((p) => p.then((r) => r, (e: unknown) => e));
    await peer.waitFor(() => requests().length === 3);
    const ids = requests().map((r) => attr(r, 'message-id')!);
    peer.sendChunked(`<rpc-reply xmlns="${NS}" message-id="${ids[0]!}"><ok/></rpc-reply>`);
    peer.sendChunked(`<rpc-reply xmlns="${NS}">${serializeError('rpc', 'malformed-message')}</rpc-reply>`);
    peer.sendChunked(`<rpc-reply xmlns="${NS}" message-id="${ids[2]!}"><ok/></rpc-reply>`);
    const [ra, rb, rc] = await Promise.all(ps);
    expect(child(ra as XmlElement, NS, 'ok')).toBeDefined();
    expect(rb).toBeInstanceOf(NetconfError);
    expect((rb as NetconfError).errors[0]).toMatchObject({ tag: 'malformed-message', type: 'rpc' });
    expect(child(rc as XmlElement, NS, 'ok')).toBeDefined();
  });

  it('a reply without message-id after the oldest request timed out is not given to a later request', async () => {
    const unexpected: string[] = [];
    const { cli, peer, requests } = await scriptedServer({ onUnexpected: (w) => unexpected.push(w) });
    const first = cli.rpc('<a/>', { timeoutMs: 1 }).catch((e: unknown) => e);
    const second = cli.rpc('<b/>');
    await peer.waitFor(() => requests().length === 2);
    expect(await first).toMatchObject({ code: 'ERR_SESSION_RPC_TIMEOUT' });
    const ids = requests().map((r) => attr(r, 'message-id')!);
    peer.sendChunked(`<rpc-reply xmlns="${NS}">${serializeError('rpc', 'malformed-message')}</rpc-reply>`); // late answer to the first
    peer.sendChunked(`<rpc-reply xmlns="${NS}" message-id="${ids[1]!}"><ok/></rpc-reply>`);
    expect(child(await second, NS, 'ok')).toBeDefined();
    expect(unexpected).toHaveLength(1);
    expect(unexpected[0]).toContain('without message-id');
  });

  it('delivers notifications interleaved with replies, each to its place', async () => {
    const { cli, peer, requests } = await scriptedServer();
    const ps = [cli.rpc('<a/>'), cli.rpc('<b/>')];
    await peer.waitFor(() => requests().length === 2);
    const ids = requests().map((r) => attr(r, 'message-id')!);
    const note = (i: number): string => `<notification xmlns="${NETCONF_NOTIFICATION_NS}"><eventTime>2026-01-01T00:00:0${i}Z</eventTime><e xmlns="urn:t">${i}</e></notification>`;
    peer.sendChunked(note(1));
    peer.sendChunked(`<rpc-reply xmlns="${NS}" message-id="${ids[0]!}"><data><v xmlns="urn:t">a</v></data></rpc-reply>`);
    peer.sendChunked(note(2));
    peer.sendChunked(`<rpc-reply xmlns="${NS}" message-id="${ids[1]!}"><data><v xmlns="urn:t">b</v></data></rpc-reply>`);
    peer.sendChunked(note(3));
    const replies = await Promise.all(ps);
    expect(replies.map((r) => childText(child(r, NS, 'data')!, 'urn:t', 'v'))).toEqual(['a', 'b']);
    const it = cli.notifications()[Symbol.asyncIterator]();
    const got: string[] = [];
    for (let i = 0; i < 3; i++) got.push(childText((await it.next()).value!, 'urn:t', 'e')!);
    expect(got).toEqual(['1', '2', '3']);
  });

  it('a second hello from the server ends the session (8.1); pending requests fail with that reason', async () => {
    const { cli, peer, requests } = await scriptedServer();
    const p = cli.rpc('<a/>').catch((e: unknown) => e);
    await peer.waitFor(() => requests().length === 1);
    peer.sendChunked(`<hello xmlns="${NS}"><capabilities><capability>${BASE_11}</capability></capabilities><session-id>5</session-id></hello>`);
    expect(await p).toMatchObject({ code: 'ERR_SESSION_SECOND_HELLO' });
    expect((cli.closeReason as SessionError).code).toBe('ERR_SESSION_SECOND_HELLO');
  });

  for (const [how, end] of [
    ['ends its output (orderly)', (peer: RawPeer) => peer.stream.end()],
    ['drops the transport', (peer: RawPeer) => peer.stream.destroy()],
  ] as const) {
    it(`when the server ${how} with requests pending, each rejects with ERR_SESSION_CLOSED naming its message-id`, async () => {
      const { cli, peer, requests } = await scriptedServer();
      const ps = [cli.rpc('<a/>'), cli.rpc('<b/>'), cli.rpc('<c/>')].map((p) => p.then(() => undefined, (e: unknown) => e));
      await peer.waitFor(() => requests().length === 3);
      const ids = requests().map((r) => attr(r, 'message-id')!);
      end(peer);
      const errs = await Promise.all(ps);
      errs.forEach((e, i) => {
        expect(e).toBeInstanceOf(SessionError);
        expect(e).toMatchObject({ code: 'ERR_SESSION_CLOSED' });
        expect((e as Error).message).toContain(`message-id ${ids[i]!}`);
      });
      expect(cli.closed).toBe(true);
      expect(cli.inFlight).toBe(0);
      await expect(cli.rpc('<d/>')).rejects.toMatchObject({ code: 'ERR_SESSION_CLOSED' });
    });
  }
});

function serializeError(type: string, tag: string): string {
  return `<rpc-error><error-type>${type}</error-type><error-tag>${tag}</error-tag><error-severity>error</error-severity></rpc-error>`;
}
