/** The server's pure parts: what an observer is told of a reply, and why a subsystem request is refused. */
import { describe, expect, it } from 'vitest';
import { firstErrorTag } from '../../../src/netconf/server/server.js';
import { subsystemRefusal } from '../../../src/netconf/server/ssh-transport.js';
import { el, elements, parseXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { isPlainRunning } from '../../../src/netconf/server/get.js';
import { createNetconfServer, registerStandardOperations } from '../../../src/netconf/server/index.js';
import type { ServerObserver } from '../../../src/netconf/server/index.js';
import { ClientSession, duplexPair } from '../../../src/netconf/session/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NS = 'urn:ietf:params:xml:ns:netconf:base:1.0';

describe('firstErrorTag', () => {
  it('the first rpc-error\'s error-tag, trimmed; undefined for ok, data or an empty reply', () => {
    const err = (tag: string) => el(NS, 'rpc-error', el(NS, 'error-type', 'protocol'), el(NS, 'error-tag', tag));
    expect(firstErrorTag({ body: [err(' in-use\n'), err('access-denied')] })).toBe('in-use');
    expect(firstErrorTag({ body: [el(NS, 'ok')] })).toBeUndefined();
    expect(firstErrorTag({ body: [el(NS, 'data'), err('in-use')] })).toBeUndefined();
    expect(firstErrorTag({ body: [] })).toBeUndefined();
    expect(firstErrorTag({ body: [el(NS, 'rpc-error')] })).toBeUndefined();
  });
});

describe('subsystemRefusal', () => {
  it('only netconf; then the per-user limit; the server limit asked last', () => {
    let asked = 0;
    const admit = (ok: boolean) => () => {
      asked++;
      return ok;
    };
    expect(subsystemRefusal('sftp', 0, 10, admit(true))).toEqual({ level: 'info', msg: 'subsystem refused' });
    expect(subsystemRefusal('netconf', 10, 10, admit(true))).toEqual({ level: 'warn', msg: 'netconf session refused: per-user limit', limit: 10 });
    expect(asked).toBe(0);
    expect(subsystemRefusal('netconf', 9, 10, admit(false))).toEqual({ level: 'warn', msg: 'netconf session refused: server session limit' });
    expect(subsystemRefusal('netconf', 9, 10, admit(true))).toBeUndefined();
    expect(asked).toBe(2);
  });
});

/** a client session to a server with the standard operations and `observer`, over an in-memory pair */
async function withServer(observer: ServerObserver, use: (cli: ClientSession) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hsv-parts-'));
  const server = createNetconfServer({
    auth: { users: [] }, dataDir, observer,
    operations: [(reg) => registerStandardOperations(reg, { eventLog: false })],
  });
  try {
    const [a, b] = duplexPair();
    server.acceptStream(a, { username: 'u' });
    const cli = await ClientSession.open(b);
    await use(cli);
    await cli.close();
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe('answers given at once (get-config) and awaited ones', () => {
  it('the observer is told of each, in order, with the first error-tag; get-config answers the running datastore', async () => {
    const told: Array<[string, string | undefined]> = [];
    await withServer({ rpcAnswered: (op, tag) => void told.push([op, tag]) }, async (cli) => {
      await cli.rpc('<edit-config><target><running/></target><config><x xmlns="urn:t">1</x></config></edit-config>');
      const data = await cli.rpc('<get-config><source><running/></source></get-config>');
      expect(JSON.stringify(data)).toContain('"urn:t"');
      await expect(cli.rpc('<get-config><source><candidate/></source></get-config>')).rejects.toThrow();
      await cli.rpc('<get-config><source><running/></source></get-config>');
      expect(told).toEqual([['edit-config', undefined], ['get-config', undefined], ['get-config', 'unknown-element'], ['get-config', undefined]]);
    });
  });
});

describe('an observer that throws', () => {
  it('does not change the reply to a get-config answered at once, nor make an unhandled rejection on an awaited one (close-session)', async () => {
    await withServer({ rpcAnswered: () => { throw new Error('observer bug'); } }, async (cli) => {
      const reply = await cli.rpc('<get-config><source><running/></source></get-config>');
      expect(reply.children.some((c) => typeof c !== 'string' && c.name === 'data')).toBe(true);
    });
  });
});

describe('get-config of <source><running/></source> alone: answered without the parameter checks (issue 13)', () => {
  it('takes the short way only for that shape, and every near miss is answered as before', async () => {
    const op = (inner: string): XmlElement => elements(parseXml(`<rpc xmlns="${NS}" message-id="1"><get-config>${inner}</get-config></rpc>`))[0]!;
    expect(isPlainRunning(op('<source><running/></source>'))).toBe(true);
    expect(isPlainRunning(op('<source>\n  <running/>\n</source>'))).toBe(true);
    expect(isPlainRunning(op('<nc:source xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"><nc:running/></nc:source>'))).toBe(true);
    for (const inner of ['', '<source/>', '<source><candidate/></source>', '<source><running/><running/></source>', '<source>x</source>',
      '<source><running xmlns="urn:x"/></source>', '<source xmlns="urn:x"><running/></source>', '<source><running/></source><filter/>',
      '<source><running/></source><with-defaults xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults">trim</with-defaults>']) {
      expect(isPlainRunning(op(inner)), inner).toBe(false);
    }
    const tags: Array<string | undefined> = [];
    const held: string[] = [];
    await withServer({ rpcAnswered: (_op, tag) => void tags.push(tag) }, async (cli) => {
      await cli.rpc('<edit-config><target><running/></target><config><x xmlns="urn:t">1</x><y xmlns="urn:t"/></config></edit-config>');
      for (const inner of ['<source><running/></source>', '<source>\n <running/>\n</source>', '<source><running>t</running></source>',
        '<source><running/></source><filter type="subtree"><x xmlns="urn:t"/></filter>', '<source><running/><running/></source>',
        '<source><candidate/></source>', '<source xmlns="urn:x"><running/></source>', '<source><running xmlns="urn:x"/></source>', '<source/>', '']) {
        const reply = JSON.stringify(await cli.rpc(`<get-config>${inner}</get-config>`).catch(() => 'error'));
        held.push(reply === '"error"' ? 'error' : reply.includes('"y"') ? 'x+y' : reply.includes('"x"') ? 'x' : 'none');
      }
    });
    expect(held).toEqual(['x+y', 'x+y', 'x+y', 'x', 'error', 'error', 'error', 'error', 'error', 'error']);
    // the observer's error-tags (the edit-config first, the close-session last)
    expect(tags).toEqual([undefined, undefined, undefined, undefined, undefined, 'bad-element', 'unknown-element', 'unknown-namespace',
      'unknown-element', 'missing-element', 'missing-element', undefined]);
  });
});
