/**
 * Memory that does not grow with the fleet (issue 15): the driver holds a device session only while a job needs it,
 * against simulated femtocells over real NETCONF/SSH on loopback; the sessions are counted on the device side
 * (Fleet.sessionCount), as the device sees them.
 *  - release and re-open: after the completion (or the flow's release of a job that timed out) the session is
 *    closed once idle; the next job opens a new one.
 *  - subscription after release: with one session for two devices, the first device's session is closed to make
 *    room for the second's software-update; the first completes while no session to it is open, and the re-opened
 *    session's RFC 5277 replay brings its completion.
 *  - at most max-idle-sessions idle sessions stay open for reuse (the least recently idle beyond it is closed).
 *  - the bound holds under many devices at once, and every completion still arrives.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { createDeviceDriver } from '../../src/device/driver.js';
import type { DeviceDriverOptions, NetconfDeviceDriver } from '../../src/device/driver.js';
import type { DeviceCompletion } from '../../src/oam/ports.js';
import { until } from '../helpers/until.js';

const NONCE = 'a1'.repeat(32);
const cmd = (jobId: string): { jobId: string; uri: string; softwareRim: string; selfCheck: boolean; nonce: string } =>
  ({ jobId, uri: 'file:///firmware.bin', softwareRim: 'ab'.repeat(32), selfCheck: true, nonce: NONCE });
const signal = (): AbortSignal => new AbortController().signal;

let fleet: Fleet;
let driver: NetconfDeviceDriver | undefined;
let seen: DeviceCompletion[];

beforeAll(async () => {
  fleet = await startFleet({ profiles: { healthy: 12, slow: 1 }, installMs: 600, slowInstallMs: 600_000 });
}, 60_000);
afterAll(async () => {
  await fleet?.close();
}, 30_000);
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

function start(o: Partial<DeviceDriverOptions>): NetconfDeviceDriver {
  driver = createDeviceDriver({
    devices: fleet.devices.map((d) => ({ henbId: d.henbId, host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 })),
    connectTimeoutMs: 10_000, rpcTimeoutMs: 10_000, ...o,
  });
  seen = [];
  driver.onCompletion((c) => seen.push(c));
  return driver;
}
const total = (): number => fleet.devices.reduce((n, d) => n + fleet.sessionCount(d.henbId), 0);
const completed = (jobId: string): boolean => seen.some((c) => c.jobId === jobId && c.status === 'completed');

describe('device sessions are held only while a job needs them (real SSH, simulated devices)', () => {
  it('release and re-open: closed once idle after the completion; the next job opens a new session', async () => {
    const d = start({ idleTimeoutMs: 200 });
    const id = 'healthy-1';
    await d.softwareUpdate(id, cmd('rel-1'), signal());
    expect(fleet.sessionCount(id)).toBe(1);
    expect(d.sessionCounts().open).toBe(1);
    await until(() => completed('rel-1'), 'the first completion');
    await until(() => fleet.sessionCount(id) === 0, 'the idle session closed on the device side');
    expect(d.connected(id)).toBe(false);
    expect(d.sessionCounts()).toEqual({ open: 0, queued: 0 });

    await d.softwareUpdate(id, cmd('rel-2'), signal());
    expect(fleet.sessionCount(id)).toBe(1);
    await until(() => completed('rel-2'), 'the second completion, on the re-opened session');
    await until(() => fleet.sessionCount(id) === 0, 'the second session closed');
    expect(seen.filter((c) => c.henbId === id).map((c) => c.jobId)).toEqual(['rel-1', 'rel-2']);
  }, 30_000);

  it('a job the flow releases (it timed out before any completion) frees the session', async () => {
    const d = start({ idleTimeoutMs: 0 });
    await d.softwareUpdate('slow-1', cmd('stuck-1'), signal());
    // awaiting the completion: the session (and its subscription) stays
    await new Promise((r) => setTimeout(r, 300));
    expect(fleet.sessionCount('slow-1')).toBe(1);
    d.release('slow-1', 'stuck-1');
    await until(() => fleet.sessionCount('slow-1') === 0, 'the session closed after the release');
    expect(d.sessionCounts().open).toBe(0);
  }, 30_000);

  it('subscription after release: a completion sent while no session is open comes by replay on the re-opened session', async () => {
    const d = start({ maxOpenSessions: 1, idleTimeoutMs: 5000, backoff: { initialMs: 50, maxMs: 200 } });
    const [a, b] = ['healthy-2', 'healthy-3'];
    let openAtCompletion: number | undefined;
    const off = fleet.cell(a)!.onCompletion(() => { openAtCompletion = fleet.sessionCount(a); });
    let most = 0;
    const sampler = setInterval(() => { most = Math.max(most, total()); }, 5);
    try {
      await d.softwareUpdate(a, cmd('gap-a'), signal());
      expect(fleet.sessionCount(a)).toBe(1);
      // b's software-update needs the only slot: a's session, which only awaits a completion, is closed for it
      await d.softwareUpdate(b, cmd('gap-b'), signal());
      expect(fleet.sessionCount(a)).toBe(0);
      expect(fleet.sessionCount(b)).toBe(1);
      await until(() => completed('gap-a') && completed('gap-b'), 'both completions');
      // a completed while the OAM had no session to it: its completion came by replay
      expect(openAtCompletion).toBe(0);
      expect(seen.filter((c) => c.jobId === 'gap-a')).toHaveLength(1);
      expect(most).toBeLessThanOrEqual(1);
    } finally {
      clearInterval(sampler);
      off();
    }
  }, 30_000);

  it('at most max-idle-sessions stay open for reuse: beyond it the least recently idle is closed at once', async () => {
    // a long idle time: only the idle bound closes sessions here
    const d = start({ idleTimeoutMs: 60_000, maxIdleSessions: 2 });
    const ids = ['healthy-2', 'healthy-3', 'healthy-4', 'healthy-5'];
    for (const [i, id] of ids.entries()) {
      await d.softwareUpdate(id, cmd(`idle-${i}`), signal());
      await until(() => completed(`idle-${i}`), `the completion of ${id}`);
    }
    // each device's session went idle after its completion; the two least recently idle were closed
    await until(() => total() === 2, 'two idle sessions left open on the device side');
    expect(ids.map((id) => fleet.sessionCount(id))).toEqual([0, 0, 1, 1]);
    expect(d.sessionCounts()).toEqual({ open: 2, queued: 0 });
    // a kept session is reused: no new session for the next job of its device
    await d.softwareUpdate('healthy-5', cmd('idle-again'), signal());
    expect(fleet.sessionCount('healthy-5')).toBe(1);
    await until(() => completed('idle-again'), 'the completion on the reused session');
    expect(total()).toBe(2);
  }, 60_000);

  it('the bound holds under many devices at once: never more sessions than max-open-sessions, every completion arrives', async () => {
    const d = start({ maxOpenSessions: 3, idleTimeoutMs: 100, backoff: { initialMs: 50, maxMs: 200 } });
    const ids = fleet.devices.filter((x) => x.profile === 'healthy').map((x) => x.henbId);
    let most = 0;
    let mostDriver = 0;
    const sampler = setInterval(() => {
      most = Math.max(most, total());
      mostDriver = Math.max(mostDriver, d.sessionCounts().open);
    }, 5);
    try {
      await Promise.all(ids.map((id, i) => d.softwareUpdate(id, cmd(`many-${i}`), signal())));
      await until(() => ids.every((_, i) => completed(`many-${i}`)), 'a completion from every device', 60_000);
      await until(() => total() === 0, 'every session closed once idle');
    } finally {
      clearInterval(sampler);
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(3);
    expect(mostDriver).toBeLessThanOrEqual(3);
    expect(new Set(seen.map((c) => c.jobId)).size).toBe(seen.length);
  }, 90_000);
});
