/**
 * A device session on a TLS call-home connection (RFC 8071 section 4) that the OAM closes in order makes no error on
 * the way (issue 15: the listener's bookkeeping read every session's close reason, an ERR_SESSION_CLOSED with its stack
 * per close); whenClosed() still gives the reason when asked. Errors are counted at HsvError's constructor, the base
 * of SessionError and DeviceConnectError, as in test/device/session-end.test.ts (the SSH paths).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type * as Errors from '../../src/errors.js';

const made = vi.hoisted(() => ({ names: [] as string[] }));
vi.mock('../../src/errors.js', async (original) =>
  (await import('../helpers/counted-errors.js')).countHsvErrors(await original<typeof Errors>(), made.names));

const { startFleet } = await import('../../src/simulator/simulator.js');
const { loadOrCreateFleetPki } = await import('../../src/simulator/tls-pki.js');
const { createCallHomeListener } = await import('../../src/device/call-home.js');
const { until } = await import('../helpers/until.js');
const { el, NETCONF_BASE_NS } = await import('../../src/netconf/xml/index.js');

const get = (): ReturnType<typeof el> => el(NETCONF_BASE_NS, 'get');

let dir: string;
let fleet: Awaited<ReturnType<typeof startFleet>> | undefined;
let listener: ReturnType<typeof createCallHomeListener> | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-chtls-end-'));
  // the fleet's CA and client certificate first: the listener presents that client certificate
  const pki = await loadOrCreateFleetPki(join(dir, 'fleet', 'tls'));
  listener = createCallHomeListener({ host: '127.0.0.1', port: 0, handshakeTimeoutMs: 5000, tls: { port: 0, cert: pki.client.cert, key: pki.client.key } });
  const addr = await listener.listen();
  fleet = await startFleet({
    profiles: { healthy: 1 }, dataDir: join(dir, 'fleet'), installMs: 10, rollbackMs: 10,
    callHome: [{ host: '127.0.0.1', port: addr.tls!.port, transport: 'tls' }], callHomeBackoff: { initialMs: 20, maxMs: 200, stableMs: 1000 },
  });
  const d = fleet.devices[0]!;
  listener.setDevice({ henbId: d.henbId, username: d.username, transport: 'tls', tls: { certSha256: d.netconfTls!.certSha256 } });
}, 60_000);

afterAll(async () => {
  await fleet?.close();
  await listener?.close();
  await rm(dir, { recursive: true, force: true });
});

const ours = (): string[] => made.names.filter((n) => /^(SessionError|DeviceConnectError) /.test(n));

describe('device session over TLS call home: an orderly end', () => {
  it('close() makes no SessionError or DeviceConnectError, the listener sees the connection end; whenClosed() then gives the one ERR_SESSION_CLOSED', async () => {
    const d = fleet!.devices[0]!;
    const s = await listener!.connect({ henbId: d.henbId, host: '', port: 0, username: d.username, transport: 'tls', callHome: true }, { timeoutMs: 10_000 });
    await s.rpc(get(), { timeoutMs: 3000 });
    const since = listener!.connection(d.henbId)!.since;
    made.names.length = 0;
    await s.close();
    expect(s.closed).toBe(true);
    // the listener's bookkeeping ran: this connection is no longer the device's (none, or the device's next call)
    await until(() => listener!.connection(d.henbId)?.since !== since, 'the listener to see the connection end', 5_000);
    expect(ours()).toEqual([]);
    const why = await s.whenClosed();
    expect(why).toMatchObject({ name: 'SessionError', code: 'ERR_SESSION_CLOSED', message: 'session closed' });
    expect(await s.whenClosed()).toBe(why);
    await expect(s.rpc(get())).rejects.toBe(why);
    expect(ours()).toEqual(['SessionError ERR_SESSION_CLOSED']);
  });

  it('a session the device drops: the listener sees it end, whenClosed() gives the reason and a later request gets it', async () => {
    const d = fleet!.devices[0]!;
    const s = await listener!.connect({ henbId: d.henbId, host: '', port: 0, username: d.username, transport: 'tls', callHome: true }, { timeoutMs: 10_000 });
    await s.rpc(get(), { timeoutMs: 3000 });
    const since = listener!.connection(d.henbId)!.since;
    await fleet!.dropSessions(d.henbId);
    const why = await s.whenClosed();
    expect(why).toBeInstanceOf(Error);
    expect((why as { code?: string }).code).toMatch(/^ERR_(SESSION_CLOSED|DEVICE_UNREACHABLE)$/);
    await until(() => listener!.connection(d.henbId)?.since !== since, 'the listener to see the connection end', 5_000);
    await expect(s.rpc(get())).rejects.toBe(why);
    await s.close();
  });
});
