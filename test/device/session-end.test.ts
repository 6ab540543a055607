/**
 * A device session (NETCONF/SSH, dialled) that the OAM closes in order makes no error on the way (issue 15: an
 * error's stack at every session end, ERR_SESSION_CLOSED and the SSH close's ERR_DEVICE_UNREACHABLE, cost the OAM
 * CPU at 10,000 devices); whenClosed() still gives the reason when asked. Errors are counted at HsvError's
 * constructor, the base of SessionError and DeviceConnectError.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type * as Errors from '../../src/errors.js';

const made = vi.hoisted(() => ({ names: [] as string[] }));
vi.mock('../../src/errors.js', async (original) =>
  (await import('../helpers/counted-errors.js')).countHsvErrors(await original<typeof Errors>(), made.names));

const { startFleet } = await import('../../src/simulator/simulator.js');
const { connectDevice } = await import('../../src/device/connect.js');
const { until } = await import('../helpers/until.js');
const { el, NETCONF_BASE_NS } = await import('../../src/netconf/xml/index.js');

const get = (): ReturnType<typeof el> => el(NETCONF_BASE_NS, 'get');

let fleet: Awaited<ReturnType<typeof startFleet>>;

beforeAll(async () => {
  fleet = await startFleet({ profiles: { healthy: 1 }, installMs: 10, rollbackMs: 10 });
});

afterAll(async () => {
  await fleet.close();
});

describe('device session over SSH: an orderly end', () => {
  it('close() makes no SessionError or DeviceConnectError; whenClosed() then gives the one ERR_SESSION_CLOSED', async () => {
    const d = fleet.devices[0]!;
    const s = await connectDevice(d, { timeoutMs: 3000 });
    await s.rpc(get(), { timeoutMs: 3000 });
    made.names.length = 0;
    await s.close();
    expect(s.closed).toBe(true);
    // the SSH connection's close comes after the session's end: give it its turn
    await new Promise((r) => setTimeout(r, 50));
    const mine = made.names.filter((n) => /^(SessionError|DeviceConnectError) /.test(n));
    expect(mine).toEqual([]);
    const why = await s.whenClosed();
    expect(why).toMatchObject({ name: 'SessionError', code: 'ERR_SESSION_CLOSED', message: 'session closed' });
    expect(await s.whenClosed()).toBe(why);
    await expect(s.rpc(get())).rejects.toBe(why);
  });

  it('a session the device drops gives whenClosed() a reason and fails the request that waits', async () => {
    const d = fleet.devices[0]!;
    const s = await connectDevice(d, { timeoutMs: 3000 });
    await s.rpc(get(), { timeoutMs: 3000 });
    await fleet.dropSessions(d.henbId);
    const why = await s.whenClosed();
    expect(why).toBeInstanceOf(Error);
    expect((why as { code?: string }).code).toMatch(/^ERR_(SESSION_CLOSED|DEVICE_UNREACHABLE)$/);
    await until(() => s.closed, 'the session closed');
    await expect(s.rpc(get())).rejects.toBe(why);
    await s.close();
  });
});
