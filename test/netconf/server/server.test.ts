import { afterEach, describe, expect, it, vi } from 'vitest';
import { Socket } from 'node:net';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { NetconfError } from '../../../src/netconf/rpc-error.js';
import type { RpcErrorInfo } from '../../../src/netconf/rpc-error.js';
import { child, childText, el, elements, leaf, NETCONF_BASE_NS, NETCONF_NOTIFICATION_NS, parseXml, serializeXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { encodeEom, FrameDecoder } from '../../../src/netconf/framing/index.js';
import { HOST_KEY_FILE, generateEd25519KeyPair, hostKeyFingerprint, loadOrCreateHostKey, registerStandardOperations } from '../../../src/netconf/server/index.js';
import type { NetconfRegistry, OperationRegistrar } from '../../../src/netconf/server/index.js';
import type { YangValidator } from '../../../src/yang/types.js';
import { clientKey, startServer } from './helpers.js';
import type { Started } from './helpers.js';

const N = NETCONF_BASE_NS;
const T = 'urn:test:plugin';

/** A test plugin: an RPC, a state subtree and a notification stream, all through NetconfRegistry. */
function testPlugin(reg: NetconfRegistry): void {
  reg.addModule({ name: 'test-plugin', revision: '2026-11-28', namespace: T, prefix: 'tp', text: 'module test-plugin { }', features: ['f1'] });
  reg.addRpc(T, 'ping', async (op, ctx) => {
    if (child(op, T, 'boom')) throw new Error('secret cause');
    if (child(op, T, 'refuse')) throw new NetconfError([
      { type: 'application', tag: 'invalid-value', message: 'refused', appTag: 'tp:refused', path: '/tp:ping/tp:refuse', pathNs: { tp: T } },
      { type: 'application', tag: 'data-missing', severity: 'error', message: 'second error' },
    ]);
    if (child(op, T, 'badout')) return [leaf(T, 'unexpected', 'x')];
    return [leaf(T, 'pong', childText(op, T, 'msg') ?? ''), leaf(T, 'who', `${ctx.username}/${ctx.sessionId}`)];
  });
  reg.addRpc(T, 'slow', async () => {
    await new Promise((r) => setTimeout(r, 200));
    return 'ok';
  });
  reg.addState(T, 'counters', () => el(T, 'counters', leaf(T, 'pings', 3)));
  reg.addStream({ name: 'test-events', description: 'test', replaySupport: true });
}

/** A stand-in validator: knows tp:ping; input with <invalid/> and output with <unexpected/> fail. */
const validator: YangValidator = {
  hasRpc: (ns, name) => ns === T && name === 'ping',
  validateRpcInput: (op): RpcErrorInfo[] => (child(op, T, 'invalid') ? [{ type: 'application', tag: 'unknown-element', message: 'invalid', path: '/tp:ping/tp:invalid', pathNs: { tp: T } }] : []),
  validateRpcOutput: (_ns, _n, out): RpcErrorInfo[] => (out.some((e) => e.name === 'unexpected') ? [{ type: 'application', tag: 'unknown-element' }] : []),
  validateNotification: (ev): RpcErrorInfo[] => (ev.name === 'bad-event' ? [{ type: 'application', tag: 'unknown-element', message: 'not a notification' }] : []),
  validateConfig: () => [],
};

let s: Started | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

async function withPlugin(over: Parameters<typeof startServer>[0] = {}): Promise<Started> {
  s = await startServer({ validator, ...over });
  testPlugin(s.server.registry);
  return s;
}

const errOf = async (p: Promise<unknown>): Promise<NetconfError> => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(NetconfError);
  return e as NetconfError;
};

describe('NETCONF server over SSH', () => {
  it('negotiates base:1.1 and advertises base and module capabilities (RFC 7950 section 5.6.4)', async () => {
    await withPlugin();
    const c = await s!.connect();
    expect(c.base11).toBe(true);
    expect(c.sessionId).toBeGreaterThan(0);
    expect(c.serverCapabilities).toEqual(expect.arrayContaining([
      'urn:ietf:params:netconf:base:1.0', 'urn:ietf:params:netconf:base:1.1',
      `${T}?module=test-plugin&revision=2026-11-28&features=f1`,
    ]));
    expect(s!.server.sessions().map((x) => x.username)).toEqual(['admin']);
  });

  it('sets TCP_NODELAY on the server and client sockets', async () => {
    const spy = vi.spyOn(Socket.prototype, 'setNoDelay');
    try {
      await withPlugin();
      const c = await s!.connect();
      await c.rpc(`<ping xmlns="${T}"/>`);
      const socks = spy.mock.contexts.filter((_, i) => spy.mock.calls[i]![0] === true) as Socket[];
      expect(socks.some((k) => k.localPort === s!.port)).toBe(true); // the accepted socket
      expect(socks.some((k) => k.remotePort === s!.port)).toBe(true); // the client's socket
    } finally {
      spy.mockRestore();
    }
  });

  it('works with a base:1.0-only client (end-of-message framing)', async () => {
    await withPlugin();
    const c = await s!.connect({ capabilities: ['urn:ietf:params:netconf:base:1.0'] });
    expect(c.base11).toBe(false);
    const r = await c.rpc(`<ping xmlns="${T}"><msg>hi</msg></ping>`);
    expect(childText(r, T, 'pong')).toBe('hi');
  });

  it('authenticates with a public key (signature verified) and refuses bad credentials', async () => {
    await withPlugin();
    const k = await s!.connect({ username: 'keyuser', password: undefined, privateKey: clientKey.private });
    const r = await k.rpc(`<ping xmlns="${T}"/>`);
    expect(childText(r, T, 'who')).toMatch(/^keyuser\//);
    await expect(s!.connect({ password: 'wrong' })).rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_CONNECT' });
    const other = generateEd25519KeyPair();
    await expect(s!.connect({ username: 'keyuser', password: undefined, privateKey: other.private })).rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_CONNECT' });
    await expect(s!.connect({ username: 'nobody', password: 'secret-pw' })).rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_CONNECT' });
  });

  it('closes the connection after too many failed attempts, and logs who authenticated', async () => {
    await withPlugin();
    let attempts = 0;
    const conn = new ssh2.Client();
    const err = await new Promise<Error>((resolve) => {
      conn.on('ready', () => resolve(new Error('unexpectedly authenticated')));
      conn.on('error', resolve);
      conn.on('close', () => resolve(new Error('closed')));
      conn.connect({
        host: '127.0.0.1', port: s!.port, username: 'admin', hostVerifier: () => true,
        authHandler: (_methods, _partial, next) => {
          attempts++;
          if (attempts > 50) return false;
          next({ type: 'password', username: 'admin', password: `wrong-${attempts}` });
          return undefined;
        },
      } as ssh2.ConnectConfig);
    });
    conn.end();
    expect(err).toBeInstanceOf(Error);
    expect(attempts).toBeLessThanOrEqual(7);
    const c = await s!.connect();
    expect(c.sessionId).toBeGreaterThan(0);
    expect(s!.logLines.some((l) => l.includes('"msg":"authenticated"') && l.includes('"username":"admin"'))).toBe(true);
  });

  it('refuses a server whose host key is not the pinned one', async () => {
    await withPlugin();
    const other = generateEd25519KeyPair();
    await expect(s!.connect({ hostKeySha256: hostKeyFingerprint(other.private) })).rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_HOST_KEY' });
    await expect(s!.connect({ hostKeySha256: undefined })).rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_OPTIONS' });
  });

  it('dispatches a plugin RPC and validates its input and output', async () => {
    await withPlugin();
    const c = await s!.connect();
    const r = await c.rpc(el(T, 'ping', leaf(T, 'msg', 'a<b')));
    expect(childText(r, T, 'pong')).toBe('a<b');
    const e1 = await errOf(c.rpc(`<ping xmlns="${T}"><invalid/></ping>`));
    expect(e1.errors[0]).toMatchObject({ tag: 'unknown-element', path: '/tp:ping/tp:invalid' });
    const e2 = await errOf(c.rpc(`<ping xmlns="${T}"><badout/></ping>`));
    expect(e2.errors[0]).toMatchObject({ tag: 'operation-failed', message: 'internal error' });
  });

  it('returns every rpc-error field and several errors per reply', async () => {
    await withPlugin();
    const c = await s!.connect();
    const e = await errOf(c.rpc(`<ping xmlns="${T}"><refuse/></ping>`));
    expect(e.errors).toHaveLength(2);
    expect(e.errors[0]).toMatchObject({ type: 'application', tag: 'invalid-value', severity: 'error', appTag: 'tp:refused', path: '/tp:ping/tp:refuse', pathNs: { tp: T }, message: 'refused' });
    expect(e.errors[1]).toMatchObject({ tag: 'data-missing', message: 'second error' });
  });

  it('turns an unexpected exception into a generic operation-failed and logs the cause', async () => {
    await withPlugin();
    const c = await s!.connect();
    const e = await errOf(c.rpc(`<ping xmlns="${T}"><boom/></ping>`));
    expect(e.errors).toEqual([{ type: 'application', tag: 'operation-failed', severity: 'error', message: 'internal error' }]);
    expect(s!.logLines.some((l) => l.includes('secret cause'))).toBe(true);
  });

  it('answers unknown operations: operation-not-supported or unknown-namespace', async () => {
    await withPlugin();
    const c = await s!.connect();
    const e1 = await errOf(c.rpc('<frobnicate/>'));
    expect(e1.errors[0]).toMatchObject({ type: 'protocol', tag: 'operation-not-supported' });
    const e2 = await errOf(c.rpc(`<nothere xmlns="${T}"/>`));
    expect(e2.errors[0]).toMatchObject({ tag: 'operation-not-supported' });
    const e3 = await errOf(c.rpc('<x xmlns="urn:nobody"/>'));
    expect(e3.errors[0]).toMatchObject({ type: 'protocol', tag: 'unknown-namespace' });
    expect(e3.errors[0]!.info!.map((i) => `${i.name}=${childText({ ns: '', name: 'w', attrs: [], children: [i] }, N, i.name)}`)).toEqual(['bad-element=x', 'bad-namespace=urn:nobody']);
    // the session is still fine
    expect(childText(await c.rpc(`<ping xmlns="${T}"><msg>ok</msg></ping>`), T, 'pong')).toBe('ok');
  });

  it('close-session ends the session after <ok/>; kill-session ends another one, not its own', async () => {
    await withPlugin();
    const a = await s!.connect();
    const b = await s!.connect();
    expect(s!.server.sessions()).toHaveLength(2);
    const own = await errOf(a.rpc(`<kill-session><session-id>${a.sessionId}</session-id></kill-session>`));
    expect(own.errors[0]).toMatchObject({ tag: 'invalid-value' });
    const none = await errOf(a.rpc('<kill-session><session-id>999999</session-id></kill-session>'));
    expect(none.errors[0]).toMatchObject({ tag: 'invalid-value' });
    await a.rpc(`<kill-session><session-id>${b.sessionId}</session-id></kill-session>`);
    expect(await b.done).toBeInstanceOf(Error);
    await expect(b.rpc('<get/>')).rejects.toBeInstanceOf(Error);
    await a.close();
    expect(await a.done).toBeUndefined();
    for (let i = 0; i < 100 && s!.server.sessions().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(s!.server.sessions()).toHaveLength(0);
    expect(s!.server.info.counters.inSessions).toBe(2);
  });

  it('pipelines requests and answers each by message-id', async () => {
    await withPlugin();
    const c = await s!.connect({ maxInFlight: 16 });
    const rs = await Promise.all(Array.from({ length: 300 }, (_, i) => c.rpc(`<ping xmlns="${T}"><msg>${i}</msg></ping>`)));
    rs.forEach((r, i) => expect(childText(r, T, 'pong')).toBe(String(i)));
    const [h] = s!.server.sessions();
    expect(h!.counters.inRpcs).toBe(300);
  });

  it('refuses other subsystems and shells', async () => {
    await withPlugin();
    const conn = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      conn.on('ready', resolve).on('error', reject);
      conn.connect({ host: '127.0.0.1', port: s!.port, username: 'admin', password: 'secret-pw', hostVerifier: () => true });
    });
    const sub = await new Promise<Error | undefined>((r) => conn.subsys('sftp', (err) => r(err ?? undefined)));
    const exec = await new Promise<Error | undefined>((r) => conn.exec('id', (err) => r(err ?? undefined)));
    conn.end();
    expect(sub).toBeInstanceOf(Error);
    expect(exec).toBeInstanceOf(Error);
  });

  it('handles a hello and an rpc arriving in one SSH write', async () => {
    await withPlugin();
    const conn = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      conn.on('ready', resolve).on('error', reject);
      conn.connect({ host: '127.0.0.1', port: s!.port, username: 'admin', password: 'secret-pw', hostVerifier: () => true });
    });
    const ch = await new Promise<ssh2.ClientChannel>((resolve, reject) => conn.subsys('netconf', (e, c) => (e ? reject(e) : resolve(c))));
    const d = new FrameDecoder();
    const msgs: string[] = [];
    const got = new Promise<void>((resolve) => ch.on('data', (b: Buffer) => {
      d.push(b);
      for (let m = d.next(); m; m = d.next()) msgs.push(m.toString());
      if (msgs.length >= 2) resolve();
    }));
    ch.write(Buffer.concat([
      encodeEom(`<hello xmlns="${N}"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>`),
      encodeEom(`<rpc xmlns="${N}" message-id="42" extra="kept"><ping xmlns="${T}"><msg>one-write</msg></ping></rpc>`),
    ]));
    await got;
    conn.end();
    const reply = parseXml(msgs[1]!);
    expect(reply.attrs).toEqual(expect.arrayContaining([{ ns: '', name: 'message-id', value: '42' }, { ns: '', name: 'extra', value: 'kept' }]));
    expect(childText(reply, T, 'pong')).toBe('one-write');
  });

  it('enforces the session limit', async () => {
    await withPlugin({ limits: { maxSessions: 1 } });
    const a = await s!.connect();
    await expect(s!.connect({ connectTimeoutMs: 5000, helloTimeoutMs: 5000 })).rejects.toBeInstanceOf(Error);
    expect(childText(await a.rpc(`<ping xmlns="${T}"><msg>still</msg></ping>`), T, 'pong')).toBe('still');
  });

  it('ends a session that sends an oversize message; other sessions are untouched', async () => {
    await withPlugin({ limits: { maxMessageBytes: 4096 } });
    const a = await s!.connect();
    const b = await s!.connect();
    await expect(a.rpc(`<ping xmlns="${T}"><msg>${'x'.repeat(10_000)}</msg></ping>`)).rejects.toBeInstanceOf(Error);
    expect(await a.done).toBeInstanceOf(Error);
    expect(childText(await b.rpc(`<ping xmlns="${T}"><msg>b</msg></ping>`), T, 'pong')).toBe('b');
  });

  it('close() lets the request in progress finish, then ends every session', async () => {
    await withPlugin();
    const c = await s!.connect();
    const slow = c.rpc(`<slow xmlns="${T}"/>`);
    await new Promise((r) => setTimeout(r, 50));
    await s!.server.close();
    const reply = await slow;
    expect(child(reply, N, 'ok')).toBeDefined();
    expect(await c.done).toBeInstanceOf(Error);
  });

  it('notify() validates the event and refuses unknown streams', async () => {
    await withPlugin();
    await expect(s!.server.registry.notify('test-events', el(T, 'bad-event'))).rejects.toBeInstanceOf(NetconfError);
    await expect(s!.server.registry.notify('nope', el(T, 'e'))).rejects.toMatchObject({ code: 'ERR_REGISTRY_UNKNOWN_STREAM' });
    expect(() => s!.server.registry.addRpc(T, 'ping', async () => 'ok')).toThrow(expect.objectContaining({ code: 'ERR_REGISTRY_DUPLICATE' }));
  });
});

describe('registry with the standard operations', () => {
  it('serves plugin state through get and plugin stream events through create-subscription', async () => {
    const ops = [(reg: OperationRegistrar) => registerStandardOperations(reg, { ietfYangDir: join(process.cwd(), 'yang', 'ietf') })];
    await withPlugin({ operations: ops });
    const c = await s!.connect();
    const r = await c.rpc(`<get><filter type="subtree"><counters xmlns="${T}"/></filter></get>`);
    const data = child(r, N, 'data')!;
    expect(serializeXml(data)).toContain('<pings>3</pings>');
    await c.rpc(`<create-subscription xmlns="${NETCONF_NOTIFICATION_NS}"><stream>test-events</stream></create-subscription>`);
    const it = c.notifications()[Symbol.asyncIterator]();
    await s!.server.registry.notify('test-events', el(T, 'happened', leaf(T, 'what', 'x')));
    const n = (await it.next()).value as XmlElement;
    expect(n.name).toBe('notification');
    expect(childText(child(n, T, 'happened')!, T, 'what')).toBe('x');
    expect(elements(n).map((e) => e.name)).toEqual(['eventTime', 'happened']);
    // kill-session from the locking module still refuses one's own session
    const own = await errOf(c.rpc(`<kill-session><session-id>${c.sessionId}</session-id></kill-session>`));
    expect(own.errors[0]).toMatchObject({ tag: 'invalid-value' });
  });
});

describe('host key', () => {
  it('is created once with mode 0600 and kept across restarts', async () => {
    s = await startServer();
    const file = join(s.dataDir, HOST_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = loadOrCreateHostKey(s.dataDir);
    expect(hostKeyFingerprint(again)).toBe(s.fingerprint);
  });
});

describe('generateEd25519KeyPair', () => {
  it('always yields keys that ssh2 reads back (ssh2 alone fails 1 key in 256)', () => {
    for (let i = 0; i < 300; i++) {
      const k = generateEd25519KeyPair();
      expect(hostKeyFingerprint(k.private)).toBe(hostKeyFingerprint(k.public));
    }
  });
});
