/**
 * KitSession.open, with a connector that stands in for the call-home listener: a device that calls home ends its
 * connection when the kit's last session on it closes and calls again, so a session may land on a connection that
 * is just ending (ERR_DEVICE_UNREACHABLE). The kit waits for the next call within its budget, for the first session
 * too (run.ts gave up on the first one at once: ERR_CONFORMANCE_UNREACHABLE, exit 3, with the device still calling).
 */
import { describe, expect, it } from 'vitest';
import { DeviceConnectError } from '../../src/device/index.js';
import type { DeviceConnector, DeviceSession, DeviceTarget } from '../../src/device/index.js';
import { KitSession } from '../../src/conformance/session.js';

const session = { serverCapabilities: ['urn:ietf:params:netconf:base:1.1'] } as unknown as DeviceSession;
const callHome: DeviceTarget = { host: '', port: 0, username: 'oam', password: 'pw', hostKeySha256: 'SHA256:x', callHome: true };
const dialled: DeviceTarget = { host: '127.0.0.1', port: 830, username: 'oam', password: 'pw', hostKeySha256: 'SHA256:x' };

/** a connector that fails with each of `codes` in turn, then opens the session; it records each budget it was given */
function connector(codes: string[]): { connect: DeviceConnector; budgets: number[] } {
  const budgets: number[] = [];
  const connect: DeviceConnector = (_t, o) => {
    budgets.push(o.timeoutMs);
    const code = codes.shift();
    return code === undefined ? Promise.resolve(session) : Promise.reject(new DeviceConnectError(code as 'ERR_DEVICE_UNREACHABLE', `failed with ${code}`));
  };
  return { connect, budgets };
}

describe('KitSession.open', () => {
  it('calling home, a connection that ended as the session opened: the next call is waited for, within what is left of the budget', async () => {
    const c = connector(['ERR_DEVICE_UNREACHABLE', 'ERR_DEVICE_UNREACHABLE']);
    const s = await KitSession.open(c.connect, callHome, 10_000, 1000);
    expect(s.capabilities).toEqual(['urn:ietf:params:netconf:base:1.1']);
    expect(c.budgets).toHaveLength(3);
    // the whole budget less the time between taking the deadline and the first call (a millisecond tick may fall between)
    expect(c.budgets[0]).toBeLessThanOrEqual(10_000);
    expect(c.budgets[0]).toBeGreaterThan(9_000);
    expect(c.budgets[2]!).toBeLessThanOrEqual(c.budgets[1]!);
  });

  it('calling home, the budget spent: the last failure', async () => {
    const c = connector(Array.from({ length: 1000 }, () => 'ERR_DEVICE_UNREACHABLE'));
    await expect(KitSession.open(c.connect, callHome, 200, 1000)).rejects.toMatchObject({ code: 'ERR_DEVICE_UNREACHABLE' });
    // paused between attempts, not spun on
    expect(c.budgets.length).toBeLessThan(20);
  });

  it('not retried: a timeout, an aborted wait, a device that refuses NETCONF, and any failure of a dialled device', async () => {
    for (const code of ['ERR_DEVICE_TIMEOUT', 'ERR_DEVICE_ABORTED', 'ERR_DEVICE_NETCONF']) {
      const c = connector([code]);
      await expect(KitSession.open(c.connect, callHome, 10_000, 1000)).rejects.toMatchObject({ code });
      expect(c.budgets).toHaveLength(1);
    }
    const c = connector(['ERR_DEVICE_UNREACHABLE']);
    await expect(KitSession.open(c.connect, dialled, 10_000, 1000)).rejects.toMatchObject({ code: 'ERR_DEVICE_UNREACHABLE' });
    expect(c.budgets).toHaveLength(1);
  });
});
