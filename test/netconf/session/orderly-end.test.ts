/**
 * An orderly end of a client session makes no error when nothing asks why (issue 15: a SessionError with its stack
 * at every session close cost the OAM 0.39 s at 10,000 devices); whoever asks gets the one ERR_SESSION_CLOSED.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type * as Errors from '../../../src/netconf/session/errors.js';
import type { ClientSession as Client, ServerSession as Server } from '../../../src/netconf/session/index.js';

const made = vi.hoisted(() => ({ codes: [] as string[] }));
vi.mock('../../../src/netconf/session/errors.js', async (original) => {
  const m = await original<typeof Errors>();
  class CountedSessionError extends m.SessionError {
    constructor(...args: ConstructorParameters<typeof m.SessionError>) {
      super(...args);
      made.codes.push(args[0]);
    }
  }
  return { ...m, SessionError: CountedSessionError };
});

const { ClientSession, ServerSession, SessionError, duplexPair, BASE_10, BASE_11 } = await import('../../../src/netconf/session/index.js');
const { el } = await import('../../../src/netconf/xml/index.js');
const { NS } = await import('./helpers.js');

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

async function pair(): Promise<{ srv: Server; cli: Client }> {
  const [a, b] = duplexPair();
  const srv = new ServerSession(a, { sessionId: 7, capabilities: [BASE_10, BASE_11], handleRpc: async () => [el(NS, 'ok')] });
  cleanup.push(() => srv.kill(new Error('test over')));
  const cli = await ClientSession.open(b, {});
  cleanup.push(() => cli.destroy());
  return { srv, cli };
}

describe('client session: an orderly end', () => {
  it('close-session with nothing waiting makes no SessionError; closeReason makes one ERR_SESSION_CLOSED, the same each time', async () => {
    const { cli } = await pair();
    await cli.rpc('<get/>');
    made.codes.length = 0;
    await cli.close();
    cli.destroy(); // after the end: nothing to do
    expect(cli.closed).toBe(true);
    expect(made.codes).toEqual([]);
    const why = cli.closeReason;
    expect(why).toBeInstanceOf(SessionError);
    expect(why).toMatchObject({ code: 'ERR_SESSION_CLOSED', message: 'session closed' });
    expect(cli.closeReason).toBe(why);
    // a request after the end is refused with that reason
    await expect(cli.rpc('<get/>')).rejects.toBe(why);
    expect(made.codes).toEqual(['ERR_SESSION_CLOSED']);
  });

  it('a request waiting when the server ends the session gets ERR_SESSION_CLOSED naming its message-id, caused by the close reason', async () => {
    const [a, b] = duplexPair();
    const srv = new ServerSession(a, { sessionId: 7, capabilities: [BASE_10, BASE_11], handleRpc: () => new Promise(() => undefined) });
    cleanup.push(() => srv.kill(new Error('test over')));
    const cli = await ClientSession.open(b, {});
    const waiting = cli.rpc('<get/>');
    await new Promise((r) => setTimeout(r, 20));
    a.end();
    const err = await waiting.then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_SESSION_CLOSED', message: 'session closed before the reply to message-id 1' });
    expect((err as Error).cause).toBe(cli.closeReason);
  });

  it('a reason given by the transport is kept as it is', async () => {
    const { cli } = await pair();
    const boom = new Error('boom');
    cli.conn.destroy(boom);
    expect(cli.closeReason).toBe(boom);
  });
});
