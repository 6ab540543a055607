/** The server's pure parts: what an observer is told of a reply, and why a subsystem request is refused. */
import { describe, expect, it } from 'vitest';
import { firstErrorTag } from '../../../src/netconf/server/server.js';
import { subsystemRefusal } from '../../../src/netconf/server/ssh-transport.js';
import { el } from '../../../src/netconf/xml/index.js';
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
