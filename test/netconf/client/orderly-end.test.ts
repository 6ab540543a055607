/**
 * The NETCONF client's transport glue (sessionOver, clientOf: what connectNetconf and connectNetconfTls run on) makes
 * no error on an orderly close that nobody asks about (issue 15: an error's stack at every close); whoever asks (a
 * waiting request, `done`) gets the same error as before. Over an in-memory stream, with the transport's close fired
 * by hand where SSH's connection 'close' would come. Errors are counted at HsvError's constructor, the base of
 * NetconfClientError and SessionError.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type * as Errors from '../../../src/errors.js';

const made = vi.hoisted(() => ({ names: [] as string[] }));
vi.mock('../../../src/errors.js', async (original) =>
  (await import('../../helpers/counted-errors.js')).countHsvErrors(await original<typeof Errors>(), made.names));

const { ServerSession, duplexPair, BASE_10, BASE_11 } = await import('../../../src/netconf/session/index.js');
const { clientOf, sessionOver, NetconfClientError } = await import('../../../src/netconf/client/connect.js');
const { el } = await import('../../../src/netconf/xml/index.js');
const { NS } = await import('../session/helpers.js');

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

/** a server session and a client over the glue; `closeTransport` is the SSH connection's 'close' */
async function pair(handleRpc: () => Promise<ReturnType<typeof el>[]>) {
  const [a, b] = duplexPair();
  const srv = new ServerSession(a, { sessionId: 7, capabilities: [BASE_10, BASE_11], handleRpc });
  cleanup.push(() => srv.kill(new Error('test over')));
  const onClose: Array<() => void> = [];
  const session = await sessionOver(b, {}, { name: 'SSH', abort: () => b.destroy(), onClose: (l) => onClose.push(l) });
  const client = clientOf(session, () => b.end());
  cleanup.push(() => client.destroy());
  return { srv, session, client, closeTransport: () => onClose.forEach((l) => l()) };
}

const ours = (): string[] => made.names.filter((n) => /^(SessionError|NetconfClientError) /.test(n));

describe('NETCONF client: an orderly close', () => {
  it('close() and then the transport\'s close make no error; done is undefined', async () => {
    const { client, closeTransport } = await pair(async () => [el(NS, 'ok')]);
    await client.rpc('<get/>');
    made.names.length = 0;
    await client.close();
    closeTransport();
    expect(client.closed).toBe(true);
    expect(await client.done).toBeUndefined();
    expect(ours()).toEqual([]);
  });

  it('a session the server ends in order, then the transport\'s close: no error until done is asked, then one ERR_SESSION_CLOSED', async () => {
    const { srv, session, client, closeTransport } = await pair(async () => [el(NS, 'ok')]);
    await client.rpc('<get/>');
    made.names.length = 0;
    await srv.close();
    await session.conn.whenClosed();
    closeTransport();
    expect(ours()).toEqual([]);
    const why = await client.done;
    expect(why).toMatchObject({ name: 'SessionError', code: 'ERR_SESSION_CLOSED', message: 'session closed' });
    expect(await client.done).toBe(why);
    expect(ours()).toEqual(['SessionError ERR_SESSION_CLOSED']);
  });
});

describe('NETCONF client: the transport closes under an open session', () => {
  it('a waiting request and done get ERR_NETCONF_CLIENT_CONNECT "SSH connection closed", as before', async () => {
    const { client, closeTransport } = await pair(() => new Promise(() => undefined));
    const waiting = client.rpc('<get/>').then(() => undefined, (e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    made.names.length = 0;
    closeTransport();
    const err = await waiting;
    expect(err).toBeInstanceOf(NetconfClientError);
    expect(err).toMatchObject({ code: 'ERR_NETCONF_CLIENT_CONNECT', message: 'SSH connection closed' });
    expect(await client.done).toBe(err);
    expect(ours()).toEqual(['NetconfClientError ERR_NETCONF_CLIENT_CONNECT']);
  });
});
