/**
 * DeviceDriver.integrityMeasurement (relay mode, issue 15): step 3's measurement on the device's session, which is
 * then held for the job (idle expiry does not close it) so that the software-update goes on the same session; the
 * hold ends with the software-update or release(). Real SSH to simulated femtocells; sessions counted on the device
 * side (RFC 6022 in-sessions, Fleet.sessionsOpened).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { createDeviceDriver } from '../../src/device/driver.js';
import type { NetconfDeviceDriver } from '../../src/device/driver.js';
import { verifyEvidence } from '../../src/integrity/index.js';
import { newNonce } from '../../src/tokens/nonce.js';
import { until } from '../helpers/until.js';

const signal = (): AbortSignal => new AbortController().signal;
const cmd = (jobId: string, nonce: string): { jobId: string; uri: string; softwareRim: string; selfCheck: boolean; nonce: string } =>
  ({ jobId, uri: 'file:///firmware.bin', softwareRim: 'ab'.repeat(32), selfCheck: true, nonce });

let fleet: Fleet;
let driver: NetconfDeviceDriver | undefined;

beforeAll(async () => {
  fleet = await startFleet({ profiles: { healthy: 3, unreachable: 1 }, installMs: 200 });
}, 60_000);
afterAll(async () => {
  await fleet?.close();
}, 30_000);
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

function start(idleTimeoutMs: number): NetconfDeviceDriver {
  driver = createDeviceDriver({
    devices: fleet.devices.map((d) => ({ henbId: d.henbId, host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 })),
    connectTimeoutMs: 5000, rpcTimeoutMs: 5000, idleTimeoutMs, backoff: { initialMs: 20, maxMs: 50, attempts: 2 },
  });
  return driver;
}

describe('integrity-measurement on the job\'s session (relay mode)', () => {
  it('the reply is the device\'s evidence over the nonce; the session is held past the idle timeout and carries the software-update', async () => {
    const d = start(100);
    const id = 'healthy-1';
    const opened = fleet.sessionsOpened(id);
    const nonce = newNonce();
    const ev = await d.integrityMeasurement(id, 'job-m1', nonce, signal());
    expect(ev).toMatchObject({ format: 'software-key', tim: fleet.cell(id)!.tim(), signatureAlgorithm: 'ES256', softwareVersion: '1.0.0' });
    expect(verifyEvidence({ nonce: Buffer.from(nonce, 'base64url'), tim: ev.tim, signature: ev.signature }, fleet.devices.find((x) => x.henbId === id)!.devicePublicKey)).toBe(true);
    await new Promise((r) => setTimeout(r, 400)); // four idle timeouts: a session no job held would be closed
    expect(fleet.sessionCount(id)).toBe(1);
    const done = new Promise<void>((resolve) => d.onCompletion((c) => { if (c.jobId === 'job-m1') resolve(); }));
    await d.softwareUpdate(id, cmd('job-m1', nonce), signal());
    await done;
    expect(fleet.sessionsOpened(id) - opened).toBe(1);
    await until(() => fleet.sessionCount(id) === 0, 'the session closed once idle after the completion');
  });

  it('release() ends the hold (a job refused at step 4): the session closes once idle', async () => {
    const d = start(100);
    const id = 'healthy-2';
    await d.integrityMeasurement(id, 'job-m2', newNonce(), signal());
    expect(fleet.sessionCount(id)).toBe(1);
    d.release(id, 'job-m2');
    await until(() => fleet.sessionCount(id) === 0 && !d.connected(id), 'the released session closed');
  });

  it('a device not reached: coded rejection, nothing held', async () => {
    const d = start(100);
    await expect(d.integrityMeasurement('unreachable-1', 'job-m3', newNonce(), signal(), Date.now() + 1000)).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_DEVICE_(UNREACHABLE|TIMEOUT)$/) });
    expect(d.sessionCounts().open).toBe(0);
  });
});
